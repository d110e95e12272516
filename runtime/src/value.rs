//! Bounded formatting of recorded values.
//!
//! A `Debug` or `Display` value is formatted through a writer that stops once the cap is
//! reached, so a huge value costs at most the cap in time and memory, not its full size.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a cut value ends with.
pub(crate) const ELLIPSIS: char = '…';

static MAX_VALUE_LEN: AtomicUsize = AtomicUsize::new(256);

/// `text` in lower case, as Zipkin's names and endpoints want it; borrowed when it already is
/// (the common case costs one scan). The one rule for every lower-cased name: the encoders'
/// span and service names, and the remote endpoints of spans.
pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    let needs_change = if text.is_ascii() {
        text.bytes().any(|byte| byte.is_ascii_uppercase())
    } else {
        // Not `char::is_uppercase`: title-case letters (`ǅ`) are not upper case, yet
        // `to_lowercase` changes them.
        text.chars().any(|c| {
            let mut lower = c.to_lowercase();
            lower.next() != Some(c) || lower.next().is_some()
        })
    };
    if needs_change {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The longest recorded value, in bytes, before it is cut (default 256).
///
/// ```
/// assert!(traced::max_value_len() > 0);
/// ```
pub fn max_value_len() -> usize {
    MAX_VALUE_LEN.load(Ordering::Relaxed)
}

/// Sets the longest recorded value, in bytes; values are cut on a char boundary and end in `…`.
///
/// ```
/// traced::set_max_value_len(1024);
/// assert_eq!(traced::max_value_len(), 1024);
/// traced::set_max_value_len(256);
/// ```
pub fn set_max_value_len(bytes: usize) {
    MAX_VALUE_LEN.store(bytes.max(1), Ordering::Relaxed);
}

/// Cuts `text` to the cap on a char boundary, marking the cut.
pub(crate) fn cap_str(text: &str) -> std::borrow::Cow<'_, str> {
    let cap = max_value_len();
    if text.len() <= cap {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = String::with_capacity(end + ELLIPSIS.len_utf8());
    cut.push_str(&text[..end]);
    cut.push(ELLIPSIS);
    std::borrow::Cow::Owned(cut)
}

/// Formats `value` with `Debug`, stopping at the cap.
pub(crate) fn capped_debug(value: &dyn fmt::Debug) -> String {
    capped(|writer| write!(writer, "{value:?}"))
}

/// Formats `value` with `Display`, stopping at the cap.
pub(crate) fn capped_display(value: &dyn fmt::Display) -> String {
    capped(|writer| write!(writer, "{value}"))
}

fn capped(format: impl FnOnce(&mut CappedWriter) -> fmt::Result) -> String {
    let mut writer = CappedWriter {
        text: String::new(),
        room: max_value_len(),
        cut: false,
    };
    // An error here means the writer refused more text: the value was cut, not broken.
    let _ = format(&mut writer);
    if writer.cut {
        writer.text.push(ELLIPSIS);
    }
    writer.text
}

struct CappedWriter {
    text: String,
    room: usize,
    cut: bool,
}

impl Write for CappedWriter {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        if piece.len() <= self.room {
            self.text.push_str(piece);
            self.room -= piece.len();
            return Ok(());
        }
        let mut end = self.room;
        while !piece.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&piece[..end]);
        self.room = 0;
        self.cut = true;
        // Stop the value's formatting early: the rest would be thrown away anyway.
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_is_what_to_lowercase_gives_and_borrows_when_it_changes_nothing() {
        let texts = [
            "get /users",
            "GET /Users",
            "ÉCOLE",
            "école",
            "straße",
            "ǅemal",
            "ǆ",
            "",
            "Σ",
        ];
        for text in texts {
            let lower = lowercase(text);
            assert_eq!(lower, text.to_lowercase(), "{text}");
            assert_eq!(
                matches!(lower, Cow::Borrowed(_)),
                text == text.to_lowercase(),
                "{text}"
            );
        }
    }

    struct Endless;

    impl fmt::Debug for Endless {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // A value that would never finish formatting if the writer did not stop it.
            loop {
                f.write_str("ab")?;
            }
        }
    }

    #[test]
    fn formatting_stops_at_the_cap() {
        let text = capped_debug(&Endless);
        assert_eq!(text.len(), max_value_len() + ELLIPSIS.len_utf8());
        assert!(text.ends_with(ELLIPSIS));
    }

    #[test]
    fn short_values_are_kept_whole_and_cuts_respect_char_boundaries() {
        assert_eq!(capped_debug(&"hi"), "\"hi\"");
        let text = capped_display(&"ü".repeat(300));
        assert!(text.ends_with(ELLIPSIS));
        assert!(text.len() <= max_value_len() + ELLIPSIS.len_utf8());
    }

    #[test]
    fn text_is_cut_on_a_char_boundary_and_marked() {
        let long = "é".repeat(1000);
        let cut = cap_str(&long);
        assert!(cut.len() <= max_value_len() + ELLIPSIS.len_utf8());
        assert!(cut.ends_with(ELLIPSIS));
        assert!(matches!(
            cap_str("short"),
            std::borrow::Cow::Borrowed("short")
        ));
    }
}
