//! Zipkin v2 encodings of finished spans: JSON (the default) and proto3, exact to the official
//! API definitions (`zipkin2-api.yaml` and `zipkin.proto`).
//!
//! Both encoders apply the same rules, decided here once:
//! - ids are lower-hex (JSON) or big-endian bytes (proto); `parentId` is absent on roots;
//! - the span name and service names are lower-cased, as Zipkin's own model does on ingest;
//! - empty names, tags, annotations and endpoints are left out; `debug` and `shared` only when
//!   true; a duration is at least 1 µs (the spec rounds shorter ones up);
//! - a tag recorded twice keeps its last value, and repeated identical annotations are sent
//!   once (the spec's `uniqueItems`);
//! - the local endpoint is the process's endpoint, with the span's own service name and local
//!   port when it has them.
//!
//! ```
//! use traced::encode::{encode_json, Encoding};
//! use traced::model::{Endpoint, SpanId, SpanRecord, TraceId};
//!
//! let span = SpanRecord { trace_id: TraceId(1), id: SpanId(2), name: "work".into(), duration_us: 5, ..Default::default() };
//! let mut body = Vec::new();
//! encode_json(&[span], &Endpoint::service("shop"), &mut body);
//! assert_eq!(
//!     String::from_utf8(body).unwrap(),
//!     r#"[{"traceId":"0000000000000001","id":"0000000000000002","name":"work","duration":5,"localEndpoint":{"serviceName":"shop"}}]"#
//! );
//! assert_eq!(Encoding::Json.content_type(), "application/json");
//! ```

use crate::model::{Annotation, Endpoint, Resource, SpanRecord, TagValue};
use crate::value::lowercase;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{Ipv4Addr, UdpSocket};

mod append;
mod json;
mod otlp;
mod otlp_json;
mod otlp_proto;
mod proto;
mod protobuf;

pub use json::encode_json;
pub use otlp_json::encode_otlp_json;
pub use otlp_proto::encode_otlp_proto;
pub use proto::encode_proto;

/// The wire format of a POST to the collector: Zipkin v2 (JSON or proto3) or OTLP (protobuf or
/// JSON).
///
/// ```
/// use traced::encode::Encoding;
/// assert_eq!(Encoding::default(), Encoding::Json);
/// assert_eq!(Encoding::Proto.content_type(), "application/x-protobuf");
/// assert!(Encoding::OtlpProtobuf.is_otlp());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Encoding {
    /// Zipkin v2 JSON (`application/json`), what every Zipkin-compatible collector accepts.
    #[default]
    Json,
    /// `zipkin.proto3.ListOfSpans` (`application/x-protobuf`): smaller and cheaper to parse.
    Proto,
    /// OTLP/HTTP protobuf (`application/x-protobuf`): OpenTelemetry's default, for Jaeger v2,
    /// Grafana Tempo and the OpenTelemetry Collector.
    OtlpProtobuf,
    /// OTLP/HTTP JSON (`application/json`).
    OtlpJson,
}

