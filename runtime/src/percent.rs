//! Percent-encoding (`%XX` escapes) of text that is not form data: OpenTelemetry's
//! `OTEL_RESOURCE_ATTRIBUTES` values (config.rs), Jaeger's URL-encoded `uber-trace-id` and
//! `uberctx-*` values (propagation/jaeger.rs) and W3C baggage values (propagation/baggage.rs)
//! share it. (`redact.rs` decodes escapes byte by byte in a `const fn`,
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

/// Appends `text` to `out` with every byte for which `keep` is false written as `%XX`
/// (upper-case hex, as RFC 3986 recommends). `%` itself must not be kept, or the result could
/// not be decoded.
pub(crate) fn encode_into(text: &str, keep: impl Fn(u8) -> bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if keep(byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
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

    #[test]
    fn encoding_escapes_what_is_not_kept_and_round_trips() {
        let mut out = String::new();
        encode_into("a b%✓", |byte| byte.is_ascii_alphanumeric(), &mut out);
        assert_eq!(out, "a%20b%25%E2%9C%93");
        assert_eq!(decode(&out).as_deref(), Some("a b%✓"));
        let mut out = String::new();
        encode_into("100%", |_| true, &mut out);
        assert_eq!(out, "100%25", "a kept `%` would not decode");
    }
}
