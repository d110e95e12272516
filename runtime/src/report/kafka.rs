//! One encoded batch published as one Kafka message: Zipkin's scale-out transport, where services
//! publish to a topic (default `zipkin`) and any number of Zipkin collectors consume it
//! (`KAFKA_BOOTSTRAP_SERVERS` on zipkin-server). The message is what zipkin-server's Kafka
//! collector reads: a JSON v2 list or a proto3 `ListOfSpans`, the same bytes an HTTP POST
//! carries; gzip becomes Kafka's own record-batch compression, which the consumer undoes.
//!
//! The client is rskafka, chosen over librdkafka (`rdkafka`, the field's standard) on purpose:
//! - it is pure Rust, so the `kafka` feature needs no C toolchain, cmake or OpenSSL;
//! - it has no queue or retry loop of its own that we would have to bound and account for twice:
//!   librdkafka buffers messages in its own queue and retries them on its own threads, so a span
//!   would be "ours" and "librdkafka's" at once. With rskafka one produce request is one attempt,
//!   and the reporter's bounded queue, batching, retries with backoff, exact counting and
//!   shutdown deadline apply to Kafka exactly as they do to HTTP.
//!
//! rskafka is async; the reporter's thread drives it with a current-thread tokio runtime of its
//! own, so the instrumented program needs no runtime and never shares one with us.

use std::cell::RefCell;
use std::time::Duration;

use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;

use super::http::Outcome;
use super::ReportError;

/// The topic when the endpoint names none, as Brave and zipkin-server default to.
pub(crate) const DEFAULT_TOPIC: &str = "zipkin";

/// The largest message we publish: below the broker's default `message.max.bytes` (1,048,588)
/// with room for the record batch's own header. Batches are cut to this size.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1_000_000;

/// A parsed `kafka://host:port[,host:port…][/topic]` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KafkaEndpoint {
    pub(crate) brokers: Vec<String>,
    pub(crate) topic: String,
}

/// Parses a Kafka endpoint; the error says what is wrong with it.
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<KafkaEndpoint, String> {
    let rest = endpoint
        .get(8..)
        .filter(|_| super::transport::is_kafka(endpoint))
        .ok_or("it must start with kafka://")?;
    let (brokers, topic) = match rest.split_once('/') {
        Some((brokers, topic)) => (brokers, topic),
        None => (rest, ""),
    };
    let topic = if topic.is_empty() {
        DEFAULT_TOPIC
    } else {
        topic
    };
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.len() > 249 || !topic.chars().all(legal) || topic == "." || topic == ".." {
        return Err(format!(
            "{topic:?} is not a Kafka topic name (up to 249 of a-z A-Z 0-9 . _ -)"
        ));
    }
    let brokers: Vec<String> = brokers
        .split(',')
        .map(str::trim)
        .map(str::to_owned)
        .collect();
    for broker in &brokers {
        let port = broker
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        match port {
            Some((host, Ok(port))) if !host.is_empty() && port > 0 => {}
            _ => {
                return Err(format!(
                    "{broker:?} is not a broker address like kafka-1:9092"
                ))
            }
        }
    }
    Ok(KafkaEndpoint {
        brokers,
        topic: topic.to_owned(),
    })
}

/// Publishes batches to one topic, round-robin over its partitions.
pub(crate) struct KafkaSender {
    runtime: tokio::runtime::Runtime,
    endpoint: KafkaEndpoint,
    connect_timeout: Duration,
    /// The connection, made on first use and dropped after a failure so the next attempt starts
    /// from fresh metadata. Only the reporter's thread touches it.
    connection: RefCell<Option<Connection>>,
}

struct Connection {
    // Kept for the partitions' shared broker connections.
    _client: Client,
    partitions: Vec<PartitionClient>,
    next: usize,
}

impl KafkaSender {
    /// Checks the endpoint and builds the runtime; nothing is connected yet.
    pub(crate) fn new(
        endpoint: &str,
        connect_timeout: Duration,
    ) -> Result<KafkaSender, ReportError> {
        let endpoint = parse_endpoint(endpoint).map_err(|reason| ReportError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason,
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ReportError::Spawn)?;
        Ok(KafkaSender {
            runtime,
            endpoint,
            connect_timeout,
            connection: RefCell::new(None),
        })
    }

    /// Publishes `body` as one message, the whole exchange bounded by `timeout`.
    pub(crate) fn publish(&self, body: &[u8], compress: bool, timeout: Duration) -> Outcome {
        let timeout = timeout.max(Duration::from_millis(1));
        self.runtime.block_on(async {
            tokio::time::timeout(timeout, self.publish_async(body, compress, timeout))
                .await
                .unwrap_or_else(|_| retry(format!("kafka: no answer within {timeout:?}")))
        })
    }

