//! The W3C `baggage` header (W3C Baggage, Candidate Recommendation):
//! `key=value;property, key=value`.
//!
//! Reading is forgiving one entry at a time: a malformed list-member (a key that is not a token,
//! a missing `=`, a value with a space, a quote, a backslash or a broken `%` escape, a
//! malformed property) is dropped and the others are kept; the header is never refused whole
//! and never fails the request. Empty list-members (`a=1,,b=2`) are skipped. Repeated `baggage`
//! headers are one list, as the spec says. Of the list, the members within the first
//! [`MAX_BYTES`] bytes and, of those, the first [`MAX_ENTRIES`] valid ones are read; the rest is
//! ignored (the spec's limits; a sender within them loses nothing). A key given twice keeps its
//! last value.
//!
//! Values are percent-decoded as UTF-8 (`+` stays a `+`). Properties are kept as received,
//! without the optional whitespace, and sent on to the next hop: they are metadata whose meaning
//! belongs to whoever set them, and a service in the middle should not strip them.
//!
//! Writing percent-encodes every value byte that is not a `baggage-octet` (and `%`), and puts
//! whole entries only: an entry that would take the header over [`MAX_BYTES`] is left out (the
//! spec forbids partial members), as are entries past [`MAX_ENTRIES`].

use super::carrier::{Carrier, CarrierMut};
use crate::baggage::entries::is_token;
use crate::baggage::{Baggage, Entry, MAX_BYTES, MAX_ENTRIES};

/// The header.
pub(crate) const BAGGAGE: &str = "baggage";

/// Optional whitespace around the separators.
const OWS: [char; 2] = [' ', '\t'];

/// `baggage-octet`: printable ASCII except space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// A value as sent: baggage-octets only (`%` included, for the escapes).
fn is_encoded_value(text: &str) -> bool {
    text.bytes().all(is_baggage_octet)
}

/// Reads the baggage of every `baggage` header in `carrier`.
pub(crate) fn extract<C: Carrier + ?Sized>(carrier: &C) -> Baggage {
    let mut baggage = Baggage::new();
    let mut read = 0;
    for value in carrier.get_all(BAGGAGE) {
        // A repeated header continues the list: the separator counts as in one header.
        if read > 0 {
            read += 1;
        }
        read = parse_into(value, read, &mut baggage);
        if read > MAX_BYTES {
            break;
        }
    }
    baggage
}

/// Parses one header value into `baggage`, counting bytes from `read` (what earlier headers of
/// the list used); returns the count after this value.
fn parse_into(header: &str, mut read: usize, baggage: &mut Baggage) -> usize {
    let mut valid = baggage.len();
    for member in header.split(',') {
        read += member.len() + 1;
        // The last member has no comma after it.
        if read - 1 > MAX_BYTES || valid >= MAX_ENTRIES {
            return read;
        }
        let member = member.trim_matches(OWS);
        if member.is_empty() {
            continue;
        }
        if let Some(entry) = parse_member(member) {
            if baggage.insert_entry(entry) {
                valid = baggage.len();
            }
        }
    }
    read.saturating_sub(1)
}

/// One `key=value;properties` list-member, or `None` when it is malformed.
fn parse_member(member: &str) -> Option<Entry> {
    let (pair, properties) = match member.split_once(';') {
        Some((pair, properties)) => (pair, Some(properties)),
        None => (member, None),
    };
    let (key, value) = pair.split_once('=')?;
    let key = key.trim_matches(OWS);
    let value = value.trim_matches(OWS);
    if !is_token(key) || !is_encoded_value(value) {
        return None;
    }
    let value = crate::percent::decode(value)?;
    let properties = match properties {
        Some(properties) => Some(normal_properties(properties)?),
        None => None,
    };
    Some(Entry::new(key.to_owned(), value, properties))
}

/// The properties of a member in their normal form (`a=1;b`, no whitespace), or `None` when one
/// of them is malformed: each is a token, or a token `=` a value of baggage-octets.
fn normal_properties(properties: &str) -> Option<String> {
    let mut out = String::with_capacity(properties.len());
    for property in properties.split(';') {
        let property = property.trim_matches(OWS);
        let valid = match property.split_once('=') {
            Some((key, value)) => {
                is_token(key.trim_matches(OWS)) && is_encoded_value(value.trim_matches(OWS))
            }
            None => is_token(property),
        };
        if !valid {
            return None;
        }
        if !out.is_empty() {
            out.push(';');
        }
        match property.split_once('=') {
            Some((key, value)) => {
                out.push_str(key.trim_matches(OWS));
                out.push('=');
                out.push_str(value.trim_matches(OWS));
            }
            None => out.push_str(property),
        }
    }
    Some(out)
}

