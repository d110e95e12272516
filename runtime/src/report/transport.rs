//! Where the reporter's thread sends an encoded batch: an HTTP collector (`http://`, `https://`),
//! or with the `kafka` feature a Kafka topic (`kafka://host:port[,host:port…][/topic]`). Either
//! way one call is one attempt; batching, retries, counting and deadlines stay the worker's.

use std::time::Duration;

use super::http::{self, Outcome};
#[cfg(feature = "kafka")]
use super::kafka;
use super::{ReportError, ReporterConfig};

pub(crate) enum Transport {
    Http(http::Sender),
    #[cfg(feature = "kafka")]
    Kafka(kafka::KafkaSender),
}

/// Whether `endpoint` names Kafka (`kafka://…`) rather than an HTTP collector.
pub(crate) fn is_kafka(endpoint: &str) -> bool {
    endpoint
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("kafka://"))
}

impl Transport {
    /// Checks the endpoint (and for HTTP the headers and TLS settings); connects nothing yet.
    pub(crate) fn new(config: &ReporterConfig) -> Result<Transport, ReportError> {
        let connect_timeout = config.connect_timeout.min(config.export_timeout);
        if is_kafka(&config.endpoint) {
            #[cfg(feature = "kafka")]
            return kafka::KafkaSender::new(&config.endpoint, connect_timeout)
                .map(Transport::Kafka);
            #[cfg(not(feature = "kafka"))]
            return Err(ReportError::InvalidEndpoint {
                endpoint: config.endpoint.clone(),
                reason: "kafka:// needs traced's `kafka` feature (features = [\"kafka\"])"
                    .to_owned(),
            });
        }
        http::Sender::new(http::SenderConfig {
            endpoint: &config.endpoint,
            headers: &config.headers,
            content_type: config.encoding.content_type(),
            connect_timeout,
            max_retry_after: config.max_retry_after,
            tls_root_certs_pem: config.tls_root_certs_pem.as_deref(),
            otlp: config.encoding.is_otlp(),
        })
        .map(Transport::Http)
    }

    /// Sends one encoded batch within `timeout`. With `gzip`, HTTP gets a body the worker
    /// compressed (see [`Transport::gzips_body`]); Kafka compresses its record batch itself.
    pub(crate) fn send(&self, body: &[u8], gzip: bool, timeout: Duration) -> Outcome {
        match self {
            Transport::Http(sender) => sender.post(body, gzip, timeout),
            #[cfg(feature = "kafka")]
            Transport::Kafka(sender) => sender.publish(body, gzip, timeout),
        }
    }

    /// Whether gzip means compressing the body before [`Transport::send`].
    pub(crate) fn gzips_body(&self) -> bool {
        matches!(self, Transport::Http(_))
    }

    /// The largest batch this transport can carry, if it is smaller than the configured one.
    pub(crate) fn max_batch_bytes(&self) -> Option<usize> {
        match self {
            Transport::Http(_) => None,
            #[cfg(feature = "kafka")]
            Transport::Kafka(_) => Some(kafka::MAX_MESSAGE_BYTES),
        }
    }
}
