//! Semantic conventions: the names spans are tagged with, and where each conventional field
//! goes in a Zipkin span (its name, its kind, its service, its remote endpoint, or a tag).
//!
//! One module owns these rules; the layer (fields of `tracing` spans), the OpenTelemetry
//! exporter (attributes of SDK spans) and the HTTP integrations (which record them) all call it,
//! so the same fields give the same Zipkin span on every path.
//!
//! The HTTP integrations record OpenTelemetry's current stable names only
//! ([`HTTP_REQUEST_METHOD`], [`URL_FULL`], [`URL_PATH`], [`HTTP_ROUTE`],
//! [`HTTP_RESPONSE_STATUS_CODE`], [`SERVER_ADDRESS`], [`CLIENT_ADDRESS`], ...), with span names
//! `{method} {route}` for a server and `{method}` for a client. The older names (`http.method`,
//! `http.status_code`, `http.url`, `http.target`, `db.system`, `db.statement`, `net.peer.*`)
//! are no longer emitted; when read from other instrumentation they are still tags, and the old
//! `net.peer.*` network fields still make the remote endpoint.
//!
//! Remote endpoint: `peer.service` names it (lower-cased); its address and port come from the
//! side of the connection that is remote for the span's kind — for a SERVER span the client
//! (`client.address`, `client.port`; its own `server.port` is the local port), for every other
//! kind the server it calls (`server.address`, `server.port`) — with `network.peer.*` and the
//! old `net.peer.*` as the fallback for either. A host name that is not an IP address names the
//! endpoint when `peer.service` does not.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use crate::model::{Endpoint, Kind};

/// The span's name, replacing the callsite's.
pub const OTEL_NAME: &str = "otel.name";
/// `true` on a span whose future was dropped before it completed; also its annotation.
pub const CANCELLED: &str = "cancelled";
/// `true` on a span reported by a shutdown while it was still open.
pub const OPEN_AT_SHUTDOWN: &str = "open_at_shutdown";
/// The span's kind: `client`, `server`, `producer` or `consumer`.
pub const OTEL_KIND: &str = "otel.kind";
/// The span's kind, as some instrumentation spells it.
pub const SPAN_KIND: &str = "span.kind";
/// The service the span runs in, replacing the process's for this span and its children.
pub const SERVICE_NAME: &str = "service.name";
/// The remote service's name.
pub const PEER_SERVICE: &str = "peer.service";
/// The error message: its presence marks a span as failed.
pub const ERROR: &str = "error";
/// The error's type (a Rust type name, `panic`, or an HTTP status code).
pub const ERROR_TYPE: &str = "error.type";

/// The HTTP request method (`GET`).
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// The route template a server matched (`/items/{id}`).
pub const HTTP_ROUTE: &str = "http.route";
/// The HTTP response status code.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// A client request's absolute URL (without userinfo, sensitive query values redacted).
pub const URL_FULL: &str = "url.full";
/// The path a server was asked for.
pub const URL_PATH: &str = "url.path";
/// The query a server was asked for, without the `?` (sensitive values redacted).
pub const URL_QUERY: &str = "url.query";
/// The URL scheme (`http`, `https`).
pub const URL_SCHEME: &str = "url.scheme";
/// The server's host name or address, as the client addressed it.
pub const SERVER_ADDRESS: &str = "server.address";
/// The server's port.
pub const SERVER_PORT: &str = "server.port";
/// The client's address, as the server sees it.
pub const CLIENT_ADDRESS: &str = "client.address";
/// The client's port, as the server sees it.
pub const CLIENT_PORT: &str = "client.port";
/// The `User-Agent` header.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// The database system (`sqlite`, `postgresql`).
pub const DB_SYSTEM_NAME: &str = "db.system.name";
/// The database query.
pub const DB_QUERY_TEXT: &str = "db.query.text";
/// The database operation (`SELECT`).
pub const DB_OPERATION_NAME: &str = "db.operation.name";
/// The peer's address, whatever the kind.
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
/// The peer's port, whatever the kind.
pub const NETWORK_PEER_PORT: &str = "network.peer.port";

