//! The Jaeger remote sampler against a fake sampling endpoint, for what a real Jaeger will not
//! do on demand: down, answering 500, answering something that is not a strategy, or never
//! answering. In each case the initial rate stays (or the last good strategy, once there was
//! one), and a decision never waits for the endpoint. The real endpoint is
//! `live_jaeger_sampling.rs`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use traced::model::{Sampling, TraceId};
use traced::sample::{JaegerRemote, JaegerRemoteConfig, Sampler};

const POLL: Duration = Duration::from_millis(20);
const WAIT: Duration = Duration::from_secs(10);

/// What the fake endpoint answers.
#[derive(Clone)]
enum Answer {
    Json(&'static str),
    Status(u16),
    /// Reads the request and never answers.
    Hang,
}

/// A sampling endpoint on loopback that answers every GET as told, counting requests.
struct FakeEndpoint {
    url: String,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<AtomicUsize>,
    /// The last request line, to check the path and query.
    last_request: Arc<Mutex<String>>,
}

impl FakeEndpoint {
    fn start(answer: Answer) -> FakeEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let answer = Arc::new(Mutex::new(answer));
        let requests = Arc::new(AtomicUsize::new(0));
        let last_request = Arc::new(Mutex::new(String::new()));
        let (shared_answer, counter, last) =
            (answer.clone(), requests.clone(), last_request.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answer = shared_answer.lock().unwrap().clone();
                let (counter, last) = (counter.clone(), last.clone());
                std::thread::spawn(move || serve(stream, &answer, &counter, &last));
            }
        });
        FakeEndpoint {
            url,
            answer,
            requests,
            last_request,
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Waits until `more` requests beyond the current count have been answered.
    fn wait_for_requests(&self, more: usize) {
        let target = self.requests.load(Ordering::SeqCst) + more;
        let started = Instant::now();
        while self.requests.load(Ordering::SeqCst) < target {
            assert!(started.elapsed() < WAIT, "the sampler stopped polling");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn serve(mut stream: TcpStream, answer: &Answer, counter: &AtomicUsize, last: &Mutex<String>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    *last.lock().unwrap() = text.lines().next().unwrap_or_default().to_owned();
    let response = match answer {
        Answer::Json(body) => format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        ),
        Answer::Status(status) => {
            format!("HTTP/1.1 {status} Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        }
        Answer::Hang => {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
    };
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
    // Counted once answered, so a wait for it means the sampler has the answer in hand.
    counter.fetch_add(1, Ordering::SeqCst);
}

const EVERYTHING: &str = r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":1}}"#;

/// A sampler polling `url` every 20 ms that records nothing until told otherwise.
fn sampler(url: &str) -> JaegerRemote {
    JaegerRemote::new(
        JaegerRemoteConfig::new(url)
            .polling_interval(POLL)
            .initial_sampling_rate(0.0),
        "checkout",
    )
}

/// How many of `count` random traces `sampler` samples.
fn sampled(sampler: &impl Sampler, count: u64) -> u64 {
    (0..count)
        .filter(|_| {
            let id = TraceId(u128::from(fastrand_u64()));
            sampler.sample_operation(id, None, "GET /").is_sampled()
        })
        .count() as u64
}

fn fastrand_u64() -> u64 {
    // Any spread of ids will do; the std hasher is seeded randomly per process.
    use std::hash::{BuildHasher, RandomState};
    thread_local!(static STATE: RandomState = RandomState::new());
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    STATE.with(|state| state.hash_one(n))
}

fn wait_for_strategy(sampler: &JaegerRemote, expected: &str) {
    let started = Instant::now();
    while sampler.strategy() != expected {
        assert!(
            started.elapsed() < WAIT,
            "still {:?}, expected {expected:?}",
            sampler.strategy()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_strategy_is_read_from_the_service_s_url() {
    let endpoint = FakeEndpoint::start(Answer::Json(EVERYTHING));
    let sampler = sampler(&endpoint.url);
    wait_for_strategy(&sampler, "probabilistic 1");
    assert_eq!(sampled(&sampler, 100), 100);
    assert_eq!(
        *endpoint.last_request.lock().unwrap(),
        "GET /?service=checkout HTTP/1.1"
    );
}

#[test]
fn a_server_that_is_down_leaves_the_initial_rate() {
    let port = traced_tests::servers::free_port();
    let sampler = sampler(&format!("http://127.0.0.1:{port}"));
    std::thread::sleep(POLL * 10);
    assert_eq!(sampler.strategy(), "initial 0");
    assert_eq!(sampled(&sampler, 100), 0);
}

#[test]
fn errors_and_garbage_leave_the_initial_rate_and_an_outage_brings_it_back() {
    let endpoint = FakeEndpoint::start(Answer::Status(500));
    let sampler = sampler(&endpoint.url);
    endpoint.wait_for_requests(3);
    assert_eq!(sampler.strategy(), "initial 0");
    for garbage in [
        "not json at all",
        r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":7}}"#,
        r#"{"strategyType":"SOMETIMES"}"#,
        "[]",
    ] {
        endpoint.set(Answer::Json(garbage));
        endpoint.wait_for_requests(3);
        assert_eq!(sampler.strategy(), "initial 0", "after {garbage}");
    }
    assert_eq!(sampled(&sampler, 100), 0);

    // The server recovers: its strategy applies.
    endpoint.set(Answer::Json(EVERYTHING));
    wait_for_strategy(&sampler, "probabilistic 1");
    assert_eq!(sampled(&sampler, 100), 100);
    // Then goes down: after three failed polls in a row the initial rate is back...
    for answer in [Answer::Status(503), Answer::Json("{\"strategyType\":")] {
        endpoint.set(answer);
        wait_for_strategy(&sampler, "initial 0");
        assert_eq!(sampled(&sampler, 100), 0);
        // ... until the server answers again.
        endpoint.set(Answer::Json(EVERYTHING));
        wait_for_strategy(&sampler, "probabilistic 1");
    }
}

#[test]
fn a_server_that_never_answers_never_holds_up_a_decision() {
    let endpoint = FakeEndpoint::start(Answer::Hang);
    let sampler = sampler(&endpoint.url);
    endpoint.wait_for_requests(1);
    let started = Instant::now();
    assert_eq!(sampled(&sampler, 10_000), 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "10,000 decisions took {:?}",
        started.elapsed()
    );
    assert_eq!(sampler.strategy(), "initial 0");
    // Dropping the sampler does not wait for the hung request either.
    let started = Instant::now();
    drop(sampler);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn an_unchanged_strategy_keeps_its_rate_budget() {
    const LIMITED: &str = r#"{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":1}}"#;
    let endpoint = FakeEndpoint::start(Answer::Json(LIMITED));
    let sampler = sampler(&endpoint.url);
    wait_for_strategy(&sampler, "ratelimiting 1");
    let id = TraceId(1);
    assert_eq!(sampler.sample(id, None), Sampling::Accept);
    // Polls that bring the same answer do not refill the bucket.
    endpoint.wait_for_requests(3);
    assert_eq!(sampler.sample(id, None), Sampling::Deny);
}
