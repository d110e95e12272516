//! The value of a baggage: its entries, in order, with the W3C limits and key rule.
//!
//! Kept apart from the current-span API (`baggage/mod.rs`) because span state, the propagation
//! formats and the API all share it: it depends on nothing of ours.

use std::fmt;
use std::sync::Arc;

/// The most entries a baggage holds: the W3C Baggage limit on list-members.
///
/// ```
/// use traced::baggage::{Baggage, MAX_ENTRIES};
///
/// let mut baggage = Baggage::new();
/// for index in 0..MAX_ENTRIES {
///     assert!(baggage.insert(format!("k{index}"), "v"));
/// }
/// assert!(!baggage.insert("one.more", "v"));
/// assert_eq!(baggage.len(), 180);
/// ```
pub const MAX_ENTRIES: usize = 180;

/// The most bytes one `baggage` header (and one entry in it) may have: the W3C Baggage limit.
pub const MAX_BYTES: usize = 8192;

/// One baggage entry: a key, its value, and the W3C properties (`;name=value` metadata) that
/// came with it.
///
/// ```
/// let baggage = traced::propagation::Propagator::default()
///     .extract_baggage(&vec![("baggage", "tenant=acme;ttl=60")]);
/// let entry = &baggage.entries()[0];
/// assert_eq!((entry.key(), entry.value(), entry.properties()), ("tenant", "acme", Some("ttl=60")));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    key: String,
    value: String,
    properties: Option<String>,
}

impl Entry {
    /// An entry whose properties are already in their normal form (`a=1;b`); the key is
    /// checked when it is inserted.
    pub(crate) fn new(key: String, value: String, properties: Option<String>) -> Entry {
        Entry {
            key,
            value,
            properties,
        }
    }

    /// The key: an HTTP token (letters, digits and ``!#$%&'*+-.^_`|~``).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, decoded.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties as received in a W3C `baggage` header, `;`-separated and without spaces
    /// around them (`ttl=60;private`), or `None`. They are kept and sent on in W3C headers;
    /// Jaeger's `uberctx-*` headers cannot carry them.
    pub fn properties(&self) -> Option<&str> {
        self.properties.as_deref()
    }

    /// The bytes the entry counts for against [`MAX_BYTES`] before encoding.
    fn size(&self) -> usize {
        self.key.len() + 1 + self.value.len() + self.properties.as_ref().map_or(0, |p| 1 + p.len())
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.key, self.value)?;
        if let Some(properties) = &self.properties {
            write!(f, ";{properties}")?;
        }
        Ok(())
    }
}

/// Key-value pairs that travel with a trace, to every service it reaches: W3C Baggage and
/// Jaeger's `uberctx-*` headers carry them.
///
/// A `Baggage` is a value: cloning it is cheap (the entries are shared), and changing a clone
/// leaves the others as they were. Keys are unique (inserting an existing key replaces its
/// value in place) and keep their order. The current span's baggage is read and changed with
/// the functions of [`crate::baggage`].
///
/// ```
/// use traced::baggage::Baggage;
///
/// let mut baggage: Baggage = [("tenant", "acme"), ("user.id", "42")].into_iter().collect();
/// assert_eq!(baggage.get("tenant"), Some("acme"));
/// assert!(baggage.insert("tenant", "globex"));
/// assert!(!baggage.insert("not a token", "x"), "keys are HTTP tokens");
/// assert_eq!(baggage.iter().collect::<Vec<_>>(), [("tenant", "globex"), ("user.id", "42")]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    // `None` when empty, so an empty baggage costs no allocation.
    entries: Option<Arc<Vec<Entry>>>,
}

impl Baggage {
    /// An empty baggage.
    pub fn new() -> Baggage {
        Baggage::default()
    }

