//! Jaeger remote sampling: the strategy for this service comes from a Jaeger sampling endpoint,
//! polled on a background thread.
//!
//! The endpoint answers `GET {endpoint}/?service={service}` (Jaeger's `remote_sampling`
//! extension also serves it under `/sampling` and `/api/sampling`) with a JSON strategy:
//!
//! ```json
//! {"strategyType": 0, "probabilisticSampling": {"samplingRate": 0.5},
//!  "operationSampling": {"defaultSamplingProbability": 0.5, "defaultLowerBoundTracesPerSecond": 0,
//!    "perOperationStrategies": [{"operation": "GET /available", "probabilisticSampling": {"samplingRate": 1}}]}}
//! ```
//!
//! `strategyType` is `0` / `"PROBABILISTIC"` or `1` / `"RATE_LIMITING"` (Jaeger v2 sends the
//! number, older agents the name). How the answer is applied:
//!
//! - `RATE_LIMITING`: at most `maxTracesPerSecond` new traces a second, for every operation
//!   (Jaeger's per-operation strategies are probabilistic only, and the real Jaeger adds its
//!   default operation strategies to a rate-limited service's answer: they are ignored).
//! - `PROBABILISTIC` with `operationSampling`: per operation (the root span's name), as Jaeger's
//!   `GuaranteedThroughputProbabilisticSampler`: a listed operation is sampled at its rate,
//!   any other at `defaultSamplingProbability`, and each operation also gets up to
//!   `defaultLowerBoundTracesPerSecond` traces a second whatever its rate (at most 2000
//!   operations are tracked; later ones share the default's budget).
//! - `PROBABILISTIC` alone: `samplingRate` for every trace.
//!
//! Until the first good answer, traces are sampled at the initial rate. A poll that fails (the
//! server is down, slow, answers an error status or something that is not a valid strategy)
//! leaves the last good strategy in effect, so a collector that restarts does not change what a
//! service records; after three failed polls in a row the server counts as
//! down and the initial rate applies again, until its next good answer. A span never waits for
//! the endpoint: requests run on the sampler's own thread, and a decision reads the strategy in
//! effect.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use super::{RateLimiting, Sampler, TraceIdRatio};
use crate::model::{Sampling, TraceId};

/// The endpoint used when none is configured: a Jaeger agent or collector on this host.
const DEFAULT_ENDPOINT: &str = "http://localhost:5778";

/// The polling interval used when none is configured (the OpenTelemetry SDKs' default).
const DEFAULT_POLLING_INTERVAL: Duration = Duration::from_secs(60);

/// The sampling rate until the first strategy arrives (the OpenTelemetry SDKs' default).
const DEFAULT_INITIAL_SAMPLING_RATE: f64 = 0.001;

/// Operations with a sampler of their own under a per-operation strategy (Jaeger's clients
/// keep 2000): a service that names spans after raw URLs cannot grow the table without bound.
const MAX_OPERATIONS: usize = 2000;

/// Failed polls in a row after which the server counts as down and the initial rate applies
/// again: one failure is a blip (a restart), three polling intervals are an outage.
const STALE_AFTER_FAILED_POLLS: u32 = 3;

/// The longest a request to the endpoint may take.
const MAX_REQUEST_TIME: Duration = Duration::from_secs(10);

/// The largest strategy answer read.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

/// Where and how often a [`JaegerRemote`] sampler asks for its strategy.
///
/// ```
/// use std::time::Duration;
/// use traced::sample::JaegerRemoteConfig;
///
/// let config = JaegerRemoteConfig::new("http://jaeger:5778")
///     .polling_interval(Duration::from_secs(30))
///     .initial_sampling_rate(0.01);
/// assert_eq!(config.strategy_url("my service"), "http://jaeger:5778/?service=my%20service");
/// ```
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub struct JaegerRemoteConfig {
    /// The sampling endpoint's URL: `http://host:5778` (the strategy is then read from `/`), or
    /// a URL with a path, such as `http://host:5778/api/sampling`, used as it is.
    pub endpoint: String,
    /// How long to wait between two requests (`pollingIntervalMs`).
    pub polling_interval: Duration,
    /// The sampling rate until the first strategy arrives (`initialSamplingRate`, 0 to 1).
    pub initial_sampling_rate: f64,
}

