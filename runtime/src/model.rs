//! The plain-data span model shared by the layer, the encoders, the exporters and the tests.
//!
//! A [`SpanRecord`] is a finished span in Zipkin's terms. It keeps tag values typed (integers stay
//! integers) until an encoder turns them into Zipkin's string tags, so in-memory tests can assert
//! on the real type and the encoders decide the text form in one place.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use smallvec::SmallVec;

/// A trace id: 128 bits, or 64 bits when a caller sent a 64-bit id (then the high half is zero).
///
/// ```
/// use traced::model::TraceId;
/// assert_eq!(TraceId(0xab).to_string(), "00000000000000ab");
/// assert_eq!(TraceId(1 << 64).to_string().len(), 32);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub u128);

impl TraceId {
    /// Whether the id fits in 64 bits, so B3 carries it as 16 hex characters as it came.
    pub fn is_64_bit(self) -> bool {
        self.0 >> 64 == 0
    }

    /// The low 64 bits, which ratio sampling decides on (as Zipkin's and OTel's samplers do).
    pub fn low_64(self) -> u64 {
        self.0 as u64
    }

    /// Writes the id as Zipkin lower-hex: 16 characters for a 64-bit id, else 32.
    pub fn write_hex(self, out: &mut String) {
        if self.is_64_bit() {
            push_hex_u64(out, self.0 as u64);
        } else {
            push_hex_u64(out, (self.0 >> 64) as u64);
            push_hex_u64(out, self.0 as u64);
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_64_bit() {
            write!(f, "{:016x}", self.0 as u64)
        } else {
            write!(f, "{:032x}", self.0)
        }
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// A 64-bit span id; zero is never a valid id.
///
/// ```
/// use traced::model::SpanId;
/// assert_eq!(SpanId(0x1f).to_string(), "000000000000001f");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

impl SpanId {
    /// Writes the id as 16 lower-hex characters.
    pub fn write_hex(self, out: &mut String) {
        push_hex_u64(out, self.0);
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

fn push_hex_u64(out: &mut String, value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(HEX[((value >> (shift * 4)) & 0xf) as usize] as char);
    }
}

/// The sampling state a trace carries, as B3 defines it.
///
/// ```
/// use traced::model::Sampling;
/// assert!(Sampling::Debug.is_sampled());
/// assert!(!Sampling::Defer.is_sampled());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Sampling {
    /// No decision yet: the receiver decides.
    #[default]
    Defer,
    /// Not sampled: ids still propagate, nothing is reported.
    Deny,
    /// Sampled: reported.
    Accept,
    /// Sampled and forced through every sampler and collector (B3 `d`, `X-B3-Flags: 1`).
    Debug,
}

impl Sampling {
    /// Whether spans under this decision are recorded and reported.
    pub fn is_sampled(self) -> bool {
        matches!(self, Sampling::Accept | Sampling::Debug)
    }
}

/// The identity of a span as it crosses a process boundary.
///
/// ```
/// use traced::model::{Sampling, SpanContext, SpanId, TraceId};
/// let context = SpanContext { trace_id: TraceId(1), span_id: SpanId(2), parent_id: None, sampling: Sampling::Accept };
/// assert!(context.sampling.is_sampled());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// The span's parent, when the carrier said so (B3 only).
    pub parent_id: Option<SpanId>,
    /// The trace's sampling state.
    pub sampling: Sampling,
}

/// What an incoming request carried: a whole context, or only a sampling decision (`b3: 0`).
///
/// ```
/// use traced::model::{Remote, Sampling};
/// let remote = Remote::DecisionOnly(Sampling::Deny);
/// assert_eq!(remote.sampling(), Sampling::Deny);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Remote {
    /// A caller's span: ours continues its trace.
    Context(SpanContext),
    /// No ids, only a decision: a new trace starts under that decision.
    DecisionOnly(Sampling),
}

impl Remote {
    /// The sampling state carried.
    pub fn sampling(&self) -> Sampling {
        match self {
            Remote::Context(context) => context.sampling,
            Remote::DecisionOnly(sampling) => *sampling,
        }
    }

    /// The caller's context, when ids came along.
    pub fn context(&self) -> Option<&SpanContext> {
        match self {
            Remote::Context(context) => Some(context),
            Remote::DecisionOnly(_) => None,
        }
    }
}

/// Zipkin's span kind.
///
/// ```
/// use traced::model::Kind;
/// assert_eq!(Kind::parse("Server"), Some(Kind::Server));
/// assert_eq!(Kind::Client.as_zipkin(), "CLIENT");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    /// The client side of an RPC.
    Client,
    /// The server side of an RPC.
    Server,
    /// Sends a message to a broker.
    Producer,
    /// Receives a message from a broker.
    Consumer,
}

