//! Percent-decoding (`%XX` escapes) of text that is not form data: OpenTelemetry's
//! `OTEL_RESOURCE_ATTRIBUTES` values (config.rs) and Jaeger's URL-encoded `uber-trace-id`
//! (propagation/jaeger.rs) share it. (`redact.rs` decodes escapes byte by byte in a `const fn`,
//! which this allocating decoder cannot be.)

/// `text` with its `%XX` escapes decoded, or `None` when an escape is broken or the result is
/// not UTF-8. `+` stays a `+`: these are header and variable values, not form data.
pub(crate) fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_escapes_and_rejects_broken_ones() {
        assert_eq!(decode("a%20b%2Cc").as_deref(), Some("a b,c"));
        assert_eq!(decode("%e2%9c%93").as_deref(), Some("✓"));
        assert_eq!(decode("bad%2"), None);
        assert_eq!(decode("bad%zz"), None);
        assert_eq!(decode("%+1"), None);
        assert_eq!(decode("%ff"), None, "not UTF-8");
    }
}
