//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong while tracking. Every variant names the MLflow call or the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// The tracking URI or a setting is unusable.
    #[error("tracking configuration: {0}")]
    Config(String),
    /// A run record breaks MLflow's rules (key names, lengths); sending it would fail.
    #[error("invalid run record: {0}")]
    InvalidRecord(String),
    /// The server could not be reached, or kept failing with 5xx, after all retries.
    #[error("MLflow {call}: server unreachable or failing after {attempts} attempts: {reason}")]
    Unreachable {
        call: String,
        attempts: u32,
        reason: String,
    },
    /// The server answered with an MLflow error body (`error_code`, `message`).
    #[error("MLflow {call}: HTTP {status} {code}: {message}")]
    Api {
        call: String,
        status: u16,
        code: String,
        message: String,
    },
    /// The server refused who is asking (401) or what they asked (403).
    #[error("MLflow {call}: HTTP {status}: {reason}")]
    Denied {
        call: String,
        status: u16,
        reason: String,
    },
    /// The server answered with something that is not an MLflow error body (an HTML page).
    #[error("MLflow {call}: HTTP {status}: {snippet}")]
    Http {
        call: String,
        status: u16,
        snippet: String,
    },
    /// A success response did not have the expected shape.
    #[error("MLflow {call}: unexpected response: {source}")]
    Response {
        call: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Core(#[from] salescast_core::CoreError),
}

impl TrackingError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// True when the server is down or failing, so the run should be spooled and retried later,
    /// rather than a request the server refused, which a retry would not fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

pub type Result<T, E = TrackingError> = std::result::Result<T, E>;