impl Kind {
    /// Parses the OpenTelemetry or Zipkin spelling, in any case; `internal` means no kind.
    pub fn parse(text: &str) -> Option<Kind> {
        const KINDS: [(&str, Kind); 4] = [
            ("client", Kind::Client),
            ("server", Kind::Server),
            ("producer", Kind::Producer),
            ("consumer", Kind::Consumer),
        ];
        KINDS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, kind)| *kind)
    }

    /// The spelling Zipkin's `kind` field takes.
    pub fn as_zipkin(self) -> &'static str {
        match self {
            Kind::Client => "CLIENT",
            Kind::Server => "SERVER",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        }
    }
}

/// A network node in Zipkin's service graph.
///
/// ```
/// use traced::model::Endpoint;
/// let endpoint = Endpoint::service("catalog");
/// assert_eq!(endpoint.service_name.as_deref(), Some("catalog"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Endpoint {
    /// Lower-case service name; absent if unknown.
    pub service_name: Option<Arc<str>>,
    /// IPv4 address; absent if unknown.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address; absent if unknown.
    pub ipv6: Option<Ipv6Addr>,
    /// Port; absent if unknown (never zero).
    pub port: Option<u16>,
}

impl Endpoint {
    /// An endpoint known only by its service name, lower-cased as Zipkin asks.
    pub fn service(name: &str) -> Endpoint {
        Endpoint {
            service_name: Some(Arc::from(name.to_lowercase())),
            ..Endpoint::default()
        }
    }

    /// Whether nothing is known, so encoders leave the endpoint out.
    pub fn is_empty(&self) -> bool {
        self.service_name.is_none()
            && self.ipv4.is_none()
            && self.ipv6.is_none()
            && self.port.is_none()
    }
}

/// A tag's value, typed as it was recorded.
///
/// ```
/// use traced::model::TagValue;
/// assert_eq!(TagValue::I64(-3).to_string(), "-3");
/// assert_eq!(TagValue::Bool(true).to_string(), "true");
/// ```
#[derive(Clone, PartialEq, Debug)]
pub enum TagValue {
    /// Text.
    Str(Cow<'static, str>),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A signed 128-bit integer.
    I128(i128),
    /// An unsigned 128-bit integer.
    U128(u128),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl TagValue {
    /// The text, when the value is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            TagValue::Str(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Display for TagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagValue::Str(text) => f.write_str(text),
            TagValue::I64(value) => write!(f, "{value}"),
            TagValue::U64(value) => write!(f, "{value}"),
            TagValue::I128(value) => write!(f, "{value}"),
            TagValue::U128(value) => write!(f, "{value}"),
            TagValue::F64(value) => write!(f, "{value}"),
            TagValue::Bool(value) => write!(f, "{value}"),
        }
    }
}

/// One tag: its key and its typed value.
pub type Tag = (Cow<'static, str>, TagValue);

/// A span's tags, in the order they were recorded. The first two live inline, so a span with up
/// to two typed tags is recorded without a heap allocation. Two, not more: every span record
/// carries the inline room, and a bigger record costs more to queue and encode than a third
/// inline tag saves (benches/PROFILE.md).
///
/// It reads as a slice of [`Tag`]s (`iter`, `len`, indexing, ...) and grows with
/// [`Tags::push`].
///
/// ```
/// use traced::model::{TagValue, Tags};
/// let mut tags = Tags::new();
/// tags.push(("attempt".into(), TagValue::U64(2)));
/// assert_eq!(tags.len(), 1);
/// assert_eq!(tags[0].1, TagValue::U64(2));
/// ```
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Tags(SmallVec<[Tag; 2]>);

impl Tags {
    /// No tags.
    #[inline]
    pub fn new() -> Tags {
        Tags(SmallVec::new())
    }

    /// Adds a tag at the end.
    #[inline]
    pub fn push(&mut self, tag: Tag) {
        self.0.push(tag);
    }

    /// Makes room for `additional` more tags.
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }

    /// Removes every tag, keeping the room.
    #[inline]
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Whether the tags outgrew their inline room (and live on the heap).
    #[inline]
    pub(crate) fn spilled(&self) -> bool {
        self.0.spilled()
    }

    /// How many tags fit without growing.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Takes every tag out, in order.
    #[inline]
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Tag> + '_ {
        self.0.drain(..)
    }

    /// The storage itself, for writing a tag in place (`SpanState::push_scalar`).
    #[inline(always)]
    pub(crate) fn storage(&mut self) -> &mut SmallVec<[Tag; 2]> {
        &mut self.0
    }
}