    /// The value of `key`, if present.
    ///
    /// ```
    /// let baggage: traced::baggage::Baggage = [("tenant", "acme")].into_iter().collect();
    /// assert_eq!(baggage.get("tenant"), Some("acme"));
    /// assert_eq!(baggage.get("Tenant"), None, "keys are case-sensitive");
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(Entry::value)
    }

    /// The entry of `key`, with its properties, if present.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|entry| entry.key == key)
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[Entry] {
        self.entries.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Every key and value, in order.
    ///
    /// ```
    /// let baggage: traced::baggage::Baggage = [("a", "1"), ("b", "2")].into_iter().collect();
    /// assert_eq!(baggage.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries()
            .iter()
            .map(|entry| (entry.key(), entry.value()))
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Sets `key` to `value` (without properties), replacing an earlier value of the key in its
    /// place. Returns `false`, and changes nothing, when the key is not an HTTP token (so no
    /// header could carry it), or when the entry would break a W3C limit: more than
    /// [`MAX_ENTRIES`] entries, or an entry over [`MAX_BYTES`]. Values may be any text; the
    /// headers percent-encode them.
    ///
    /// ```
    /// let mut baggage = traced::baggage::Baggage::new();
    /// assert!(baggage.insert("note", "any text, even ; and ,"));
    /// assert!(!baggage.insert("", "empty keys are not tokens"));
    /// assert!(!baggage.insert("big", "x".repeat(9000)));
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> bool {
        self.insert_entry(Entry {
            key: key.into(),
            value: value.into(),
            properties: None,
        })
    }

    /// Inserts an entry whose key and properties were checked by its reader (or the caller).
    pub(crate) fn insert_entry(&mut self, entry: Entry) -> bool {
        if !is_token(&entry.key) || entry.size() > MAX_BYTES {
            return false;
        }
        let index = self.entries().iter().position(|old| old.key == entry.key);
        if index.is_none() && self.len() >= MAX_ENTRIES {
            return false;
        }
        let entries = Arc::make_mut(self.entries.get_or_insert_with(Default::default));
        match index {
            Some(index) => entries[index] = entry,
            None => entries.push(entry),
        }
        true
    }

    /// Removes `key`; returns whether it was there.
    ///
    /// ```
    /// let mut baggage: traced::baggage::Baggage = [("a", "1")].into_iter().collect();
    /// assert!(baggage.remove("a"));
    /// assert!(!baggage.remove("a"));
    /// assert!(baggage.is_empty());
    /// ```
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(index) = self.entries().iter().position(|entry| entry.key == key) else {
            return false;
        };
        if self.len() == 1 {
            self.entries = None;
        } else if let Some(entries) = self.entries.as_mut() {
            Arc::make_mut(entries).remove(index);
        }
        true
    }

    /// Adds every entry of `other`, its values replacing this baggage's for the same keys (an
    /// entry that would break a limit is left out).
    ///
    /// ```
    /// use traced::baggage::Baggage;
    ///
    /// let mut baggage: Baggage = [("a", "1"), ("b", "2")].into_iter().collect();
    /// baggage.extend_from(&[("b", "3"), ("c", "4")].into_iter().collect());
    /// assert_eq!(baggage.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "3"), ("c", "4")]);
    /// ```
    pub fn extend_from(&mut self, other: &Baggage) {
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        for entry in other.entries() {
            self.insert_entry(entry.clone());
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Baggage {
    /// Entries inserted in order, as [`Baggage::insert`] does (invalid ones are left out).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Baggage {
        let mut baggage = Baggage::new();
        for (key, value) in pairs {
            baggage.insert(key, value);
        }
        baggage
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}

/// Whether `text` is an HTTP token (RFC 9110 `tchar`s), what W3C Baggage keys and property
/// names are, and what a header name suffix (Jaeger's `uberctx-{key}`) can hold.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_are_values() {
        let mut first: Baggage = [("a", "1")].into_iter().collect();
        let second = first.clone();
        first.insert("a", "2");
        first.insert("b", "3");
        assert_eq!(second.iter().collect::<Vec<_>>(), [("a", "1")]);
        assert_eq!(first.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
    }

    #[test]
    fn limits_and_keys_are_enforced() {
        let mut baggage = Baggage::new();
        assert!(baggage.insert("a", "x".repeat(MAX_BYTES - 2)));
        assert!(!baggage.insert("a", "x".repeat(MAX_BYTES - 1)));
        assert_eq!(baggage.get("a").map(str::len), Some(MAX_BYTES - 2));
        for key in ["a b", "a,b", "a=b", "é", "a;b", "\"a\""] {
            assert!(!baggage.insert(key, "v"), "{key:?}");
        }
        for key in ["user.id", "x-tenant", "A_B", "k!#$%&'*+-.^_`|~"] {
            assert!(baggage.insert(key, "v"), "{key:?}");
        }
        assert_eq!(baggage.len(), 5);
    }

    #[test]
    fn removing_the_last_entry_frees_the_list() {
        let mut baggage: Baggage = [("a", "1")].into_iter().collect();
        baggage.remove("a");
        assert_eq!(baggage, Baggage::new());
    }
}
