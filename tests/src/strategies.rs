//! The proptest strategies the tests share: trace contexts, and header values that are valid,
//! almost valid or anything at all, for every test that feeds headers to a parser (propagation,
//! the HTTP server layer).

use proptest::prelude::*;
use traced::model::{Sampling, SpanContext, SpanId, TraceId};

/// Every sampling state.
pub fn sampling() -> impl Strategy<Value = Sampling> {
    prop_oneof![
        Just(Sampling::Defer),
        Just(Sampling::Deny),
        Just(Sampling::Accept),
        Just(Sampling::Debug),
    ]
}

prop_compose! {
    /// A context every format can carry: non-zero ids, 64- or 128-bit trace ids, the extreme
    /// values included.
    pub fn valid_context()(
        high in prop_oneof![Just(0u64), 1..=u64::MAX],
        low in prop_oneof![Just(1u64), Just(u64::MAX), 1..=u64::MAX],
        span in prop_oneof![Just(1u64), Just(u64::MAX), 1..=u64::MAX],
        parent in proptest::option::of(1..=u64::MAX),
        sampling in sampling(),
    ) -> SpanContext {
        SpanContext {
            trace_id: TraceId((u128::from(high) << 64) | u128::from(low)),
            span_id: SpanId(span),
            parent_id: parent.map(SpanId),
            sampling,
        }
    }
}

/// Characters that matter to the parsers: hex of both cases, separators, flags, escapes, and
/// a multi-byte one.
const ALPHABET: [char; 20] = [
    '0', '1', '9', 'a', 'f', 'A', 'F', 'g', 'd', 'D', '-', ' ', '\t', '=', ',', '@', '_', ':', '%',
    'é',
];

/// A valid value of one of the formats (or a tracestate list).
pub fn seed() -> impl Strategy<Value = String> {
    (any::<u128>(), any::<u64>(), any::<u64>(), 0..10usize).prop_map(
        |(trace, span, parent, shape)| match shape {
            0 => format!("{:016x}-{span:016x}", trace as u64),
            1 => format!("{trace:032x}-{span:016x}-1"),
            2 => format!("{trace:032x}-{span:016x}-d-{parent:016x}"),
            3 => format!("00-{trace:032x}-{span:016x}-01"),
            4 => format!(
                "{:02x}-{trace:032x}-{span:016x}-{:02x}-{parent:x}",
                parent as u8, span as u8
            ),
            5 => ["0", "1", "d", "true", "false"][(span % 5) as usize].to_owned(),
            // Jaeger: ids of any length, either case, any flags; URL-encoded.
            6 => format!("{trace:x}:{span:x}:{parent:x}:{:x}", parent as u8),
            7 => format!("{trace:X}:{span:016X}:0:{:02X}", span as u8 & 3),
            8 => format!("{:x}%3A{span:x}%3a0%3A1", trace as u64),
            _ => format!("k{parent:x}=v{span:x},t@s={trace:x}, x=y"),
        },
    )
}

/// A valid value with a few characters inserted, replaced or removed: mostly almost valid,
/// which is where parsers go wrong.
pub fn near_valid() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0..3u8,
        prop::sample::select(&ALPHABET[..]),
    );
    (seed(), proptest::collection::vec(edit, 0..4)).prop_map(|(text, edits)| {
        let mut chars: Vec<char> = text.chars().collect();
        for (index, operation, c) in edits {
            let at = index.index(chars.len() + 1);
            match operation {
                0 => chars.insert(at, c),
                1 if at < chars.len() => chars[at] = c,
                _ if at < chars.len() => {
                    chars.remove(at);
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    })
}

/// Any text, including control and multi-byte characters.
pub fn any_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..60).prop_map(String::from_iter)
}

/// `name` with the letters `mask` selects in upper case.
pub fn mixed_case(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(index, c)| {
            if mask >> (index % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}
