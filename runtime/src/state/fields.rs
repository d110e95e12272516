//! Recording span fields into a span's state: the conventional names go where
//! [`crate::semconv`] routes them, everything else becomes a tag.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};

use crate::model::{Kind, TagValue};
use crate::semconv::{PeerField, Route};

use super::SpanState;

impl SpanState {
    /// A visitor that records a span's fields (its attributes, or values recorded later).
    pub(crate) fn recorder(&mut self) -> FieldRecorder<'_> {
        FieldRecorder { state: self }
    }

    /// Records one value under the field `key` of the span's metadata, if it has that field.
    pub(crate) fn record_value(&mut self, key: &str, value: &dyn tracing_core::field::Value) {
        if let Some(field) = self.meta.fields().field(key) {
            value.record(&field, &mut FieldRecorder { state: self });
        }
    }

    /// Records a typed (not text) tag; integers under a port's conventional name set the port.
    pub(crate) fn record_typed(&mut self, key: &'static str, value: TagValue) {
        let mut recorder = FieldRecorder { state: self };
        match value {
            TagValue::I64(number) => recorder.integer(key, i128::from(number)),
            TagValue::U64(number) => recorder.integer(key, i128::from(number)),
            _ => {}
        }
        recorder.tag(key, value);
    }

    /// Records a text tag, with the routing of the conventional names (`error`, `otel.kind`, ...).
    pub(crate) fn record_text(&mut self, key: &'static str, text: Cow<'_, str>) {
        FieldRecorder { state: self }.text(key, text);
    }
}

/// Records span fields as tags, routing the conventional names to their Zipkin places.
pub(crate) struct FieldRecorder<'a> {
    state: &'a mut SpanState,
}

impl FieldRecorder<'_> {
    fn tag(&mut self, key: &'static str, value: TagValue) {
        self.state.set_tag(Cow::Borrowed(key), value);
    }

    fn text(&mut self, key: &'static str, text: Cow<'_, str>) {
        match crate::semconv::route(key) {
            Route::Name => self.state.details().name = Some(text.into_owned()),
            Route::Kind => self.state.kind = Kind::parse(&text),
            // Kept as written: OTLP shows it so; the Zipkin encoders lower-case it.
            Route::Service => self.state.service = Some(Arc::from(text.as_ref())),
            Route::Peer(field) => {
                self.state.details().peer.text(field, &text);
                self.tag(key, TagValue::Str(Cow::Owned(text.into_owned())));
            }
            Route::Tag => self.tag(key, TagValue::Str(Cow::Owned(text.into_owned()))),
        }
    }

    fn integer(&mut self, key: &'static str, value: i128) {
        if let Some(field @ PeerField::Port(_)) = crate::semconv::peer_field(key) {
            self.state.details().peer.integer(field, value);
        }
    }
}

impl Visit for FieldRecorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.tag(field.name(), TagValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field.name(), i128::from(value));
        self.tag(field.name(), TagValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field.name(), i128::from(value));
        self.tag(field.name(), TagValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.tag(field.name(), TagValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.tag(field.name(), TagValue::U128(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.tag(field.name(), TagValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Capped like Debug and Display values: a 1 MiB `&str` must not ride along in the span.
        self.text(field.name(), crate::value::cap_str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(
            field.name(),
            Cow::Owned(crate::value::capped_display(value)),
        );
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field.name(), Cow::Owned(crate::value::capped_debug(value)));
    }
}
