//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `salescast-core`.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An artifact could not be decoded.
    #[error("artifact {path} is not valid: {source}")]
    BadArtifact {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An artifact was written by another kind or an incompatible format version.
    #[error("artifact {path} is a {found_kind} v{found_version}, expected {kind} v{version}")]
    ArtifactVersion {
        path: PathBuf,
        kind: String,
        version: u32,
        found_kind: String,
        found_version: u32,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, CoreError>;

impl CoreError {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