impl Default for JaegerRemoteConfig {
    fn default() -> JaegerRemoteConfig {
        JaegerRemoteConfig::new(DEFAULT_ENDPOINT)
    }
}

impl JaegerRemoteConfig {
    /// Polls `endpoint` every minute, sampling 0.1 % of traces until the first answer.
    pub fn new(endpoint: impl Into<String>) -> JaegerRemoteConfig {
        JaegerRemoteConfig {
            endpoint: endpoint.into(),
            polling_interval: DEFAULT_POLLING_INTERVAL,
            initial_sampling_rate: DEFAULT_INITIAL_SAMPLING_RATE,
        }
    }

    /// How long to wait between two requests (at least a millisecond).
    pub fn polling_interval(mut self, interval: Duration) -> JaegerRemoteConfig {
        self.polling_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The sampling rate until the first strategy arrives.
    pub fn initial_sampling_rate(mut self, rate: f64) -> JaegerRemoteConfig {
        self.initial_sampling_rate = rate;
        self
    }

    /// The URL the strategy of `service` is read from.
    pub fn strategy_url(&self, service: &str) -> String {
        let endpoint = self.endpoint.trim_end_matches('/');
        let has_path = endpoint
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'));
        let separator = if has_path { "?" } else { "/?" };
        format!("{endpoint}{separator}service={}", encode_query(service))
    }
}

/// Percent-encodes a query value (unreserved characters stay as they are).
fn encode_query(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Samples as a Jaeger sampling endpoint says, per service and operation (see the module docs
/// above for the strategies and how failures are handled).
///
/// The sampler starts its polling thread when it is made and stops it when it is dropped. Use
/// it as the sampler of [`crate::Builder::sampler`], or name it in the environment:
/// `OTEL_TRACES_SAMPLER=parentbased_jaeger_remote` with
/// `OTEL_TRACES_SAMPLER_ARG=endpoint=http://jaeger:5778,pollingIntervalMs=5000,initialSamplingRate=0.1`.
///
/// ```no_run
/// use traced::sample::{JaegerRemote, JaegerRemoteConfig, ParentBased};
///
/// let sampler = JaegerRemote::new(JaegerRemoteConfig::new("http://jaeger:5778"), "checkout");
/// let _guard = traced::builder().service_name("checkout").sampler(ParentBased::new(sampler)).init();
/// ```
pub struct JaegerRemote {
    shared: Arc<Shared>,
    /// Dropped with the sampler, which ends the polling thread's wait.
    _stop: Sender<()>,
}

/// What the sampler and its polling thread share.
struct Shared {
    /// The strategy in effect; replaced whole by the polling thread.
    current: RwLock<Arc<Strategy>>,
    /// Decides while the strategy is being replaced, so a span never waits for the lock.
    initial: TraceIdRatio,
}

impl Shared {
    /// Puts `strategy` in effect.
    fn set(&self, strategy: Arc<Strategy>) {
        *self
            .current
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = strategy;
    }
}

impl JaegerRemote {
    /// Starts polling `config.endpoint` for the strategy of `service`; decides at the initial
    /// rate until the first answer.
    pub fn new(config: JaegerRemoteConfig, service: &str) -> JaegerRemote {
        let initial = TraceIdRatio::new(config.initial_sampling_rate);
        let shared = Arc::new(Shared {
            current: RwLock::new(Arc::new(Strategy::Initial(initial))),
            initial,
        });
        let (stop, stopped) = mpsc::channel();
        let poller = Poller {
            shared: Arc::downgrade(&shared),
            url: config.strategy_url(service),
            interval: config.polling_interval,
            last: None,
        };
        let spawned = std::thread::Builder::new()
            .name("traced-jaeger-sampling".to_owned())
            .spawn(move || poller.run(&stopped));
        if let Err(error) = spawned {
            eprintln!(
                "traced: the Jaeger remote sampler cannot start its thread ({error}); \
                 sampling at the initial rate {}",
                initial.ratio()
            );
        }
        JaegerRemote {
            shared,
            _stop: stop,
        }
    }

    /// The strategy in effect, described as Jaeger names it (`initial 0.001`, `probabilistic 0.5`,
    /// `ratelimiting 5`, `per-operation (2 operations, default 0.25, lower bound 0/s)`).
    ///
    /// ```no_run
    /// use traced::sample::{JaegerRemote, JaegerRemoteConfig};
    /// let sampler = JaegerRemote::new(JaegerRemoteConfig::new("http://jaeger:5778"), "catalog");
    /// println!("{}", sampler.strategy());
    /// ```
    pub fn strategy(&self) -> String {
        self.current().to_string()
    }

    fn current(&self) -> Arc<Strategy> {
        match self.shared.current.try_read() {
            Ok(current) => current.clone(),
            Err(_) => Arc::new(Strategy::Initial(self.shared.initial)),
        }
    }
}

impl fmt::Debug for JaegerRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JaegerRemote")
            .field("strategy", &self.strategy())
            .finish()
    }
}

impl Sampler for JaegerRemote {
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling {
        self.sample_operation(trace_id, incoming, "")
    }

