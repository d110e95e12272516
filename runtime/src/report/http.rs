//! One POST of an encoded batch, with a blocking ureq agent owned by the reporter's thread.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use ureq::Agent;

use super::retry::{honours_retry_after, is_retryable_status, parse_retry_after};
use super::ReportError;

/// How a POST ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The collector accepted the spans; holds its answer's body (an OTLP collector says there
    /// which spans it rejected, if any).
    Delivered(Vec<u8>),
    /// Worth repeating; `after` is what the collector asked for with `Retry-After`.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Repeating cannot help (a 4xx other than 429, a 3xx, a local error).
    Fail { reason: String },
}

/// The most of an answer's body read, so the connection can be reused; a collector answering
/// more than this is not worth keeping a connection to.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

pub(crate) struct Sender {
    agent: Agent,
    /// The endpoint's looked-up addresses, forgotten after a POST that got no answer.
    lookups: super::resolve::Lookups,
    endpoint: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    content_type: &'static str,
    max_retry_after: Duration,
    /// OTLP's retry rules instead of Zipkin's (see `retry::is_retryable_status`).
    otlp: bool,
}

pub(crate) struct SenderConfig<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) content_type: &'static str,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) tls_root_certs_pem: Option<&'a [u8]>,
    pub(crate) otlp: bool,
}

impl Sender {
    /// Checks the endpoint and headers and builds the agent; nothing is sent yet.
    pub(crate) fn new(config: SenderConfig<'_>) -> Result<Sender, ReportError> {
        check_endpoint(config.endpoint)?;
        let mut headers = Vec::with_capacity(config.headers.len());
        for (name, value) in config.headers {
            let invalid = || ReportError::InvalidHeader(name.clone());
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| invalid())?;
            let value = HeaderValue::from_str(value.trim()).map_err(|_| invalid())?;
            headers.push((name, value));
        }
        let agent_config = with_tls_roots(Agent::config_builder(), config.tls_root_certs_pem)?
            // Statuses are answers to classify, not errors.
            .http_status_as_error(false)
            // A redirected POST would be re-sent as a GET by some rules; treat 3xx as a failure.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .user_agent(concat!("traced/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections(2)
            .max_idle_connections_per_host(2)
            .build();
        let (resolver, lookups) = super::resolve::ReporterResolver::new();
        Ok(Sender {
            agent: Agent::with_parts(
                agent_config,
                ureq::unversioned::transport::DefaultConnector::new(),
                resolver,
            ),
            lookups,
            endpoint: config.endpoint.to_owned(),
            headers,
            content_type: config.content_type,
            max_retry_after: config.max_retry_after,
            otlp: config.otlp,
        })
    }

    /// POSTs `body`; the whole exchange (connect, send, answer) is bounded by `timeout`.
    pub(crate) fn post(&self, body: &[u8], gzipped: bool, timeout: Duration) -> Outcome {
        let mut request = self
            .agent
            .post(&self.endpoint)
            .config()
            .timeout_global(Some(timeout.max(Duration::from_millis(1))))
            .build()
            .header(http::header::CONTENT_TYPE, self.content_type)
            // Tells an instrumented collector not to trace our own POSTs (B3 "not sampled").
            .header("b3", "0");
        if gzipped {
            request = request.header(http::header::CONTENT_ENCODING, "gzip");
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(error) => {
                // No answer: the collector may have moved, so look its name up again next time.
                self.lookups.forget();
                return classify_error(&error);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.as_bytes(), self.max_retry_after));
        // Reading the (small) answer lets the agent keep the connection alive for the next POST.
        let answer = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            return Outcome::Delivered(answer);
        }
        let mut reason = format!("HTTP {status}");
        let snippet = String::from_utf8_lossy(&answer[..answer.len().min(200)]);
        let snippet = snippet.trim();
        if !snippet.is_empty() {
            reason.push_str(": ");
            reason.extend(
                snippet
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c }),
            );
        }
        if is_retryable_status(status, self.otlp) {
            Outcome::Retry {
                after: retry_after.filter(|_| honours_retry_after(status)),
                reason,
            }
        } else {
            Outcome::Fail { reason }
        }
    }
}