    async fn publish_async(&self, body: &[u8], compress: bool, timeout: Duration) -> Outcome {
        // The connection is taken out while in use and put back only after a success: after
        // any failure (or a timeout, which drops this future) the next attempt connects anew
        // and looks the topic and its leaders up again.
        let taken = self.connection.borrow_mut().take();
        let mut connection = match taken {
            Some(connection) => connection,
            None => match self.connect(timeout).await {
                Ok(connection) => connection,
                Err(outcome) => return outcome,
            },
        };
        let record = Record {
            key: None,
            value: Some(body.to_vec()),
            headers: Default::default(),
            timestamp: chrono::Utc::now(),
        };
        let compression = if compress {
            Compression::Gzip
        } else {
            Compression::NoCompression
        };
        let index = connection.next % connection.partitions.len();
        connection.next = connection.next.wrapping_add(1);
        match connection.partitions[index]
            .produce(vec![record], compression)
            .await
        {
            Ok(_) => {
                *self.connection.borrow_mut() = Some(connection);
                Outcome::Delivered(Vec::new())
            }
            Err(error) => classify(&error, &self.endpoint.topic),
        }
    }

    async fn connect(&self, timeout: Duration) -> Result<Connection, Outcome> {
        // rskafka's own retries end well within one attempt of ours, so our backoff, attempt
        // bound and deadline stay in charge.
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
            deadline: Some(timeout.min(self.connect_timeout.max(Duration::from_millis(1)))),
        };
        let client = ClientBuilder::new(self.endpoint.brokers.clone())
            .client_id(concat!("traced/", env!("CARGO_PKG_VERSION")))
            .max_message_size(16 * MAX_MESSAGE_BYTES)
            .backoff_config(backoff)
            .build()
            .await
            .map_err(|error| {
                retry(format!(
                    "kafka: cannot reach {:?}: {error}",
                    self.endpoint.brokers
                ))
            })?;
        let topic = &self.endpoint.topic;
        let mut partition_ids: Vec<i32> = client
            .list_topics()
            .await
            .map_err(|error| retry(format!("kafka: cannot list topics: {error}")))?
            .into_iter()
            .find(|found| &found.name == topic)
            .map(|found| found.partitions.into_iter().collect())
            .unwrap_or_default();
        if partition_ids.is_empty() {
            // Not listed yet: ask for partition 0 by name, which lets a broker that creates
            // topics on demand create it; one that does not answers "unknown topic".
            partition_ids.push(0);
        }
        let mut partitions = Vec::with_capacity(partition_ids.len());
        for id in partition_ids {
            let partition = client
                .partition_client(topic.clone(), id, UnknownTopicHandling::Error)
                .await
                .map_err(|error| classify(&error, topic))?;
            partitions.push(partition);
        }
        Ok(Connection {
            _client: client,
            partitions,
            next: 0,
        })
    }
}

fn retry(reason: String) -> Outcome {
    Outcome::Retry {
        after: None,
        reason,
    }
}

/// A broker that refuses the message for its size or its form will refuse it every time; the
/// rest (connections, leaders moving, a topic not there yet, timeouts) may pass on a retry.
fn classify(error: &rskafka::client::error::Error, topic: &str) -> Outcome {
    use rskafka::client::error::{Error, ProtocolError};
    match error {
        Error::ServerError { protocol_error, .. } => match protocol_error {
            ProtocolError::MessageTooLarge | ProtocolError::RecordListTooLarge => Outcome::Fail {
                reason: format!(
                    "kafka: the broker refused a message as too large ({protocol_error}); \
                     raise the topic's max.message.bytes or lower max_batch_bytes"
                ),
            },
            ProtocolError::InvalidRecord
            | ProtocolError::CorruptMessage
            | ProtocolError::TopicAuthorizationFailed
            | ProtocolError::InvalidTopicException => Outcome::Fail {
                reason: format!("kafka: topic {topic:?} refused the message: {protocol_error}"),
            },
            ProtocolError::UnknownTopicOrPartition => {
                retry(format!("kafka: topic {topic:?} does not exist"))
            }
            other => retry(format!("kafka: {other}")),
        },
        other => retry(format!("kafka: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_brokers_and_a_topic() {
        assert_eq!(
            parse_endpoint("kafka://k1:9092,k2:9093/spans"),
            Ok(KafkaEndpoint {
                brokers: vec!["k1:9092".to_owned(), "k2:9093".to_owned()],
                topic: "spans".to_owned()
            })
        );
        assert_eq!(
            parse_endpoint("KAFKA://127.0.0.1:9092").map(|e| e.topic),
            Ok("zipkin".to_owned())
        );
        assert_eq!(
            parse_endpoint("kafka://127.0.0.1:9092/").map(|e| e.topic),
            Ok("zipkin".to_owned())
        );
        for (bad, says) in [
            ("kafka://", "broker address"),
            ("kafka://k1", "broker address"),
            ("kafka://k1:0", "broker address"),
            ("kafka://:9092", "broker address"),
            ("kafka://k1:9092,/t", "broker address"),
            ("kafka://k1:9092/a b", "topic name"),
            ("kafka://k1:9092/a/b", "topic name"),
            ("http://k1:9092", "kafka://"),
        ] {
            let error = parse_endpoint(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
