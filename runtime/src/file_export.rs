//! The `file` exporter: finished spans as Zipkin v2 JSON in a file.
//!
//! The file is one JSON array of spans — exactly the body Zipkin's `POST /api/v2/spans` takes —
//! and is valid JSON after every flush (the guard flushes at exit). To see the traces:
//! - load them into a running Zipkin:
//!   `curl -H 'Content-Type: application/json' --data-binary @traces.json http://localhost:9411/api/v2/spans`;
//! - or open the Zipkin UI's trace view and use its upload button (it shows one trace per file,
//!   so this suits a program that records one trace).
//!
//! Turn it on with `OTEL_TRACES_EXPORTER=file` (the path comes from `TRACED_FILE`, default
//! `traces.json`) or with [`crate::setup::Builder::file`].

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::encode::{Encoding, LocalEndpoint};
use crate::export::{Exporter, FlushOutcome};
use crate::model::{Endpoint, SpanRecord};

/// What closes the array: written at every flush and overwritten by the next span.
const TAIL: &[u8] = b"\n]\n";

/// Writes finished spans to a file as a Zipkin v2 JSON array.
///
/// Spans are encoded on the closing thread into a buffer that reaches the disk in large
/// writes, so a span costs its encoding, not a system call. Meant for local work and tests,
/// where the file is the collector.
///
/// ```
/// use traced::export::Exporter;
/// use traced::file_export::FileExporter;
/// use traced::model::{Endpoint, SpanId, SpanRecord, TraceId};
///
/// let path = std::env::temp_dir().join(format!("traced-doc-{}.json", std::process::id()));
/// let file = FileExporter::create(&path, Endpoint::service("shop")).unwrap();
/// file.export(SpanRecord { trace_id: TraceId(1), id: SpanId(2), name: "work".into(), duration_us: 5, ..Default::default() });
/// file.flush(std::time::Duration::from_secs(1));
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert!(text.starts_with("[\n{\"traceId\":\"0000000000000001\""));
/// assert!(text.trim_end().ends_with(']'));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct FileExporter {
    path: PathBuf,
    local: LocalEndpoint,
    state: Mutex<State>,
}

struct State {
    out: BufWriter<File>,
    spans: u64,
    /// Whether the file currently ends with [`TAIL`].
    closed: bool,
    /// Spans that could not be written (I/O errors), not yet reported.
    failed: u64,
    scratch: Vec<u8>,
}

impl FileExporter {
    /// Creates (or truncates) `path`; spans carry `local` as their local endpoint unless they
    /// name their own service.
    pub fn create(path: impl AsRef<Path>, local: Endpoint) -> io::Result<FileExporter> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::create(&path)?;
        file.write_all(b"[")?;
        file.write_all(TAIL)?;
        Ok(FileExporter {
            path,
            local: LocalEndpoint::new(local),
            state: Mutex::new(State {
                out: BufWriter::with_capacity(64 * 1024, file),
                spans: 0,
                closed: true,
                failed: 0,
                scratch: Vec::with_capacity(1024),
            }),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn append(&mut self, span: &SpanRecord, local: &LocalEndpoint) -> io::Result<()> {
        if self.closed {
            // Reopen the array over its tail; the seek also writes out what is buffered.
            self.out.seek(SeekFrom::End(-(TAIL.len() as i64)))?;
            self.closed = false;
        }
        self.scratch.clear();
        if self.spans > 0 {
            self.scratch.push(b',');
        }
        self.scratch.push(b'\n');
        Encoding::Json.push_span(span, local, true, &mut self.scratch);
        self.out.write_all(&self.scratch)?;
        self.spans += 1;
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        if !self.closed {
            self.out.write_all(TAIL)?;
            self.closed = true;
        }
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}

impl Exporter for FileExporter {
    fn export(&self, span: SpanRecord) {
        let mut state = self.lock();
        if state.append(&span, &self.local).is_err() {
            state.failed += 1;
        }
    }

    fn flush(&self, _timeout: Duration) -> FlushOutcome {
        let mut state = self.lock();
        let unsent = std::mem::take(&mut state.failed);
        if let Err(error) = state.close() {
            eprintln!(
                "traced: could not write spans to {}: {error}",
                self.path.display()
            );
        }
        FlushOutcome { unsent }
    }
}
