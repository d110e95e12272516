//! Where headers come from and go to: `http::HeaderMap`, string maps, and lists of pairs.
//!
//! Parsers ask for lower-case names; every carrier matches names case-insensitively, returns
//! the first value of a repeated header, and hides values that are not text, so a hostile
//! request cannot reach the parsers with anything but `&str`.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::MAX_HEADER_LEN;

/// Read access to request headers, or any string map used as a carrier.
///
/// `name` is always lower-case. Implement it for your own carrier (message metadata, gRPC
/// metadata) to extract from it.
///
/// ```
/// use traced::propagation::Carrier;
///
/// let headers = vec![("B3".to_owned(), "0".to_owned()), ("b3".to_owned(), "1".to_owned())];
/// assert_eq!(headers.get("b3"), Some("0")); // the first value wins
/// ```
pub trait Carrier {
    /// The first value of header `name`, if present and text.
    fn get(&self, name: &str) -> Option<&str>;

    /// Every value of header `name`, in order; only `tracestate` and `baggage` combine
    /// repeated headers.
    fn get_all(&self, name: &str) -> Vec<&str> {
        self.get(name).into_iter().collect()
    }

    /// Every header name present, once each: Jaeger baggage is one `uberctx-{key}` header per
    /// entry, so it can only be read from a carrier that lists its names. The default lists
    /// none (no Jaeger baggage is read); the carriers of this crate list theirs.
    ///
    /// ```
    /// use traced::propagation::Carrier;
    ///
    /// let headers = vec![("uberctx-tenant", "acme"), ("b3", "1")];
    /// assert_eq!(headers.keys(), ["uberctx-tenant", "b3"]);
    /// ```
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }

    /// Whether some header's name starts with `prefix` (lower-case; names match it
    /// case-insensitively). Extraction asks it before listing the names for Jaeger baggage,
    /// which most requests do not carry; the default asks [`Carrier::keys`], and the carriers
    /// of this crate answer without making that list.
    ///
    /// ```
    /// use traced::propagation::Carrier;
    ///
    /// let headers = vec![("UberCtx-Tenant", "acme"), ("b3", "1")];
    /// assert!(headers.has_name_starting_with("uberctx-"));
    /// assert!(!headers.has_name_starting_with("x-b3-"));
    /// ```
    fn has_name_starting_with(&self, prefix: &str) -> bool {
        self.keys()
            .into_iter()
            .any(|name| starts_with_ignore_case(name, prefix))
    }
}

/// Whether `name` starts with `prefix` (lower-case), ignoring ASCII case.
pub(crate) fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Write access to outgoing headers: setting a name replaces any value it had.
///
/// ```
/// use std::collections::HashMap;
/// use traced::propagation::CarrierMut;
///
/// let mut headers = HashMap::new();
/// headers.set("b3", "1".to_owned());
/// assert_eq!(headers["b3"], "1");
/// ```
pub trait CarrierMut {
    /// Sets header `name` (lower-case) to `value`, replacing every earlier value.
    fn set(&mut self, name: &str, value: String);

    /// Removes header `name` (lower-case), so a forwarded request does not keep a stale value
    /// next to the ones just injected. Carriers that cannot remove keep the default, which
    /// does nothing.
    fn remove(&mut self, name: &str) {
        let _ = name;
    }
}

/// Up to this many header values, a request's headers are scanned for a name instead
/// of looked up: a lookup by `&str` checks and hashes the name first, and extraction asks for a
/// dozen names (B3's five, `b3`, `traceparent`, `tracestate`, `uber-trace-id`, `baggage`, ...)
/// that a request mostly does not have. On the benchmark's request (two headers) the lookups
/// cost 2,200 instructions per request, the scans a tenth of that (`report request-profile
/// traced`, callgrind).
const SCANNED_HEADERS: usize = 16;

