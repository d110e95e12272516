//! Why setup failed.

use std::fmt;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::report::ReportError;

/// Why setup failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// A variable (or a builder value) that cannot be used.
    Config(ConfigError),
    /// A global subscriber was already installed; a process has only one.
    AlreadyInstalled,
    /// A reporter (Zipkin or OTLP) could not start.
    Reporter(ReportError),
    /// The `file` exporter could not create its file.
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(error) => write!(f, "traced: {error}"),
            InitError::AlreadyInstalled => f.write_str(
                "traced: a global tracing subscriber is already installed (use traced::layer() \
                 to add traced to your own subscriber)",
            ),
            InitError::Reporter(error) => write!(f, "traced: the reporter: {error}"),
            InitError::File { path, source } => {
                write!(f, "traced: cannot create {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Config(error) => Some(error),
            InitError::Reporter(error) => Some(error),
            InitError::File { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(error: ConfigError) -> InitError {
        InitError::Config(error)
    }
}
