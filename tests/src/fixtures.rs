//! Small helpers the behaviour tests share, for reading the spans `traced::testing::Capture`
//! records.

use traced::model::{SpanRecord, TagValue};

/// A text tag's value, to compare with `SpanRecord::tag`.
pub fn text(value: &str) -> TagValue {
    TagValue::Str(value.to_owned().into())
}

/// A tag read as a number, whether it was recorded as an integer or as text (HTTP layers
/// record status codes and ports either way, depending on the span model).
pub fn tag_u64(span: &SpanRecord, key: &str) -> Option<u64> {
    match span.tag(key)? {
        TagValue::U64(value) => Some(*value),
        TagValue::I64(value) => u64::try_from(*value).ok(),
        other => other.as_str()?.parse().ok(),
    }
}
