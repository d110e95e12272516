//! HTTP integrations: a SERVER span per request for tower / axum services, a CLIENT span per
//! request for reqwest, and the trace context carried between them in the headers, with the
//! trace's [baggage](crate::baggage): the server span has the caller's, and the client sends the
//! current span's.
//!
//! | side | feature | what you add |
//! |---|---|---|
//! | server | `axum` (or `tower` for any `http` service) | `.layer(traced::http::ServerLayer::new())` |
//! | client | `reqwest` | `request.send_traced().await` (`traced::http::SendTraced`) |
//! | client | `reqwest-middleware` | `ClientBuilder::new(client).with(traced::http::ClientTrace::new())` |
//! | any other client | — | [`crate::propagation::inject`] into its `HeaderMap` |
//!
//! # What is recorded, and what never is
//!
//! Spans follow OpenTelemetry's stable HTTP conventions (the names are in [`crate::semconv`];
//! the older `http.method`, `http.url`, `http.target` and `http.status_code` are not emitted).
//! Server spans are named `{METHOD} {route}` (`{METHOD}` when no route template is known) and
//! carry `http.request.method`, `http.route`, `url.path`, `url.query`, `server.address`,
//! `server.port`, `user_agent.original`, `http.response.status_code`, and the client's address
//! (`client.address`, `client.port`) as the remote endpoint. Client spans are named `{METHOD}`
//! and carry `http.request.method`, `url.full`, `url.scheme`, `http.response.status_code`, and
//! the server's host and port (`server.address`, `server.port`) as the remote endpoint. A 5xx
//! answer, a connection error and a handler panic set the `error` and `error.type` tags.
//!
//! No header but `User-Agent` is ever recorded, so `Authorization`, `Cookie`, `Set-Cookie`, `X-Api-Key`,
//! `Proxy-Authorization` and their kind cannot leak. URLs are recorded without their userinfo
//! (`user:password@`) and fragment, and the values of sensitive query parameters (see
//! [`is_sensitive_key`]) are replaced by `REDACTED`:
//!
//! ```
//! let url = "https://bob:hunter2@shop.example/cart?item=7&access_token=abc";
//! assert_eq!(
//!     traced::http::redact_url(url),
//!     "https://shop.example/cart?item=7&access_token=REDACTED"
//! );
//! ```
//!
//! # Continuing a trace by hand
//!
//! Code that receives headers some other way (a message queue, a hand-written hyper service)
//! extracts the caller's context with [`crate::propagation::extract`] and hands it to
//! `#[traced(parent = ...)]`, which accepts an `Option<Remote>` (`None` starts a new trace):
//!
//! ```
//! use http::HeaderMap;
//! use traced::model::{Remote, SpanId};
//! use traced::testing::Capture;
//!
//! #[traced::traced(parent = remote, kind = "consumer", skip(remote))]
//! fn consume(remote: Option<Remote>, message: &str) -> usize {
//!     message.len()
//! }
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".parse().unwrap());
//!
//! let capture = Capture::new();
//! capture.in_scope(|| consume(traced::propagation::extract(&headers), "hello"));
//! assert_eq!(capture.span("consume").parent_id, Some(SpanId(0xe457b5a2e4d86bd1)));
//! ```
//!
//! Without the attribute, [`Propagator::continue_trace`](crate::propagation::Propagator::continue_trace)
//! makes a `tracing` span that continues the headers' trace, and runs a closure or a future in
//! it (keeping a W3C `tracestate` for the calls made inside):
//!
//! ```
//! use traced::testing::Capture;
//!
//! let headers = vec![("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")];
//! let capture = Capture::new();
//! capture.in_scope(|| {
//!     traced::propagation::global()
//!         .continue_trace(&headers, || tracing::info_span!(parent: None, "consume"))
//!         .in_scope(|| { /* handle the message */ })
//! });
//! assert_eq!(capture.span("consume").trace_id.to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
//! ```

#[cfg(any(feature = "tower", feature = "reqwest"))]
mod request_span;
#[cfg(feature = "tower")]
mod server;
#[cfg(feature = "tower")]
mod server_span;
#[cfg(feature = "tower")]
pub use server::{ServerFuture, ServerLayer, ServerService, TraceResponse};