impl Encoding {
    /// The `Content-Type` of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json | Encoding::OtlpJson => "application/json",
            Encoding::Proto | Encoding::OtlpProtobuf => "application/x-protobuf",
        }
    }

    /// Whether this is an OTLP encoding (a whole batch is one `ExportTraceServiceRequest`).
    pub fn is_otlp(self) -> bool {
        matches!(self, Encoding::OtlpProtobuf | Encoding::OtlpJson)
    }

    /// Appends `spans` to `out` as one OTLP request, under `resource`; for the Zipkin
    /// encodings, as one list with the resource's service name on the local endpoint.
    ///
    /// ```
    /// use traced::encode::Encoding;
    /// use traced::model::{Resource, SpanRecord};
    ///
    /// let mut body = Vec::new();
    /// Encoding::OtlpJson.encode_batch([&SpanRecord::default()], &Resource::new("shop"), &mut body);
    /// assert!(body.starts_with(b"{\"resourceSpans\""));
    /// ```
    pub fn encode_batch<'a>(
        self,
        spans: impl IntoIterator<Item = &'a SpanRecord>,
        resource: &Resource,
        out: &mut Vec<u8>,
    ) {
        match self {
            Encoding::OtlpProtobuf => encode_otlp_proto(spans, resource, out),
            Encoding::OtlpJson => encode_otlp_json(spans, resource, out),
            zipkin => {
                let local = LocalEndpoint::new(Endpoint::service(&resource.service_name));
                zipkin.begin_list(out);
                for (index, span) in spans.into_iter().enumerate() {
                    zipkin.push_span(span, &local, index == 0, out);
                }
                zipkin.end_list(out);
            }
        }
    }

    /// Appends `spans` to `out` as one complete list in this encoding.
    ///
    /// ```
    /// use traced::encode::Encoding;
    /// use traced::model::Endpoint;
    ///
    /// let mut body = Vec::new();
    /// Encoding::Json.encode(&[], &Endpoint::default(), &mut body);
    /// assert_eq!(body, b"[]");
    /// ```
    pub fn encode(self, spans: &[SpanRecord], local: &Endpoint, out: &mut Vec<u8>) {
        match self {
            Encoding::Json => encode_json(spans, local, out),
            Encoding::Proto => encode_proto(spans, local, out),
            Encoding::OtlpProtobuf | Encoding::OtlpJson => {
                let resource = Resource::new(local.service_name.as_deref().unwrap_or_default());
                self.encode_batch(spans, &resource, out)
            }
        }
    }

    /// Starts an empty list in `out`, for encoding span by span with [`Encoding::push_span`].
    pub(crate) fn begin_list(self, out: &mut Vec<u8>) {
        debug_assert!(!self.is_otlp());
        if self == Encoding::Json {
            out.push(b'[');
        }
    }

    /// Appends one span to a list begun with [`Encoding::begin_list`]; `first` says whether
    /// it is the first span of the list. Inlined into the reporter's loop: a call of its own
    /// cost 14 instructions per span (1017 against 1003; callgrind, the Zipkin JSON sample
    /// batch through `encode_batch`).
    #[inline]
    pub(crate) fn push_span(
        self,
        span: &SpanRecord,
        local: &LocalEndpoint,
        first: bool,
        out: &mut Vec<u8>,
    ) {
        match self {
            Encoding::Json => json::write_span(span, local, first, out),
            Encoding::Proto => proto::write_list_entry(span, &local.endpoint, out),
            // The reporter encodes OTLP a batch at a time (`encode_batch`).
            Encoding::OtlpProtobuf | Encoding::OtlpJson => {}
        }
    }

    /// Closes a list begun with [`Encoding::begin_list`].
    pub(crate) fn end_list(self, out: &mut Vec<u8>) {
        if self == Encoding::Json {
            out.push(b']');
        }
    }
}

/// The process's endpoint, with the Zipkin JSON `localEndpoint` member of the spans that have
/// no service name or port of their own, encoded once: lower-casing and writing it again for
/// every span was a twentieth of the JSON encoder's instructions (callgrind, `report encode`).
#[derive(Debug)]
pub(crate) struct LocalEndpoint {
    pub(crate) endpoint: Endpoint,
    /// `,"localEndpoint":{…}`, or nothing when the endpoint is empty.
    json_member: Vec<u8>,
}

impl LocalEndpoint {
    pub(crate) fn new(endpoint: Endpoint) -> LocalEndpoint {
        let mut json_member = Vec::new();
        json::write_local_endpoint(&SpanRecord::default(), &endpoint, &mut json_member);
        LocalEndpoint {
            endpoint,
            json_member,
        }
    }

    /// The JSON `localEndpoint` member of `span`, when it is the process's own.
    pub(crate) fn json_member_for(&self, span: &SpanRecord) -> Option<&[u8]> {
        (span.service_name.is_none() && span.local_port.is_none())
            .then_some(self.json_member.as_slice())
    }
}

/// The IPv4 address of the interface this host uses for its default route, if it has one.
///
/// It "connects" a UDP socket to a non-routable documentation address: that sends nothing, but
/// makes the kernel pick the outgoing interface, whose address the socket then reports.
pub(crate) fn host_ipv4() -> Option<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // 192.0.2.0/24 (TEST-NET-1) is reserved for documentation: never a real peer.
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// The endpoint fields as they go on the wire: lower-case, non-empty name; non-zero port.
pub(crate) struct WireEndpoint<'a> {
    pub(crate) service_name: Option<Cow<'a, str>>,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<std::net::Ipv6Addr>,
    pub(crate) port: Option<u16>,
}

impl<'a> WireEndpoint<'a> {
    /// `endpoint` as sent, or `None` when nothing about it is known.
    pub(crate) fn new(endpoint: &'a Endpoint) -> Option<WireEndpoint<'a>> {
        WireEndpoint::build(
            endpoint.service_name.as_deref(),
            endpoint.ipv4,
            endpoint.ipv6,
            endpoint.port,
        )
    }

    /// The endpoint that recorded `span`: the process's, with the span's own service name and
    /// local port when it has them (borrowed, not cloned: this runs for every span).
    pub(crate) fn local(span: &'a SpanRecord, local: &'a Endpoint) -> Option<WireEndpoint<'a>> {
        WireEndpoint::build(
            span.service_name
                .as_deref()
                .or(local.service_name.as_deref()),
            local.ipv4,
            local.ipv6,
            span.local_port.or(local.port),
        )
    }

