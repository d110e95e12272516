//! Recording span fields into a span's state: the conventional names go where
//! [`crate::semconv`] routes them, everything else becomes a tag.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};

use crate::model::{Kind, TagValue};
use crate::semconv::{PeerField, Route};

use super::SpanState;

impl SpanState {
    /// A visitor that records a span's fields (its attributes, or values recorded later).
    pub(crate) fn recorder(&mut self) -> FieldRecorder<'_> {
        FieldRecorder::of(self)
    }

    /// Records one value under the field `key` of the span's metadata, if it has that field.
    pub(crate) fn record_value(&mut self, key: &str, value: &dyn tracing_core::field::Value) {
        if let Some(field) = self.meta.fields().field(key) {
            value.record(&field, &mut FieldRecorder::of(self));
        }
    }

    /// Records a typed (not text) tag; integers under a port's conventional name set the port.
    pub(crate) fn record_typed(&mut self, key: &'static str, value: TagValue) {
        let mut recorder = FieldRecorder::of(self);
        match value {
            TagValue::I64(number) => recorder.integer(key, i128::from(number)),
            TagValue::U64(number) => recorder.integer(key, i128::from(number)),
            _ => {}
        }
        recorder.tag(key, value);
    }

    /// Records a text tag, with the routing of the conventional names (`error`, `otel.kind`, ...).
    pub(crate) fn record_text(&mut self, key: &'static str, text: Cow<'_, str>) {
        FieldRecorder::of(self).text(key, text);
    }

    /// As [`record_text`](SpanState::record_text), for text that lives as long as the program
    /// (an HTTP method, a status code): a tag keeps it borrowed instead of copying it.
    // Only the HTTP spans (`http/`) use it.
    #[cfg_attr(not(any(feature = "tower", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn record_static_text(&mut self, key: &'static str, text: &'static str) {
        FieldRecorder::of(self).static_text(key, text);
    }

    /// A recorder for the fields a new span is made with, whose keys are all different (a
    /// callsite's fields): each tag is added without looking for an earlier one of its key,
    /// and there is room for `tags` of them at once. The server span records a dozen this way;
    /// looking each key up among the ones before it cost it 580 instructions per request, and
    /// growing the list four times as many again (`report request-profile traced`).
    // Only the HTTP spans (`http/`) use it.
    #[cfg_attr(not(any(feature = "tower", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn new_fields(&mut self, tags: usize) -> FieldRecorder<'_> {
        self.tags.reserve(tags);
        FieldRecorder {
            state: self,
            fresh: true,
        }
    }
}

/// Records span fields as tags, routing the conventional names to their Zipkin places.
pub(crate) struct FieldRecorder<'a> {
    state: &'a mut SpanState,
    /// Every key is new to the span (`SpanState::new_fields`).
    fresh: bool,
}

impl FieldRecorder<'_> {
    fn of(state: &mut SpanState) -> FieldRecorder<'_> {
        FieldRecorder {
            state,
            fresh: false,
        }
    }

    fn tag(&mut self, key: &'static str, value: TagValue) {
        if self.fresh {
            self.state.push_tag(key, value);
        } else {
            self.state.set_tag(Cow::Borrowed(key), value);
        }
    }

    /// Records the text value of field `key`, routed by its name.
    pub(crate) fn text(&mut self, key: &'static str, text: Cow<'_, str>) {
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

    /// Records `text` as field `key`'s tag alone, without noting the peer side the name stands
    /// for: a server span's own `server.address`, which its remote endpoint never shows (a
    /// server's peer is its client, `PeerFields::resolve`). Noting it copied the text a second
    /// time and tried it as an IP address: 400 instructions of each traced request (`report
    /// request-profile traced`). The record is the one `text` gives as long as the span stays a
    /// server's; a handler that re-records `otel.kind` through `Span::current()` would also see
    /// the host as its remote endpoint's service name on the tracing-span path, not on this one.
    // Only the server span (`http/`) uses it.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn tag_text(&mut self, key: &'static str, text: Cow<'_, str>) {
        debug_assert!(
            matches!(
                crate::semconv::route(key),
                Route::Peer(PeerField::Address(_))
            ),
            "{key} is not an address field: `text` records it"
        );
        self.tag(key, TagValue::Str(Cow::Owned(text.into_owned())));
    }

    fn integer(&mut self, key: &'static str, value: i128) {
        if let Some(field @ PeerField::Port(_)) = crate::semconv::peer_field(key) {
            self.state.details().peer.integer(field, value);
        }
    }

    /// Records `text`, which lives as long as the program: a tag borrows it (capped like any
    /// text when it is longer than the cap, which copies it).
    pub(crate) fn static_text(&mut self, key: &'static str, text: &'static str) {
        match crate::semconv::route(key) {
            Route::Tag if text.len() <= crate::max_value_len() => {
                self.tag(key, TagValue::Str(Cow::Borrowed(text)))
            }
            _ => self.text(key, crate::value::cap_str(text)),
        }
    }

    /// Records an integer field, as the visitor records an unsigned one.
    // Only the HTTP spans (`http/`) use it.
    #[cfg_attr(not(any(feature = "tower", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn unsigned(&mut self, key: &'static str, value: u64) {
        self.integer(key, i128::from(value));
        self.tag(key, TagValue::U64(value));
    }

    /// Records an IP address field: the same tag and endpoint as its text would give, without
    /// writing the text out and parsing it back.
    // Only the server span (`http/server_span.rs`) uses it.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn ip(&mut self, key: &'static str, ip: IpAddr) {
        match crate::semconv::route(key) {
            Route::Peer(field @ PeerField::Address(_)) => {
                self.state.details().peer.address(field, ip);
                let text = ip_text(ip);
                let text = match crate::value::cap_str(&text) {
                    Cow::Borrowed(_) => text,
                    Cow::Owned(capped) => capped,
                };
                self.tag(key, TagValue::Str(Cow::Owned(text)));
            }
            _ => self.text(key, Cow::Owned(ip_text(ip))),
        }
    }
}

/// An address as `Display` writes it; IPv4 digit by digit, which is what a server's client
/// almost always is (`Display` took 700 instructions through the formatting machinery).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (index, octet) in v4.octets().into_iter().enumerate() {
        if index > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_is_what_display_writes() {
        let octets = [0u8, 1, 9, 10, 42, 99, 100, 101, 199, 200, 255];
        for a in octets {
            for b in octets {
                let ip = IpAddr::from([a, b, 255 - a, b / 2]);
                assert_eq!(ip_text(ip), ip.to_string());
            }
        }
        let v6: IpAddr = "2001:db8::ff00:42:8329".parse().unwrap();
        assert_eq!(ip_text(v6), "2001:db8::ff00:42:8329");
    }
}