/// Whether an `error.type` names an exception (a Rust type, `panic`) rather than an HTTP status
/// code, which the HTTP layers put there: OTLP adds an `exception` event only for the former.
pub(crate) fn is_exception_type(error_type: &str) -> bool {
    !error_type.is_empty() && !error_type.bytes().all(|byte| byte.is_ascii_digit())
}

/// Where a field of a span goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Route {
    /// The span's name.
    Name,
    /// The span's kind.
    Kind,
    /// The span's (local) service name.
    Service,
    /// A part of the remote endpoint; also kept as a tag.
    Peer(PeerField),
    /// A tag, nothing more.
    Tag,
}

/// The name a new span is sampled under (a sampler's "operation"): its `otel.name` field when
/// it has one with a value, else its metadata's name. Only a span that declares `otel.name` is
/// visited, so other spans pay for one look-up of the field.
pub(crate) fn operation_name(attrs: &tracing_core::span::Attributes<'_>) -> Cow<'static, str> {
    struct Name(Option<String>);
    impl tracing_core::field::Visit for Name {
        fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
            if field.name() == OTEL_NAME {
                self.0 = Some(value.to_owned());
            }
        }
        fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn std::fmt::Debug) {
            if field.name() == OTEL_NAME {
                self.0 = Some(format!("{value:?}"));
            }
        }
    }
    let meta = attrs.metadata();
    if meta.fields().field(OTEL_NAME).is_none() {
        return Cow::Borrowed(meta.name());
    }
    let mut name = Name(None);
    attrs.record(&mut name);
    name.0.map_or(Cow::Borrowed(meta.name()), Cow::Owned)
}

/// Where the field `key` goes.
pub(crate) fn route(key: &str) -> Route {
    match key {
        OTEL_NAME => Route::Name,
        OTEL_KIND | SPAN_KIND => Route::Kind,
        SERVICE_NAME => Route::Service,
        name => peer_field(name).map_or(Route::Tag, Route::Peer),
    }
}

/// A side of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    Server,
    Client,
    /// The `network.peer.*` and old `net.peer.*` names: the other end, whatever the kind.
    Network,
}

/// A field that describes the remote endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PeerField {
    Service,
    Address(Side),
    Port(Side),
}

/// The remote-endpoint part the field `name` describes, if any.
pub(crate) fn peer_field(name: &str) -> Option<PeerField> {
    match name {
        PEER_SERVICE => Some(PeerField::Service),
        SERVER_ADDRESS => Some(PeerField::Address(Side::Server)),
        SERVER_PORT => Some(PeerField::Port(Side::Server)),
        CLIENT_ADDRESS => Some(PeerField::Address(Side::Client)),
        CLIENT_PORT => Some(PeerField::Port(Side::Client)),
        "net.peer.name" | "net.peer.ip" | NETWORK_PEER_ADDRESS => {
            Some(PeerField::Address(Side::Network))
        }
        "net.peer.port" | NETWORK_PEER_PORT => Some(PeerField::Port(Side::Network)),
        _ => None,
    }
}

/// The network fields of a span, kept per side: which side is the remote one depends on the
/// span's kind, which may be known only after them.
#[derive(Default, Debug)]
pub(crate) struct PeerFields {
    service: Option<String>,
    server: HostPort,
    client: HostPort,
    network: HostPort,
}

#[derive(Default, Clone, Debug)]
struct HostPort {
    address: Option<IpAddr>,
    host: Option<String>,
    port: Option<u16>,
}

impl HostPort {
    /// `self`, with what it lacks taken from `fallback`.
    fn or(self, fallback: HostPort) -> HostPort {
        HostPort {
            address: self.address.or(fallback.address),
            host: self.host.or(fallback.host),
            port: self.port.or(fallback.port),
        }
    }
}

impl PeerFields {
    fn side(&mut self, side: Side) -> &mut HostPort {
        match side {
            Side::Server => &mut self.server,
            Side::Client => &mut self.client,
            Side::Network => &mut self.network,
        }
    }

