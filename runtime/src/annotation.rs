//! An event, as the annotation it becomes: its message, and its other fields typed.

use std::borrow::Cow;
use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::Event;

use crate::clock::Timestamp;
use crate::model::{Annotation, TagValue, Tags};

/// The annotation an event becomes, timestamped now.
pub(crate) fn annotation_of(event: &Event<'_>) -> Annotation {
    let mut recorder = AnnotationRecorder {
        message: String::new(),
        fields: Tags::new(),
    };
    event.record(&mut recorder);
    Annotation {
        timestamp_us: Timestamp::now().epoch_us(),
        message: recorder.message,
        fields: recorder.fields,
        dropped_fields: 0,
    }
}

/// Records an event's `message` as text and every other field as a typed value, capped like
/// span fields.
struct AnnotationRecorder {
    message: String,
    fields: Tags,
}

impl AnnotationRecorder {
    fn field(&mut self, field: &Field, value: TagValue) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.push((Cow::Borrowed(field.name()), value));
        }
    }
}

impl Visit for AnnotationRecorder {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, TagValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, TagValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, TagValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.field(field, TagValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.field(field, TagValue::U128(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, TagValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let text = crate::value::cap_str(value).into_owned();
        self.field(field, TagValue::Str(Cow::Owned(text)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let text = crate::value::capped_display(value);
        self.field(field, TagValue::Str(Cow::Owned(text)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = crate::value::capped_debug(value);
        self.field(field, TagValue::Str(Cow::Owned(text)));
    }
}