    fn sample_operation(
        &self,
        trace_id: TraceId,
        incoming: Option<Sampling>,
        operation: &str,
    ) -> Sampling {
        // `try_read`: the poller holds the write lock only to swap a pointer, and a decision
        // made meanwhile at the initial rate is better than a span that waits.
        match self.shared.current.try_read() {
            Ok(current) => current.sample(trace_id, incoming, operation),
            Err(_) => self.shared.initial.sample(trace_id, incoming),
        }
    }
}

/// The polling thread's state.
struct Poller {
    shared: std::sync::Weak<Shared>,
    url: String,
    interval: Duration,
    /// The last good answer, so an unchanged strategy keeps its rate limiters' budgets.
    last: Option<Parsed>,
}

impl Poller {
    fn run(mut self, stopped: &mpsc::Receiver<()>) {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(self.interval.min(MAX_REQUEST_TIME)))
                .user_agent(concat!("traced/", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let mut failed_in_a_row = 0;
        loop {
            match fetch(&agent, &self.url) {
                Ok(parsed) => {
                    failed_in_a_row = 0;
                    if self.last.as_ref() != Some(&parsed) {
                        let Some(shared) = self.shared.upgrade() else {
                            return;
                        };
                        shared.set(Arc::new(parsed.build()));
                        self.last = Some(parsed);
                    }
                }
                Err(()) => {
                    failed_in_a_row += 1;
                    if failed_in_a_row == STALE_AFTER_FAILED_POLLS && self.last.is_some() {
                        // The server is down: back to the initial rate until it answers.
                        let Some(shared) = self.shared.upgrade() else {
                            return;
                        };
                        shared.set(Arc::new(Strategy::Initial(shared.initial)));
                        self.last = None;
                    }
                }
            }
            match stopped.recv_timeout(self.interval) {
                Err(RecvTimeoutError::Timeout) => {}
                // The sampler was dropped.
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// One request for the strategy; any failure (down, slow, an error status, a body that is not
/// a strategy) is an `Err`, which leaves the strategy in effect as it is.
fn fetch(agent: &ureq::Agent, url: &str) -> Result<Parsed, ()> {
    let mut response = agent.get(url).header("b3", "0").call().map_err(drop)?;
    if response.status() != 200 {
        return Err(());
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .map_err(drop)?;
    let value: Value = serde_json::from_slice(&body).map_err(drop)?;
    Parsed::from_json(&value).ok_or(())
}

/// A strategy answer, checked: rates are finite, probabilities within 0 to 1.
#[derive(Clone, PartialEq, Debug)]
enum Parsed {
    Probabilistic(f64),
    RateLimiting(f64),
    PerOperation {
        default_probability: f64,
        lower_bound: f64,
        operations: Vec<(String, f64)>,
    },
}

impl Parsed {
    fn from_json(answer: &Value) -> Option<Parsed> {
        let probability = |value: &Value| value.as_f64().filter(|rate| (0.0..=1.0).contains(rate));
        let per_second = |value: &Value| {
            value
                .as_f64()
                .filter(|rate| rate.is_finite() && *rate >= 0.0)
        };
        let kind = match &answer["strategyType"] {
            Value::Number(number) => match number.as_u64()? {
                0 => "PROBABILISTIC",
                1 => "RATE_LIMITING",
                _ => return None,
            },
            Value::String(name) => match name.as_str() {
                "PROBABILISTIC" => "PROBABILISTIC",
                "RATE_LIMITING" => "RATE_LIMITING",
                _ => return None,
            },
            // Thrift JSON leaves out a zero enum: probabilistic.
            Value::Null => "PROBABILISTIC",
            _ => return None,
        };
        if kind == "RATE_LIMITING" {
            let rate = per_second(&answer["rateLimitingSampling"]["maxTracesPerSecond"])?;
            return Some(Parsed::RateLimiting(rate));
        }
        let operations = &answer["operationSampling"];
        if operations.is_object() {
            let default_probability = probability(&operations["defaultSamplingProbability"])?;
            let lower_bound = match &operations["defaultLowerBoundTracesPerSecond"] {
                Value::Null => 0.0,
                value => per_second(value)?,
            };
            let mut list = Vec::new();
            if let Some(strategies) = operations["perOperationStrategies"].as_array() {
                for strategy in strategies {
                    let name = strategy["operation"].as_str()?;
                    let rate = probability(&strategy["probabilisticSampling"]["samplingRate"])?;
                    list.push((name.to_owned(), rate));
                }
            } else if !operations["perOperationStrategies"].is_null() {
                return None;
            }
            return Some(Parsed::PerOperation {
                default_probability,
                lower_bound,
                operations: list,
            });
        }
        let rate = probability(&answer["probabilisticSampling"]["samplingRate"])?;
        Some(Parsed::Probabilistic(rate))
    }

    fn build(&self) -> Strategy {
        match self {
            Parsed::Probabilistic(rate) => Strategy::Probabilistic(TraceIdRatio::new(*rate)),
            Parsed::RateLimiting(rate) => Strategy::RateLimiting(RateLimiting::new(*rate)),
            Parsed::PerOperation {
                default_probability,
                lower_bound,
                operations,
            } => {
                let listed = operations
                    .iter()
                    .take(MAX_OPERATIONS)
                    .map(|(name, rate)| {
                        (name.clone(), Arc::new(Guaranteed::new(*rate, *lower_bound)))
                    })
                    .collect();
                Strategy::PerOperation(PerOperation {
                    default_probability: *default_probability,
                    lower_bound: *lower_bound,
                    operations: RwLock::new(listed),
                    listed: operations.len().min(MAX_OPERATIONS),
                    others: Guaranteed::new(*default_probability, *lower_bound),
                })
            }
        }
    }
}

/// The strategy in effect.
enum Strategy {
    Initial(TraceIdRatio),
    Probabilistic(TraceIdRatio),
    RateLimiting(RateLimiting),
    PerOperation(PerOperation),
}

impl Strategy {
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>, operation: &str) -> Sampling {
        match self {
            Strategy::Initial(ratio) | Strategy::Probabilistic(ratio) => {
                ratio.sample(trace_id, incoming)
            }
            Strategy::RateLimiting(limit) => limit.sample(trace_id, incoming),
            Strategy::PerOperation(operations) => operations.sample(trace_id, operation),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Initial(ratio) => write!(f, "initial {}", ratio.ratio()),
            Strategy::Probabilistic(ratio) => write!(f, "probabilistic {}", ratio.ratio()),
            Strategy::RateLimiting(limit) => write!(f, "ratelimiting {}", limit.per_second()),
            Strategy::PerOperation(operations) => write!(
                f,
                "per-operation ({} operations, default {}, lower bound {}/s)",
                operations.listed, operations.default_probability, operations.lower_bound
            ),
        }
    }
}

/// Jaeger's per-operation sampling: each operation's own probability and lower bound.
struct PerOperation {
    default_probability: f64,
    lower_bound: f64,
    /// Listed operations, and the unlisted ones seen since, each with its own lower bound.
    operations: RwLock<HashMap<String, Arc<Guaranteed>>>,
    /// How many operations the answer listed.
    listed: usize,
    /// Operations past [`MAX_OPERATIONS`] (or seen while the table was busy) share this one.
    others: Guaranteed,
}

impl PerOperation {
    fn sample(&self, trace_id: TraceId, operation: &str) -> Sampling {
        let known = self
            .operations
            .try_read()
            .ok()
            .and_then(|operations| operations.get(operation).cloned());
        if let Some(sampler) = known {
            return sampler.sample(trace_id);
        }
        // A new operation gets the default probability and a lower bound of its own.
        if let Ok(mut operations) = self.operations.try_write() {
            if operations.len() < MAX_OPERATIONS {
                let sampler = operations
                    .entry(operation.to_owned())
                    .or_insert_with(|| {
                        Arc::new(Guaranteed::new(self.default_probability, self.lower_bound))
                    })
                    .clone();
                drop(operations);
                return sampler.sample(trace_id);
            }
        }
        self.others.sample(trace_id)
    }
}

/// Jaeger's `GuaranteedThroughputProbabilisticSampler`: sampled at `probability`, and at least
/// `lower_bound` traces a second.
struct Guaranteed {
    probability: TraceIdRatio,
    lower_bound: RateLimiting,
}

impl Guaranteed {
    fn new(probability: f64, lower_bound: f64) -> Guaranteed {
        Guaranteed {
            probability: TraceIdRatio::new(probability),
            lower_bound: RateLimiting::new(lower_bound),
        }
    }

    fn sample(&self, trace_id: TraceId) -> Sampling {
        if self.probability.sample(trace_id, None).is_sampled() {
            // Jaeger's sampler spends the lower bound's credit on probabilistic traces too, so
            // that the bound only adds traces when the probability gives fewer.
            let _ = self.lower_bound.sample(trace_id, None);
            return Sampling::Accept;
        }
        self.lower_bound.sample(trace_id, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jaeger_v2_answers_parse_by_number_and_older_ones_by_name() {
        let v2 = json!({"strategyType": 0, "probabilisticSampling": {"samplingRate": 0.5}});
        assert_eq!(Parsed::from_json(&v2), Some(Parsed::Probabilistic(0.5)));
        let named = json!({"strategyType": "RATE_LIMITING",
            "rateLimitingSampling": {"maxTracesPerSecond": 5}});
        assert_eq!(Parsed::from_json(&named), Some(Parsed::RateLimiting(5.0)));
        let operations = json!({"strategyType": 0,
            "probabilisticSampling": {"samplingRate": 0.5},
            "operationSampling": {"defaultSamplingProbability": 0.25,
                "defaultLowerBoundTracesPerSecond": 2,
                "perOperationStrategies": [
                    {"operation": "GET /health", "probabilisticSampling": {"samplingRate": 0}}]}});
        assert_eq!(
            Parsed::from_json(&operations),
            Some(Parsed::PerOperation {
                default_probability: 0.25,
                lower_bound: 2.0,
                operations: vec![("GET /health".to_owned(), 0.0)],
            })
        );
    }

    #[test]
    fn answers_that_are_not_strategies_are_refused() {
        for garbage in [
            json!({}),
            json!([]),
            json!({"strategyType": 7}),
            json!({"strategyType": 0, "probabilisticSampling": {"samplingRate": 1.5}}),
            json!({"strategyType": 0, "probabilisticSampling": {"samplingRate": "half"}}),
            json!({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": -1}}),
            json!({"strategyType": 0, "operationSampling": {"defaultSamplingProbability": 0.1,
                "perOperationStrategies": [{"operation": 3}]}}),
        ] {
            assert_eq!(Parsed::from_json(&garbage), None, "{garbage}");
        }
    }

    #[test]
    fn each_operation_has_its_rate_and_its_own_lower_bound() {
        let strategy = Parsed::PerOperation {
            default_probability: 0.0,
            lower_bound: 1.0,
            operations: vec![("always".to_owned(), 1.0), ("never".to_owned(), 0.0)],
        }
        .build();
        let sample = |operation| strategy.sample(TraceId(u64::MAX as u128), None, operation);
        // Probability 1: every trace.
        for _ in 0..5 {
            assert_eq!(sample("always"), Sampling::Accept);
        }
        // Probability 0, but one trace a second from the lower bound, per operation.
        assert_eq!(sample("never"), Sampling::Accept);
        assert_eq!(sample("never"), Sampling::Deny);
        assert_eq!(sample("unlisted"), Sampling::Accept);
        assert_eq!(sample("unlisted"), Sampling::Deny);
        assert_eq!(sample("another"), Sampling::Accept);
    }

    #[test]
    fn the_strategy_url_keeps_a_path_and_encodes_the_service() {
        let root = JaegerRemoteConfig::new("http://jaeger:5778/");
        assert_eq!(
            root.strategy_url("a&b"),
            "http://jaeger:5778/?service=a%26b"
        );
        let path = JaegerRemoteConfig::new("http://jaeger:5778/api/sampling");
        assert_eq!(
            path.strategy_url("shop"),
            "http://jaeger:5778/api/sampling?service=shop"
        );
    }
}
