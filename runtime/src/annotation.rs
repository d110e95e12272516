//! An event's text, as the annotation it becomes.

use std::fmt::{self, Write as _};

use tracing_core::field::{Field, Visit};
use tracing_core::Event;

/// An event's text: the message, then the other fields as `key=value`.
pub(crate) fn annotation_text(event: &Event<'_>) -> String {
    let mut annotation = AnnotationWriter::default();
    event.record(&mut annotation);
    annotation.finish()
}

/// Builds an annotation's text: the message, then the other fields as `key=value`.
#[derive(Default)]
struct AnnotationWriter {
    message: String,
    fields: String,
}

impl AnnotationWriter {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={}", field.name(), value);
        }
    }

    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl Visit for AnnotationWriter {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = crate::value::cap_str(value);
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = crate::value::capped_debug(value);
        self.field(field, format_args!("{text}"));
    }
}
