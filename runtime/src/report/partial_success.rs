//! An OTLP collector's answer to an accepted export: `ExportTraceServiceResponse`, whose
//! `partial_success` says how many spans it rejected and why. The client must not retry those
//! (OTLP specification, "Partial Success"); the reporter counts them as dropped and keeps the
//! message as its last error.

use crate::encode::Encoding;

/// The rejected span count and the message of an answer, if it has a `partial_success`.
pub(crate) fn rejected(encoding: Encoding, answer: &[u8]) -> Option<(u64, String)> {
    if answer.is_empty() {
        return None;
    }
    match encoding {
        Encoding::OtlpJson => from_json(answer),
        _ => from_protobuf(answer),
    }
}

fn from_json(answer: &[u8]) -> Option<(u64, String)> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let partial = value.get("partialSuccess")?;
    // int64 is a string in OTLP/JSON, but a number is accepted too.
    let rejected = match partial.get("rejectedSpans") {
        Some(serde_json::Value::String(text)) => text.parse().ok()?,
        Some(number) => number.as_u64().unwrap_or(0),
        None => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((rejected, message))
}

/// Reads field 1 (`partial_success`) and, in it, fields 1 (`rejected_spans`, int64) and 2
/// (`error_message`); anything else is skipped by its wire type.
fn from_protobuf(answer: &[u8]) -> Option<(u64, String)> {
    let mut reader = Reader(answer);
    let mut found = None;
    while let Some((field, value)) = reader.field()? {
        if let (1, Value::Bytes(partial)) = (field, value) {
            let mut inner = Reader(partial);
            let (mut rejected, mut message) = (0, String::new());
            while let Some((field, value)) = inner.field()? {
                match (field, value) {
                    (1, Value::Varint(count)) => rejected = count,
                    (2, Value::Bytes(text)) => message = String::from_utf8_lossy(text).into_owned(),
                    _ => {}
                }
            }
            found = Some((rejected, message));
        }
    }
    found
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next field, `Ok(None)` at the end, `None` when the bytes are not protobuf.
    #[allow(clippy::option_option)]
    fn field(&mut self) -> Option<Option<(u64, Value<'a>)>> {
        if self.0.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => self.skip(8)?,
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let bytes = self.0.get(..len)?;
                self.0 = &self.0[len..];
                Value::Bytes(bytes)
            }
            5 => self.skip(4)?,
            _ => return None,
        };
        Some(Some((key >> 3, value)))
    }

    fn skip(&mut self, len: usize) -> Option<Value<'a>> {
        self.0 = self.0.get(len..)?;
        Some(Value::Fixed)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (index, byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.0 = &self.0[index + 1..];
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_are_read() {
        let answer = br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#;
        assert_eq!(
            rejected(Encoding::OtlpJson, answer),
            Some((3, "too old".to_owned()))
        );
        assert_eq!(rejected(Encoding::OtlpJson, b"{}"), None);
        assert_eq!(rejected(Encoding::OtlpJson, b"not json"), None);
    }

    #[test]
    fn protobuf_answers_are_read() {
        // partial_success { rejected_spans: 2, error_message: "no" }
        let answer = [0x0a, 0x06, 0x08, 0x02, 0x12, 0x02, b'n', b'o'];
        assert_eq!(
            rejected(Encoding::OtlpProtobuf, &answer),
            Some((2, "no".to_owned()))
        );
        assert_eq!(rejected(Encoding::OtlpProtobuf, &[]), None);
        assert_eq!(rejected(Encoding::OtlpProtobuf, &[0x0a, 0x09, 0x08]), None);
    }
}
