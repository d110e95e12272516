//! A collector behind TLS and authentication, configured the way applications do it: the
//! one-line setup with `OTEL_EXPORTER_ZIPKIN_ENDPOINT=https://…`, an `Authorization` header
//! from `OTEL_EXPORTER_ZIPKIN_HEADERS` and the private CA given to the builder. The strict
//! receiver sits behind a TLS-terminating byte proxy, so it checks exactly the bytes the
//! reporter sent inside TLS. Without the CA the certificate is refused and the spans are
//! reported as undelivered.
//!
//! The certificates are the fixtures of `report_tls.rs` (`report_support/tls/`): a CA and a
//! `127.0.0.1` server certificate it signed. The setup registers its exporters process-wide,
//! so this file holds a single test.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use traced_tests::{Receiver, SPANS_PATH};
use tracing_subscriber::layer::SubscriberExt;

const CA: &str = include_str!("report_support/tls/ca.pem");
const SERVER_CERT: &str = include_str!("report_support/tls/server.pem");
const SERVER_KEY: &str = include_str!("report_support/tls/server.key");
const WAIT: Duration = Duration::from_secs(20);
/// How long each side is polled before the other gets its turn.
const POLL: Duration = Duration::from_millis(5);

/// Listens for TLS on a loopback port and relays the decrypted bytes both ways to `upstream`;
/// returns the `https://` spans endpoint.
fn tls_proxy(upstream: SocketAddr) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = vec![CertificateDer::from_pem_slice(SERVER_CERT.as_bytes()).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).expect("key");
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!(
        "https://{}{SPANS_PATH}",
        listener.local_addr().expect("addr")
    );
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let _ = relay(client, config, upstream);
            });
        }
    });
    endpoint
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One connection: TLS records from `client` decrypted to `upstream`, answers encrypted back,
/// until either side closes.
fn relay(
    mut client: TcpStream,
    config: Arc<rustls::ServerConfig>,
    upstream: SocketAddr,
) -> std::io::Result<()> {
    let mut tls = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut server = TcpStream::connect(upstream)?;
    client.set_read_timeout(Some(POLL))?;
    server.set_read_timeout(Some(POLL))?;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match tls.read_tls(&mut client) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                tls.process_new_packets().map_err(std::io::Error::other)?;
            }
            Err(error) if is_timeout(&error) => {}
            Err(error) => return Err(error),
        }
        loop {
            match tls.reader().read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => server.write_all(&buffer[..n])?,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        match server.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => tls.writer().write_all(&buffer[..n])?,
            Err(error) if is_timeout(&error) => {}
            Err(error) => return Err(error),
        }
        while tls.wants_write() {
            tls.write_tls(&mut client)?;
        }
    }
}

/// Sets up tracing from `vars` (plus the CA when `trust_ca`), records three spans and shuts
/// down; returns what the shutdown reported as undelivered.
fn report_three_spans(endpoint: &str, trust_ca: bool) -> u64 {
    let mut builder = traced::Builder::from_vars([
        ("OTEL_SERVICE_NAME", "tls-setup"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint),
        (
            "OTEL_EXPORTER_ZIPKIN_HEADERS",
            "Authorization=Bearer%20tls-token",
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
    ]);
    if trust_ca {
        builder = builder.tls_root_certs_pem(CA);
    }
    let (layer, guard) = builder.build_layer().expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info_span!("checkout", order = 7u64).in_scope(|| {
            tracing::info_span!("charge").in_scope(|| tracing::info!("charged"));
            tracing::info_span!("ship").in_scope(|| {});
        });
    });
    guard.shutdown().undelivered
}

#[test]
fn an_https_collector_with_a_private_ca_and_a_bearer_token() {
    let receiver = Receiver::start();
    let endpoint = tls_proxy(receiver.addr());

    assert_eq!(report_three_spans(&endpoint, true), 0);
    let spans = receiver.wait_for_spans(3, WAIT);
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 3);
    let trace = traced_tests::tree::assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("checkout"));
    assert_eq!(trace.root().service(), Some("tls-setup"));
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer tls-token"));
    }

    // Only the bundled public roots: the private CA is unknown, nothing reaches the receiver,
    // and the loss is reported.
    assert_eq!(report_three_spans(&endpoint, false), 3);
    assert_eq!(receiver.requests().len(), requests.len());
    assert_eq!(receiver.span_count(), 3);
}