impl std::ops::Deref for Tags {
    type Target = [Tag];

    #[inline]
    fn deref(&self) -> &[Tag] {
        &self.0
    }
}

impl std::ops::DerefMut for Tags {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Tag] {
        &mut self.0
    }
}

impl From<Vec<Tag>> for Tags {
    fn from(tags: Vec<Tag>) -> Tags {
        Tags(SmallVec::from_vec(tags))
    }
}

impl FromIterator<Tag> for Tags {
    fn from_iter<I: IntoIterator<Item = Tag>>(tags: I) -> Tags {
        Tags(tags.into_iter().collect())
    }
}

impl Extend<Tag> for Tags {
    fn extend<I: IntoIterator<Item = Tag>>(&mut self, tags: I) {
        self.0.extend(tags);
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a Tag;
    type IntoIter = std::slice::Iter<'a, Tag>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A timed event inside a span: an event's message and its other fields, typed.
///
/// Zipkin shows it as one text ([`Annotation::text`]); OTLP keeps the fields as the event's
/// attributes.
///
/// ```
/// use traced::model::{Annotation, TagValue};
/// let mut loaded = Annotation::new(1_700_000_000_000_000, "loaded");
/// loaded.fields.push(("rows".into(), TagValue::U64(3)));
/// assert_eq!(loaded.text(), "loaded rows=3");
/// ```
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Annotation {
    /// Epoch microseconds.
    pub timestamp_us: u64,
    /// The event's message; empty when it had none.
    pub message: String,
    /// The event's other fields, in the order they were recorded.
    pub fields: Tags,
    /// Fields the attribute count limit removed (OTLP's event `dropped_attributes_count`).
    pub dropped_fields: u32,
}

impl Annotation {
    /// An annotation with a message and no fields.
    pub fn new(timestamp_us: u64, message: impl Into<String>) -> Annotation {
        Annotation {
            timestamp_us,
            message: message.into(),
            fields: Tags::new(),
            dropped_fields: 0,
        }
    }

    /// The text Zipkin shows: the message, then the fields as `key=value`, space-separated.
    /// Borrowed when there are no fields.
    pub fn text(&self) -> Cow<'_, str> {
        if self.fields.is_empty() {
            return Cow::Borrowed(&self.message);
        }
        let mut text = self.message.clone();
        for (key, value) in &self.fields {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(key);
            text.push('=');
            // Writing into a String cannot fail.
            let _ = fmt::Write::write_fmt(&mut text, format_args!("{value}"));
        }
        Cow::Owned(text)
    }
}

/// Another span this one is causally linked to without being its child (`follows_from`),
/// which OTLP carries as a span link. Zipkin has no links.
///
/// ```
/// use traced::model::{Link, SpanId, TraceId};
/// let link = Link { trace_id: TraceId(1), span_id: SpanId(2) };
/// assert_eq!(link.span_id, SpanId(2));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
}

/// What the attribute limits (`OTEL_ATTRIBUTE_COUNT_LIMIT`, ...) removed from a span, for the
/// exporters whose formats can say so (OTLP's `dropped_*_count` fields).
///
/// ```
/// use traced::model::Dropped;
/// assert!(Dropped::default().is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Dropped {
    /// Tags removed from the span.
    pub attributes: u32,
    /// Annotations (events) removed from the span.
    pub events: u32,
    /// Links removed from the span.
    pub links: u32,
}

impl Dropped {
    /// Whether nothing was removed.
    pub fn is_none(&self) -> bool {
        *self == Dropped::default()
    }
}

/// The process that records spans, as OTLP describes it: its service name (as written, not
/// lower-cased) and other attributes (`OTEL_RESOURCE_ATTRIBUTES`). Zipkin has no resource: its
/// encoders take the service name from the local [`Endpoint`].
///
/// ```
/// use traced::model::{Resource, TagValue};
/// let resource = Resource::new("Checkout").attribute("deployment.environment.name", "prod");
/// assert_eq!(resource.service_name, "Checkout");
/// assert_eq!(resource.attributes[0].1, TagValue::Str("prod".into()));
/// ```
#[derive(Clone, PartialEq, Debug, Default)]
#[non_exhaustive]
pub struct Resource {
    /// `service.name`.
    pub service_name: String,
    /// The other attributes, in order.
    pub attributes: Vec<Tag>,
}

