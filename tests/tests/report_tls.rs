//! An HTTPS collector (the `rustls` feature, no OpenSSL): spans reach the strict receiver through
//! a TLS front whose certificate a private CA signed; an untrusted certificate is refused.
//!
//! The certificates in `report_support/tls/` are test fixtures only: a CA and a `127.0.0.1` /
//! `localhost` server certificate it signed, valid until 2126.

mod report_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use report_support::{config, dispatch, make_traces};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use traced::export::Exporter;
use traced::report::{ReportError, ZipkinReporter};
use traced_tests::Receiver;

const CA: &str = include_str!("report_support/tls/ca.pem");
const SERVER_CERT: &str = include_str!("report_support/tls/server.pem");
const SERVER_KEY: &str = include_str!("report_support/tls/server.key");
const WAIT: Duration = Duration::from_secs(20);

/// Terminates TLS on a loopback port and forwards each request to `upstream` (the receiver),
/// answering with its status. Returns the `https://` endpoint.
fn tls_front(upstream: String) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = vec![CertificateDer::from_pem_slice(SERVER_CERT.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let server = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("https://{}/api/v2/spans", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let server = Arc::clone(&server);
            let upstream = upstream.clone();
            std::thread::spawn(move || serve(tcp, server, &upstream));
        }
    });
    endpoint
}

fn serve(tcp: TcpStream, server: Arc<rustls::ServerConfig>, upstream: &str) {
    let Ok(connection) = rustls::ServerConnection::new(server) else {
        return;
    };
    let mut tls = BufReader::new(rustls::StreamOwned::new(connection, tcp));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    loop {
        let mut headers = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            match tls.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {
                    if let Some((name, value)) = line.trim_end().split_once(':') {
                        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                    }
                }
            }
        }
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if tls.read_exact(&mut body).is_err() {
            return;
        }
        let mut request = agent.post(upstream);
        for (name, value) in &headers {
            if !matches!(
                name.as_str(),
                "content-length" | "host" | "connection" | "transfer-encoding"
            ) {
                request = request.header(name, value);
            }
        }
        let status = request
            .send(&body[..])
            .map_or(502, |answer| answer.status().as_u16());
        let answer = format!("HTTP/1.1 {status} Forwarded\r\ncontent-length: 0\r\n\r\n");
        if tls.get_mut().write_all(answer.as_bytes()).is_err() || tls.get_mut().flush().is_err() {
            return;
        }
    }
}

#[test]
fn spans_reach_an_https_collector_signed_by_a_trusted_ca() {
    let receiver = Receiver::start();
    let endpoint = tls_front(receiver.endpoint());
    let reporter =
        ZipkinReporter::start(config(&endpoint).tls_root_certs_pem(CA).gzip(true)).unwrap();
    let created = make_traces(&dispatch(&reporter), 3, 2);
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    assert_eq!(
        receiver.wait_for_spans(created as usize, WAIT).len() as u64,
        created
    );
    receiver.assert_no_violations();
    for request in receiver.requests() {
        assert_eq!(request.header("b3"), Some("0"));
        assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
    }
}

#[test]
fn an_untrusted_certificate_is_refused_and_counted() {
    let receiver = Receiver::start();
    let endpoint = tls_front(receiver.endpoint());
    // Only the bundled public roots: our private CA is unknown.
    let reporter =
        ZipkinReporter::start(config(&endpoint).schedule_delay(Duration::from_secs(3600))).unwrap();
    let created = make_traces(&dispatch(&reporter), 1, 2);
    assert_eq!(reporter.flush(WAIT).unsent, created);
    assert!(receiver.requests().is_empty());
    let stats = reporter.stats();
    assert_eq!((stats.sent, stats.dropped, stats.pending), (0, created, 0));
}

#[test]
fn roots_that_are_not_certificates_are_a_start_error() {
    for pem in ["", "not a certificate", SERVER_KEY] {
        let result = ZipkinReporter::start(config("https://127.0.0.1:9/").tls_root_certs_pem(pem));
        assert!(
            matches!(result, Err(ReportError::Tls(_))),
            "{pem:?}: {result:?}"
        );
    }
}