    fn build(
        service_name: Option<&'a str>,
        ipv4: Option<Ipv4Addr>,
        ipv6: Option<std::net::Ipv6Addr>,
        port: Option<u16>,
    ) -> Option<WireEndpoint<'a>> {
        let wire = WireEndpoint {
            service_name: service_name.filter(|name| !name.is_empty()).map(lowercase),
            ipv4,
            ipv6,
            port: port.filter(|port| *port != 0),
        };
        let empty = wire.service_name.is_none()
            && wire.ipv4.is_none()
            && wire.ipv6.is_none()
            && wire.port.is_none();
        (!empty).then_some(wire)
    }
}

/// The duration as sent: the spec rounds durations under 1 µs up to 1.
pub(crate) fn wire_duration(span: &SpanRecord) -> u64 {
    span.duration_us.max(1)
}

/// Above this many annotations, duplicate detection uses a hash set instead of pairwise scans.
const SCAN_LIMIT: usize = 16;

/// The tags to send, in recording order: a key recorded twice keeps only its last value.
pub(crate) fn live_tags<'a>(
    tags: &'a [(Cow<'static, str>, TagValue)],
) -> impl Iterator<Item = &'a (Cow<'static, str>, TagValue)> {
    // A filter of its own rather than `LiveTags::deduplicated`: through `LiveTags`, the
    // Zipkin proto3 encoder cost 3434 instructions per span, this way 3390 (callgrind).
    let superseded = Superseded::find(tags);
    tags.iter()
        .enumerate()
        .filter(move |(index, _)| !superseded.contains(*index))
        .map(|(_, tag)| tag)
}

/// The tags to send ([`live_tags`]), for a writer that writes each as it meets it.
///
/// Made [`optimistic`](LiveTags::optimistic), they assume no key repeats, as in nearly every
/// span, and stop at the first one that does, saying so ([`LiveTags::repeated`]); the writer
/// then starts over with [`deduplicated`](LiveTags::deduplicated) ones. Finding the repeated
/// keys first, in a pass of its own, was a tenth of the OTLP protobuf encoder's instructions
/// (callgrind, `report encode`).
pub(crate) struct LiveTags<'a> {
    tags: &'a [(Cow<'static, str>, TagValue)],
    /// The tags not yet looked at: an iterator, not an index, so taking the next one needs no
    /// bounds check (taking each by index, and again for its key, cost the Zipkin JSON encoder
    /// 39 instructions per span: 1081 → 1041, callgrind).
    remaining: std::slice::Iter<'a, (Cow<'static, str>, TagValue)>,
    /// The index of the next tag in `tags`.
    next: usize,
    /// The tags to skip; `None` while assuming no key repeats.
    superseded: Option<Superseded>,
    check: RepeatCheck,
    repeated: bool,
}

impl<'a> LiveTags<'a> {
    /// The tags, assuming no key repeats.
    #[inline(always)]
    pub(crate) fn optimistic(tags: &'a [(Cow<'static, str>, TagValue)]) -> LiveTags<'a> {
        LiveTags {
            tags,
            remaining: tags.iter(),
            next: 0,
            superseded: None,
            check: RepeatCheck::default(),
            repeated: false,
        }
    }

    /// The tags, a repeated key's last value only, at the place of its last recording.
    pub(crate) fn deduplicated(tags: &'a [(Cow<'static, str>, TagValue)]) -> LiveTags<'a> {
        LiveTags {
            superseded: Some(Superseded::find(tags)),
            ..LiveTags::optimistic(tags)
        }
    }

    /// Whether optimistic tags stopped at a repeated key (and the writer must start over).
    #[inline(always)]
    pub(crate) fn repeated(&self) -> bool {
        self.repeated
    }
}

impl<'a> Iterator for LiveTags<'a> {
    type Item = &'a (Cow<'static, str>, TagValue);

    #[inline(always)]
    fn next(&mut self) -> Option<&'a (Cow<'static, str>, TagValue)> {
        loop {
            let tag = self.remaining.next()?;
            let index = self.next;
            self.next += 1;
            match &self.superseded {
                Some(superseded) if superseded.contains(index) => continue,
                Some(_) => return Some(tag),
                None if self.check.repeats(self.tags, index, &tag.0) => {
                    self.repeated = true;
                    self.remaining = [].iter();
                    return None;
                }
                None => return Some(tag),
            }
        }
    }
}