/// The `baggage` header value for `baggage`, or `None` when no entry fits.
pub(crate) fn value(baggage: &Baggage) -> Option<String> {
    let mut out = String::new();
    let mut written = 0;
    let mut member = String::new();
    for entry in baggage.entries() {
        if written == MAX_ENTRIES {
            break;
        }
        member.clear();
        member.push_str(entry.key());
        member.push('=');
        crate::percent::encode_into(entry.value(), is_baggage_octet, &mut member);
        if let Some(properties) = entry.properties() {
            member.push(';');
            member.push_str(properties);
        }
        let separator = usize::from(!out.is_empty());
        if out.len() + separator + member.len() > MAX_BYTES {
            // Too big to fit whole: left out, and a smaller one after it may still fit.
            continue;
        }
        if separator == 1 {
            out.push(',');
        }
        out.push_str(&member);
        written += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// Writes `baggage` as the `baggage` header, replacing one already there. With nothing to write
/// the carrier is left as it is: before this crate carried baggage, setting the header by hand
/// was the way to send some, and such a header must still go out.
pub(crate) fn inject<C: CarrierMut + ?Sized>(baggage: &Baggage, carrier: &mut C) {
    if let Some(value) = value(baggage) {
        carrier.set(BAGGAGE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: &str) -> Vec<(String, String, Option<String>)> {
        extract(&vec![(BAGGAGE, header)])
            .entries()
            .iter()
            .map(|entry| {
                (
                    entry.key().to_owned(),
                    entry.value().to_owned(),
                    entry.properties().map(str::to_owned),
                )
            })
            .collect()
    }

    fn pairs(header: &str) -> Vec<(String, String)> {
        parse(header)
            .into_iter()
            .map(|(key, value, _)| (key, value))
            .collect()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_spec_examples() {
        assert_eq!(
            pairs("key1=value1,key2=value2"),
            owned(&[("key1", "value1"), ("key2", "value2")])
        );
        assert_eq!(
            pairs("key1 = value1, key2 =\tvalue2 "),
            owned(&[("key1", "value1"), ("key2", "value2")])
        );
        assert_eq!(
            parse("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue"),
            vec![
                ("key1".into(), "value1".into(), Some("property1;property2".into())),
                ("key2".into(), "value2".into(), None),
                ("key3".into(), "value3".into(), Some("propertyKey=propertyValue".into())),
            ]
        );
        assert_eq!(
            pairs("userId=alice,serverNode=DF%2028,isProduction=false"),
            owned(&[
                ("userId", "alice"),
                ("serverNode", "DF 28"),
                ("isProduction", "false")
            ])
        );
    }

    #[test]
    fn malformed_members_are_dropped_one_by_one() {
        let header = "a=1, no-equals, b c=2, d=two words, e=\"quoted\", f=back\\slash, \
                      g=%zz, h=%ff, =empty-key, é=accent, i=ok;bad prop, j=ok;=x, k=3";
        assert_eq!(pairs(header), owned(&[("a", "1"), ("k", "3")]));
        assert_eq!(pairs(",,a=1,,"), owned(&[("a", "1")]));
        assert_eq!(pairs(""), owned(&[]));
        assert_eq!(pairs("garbage"), owned(&[]));
        assert_eq!(
            pairs("a="),
            owned(&[("a", "")]),
            "an empty value is a value"
        );
    }

    #[test]
    fn percent_encoding_round_trips_any_text() {
        assert_eq!(pairs("k=%E2%9C%93%2C%3B%20%25"), owned(&[("k", "✓,; %")]));
        assert_eq!(pairs("k=a+b"), owned(&[("k", "a+b")]), "not form data");
        let baggage: Baggage = [("k", "a b,c;d=e\"f\\g%h✓")].into_iter().collect();
        let header = value(&baggage).unwrap();
        assert_eq!(header, "k=a%20b%2Cc%3Bd=e%22f%5Cg%25h%E2%9C%93");
        assert_eq!(extract(&vec![(BAGGAGE, header.as_str())]), baggage);
    }

    #[test]
    fn properties_are_kept_and_written_back() {
        let baggage = extract(&vec![(BAGGAGE, "k=v ; ttl = 60 ;private")]);
        assert_eq!(baggage.entries()[0].properties(), Some("ttl=60;private"));
        assert_eq!(value(&baggage).as_deref(), Some("k=v;ttl=60;private"));
    }

    #[test]
    fn repeated_headers_are_one_list_and_the_last_value_of_a_key_wins() {
        let headers = vec![(BAGGAGE, "a=1,b=2"), ("other", "x"), (BAGGAGE, "b=3,c=4")];
        let baggage = extract(&headers);
        assert_eq!(
            baggage.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "3"), ("c", "4")]
        );
    }

    #[test]
    fn reading_stops_at_the_limits() {
        let many: Vec<String> = (0..200).map(|index| format!("k{index}=v")).collect();
        let baggage = extract(&vec![(BAGGAGE, many.join(","))]);
        assert_eq!(baggage.len(), MAX_ENTRIES);
        assert_eq!(baggage.entries()[179].key(), "k179");
        // Invalid members do not count against the entry limit.
        let mixed: Vec<String> = (0..200)
            .map(|index| format!("k{index}=v,bad key=v"))
            .collect();
        assert_eq!(
            extract(&vec![(BAGGAGE, mixed.join(","))]).len(),
            MAX_ENTRIES
        );

        // The members that end within 8192 bytes are read; the one crossing it is not.
        let first = format!("a={}", "x".repeat(4000));
        let second = format!("b={}", "y".repeat(4000));
        let third = format!("c={}", "z".repeat(200));
        let header = format!("{first},{second},{third}");
        let baggage = extract(&vec![(BAGGAGE, header.as_str())]);
        assert_eq!(
            baggage.iter().map(|(key, _)| key).collect::<Vec<_>>(),
            ["a", "b"]
        );
        // Exactly 8192 bytes is within the limit.
        let exact = format!("a={}", "x".repeat(MAX_BYTES - 2));
        assert_eq!(extract(&vec![(BAGGAGE, exact.as_str())]).len(), 1);
        let over = format!("a={}", "x".repeat(MAX_BYTES - 1));
        assert_eq!(extract(&vec![(BAGGAGE, over.as_str())]).len(), 0);
        // Across repeated headers too.
        let headers = vec![
            (BAGGAGE, first.clone()),
            (BAGGAGE, second.clone()),
            (BAGGAGE, third),
        ];
        assert_eq!(extract(&headers).len(), 2);
    }

    #[test]
    fn writing_keeps_to_the_limits_with_whole_entries() {
        let mut baggage = Baggage::new();
        baggage.insert("big", "x".repeat(5000));
        baggage.insert("bigger", "y".repeat(5000));
        baggage.insert("small", "z");
        let header = value(&baggage).unwrap();
        assert!(header.len() <= MAX_BYTES);
        assert_eq!(
            extract(&vec![(BAGGAGE, header.as_str())])
                .iter()
                .map(|(key, _)| key)
                .collect::<Vec<_>>(),
            ["big", "small"]
        );
        // Encoding may triple a value: what no longer fits is left out, never cut.
        let mut encoded = Baggage::new();
        encoded.insert("k", " ".repeat(3000));
        assert_eq!(value(&encoded), None);

        let many: Baggage = (0..MAX_ENTRIES)
            .map(|index| (format!("k{index}"), "v"))
            .collect();
        assert_eq!(value(&many).unwrap().split(',').count(), MAX_ENTRIES);
        assert_eq!(value(&Baggage::new()), None);
    }

    #[test]
    fn injection_replaces_the_header_and_leaves_a_hand_made_one_alone() {
        let mut headers = http::HeaderMap::new();
        headers.insert(BAGGAGE, "by.hand=1".parse().unwrap());
        inject(&Baggage::new(), &mut headers);
        assert_eq!(headers[BAGGAGE], "by.hand=1");
        inject(&[("a", "1")].into_iter().collect(), &mut headers);
        assert_eq!(headers[BAGGAGE], "a=1");
    }
}