#[cfg(feature = "reqwest")]
mod client;
#[cfg(feature = "reqwest")]
pub use client::{ClientTrace, SendTraced};

/// How a server span relates to the caller's client span.
///
/// ```
/// assert_eq!(traced::http::SpanModel::default(), traced::http::SpanModel::Child);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanModel {
    /// The server span is a new span whose parent is the caller's span (what OpenTelemetry and
    /// B3 peers that do not join expect).
    #[default]
    Child,
    /// Zipkin's classic RPC model: the server span reuses the caller's span id and is reported
    /// with `shared: true`, as Brave and py_zipkin peers that join spans expect.
    Shared,
}

/// The replacement for a sensitive query value: the one marker of every redaction.
pub use crate::redact::REDACTED;

/// Whether a query parameter (or header) named `key` holds a secret whose value must not be
/// recorded: passwords, tokens, keys, signatures, sessions, credentials and the like. The rule is
/// the one `#[traced]` applies to argument names: the name is compared without case, `-`, `_`,
/// `.` or percent-encoding, so `X-Api-Key`, `api_key` and `apiKey` all match.
///
/// ```
/// use traced::http::is_sensitive_key;
/// assert!(is_sensitive_key("access_token"));
/// assert!(is_sensitive_key("X-Amz-Signature"));
/// assert!(is_sensitive_key("api%5Fkey"));
/// assert!(!is_sensitive_key("page"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    crate::redact::is_sensitive(key)
}

/// Appends `query` to `out` with the value of every sensitive parameter replaced by
/// [`REDACTED`]. Parameters keep their order and their (still encoded) names.
fn push_redacted_query(query: &str, out: &mut String) {
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if is_sensitive_key(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
}

/// A request target (`/path?query`) as recorded in `http.target`: sensitive query values are
/// replaced by [`REDACTED`].
///
/// ```
/// assert_eq!(
///     traced::http::redact_target("/login?user=ann&password=x"),
///     "/login?user=ann&password=REDACTED"
/// );
/// ```
pub fn redact_target(target: &str) -> String {
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let mut out = String::with_capacity(target.len());
    match target.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            push_redacted_query(query, &mut out);
        }
        None => out.push_str(target),
    }
    out
}

/// A URL as recorded in `http.url`: no userinfo, no fragment, sensitive query values replaced by
/// [`REDACTED`]. Text that is not an absolute URL is treated as a target (see [`redact_target`]).
///
/// ```
/// assert_eq!(
///     traced::http::redact_url("http://admin:pw@10.0.0.1:8080/a?sig=1#top"),
///     "http://10.0.0.1:8080/a?sig=REDACTED"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_target(url);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(authority_end);
    // The host comes after the last `@`: a password may itself contain `@` when unencoded.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(host);
    out.push_str(&redact_target(target));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_everything_but_secret_values() {
        assert_eq!(redact_target("/"), "/");
        assert_eq!(redact_target("/a/b"), "/a/b");
        assert_eq!(redact_target("/a?"), "/a?");
        assert_eq!(redact_target("/a?x=1&y"), "/a?x=1&y");
        assert_eq!(
            redact_target("/a?token=t&x=1&token=u&password="),
            "/a?token=REDACTED&x=1&token=REDACTED&password=REDACTED"
        );
        // A valueless flag named like a secret holds no secret.
        assert_eq!(redact_target("/a?token"), "/a?token");
        assert_eq!(redact_target("/a?q=1#frag"), "/a?q=1");
        // An `=` inside the value does not end the key.
        assert_eq!(redact_target("/a?jwt=a=b=c"), "/a?jwt=REDACTED");
    }

    #[test]
    fn urls_lose_userinfo_and_fragment() {
        assert_eq!(
            redact_url("https://u:p@host/path?q=1"),
            "https://host/path?q=1"
        );
        assert_eq!(redact_url("http://u:p@ss@host:81"), "http://host:81");
        assert_eq!(redact_url("http://host#x"), "http://host");
        assert_eq!(
            redact_url("http://[::1]:8080/?api_key=k"),
            "http://[::1]:8080/?api_key=REDACTED"
        );
        // An `@` in the path or query is not userinfo.
        assert_eq!(
            redact_url("http://host/users/a@b?to=c@d"),
            "http://host/users/a@b?to=c@d"
        );
    }
}