impl Carrier for HeaderMap {
    fn get(&self, name: &str) -> Option<&str> {
        // The first value; a non-text first value means no value at all rather than falling
        // through to a second one an attacker may have appended. `iter` yields a name's values
        // in order, so the first match is the first value, as `HeaderMap::get` returns it.
        let value = if self.len() <= SCANNED_HEADERS {
            self.iter()
                .find(|(key, _)| key.as_str().eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        } else {
            HeaderMap::get(self, name)
        };
        value.and_then(|value| value.to_str().ok())
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        if self.len() <= SCANNED_HEADERS {
            return self
                .iter()
                .filter(|(key, _)| key.as_str().eq_ignore_ascii_case(name))
                .filter_map(|(_, value)| value.to_str().ok())
                .collect();
        }
        HeaderMap::get_all(self, name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect()
    }

    fn keys(&self) -> Vec<&str> {
        HeaderMap::keys(self).map(HeaderName::as_str).collect()
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        // Without the list `keys` allocates: for a request with trace headers but no Jaeger
        // baggage, listing its names cost an allocation and ~250 instructions.
        HeaderMap::keys(self).any(|name| starts_with_ignore_case(name.as_str(), prefix))
    }
}

impl CarrierMut for HeaderMap {
    fn set(&mut self, name: &str, value: String) {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return;
        };
        self.insert(name, value);
    }

    fn remove(&mut self, name: &str) {
        HeaderMap::remove(self, name);
    }
}

impl<S: BuildHasher> Carrier for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        if let Some(value) = HashMap::get(self, name) {
            return Some(value);
        }
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        HashMap::keys(self).map(String::as_str).collect()
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        HashMap::keys(self).any(|name| starts_with_ignore_case(name, prefix))
    }
}

impl<S: BuildHasher> CarrierMut for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }

    fn remove(&mut self, name: &str) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        if let Some(value) = BTreeMap::get(self, name) {
            return Some(value);
        }
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        BTreeMap::keys(self).map(String::as_str).collect()
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        BTreeMap::keys(self).any(|name| starts_with_ignore_case(name, prefix))
    }
}

impl CarrierMut for BTreeMap<String, String> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }

    fn remove(&mut self, name: &str) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Carrier for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
            .collect()
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for (key, _) in self {
            let key = key.as_ref();
            if !keys.iter().any(|seen| seen.eq_ignore_ascii_case(key)) {
                keys.push(key);
            }
        }
        keys
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        self.iter()
            .any(|(name, _)| starts_with_ignore_case(name.as_ref(), prefix))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Carrier for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        <[(K, V)] as Carrier>::get(self, name)
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        <[(K, V)] as Carrier>::get_all(self, name)
    }

    fn keys(&self) -> Vec<&str> {
        <[(K, V)] as Carrier>::keys(self)
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        <[(K, V)] as Carrier>::has_name_starting_with(self, prefix)
    }
}

impl CarrierMut for Vec<(String, String)> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value));
    }

    fn remove(&mut self, name: &str) {
        self.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }
}

impl<C: Carrier + ?Sized> Carrier for &C {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        (**self).get_all(name)
    }

    fn keys(&self) -> Vec<&str> {
        (**self).keys()
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        (**self).has_name_starting_with(prefix)
    }
}

impl<C: CarrierMut + ?Sized> CarrierMut for &mut C {
    fn set(&mut self, name: &str, value: String) {
        (**self).set(name, value);
    }

    fn remove(&mut self, name: &str) {
        (**self).remove(name);
    }
}

