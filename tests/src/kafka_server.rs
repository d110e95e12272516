//! A real single-node Apache Kafka broker in KRaft mode (no ZooKeeper), run from the official
//! jars on Maven Central: Maven resolves `org.apache.kafka:kafka_2.13` and its dependencies into
//! its local repository (cached between runs) and writes the class path; the broker's storage is
//! formatted and the broker started on free loopback ports. It can be stopped and started again
//! on the same port and data, which the reporter's fault tests need.
//!
//! ```no_run
//! let kafka = traced_tests::KafkaServer::start(traced_tests::KafkaOptions::default());
//! println!("bootstrap servers: {}", kafka.bootstrap());
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::servers::{self, run_to_end, Watched};

/// The Kafka release the tests run (Scala 2.13 build). 3.9 is the last line that still accepts
/// every protocol version older clients use, and runs KRaft without ZooKeeper.
pub const KAFKA_VERSION: &str = "3.9.1";

const START_DEADLINE: Duration = Duration::from_secs(180);

/// How to start a [`KafkaServer`].
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// Whether producing to a topic that does not exist creates it (the broker's default).
    pub auto_create_topics: bool,
    /// The largest record batch the broker accepts (`message.max.bytes`; Kafka's default is
    /// 1,048,588 bytes).
    pub max_message_bytes: usize,
}

impl Default for KafkaOptions {
    fn default() -> KafkaOptions {
        KafkaOptions {
            auto_create_topics: true,
            max_message_bytes: 1_048_588,
        }
    }
}

/// A running (or stopped) Kafka broker on loopback.
pub struct KafkaServer {
    process: Option<Watched>,
    port: u16,
    dir: PathBuf,
}

/// The broker's class path, resolved once per process (Maven caches the jars across runs): the
/// broker, its command-line tools (topic creation), and slf4j-simple so the broker logs (to its
/// log file) that it started.
fn class_path() -> &'static str {
    static CLASS_PATH: OnceLock<String> = OnceLock::new();
    CLASS_PATH.get_or_init(|| {
        let dir = servers::scratch_dir("kafka-classpath");
        let pom = format!(
            "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n\
             <modelVersion>4.0.0</modelVersion>\n\
             <groupId>traced.tests</groupId><artifactId>kafka-broker</artifactId>\
             <version>1</version>\n\
             <dependencies><dependency><groupId>org.apache.kafka</groupId>\
             <artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version>\
             </dependency>\
             <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>\
             <version>{KAFKA_VERSION}</version><exclusions><exclusion>\
             <groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>\
             </exclusion></exclusions></dependency>\
             <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId>\
             <version>1.7.36</version></dependency></dependencies>\n</project>\n"
        );
        std::fs::write(dir.join("pom.xml"), pom).expect("a pom for the broker's class path");
        let out = dir.join("classpath.txt");
        let mut mvn = Command::new("mvn");
        mvn.current_dir(&dir)
            .args(["-B", "-q", "dependency:build-classpath"])
            .arg(format!("-Dmdep.outputFile={}", out.display()));
        if let Some(repo) = std::env::var_os("TRACED_MAVEN_REPO") {
            mvn.arg(format!("-Dmaven.repo.local={}", Path::new(&repo).display()));
        }
        let output = run_to_end(&mut mvn, Duration::from_secs(900));
        let class_path = std::fs::read_to_string(&out).unwrap_or_default();
        assert!(
            output.success && !class_path.trim().is_empty(),
            "cannot resolve Kafka {KAFKA_VERSION} with Maven:\n{}",
            output.text()
        );
        class_path.trim().to_owned()
    })
}

fn java_args(main_class: &str, rest: &[String]) -> Vec<String> {
    let mut args = vec![
        "-Xmx512m".to_owned(),
        "-XX:+UseSerialGC".to_owned(),
        "-XX:TieredStopAtLevel=1".to_owned(),
        "-Djava.awt.headless=true".to_owned(),
        "-cp".to_owned(),
        class_path().to_owned(),
        main_class.to_owned(),
    ];
    args.extend_from_slice(rest);
    args
}

impl KafkaServer {
    /// Formats a fresh data directory and starts the broker; panics with its log if it does not
    /// come up.
    pub fn start(options: KafkaOptions) -> KafkaServer {
        let port = servers::free_port();
        let controller = servers::free_port();
        let dir = servers::scratch_dir("kafka");
        let properties = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             log.dirs={logs}\n\
             num.partitions=1\n\
             offsets.topic.replication.factor=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             auto.create.topics.enable={auto_create}\n\
             message.max.bytes={max_message}\n",
            logs = dir.join("data").display(),
            auto_create = options.auto_create_topics,
            max_message = options.max_message_bytes,
        );
        let config = dir.join("server.properties");
        std::fs::write(&config, properties).expect("the broker's configuration");
        let formatted = run_to_end(
            Command::new(servers::java()).args(java_args(
                "kafka.tools.StorageTool",
                &[
                    "format".to_owned(),
                    "-t".to_owned(),
                    // A fixed cluster id (22 characters of base64): the data is scratch anyway.
                    "tracedtestsclusterAAAA".to_owned(),
                    "-c".to_owned(),
                    config.display().to_string(),
                ],
            )),
            Duration::from_secs(120),
        );
        assert!(
            formatted.success,
            "kafka-storage format failed:\n{}",
            formatted.text()
        );
        let mut server = KafkaServer {
            process: None,
            port,
            dir,
        };
        server.resume();
        server
    }

    /// `127.0.0.1:{port}`, for a client's bootstrap servers or `KAFKA_BOOTSTRAP_SERVERS`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker, keeping its port and data for [`KafkaServer::resume`].
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Starts the broker again (after [`KafkaServer::stop`]) on the same port and data, and
    /// waits until it accepts connections.
    pub fn resume(&mut self) {
        self.stop();
        let log = self.dir.join("kafka.log");
        let started_before = started_count(&log);
        let mut process = Watched::spawn(
            "kafka",
            &servers::java(),
            &java_args(
                "kafka.Kafka",
                &[self.dir.join("server.properties").display().to_string()],
            ),
            &[],
            &self.dir.join("kafka.log"),
        );
        process.wait_until(START_DEADLINE, || started_count(&log) > started_before);
        self.process = Some(process);
    }

    /// Creates `topic` with `partitions` partitions (for a broker that does not create topics
    /// on demand), with Kafka's own `kafka-topics` tool.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let created = run_to_end(
            Command::new(servers::java()).args(java_args(
                "org.apache.kafka.tools.TopicCommand",
                &[
                    "--bootstrap-server".to_owned(),
                    self.bootstrap(),
                    "--create".to_owned(),
                    "--topic".to_owned(),
                    topic.to_owned(),
                    "--partitions".to_owned(),
                    partitions.to_string(),
                    "--replication-factor".to_owned(),
                    "1".to_owned(),
                ],
            )),
            Duration::from_secs(120),
        );
        assert!(
            created.success,
            "cannot create topic {topic}:\n{}",
            created.text()
        );
    }

    /// The end of the broker's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("kafka.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// How many times the broker's log says it started (the log is appended to across restarts).
fn started_count(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|text| text.matches("Kafka Server started").count())
        .unwrap_or(0)
}