/// Which tags a later tag with the same key replaces.
enum Superseded {
    /// A bit per tag, for up to 64 tags.
    Bits(u64),
    /// A flag per tag, for more.
    Flags(Vec<bool>),
}

impl Superseded {
    /// Finds the superseded tags. Keys are compared only when a 64-bit filter, a bit per key
    /// chosen by its length and end bytes, says an earlier key may be the same: comparing every
    /// pair of a server span's eleven keys was a sixth of the OTLP encoder's instructions
    /// (callgrind, `report encode`), and nearly every span has no repeated key.
    #[inline(always)]
    fn find(tags: &[(Cow<'static, str>, TagValue)]) -> Superseded {
        match tags {
            [] | [_] => Superseded::Bits(0),
            [(first, _), (second, _)] => Superseded::Bits(u64::from(first == second)),
            _ if tags.len() <= 64 => Superseded::Bits(Superseded::filtered(tags)),
            _ => Superseded::hashed(tags),
        }
    }

    /// Up to 64 tags: the filter, and a comparison only where it says a key may repeat.
    fn filtered(tags: &[(Cow<'static, str>, TagValue)]) -> u64 {
        let mut seen = 0u64;
        let mut superseded = 0u64;
        for (index, (key, _)) in tags.iter().enumerate() {
            let bit = 1u64 << key_filter_bit(key);
            if seen & bit != 0 {
                superseded |= Superseded::earlier_copies(&tags[..index], key);
            }
            seen |= bit;
        }
        superseded
    }

    /// More than 64 tags: the last index of each key, from a map.
    #[cold]
    fn hashed(tags: &[(Cow<'static, str>, TagValue)]) -> Superseded {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(tags.len());
        for (index, (key, _)) in tags.iter().enumerate() {
            last.insert(key, index);
        }
        let flags = tags
            .iter()
            .enumerate()
            .map(|(index, (key, _))| last.get(&**key) != Some(&index))
            .collect();
        Superseded::Flags(flags)
    }

    /// The bits of the tags in `earlier` whose key is `key`.
    #[cold]
    fn earlier_copies(earlier: &[(Cow<'static, str>, TagValue)], key: &str) -> u64 {
        earlier
            .iter()
            .enumerate()
            .filter(|(_, (other, _))| other == key)
            .fold(0, |bits, (index, _)| bits | 1 << index)
    }

    #[inline(always)]
    fn contains(&self, index: usize) -> bool {
        match self {
            Superseded::Bits(bits) => bits >> index & 1 != 0,
            Superseded::Flags(flags) => flags[index],
        }
    }
}

/// Tells, tag by tag, whether a key repeats an earlier one: for a writer that writes the tags
/// as it meets them and starts over, with [`Superseded`], in the rare span where one does.
/// The check is the filter of [`Superseded::find`], without a pass of its own (a pass of its
/// own was a tenth of the OTLP protobuf encoder's instructions, callgrind).
#[derive(Default)]
struct RepeatCheck {
    seen: u64,
}

impl RepeatCheck {
    /// Whether `key`, the key of `tags[index]`, is the key of a tag before it; call it for
    /// every index in order.
    #[inline(always)]
    fn repeats(&mut self, tags: &[(Cow<'static, str>, TagValue)], index: usize, key: &str) -> bool {
        let bit = 1u64 << key_filter_bit(key);
        let maybe = self.seen & bit != 0;
        self.seen |= bit;
        maybe && RepeatCheck::any_earlier(tags, index, key)
    }

    /// Whether a tag before `tags[index]` has `key`.
    #[cold]
    fn any_earlier(tags: &[(Cow<'static, str>, TagValue)], index: usize, key: &str) -> bool {
        tags[..index].iter().any(|(other, _)| other == key)
    }
}

/// A number below 64 that equal keys share and different ones seldom do: from the length and
/// the first byte, the cheapest pair that tells apart the keys a span usually has.
#[inline(always)]
fn key_filter_bit(key: &str) -> u32 {
    let first = key.as_bytes().first().map_or(0, |byte| u32::from(*byte));
    (key.len() as u32 ^ first << 5).wrapping_mul(0x9e37_79b1) >> 26
}

/// The annotations to send: each distinct (timestamp, text) once, in recording order. Texts
/// are made only for annotations at the same time as an earlier one.
pub(crate) fn live_annotations(annotations: &[Annotation]) -> impl Iterator<Item = &Annotation> {
    let mut seen: Option<std::collections::HashSet<(u64, Cow<'_, str>)>> =
        (annotations.len() > SCAN_LIMIT).then(Default::default);
    annotations
        .iter()
        .enumerate()
        .filter(move |(index, annotation)| match &mut seen {
            Some(seen) => seen.insert((annotation.timestamp_us, annotation.text())),
            None => {
                let mut text = None;
                !annotations[..*index].iter().any(|earlier| {
                    earlier.timestamp_us == annotation.timestamp_us
                        && earlier.text() == *text.get_or_insert_with(|| annotation.text())
                })
            }
        })
        .map(|(_, annotation)| annotation)
}

/// Writes a tag value's text: strings as they are, other values through `Display`.
pub(crate) fn tag_text<'a>(value: &'a TagValue, scratch: &'a mut String) -> &'a str {
    match value {
        TagValue::Str(text) => text,
        other => {
            use std::fmt::Write as _;
            scratch.clear();
            // Writing into a String cannot fail.
            let _ = write!(scratch, "{other}");
            scratch
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn later_tag_values_replace_earlier_ones() {
        let tags: Vec<(Cow<'static, str>, TagValue)> = vec![
            ("a".into(), TagValue::U64(1)),
            ("b".into(), TagValue::U64(2)),
            ("a".into(), TagValue::U64(3)),
        ];
        let live: Vec<_> = live_tags(&tags).collect();
        assert_eq!(live, vec![&tags[1], &tags[2]]);
    }

    #[test]
    fn many_tags_deduplicate_like_few() {
        let tags: Vec<(Cow<'static, str>, TagValue)> = (0..100u64)
            .map(|index| (Cow::Owned(format!("k{}", index % 10)), TagValue::U64(index)))
            .collect();
        let live: Vec<_> = live_tags(&tags).map(|(_, value)| value.clone()).collect();
        assert_eq!(live, (90..100).map(TagValue::U64).collect::<Vec<_>>());
    }

    #[test]
    fn repeated_keys_keep_their_last_value_at_every_size() {
        for count in [2usize, 3, 11, 40, 64, 65, 200] {
            for distinct in [1usize, 2, 7, 33, 500] {
                let tags: Vec<(Cow<'static, str>, TagValue)> = (0..count)
                    .map(|index| {
                        let key = format!("key.{}", index * 7919 % distinct);
                        (Cow::Owned(key), TagValue::U64(index as u64))
                    })
                    .collect();
                let expected: Vec<_> = tags
                    .iter()
                    .enumerate()
                    .filter(|(index, (key, _))| !tags[index + 1..].iter().any(|(k, _)| k == key))
                    .map(|(_, tag)| tag)
                    .collect();
                assert_eq!(
                    live_tags(&tags).collect::<Vec<_>>(),
                    expected,
                    "{count} tags, {distinct} keys"
                );
                // Optimistic: everything when no key repeats, else a stop at the first repeat.
                let mut optimistic = LiveTags::optimistic(&tags);
                let taken: Vec<_> = (&mut optimistic).collect();
                let first_repeat = (0..tags.len())
                    .find(|&index| tags[..index].iter().any(|(key, _)| *key == tags[index].0));
                assert_eq!(optimistic.repeated(), first_repeat.is_some());
                assert_eq!(taken.len(), first_repeat.unwrap_or(tags.len()));
            }
        }
    }

    #[test]
    fn identical_annotations_are_sent_once() {
        let annotation = |timestamp_us, value: &str| Annotation::new(timestamp_us, value);
        let few = vec![annotation(1, "a"), annotation(1, "a"), annotation(2, "a")];
        assert_eq!(live_annotations(&few).count(), 2);
        let many: Vec<_> = (0..40).map(|index| annotation(index % 20, "x")).collect();
        assert_eq!(live_annotations(&many).count(), 20);
    }

    #[test]
    fn empty_endpoints_are_left_out() {
        assert!(WireEndpoint::new(&Endpoint::default()).is_none());
        let zero_port = Endpoint {
            port: Some(0),
            service_name: Some(Arc::from("")),
            ..Endpoint::default()
        };
        assert!(WireEndpoint::new(&zero_port).is_none());
    }

    #[test]
    fn host_ipv4_is_a_usable_address_when_found() {
        if let Some(ip) = host_ipv4() {
            assert!(!ip.is_unspecified() && !ip.is_multicast());
        }
    }
}