#[cfg(feature = "rustls")]
fn with_tls_roots(
    builder: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    pem: Option<&[u8]>,
) -> Result<ureq::config::ConfigBuilder<ureq::typestate::AgentScope>, ReportError> {
    let Some(pem) = pem else {
        return Ok(builder);
    };
    let mut roots = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => roots.push(cert),
            Ok(_) => {}
            Err(error) => return Err(ReportError::Tls(format!("bad PEM: {error}"))),
        }
    }
    if roots.is_empty() {
        return Err(ReportError::Tls("no certificate in the PEM roots".into()));
    }
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
        .build();
    Ok(builder.tls_config(tls))
}

#[cfg(not(feature = "rustls"))]
fn with_tls_roots<B>(builder: B, pem: Option<&[u8]>) -> Result<B, ReportError> {
    match pem {
        None => Ok(builder),
        Some(_) => Err(ReportError::Tls(
            "TLS roots need traced's `rustls` feature".into(),
        )),
    }
}

fn classify_error(error: &ureq::Error) -> Outcome {
    use ureq::Error;
    let reason = error.to_string();
    match error {
        // The network or the collector misbehaved: another attempt may get through.
        Error::Io(_)
        | Error::Timeout(_)
        | Error::ConnectionFailed
        | Error::HostNotFound
        | Error::Protocol(_) => Outcome::Retry {
            after: None,
            reason,
        },
        // Our request or our configuration is wrong: repeating it cannot help.
        _ => Outcome::Fail { reason },
    }
}

/// An endpoint must be an absolute `http://` URL (or `https://` with the `rustls` feature).
pub(crate) fn check_endpoint(endpoint: &str) -> Result<(), ReportError> {
    let invalid = |why: &str| ReportError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: why.to_owned(),
    };
    let uri: http::Uri = endpoint.parse().map_err(|_| invalid("not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") if cfg!(feature = "rustls") => {}
        Some("https") => {
            return Err(invalid(
                "https needs traced's `rustls` feature (features = [\"rustls\"])",
            ))
        }
        Some(_) => return Err(invalid("the scheme must be http or https")),
        None => {
            return Err(invalid(
                "expected an absolute URL such as http://localhost:9411/api/v2/spans",
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(check_endpoint("http://localhost:9411/api/v2/spans").is_ok());
        assert!(check_endpoint("http://127.0.0.1:1/").is_ok());
        for bad in [
            "",
            "localhost:9411",
            "ftp://host/x",
            "http://",
            "not a url",
            "/api/v2/spans",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            check_endpoint("https://zipkin.example/api/v2/spans").is_ok(),
            cfg!(feature = "rustls")
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let sender = |headers: &[(String, String)]| {
            Sender::new(SenderConfig {
                endpoint: "http://127.0.0.1:9/",
                headers,
                content_type: "application/json",
                connect_timeout: Duration::from_secs(1),
                max_retry_after: Duration::from_secs(1),
                tls_root_certs_pem: None,
                otlp: false,
            })
            .map(|_| ())
        };
        assert!(sender(&[("Authorization".into(), "Bearer x".into())]).is_ok());
        assert!(matches!(
            sender(&[("bad name".into(), "x".into())]),
            Err(ReportError::InvalidHeader(name)) if name == "bad name"
        ));
        assert!(sender(&[("x-ok".into(), "line\nbreak".into())]).is_err());
    }

    #[test]
    fn connection_errors_are_retried_and_local_ones_are_not() {
        let io = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(classify_error(&io), Outcome::Retry { .. }));
        assert!(matches!(
            classify_error(&ureq::Error::BadUri("x".into())),
            Outcome::Fail { .. }
        ));
    }
}
