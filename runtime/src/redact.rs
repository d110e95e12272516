//! The one rule for secrets: which names hold one, and what is recorded in their place.
//!
//! It applies to `#[traced]` arguments and `fields(...)` (evaluated at compile time: the
//! attribute emits `const { is_sensitive("name") }`), to HTTP query parameters in recorded URLs
//! and targets, and to anything else that records a named value chosen by someone else (headers,
//! baggage). `record(...)` on the attribute is the one way to record such an argument anyway.
//!
//! A name is compared without case and without anything but ASCII letters and digits, after
//! `%XX` escapes are decoded: `X-Api-Key`, `api_key`, `apiKey` and `api%5Fkey` are all `apikey`.
//! It is sensitive when it **contains** one of
//!
//! `password` `passwd` `pwd` `secret` `token` `apikey` `accesskey` `privatekey` `auth`
//! `credential` `signature` `session` `cookie` `jwt`
//!
//! (so `client_secret`, `refresh_token`, `X-Goog-Signature`, `Authorization`, `JSESSIONID`,
//! `session_id` and `Set-Cookie` are), or **is** one of
//!
//! `key` `sig` `code` `pass` `otp` `pin` `sid`
//!
//! (short names that are secrets on their own — an API key, a signed URL's signature, an OAuth
//! code — but too common inside innocent words to be matched within them). The list is the union
//! of the two that argument redaction and URL redaction used before they were one: containment
//! errs on the side of hiding, so an innocent `author` is redacted now and then, which costs a
//! tag; a leaked token costs far more.
//!
//! The marker is [`REDACTED`], the value OpenTelemetry's semantic conventions prescribe for
//! scrubbed URL parts, used for every kind of value so that one search finds every redaction.

/// What is recorded instead of a secret's value.
pub const REDACTED: &str = "REDACTED";

/// Names that hold a secret when they contain one of these (normalised: see the module docs).
const CONTAINS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "auth",
    "credential",
    "signature",
    "session",
    "cookie",
    "jwt",
];

/// Names that hold a secret when they are exactly one of these (normalised).
const EQUALS: &[&str] = &["key", "sig", "code", "pass", "otp", "pin", "sid"];

/// Whether a value named `name` is a secret whose value must not be recorded (see the module
/// docs for the rule). A `const fn`, so that the attribute decides at compile time.
///
/// ```
/// use traced::__private::redact::is_sensitive;
/// assert!(is_sensitive("access_token"));
/// assert!(is_sensitive("X-Api-Key"));
/// assert!(is_sensitive("api%5Fkey"));
/// assert!(is_sensitive("session_id"));
/// assert!(!is_sensitive("page"));
/// const SECRET: bool = is_sensitive("Password");
/// assert!(SECRET);
/// ```
pub const fn is_sensitive(name: &str) -> bool {
    let name = name.as_bytes();
    let mut index = 0;
    while index < CONTAINS.len() {
        if contains(name, CONTAINS[index].as_bytes()) {
            return true;
        }
        index += 1;
    }
    let mut index = 0;
    while index < EQUALS.len() {
        if let Some(end) = matches_at(name, 0, EQUALS[index].as_bytes()) {
            if next(name, end).is_none() {
                return true;
            }
        }
        index += 1;
    }
    false
}

/// `value`, or the marker when `sensitive`: how the attribute's generated code gives a tracing
/// span a field it may have to redact (`sensitive` is a `const` block there, so the choice is
/// made at compile time).
#[inline(always)]
pub fn pick(sensitive: bool, value: &dyn tracing::Value) -> &dyn tracing::Value {
    if sensitive {
        &REDACTED
    } else {
        value
    }
}

/// How many of `names` are not sensitive: the typed arguments a future keeps inline.
pub const fn count_recorded(names: &[&str]) -> usize {
    let mut count = 0;
    let mut index = 0;
    while index < names.len() {
        if !is_sensitive(names[index]) {
            count += 1;
        }
        index += 1;
    }
    count
}

/// Whether the normalised `name` contains `word` (lowercase letters and digits).
const fn contains(name: &[u8], word: &[u8]) -> bool {
    let mut start = 0;
    loop {
        if matches_at(name, start, word).is_some() {
            return true;
        }
        match next(name, start) {
            Some((_, after)) => start = after,
            None => return false,
        }
    }
}

/// Where `word` ends in `name` when the normalised `name` from byte `start` begins with it.
const fn matches_at(name: &[u8], start: usize, word: &[u8]) -> Option<usize> {
    let mut at = start;
    let mut index = 0;
    while index < word.len() {
        match next(name, at) {
            Some((byte, after)) if byte == word[index] => at = after,
            _ => return None,
        }
        index += 1;
    }
    Some(at)
}

/// The next byte of the normalised `name` from byte `at`, lowercased, and where the one after
/// it starts: `%XX` escapes are decoded, and anything but ASCII letters and digits is skipped.
const fn next(name: &[u8], mut at: usize) -> Option<(u8, usize)> {
    while at < name.len() {
        let (byte, after) = decoded(name, at);
        if byte.is_ascii_alphanumeric() {
            return Some((byte.to_ascii_lowercase(), after));
        }
        at = after;
    }
    None
}

/// The byte at `at`, or the one a `%XX` escape there stands for, and where the next starts.
const fn decoded(name: &[u8], at: usize) -> (u8, usize) {
    if name[at] == b'%' && at + 2 < name.len() {
        if let (Some(high), Some(low)) = (hex(name[at + 1]), hex(name[at + 2])) {
            return (high * 16 + low, at + 3);
        }
    }
    (name[at], at + 1)
}

const fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names_match_whatever_their_spelling() {
        for name in [
            "password",
            "PassWord",
            "user_password",
            "passwd",
            "pwd",
            "token",
            "access_token",
            "refresh-token",
            "id_token",
            "api_token",
            "apikey",
            "api_key",
            "api-key",
            "X-Api-Key",
            "apiKey",
            "client_secret",
            "AWSAccessKeyId",
            "private_key",
            "Signature",
            "X-Goog-Signature",
            "sig",
            "key",
            "KEY",
            "code",
            "pass",
            "otp",
            "pin",
            "sid",
            "session",
            "session_id",
            "JSESSIONID",
            "auth_header",
            "authorization",
            "Proxy-Authorization",
            "credentials",
            "cookie",
            "Set-Cookie",
            "jwt",
            "api%5Fkey",
            "api%5fkey",
            "pass+word",
            "p%61ssword",
        ] {
            assert!(is_sensitive(name), "{name} should be sensitive");
        }
        for name in [
            "", "page", "q", "item", "limit", "sort", "lang", "monkey", "keys", "user", "id",
            "pinned", "codec", "%", "a%", "%4", "%zz", "é",
        ] {
            assert!(!is_sensitive(name), "{name} should not be sensitive");
        }
    }

    #[test]
    fn decided_at_compile_time() {
        const DECIDED: [bool; 2] = [is_sensitive("api_key"), is_sensitive("user")];
        assert_eq!(DECIDED, [true, false]);
        const COUNT: usize = count_recorded(&["id", "password", "name", "session_id"]);
        assert_eq!(COUNT, 2);
    }
}