/// The first value of `name`, if it is text of a sane length and not empty.
pub(super) fn read<'a, C: Carrier + ?Sized>(carrier: &'a C, name: &str) -> Option<&'a str> {
    carrier
        .get(name)
        .filter(|value| !value.is_empty() && value.len() < MAX_HEADER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map with `names` distinct filler headers besides the ones under test.
    fn map_with(names: usize) -> HeaderMap {
        let mut map = HeaderMap::new();
        for n in 0..names {
            map.insert(
                HeaderName::from_bytes(format!("x-filler-{n}").as_bytes()).unwrap(),
                HeaderValue::from_static("filler"),
            );
        }
        map.append("b3", HeaderValue::from_bytes(b"\xff-not-text").unwrap());
        map.append("b3", HeaderValue::from_static("1"));
        map.append("baggage", HeaderValue::from_static("a=1"));
        map.append("baggage", HeaderValue::from_static("b=2"));
        map.insert("traceparent", HeaderValue::from_static("00-ab-cd-01"));
        map
    }

    #[test]
    fn scanned_and_looked_up_maps_answer_alike() {
        // Either side of the scan limit, and well past it.
        for fillers in [0, SCANNED_HEADERS - 5, SCANNED_HEADERS - 4, 40] {
            let map = map_with(fillers);
            assert_eq!(
                map.keys_len() <= SCANNED_HEADERS,
                fillers <= SCANNED_HEADERS - 3
            );
            assert_eq!(
                Carrier::get(&map, "b3"),
                None,
                "a non-text first value: none"
            );
            assert_eq!(
                Carrier::get(&map, "baggage"),
                Some("a=1"),
                "the first value"
            );
            assert_eq!(Carrier::get(&map, "traceparent"), Some("00-ab-cd-01"));
            assert_eq!(Carrier::get(&map, "TraceParent"), Some("00-ab-cd-01"));
            assert_eq!(Carrier::get(&map, "tracestate"), None);
            assert_eq!(Carrier::get(&map, "x-b3-traceid"), None);
            assert_eq!(Carrier::get_all(&map, "baggage"), ["a=1", "b=2"]);
        }
    }

    #[test]
    fn every_carrier_finds_a_name_by_its_start_as_its_keys_would() {
        let mut headers = HeaderMap::new();
        headers.insert("uberctx-tenant", HeaderValue::from_static("acme"));
        headers.insert("b3", HeaderValue::from_static("1"));
        let pairs = vec![("UberCtx-Tenant", "acme"), ("b3", "1")];
        let map: HashMap<String, String> = [("UBERCTX-TENANT".to_owned(), "acme".to_owned())]
            .into_iter()
            .collect();
        let tree: BTreeMap<String, String> =
            [("b3".to_owned(), "1".to_owned())].into_iter().collect();
        let carriers: [(&dyn Carrier, bool); 5] = [
            (&headers, true),
            (&pairs, true),
            (&pairs.as_slice(), true),
            (&map, true),
            (&tree, false),
        ];
        for (carrier, has) in carriers {
            assert_eq!(carrier.has_name_starting_with("uberctx-"), has);
            // The default, from the listed keys, answers alike.
            let listed = carrier
                .keys()
                .into_iter()
                .any(|name| starts_with_ignore_case(name, "uberctx-"));
            assert_eq!(listed, has);
            assert!(!carrier.has_name_starting_with("uberctx-tenant-x"));
        }
        // A name shorter than the prefix, or one that only contains it.
        assert!(!vec![("uber", "1"), ("x-uberctx-a", "1")].has_name_starting_with("uberctx-"));
    }

    #[test]
    fn a_carrier_that_only_lists_its_keys_finds_a_name_by_its_start() {
        /// A carrier of a user's: `get` and `keys`, nothing else.
        struct Listed(Vec<(&'static str, &'static str)>);
        impl Carrier for Listed {
            fn get(&self, name: &str) -> Option<&str> {
                Carrier::get(self.0.as_slice(), name)
            }
            fn keys(&self) -> Vec<&str> {
                self.0.iter().map(|(name, _)| *name).collect()
            }
        }
        assert!(Listed(vec![("b3", "1"), ("UberCtx-Tenant", "acme")])
            .has_name_starting_with("uberctx-"));
        assert!(!Listed(vec![("b3", "1"), ("uber", "1")]).has_name_starting_with("uberctx-"));
        assert!(!Listed(Vec::new()).has_name_starting_with("uberctx-"));
    }
}