impl Resource {
    /// A resource with only a service name.
    pub fn new(service_name: impl Into<String>) -> Resource {
        Resource {
            service_name: service_name.into(),
            attributes: Vec::new(),
        }
    }

    /// Adds a text attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Resource {
        self.attributes.push((
            Cow::Owned(key.into()),
            TagValue::Str(Cow::Owned(value.into())),
        ));
        self
    }
}

/// The rare parts of a [`SpanRecord`], in one box.
///
/// ```
/// use traced::model::{Link, SpanId, SpanRecord, TraceId};
/// let mut span = SpanRecord::default();
/// span.extra_mut().links.push(Link { trace_id: TraceId(1), span_id: SpanId(2) });
/// assert_eq!(span.links().len(), 1);
/// ```
#[derive(Clone, PartialEq, Debug, Default)]
pub struct SpanExtra {
    /// Spans this one follows from (OTLP span links).
    pub links: Vec<Link>,
    /// The W3C `tracestate` of the caller whose trace this span continues (the header text),
    /// when it ended inside that continuation's work; OTLP sends it, Zipkin has no place for it.
    pub trace_state: Option<Arc<str>>,
    /// What the attribute limits removed.
    pub dropped: Dropped,
}

/// A finished span, ready to encode for Zipkin.
///
/// ```
/// use traced::model::{SpanRecord, TagValue};
/// let mut span = SpanRecord::default();
/// span.tags.push(("user_id".into(), TagValue::U64(7)));
/// assert_eq!(span.tag("user_id"), Some(&TagValue::U64(7)));
/// ```
#[derive(Clone, PartialEq, Debug, Default)]
pub struct SpanRecord {
    /// The trace.
    pub trace_id: TraceId,
    /// This span.
    pub id: SpanId,
    /// The parent span; `None` on a root.
    pub parent_id: Option<SpanId>,
    /// The operation's name (the function, `otel.name`, or `GET /route`).
    pub name: Cow<'static, str>,
    /// Zipkin kind; `None` for in-process work.
    pub kind: Option<Kind>,
    /// Start, in epoch microseconds.
    pub timestamp_us: u64,
    /// Duration in microseconds; at least 1.
    pub duration_us: u64,
    /// The service that recorded the span, when it is not the process's default service, as
    /// written (the Zipkin encoders lower-case it).
    pub service_name: Option<Arc<str>>,
    /// The peer, for client and server spans.
    pub remote_endpoint: Option<Endpoint>,
    /// Local port, for server spans when known.
    pub local_port: Option<u16>,
    /// Tags in the order they were recorded; a later value for a key replaces the earlier one.
    pub tags: Tags,
    /// Timed events.
    pub annotations: Vec<Annotation>,
    /// What few spans have: links, the caller's trace state, what the limits removed. Boxed,
    /// so the record stays small: every record is built and moved by copy on the instrumented
    /// thread, and these 56 bytes inline cost every span about 80 instructions (callgrind).
    pub extra: Option<Box<SpanExtra>>,
    /// Forced sampling (B3 debug).
    pub debug: bool,
    /// The server half of a span id shared with its client (Zipkin's classic RPC model).
    pub shared: bool,
    /// Whether this span's parent lives in another process or nowhere: the top of its local tree.
    pub local_root: bool,
}

impl SpanRecord {
    /// The value of a tag, if recorded.
    pub fn tag(&self, key: &str) -> Option<&TagValue> {
        self.tags
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// The spans this one follows from.
    pub fn links(&self) -> &[Link] {
        self.extra.as_ref().map_or(&[], |extra| &extra.links)
    }

    /// The caller's W3C `tracestate`, when this span continues a caller's trace.
    pub fn trace_state(&self) -> Option<&str> {
        self.extra.as_ref()?.trace_state.as_deref()
    }

    /// What the attribute limits removed.
    pub fn dropped(&self) -> Dropped {
        self.extra
            .as_ref()
            .map_or_else(Dropped::default, |extra| extra.dropped)
    }

    /// The rare parts, made on first use.
    pub fn extra_mut(&mut self) -> &mut SpanExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The `error` tag, which Zipkin shows in red.
    pub fn error(&self) -> Option<&str> {
        self.tag("error").and_then(TagValue::as_str)
    }
}