    /// Notes the text value of `field`: a name, an address or host, or a port.
    pub(crate) fn text(&mut self, field: PeerField, text: &str) {
        match field {
            PeerField::Service => self.service = Some(text.to_owned()),
            PeerField::Address(side) => {
                let host_port = self.side(side);
                match text.parse::<IpAddr>() {
                    Ok(ip) => host_port.address = Some(ip),
                    Err(_) => host_port.host = Some(text.to_owned()),
                }
            }
            PeerField::Port(side) => self.side(side).port = text.parse().ok(),
        }
    }

    /// Notes the address `ip` of an address field (`field` is `PeerField::Address`).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn address(&mut self, field: PeerField, ip: IpAddr) {
        if let PeerField::Address(side) = field {
            self.side(side).address = Some(ip);
        }
    }

    /// Notes the integer value of `field`: a port (out of range counts as none).
    pub(crate) fn integer(&mut self, field: PeerField, value: i128) {
        if let PeerField::Port(side) = field {
            self.side(side).port = u16::try_from(value).ok();
        }
    }

    /// The span's local port and remote endpoint, for a span of `kind`.
    pub(crate) fn resolve(self, kind: Option<Kind>) -> (Option<u16>, Option<Endpoint>) {
        let PeerFields {
            service,
            server,
            client,
            network,
        } = self;
        // A server's peer is its client and its own port is `server.port`; for every other kind
        // the peer is the server it calls.
        let mut local_port = None;
        let remote_side = if kind == Some(Kind::Server) {
            local_port = server.port.filter(|port| *port != 0);
            client.or(network)
        } else {
            server.or(network)
        };
        let mut remote = Endpoint {
            // A host name is the best service label Zipkin's endpoint can hold.
            service_name: service
                .or(remote_side.host)
                .map(|name| Arc::from(crate::value::lowercase(&name).as_ref())),
            port: remote_side.port.filter(|port| *port != 0),
            ..Endpoint::default()
        };
        match remote_side.address {
            Some(IpAddr::V4(ip)) => remote.ipv4 = Some(ip),
            Some(IpAddr::V6(ip)) => remote.ipv6 = Some(ip),
            None => {}
        }
        (local_port, (!remote.is_empty()).then_some(remote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_name_routes_to_its_side() {
        assert_eq!(route(OTEL_NAME), Route::Name);
        assert_eq!(route(SPAN_KIND), Route::Kind);
        assert_eq!(route(SERVICE_NAME), Route::Service);
        assert_eq!(
            route(CLIENT_PORT),
            Route::Peer(PeerField::Port(Side::Client))
        );
        assert_eq!(
            route("net.peer.ip"),
            Route::Peer(PeerField::Address(Side::Network))
        );
        assert_eq!(route(HTTP_ROUTE), Route::Tag);
    }

    #[test]
    fn a_server_takes_its_client_as_the_remote_and_any_other_kind_its_server() {
        let notes = |peer: &mut PeerFields| {
            peer.integer(PeerField::Port(Side::Server), 8080);
            peer.text(PeerField::Address(Side::Client), "10.0.0.7");
            peer.integer(PeerField::Port(Side::Client), 51234);
            peer.text(PeerField::Address(Side::Server), "Inventory.internal");
        };
        let mut peer = PeerFields::default();
        notes(&mut peer);
        let (local, remote) = peer.resolve(Some(Kind::Server));
        assert_eq!(local, Some(8080));
        let remote = remote.unwrap();
        assert_eq!(remote.ipv4, Some(std::net::Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(remote.port, Some(51234));
        // A host name on the other side does not name a server's remote.
        assert_eq!(remote.service_name, None);

        let mut peer = PeerFields::default();
        notes(&mut peer);
        let (local, remote) = peer.resolve(Some(Kind::Client));
        assert_eq!(local, None);
        let remote = remote.unwrap();
        assert_eq!(remote.service_name.as_deref(), Some("inventory.internal"));
        assert_eq!(remote.port, Some(8080));
        assert_eq!(remote.ipv4, None);
    }
}
