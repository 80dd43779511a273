//! Errors of the monitor.

use std::path::PathBuf;

use thiserror::Error;

/// What can stop a monitor run. [`MonitorError::is_bad_input`] separates the caller's mistakes
/// (exit 2) from failures (exit 3).
#[derive(Debug, Error)]
pub enum MonitorError {
    /// The new data, a flag or a setting is wrong; the message names the file, field or row.
    #[error("{0}")]
    BadInput(String),
    /// The models directory lacks something the monitor needs.
    #[error("{path}: {reason}")]
    Artifact { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Model(#[from] salescast_models::ModelError),
    #[error(transparent)]
    Preprocess(#[from] salescast_preprocess::PreprocessError),
    #[error(transparent)]
    Features(#[from] salescast_features::FeaturesError),
    #[error(transparent)]
    Daily(#[from] salescast_daily::DailyError),
    #[error(transparent)]
    Core(#[from] salescast_core::CoreError),
}

impl MonitorError {
    /// Whether the caller can fix it by changing the input (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::BadInput(_) | Self::Artifact { .. } => true,
            Self::Preprocess(e) => e.is_bad_input(),
            Self::Features(e) => e.is_bad_input(),
            Self::Model(e) => e.is_bad_input(),
            Self::Daily(e) => e.is_bad_input(),
            Self::Io { .. } | Self::Core(_) => false,
        }
    }

    pub(crate) fn io(
        path: &std::path::Path,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, MonitorError>;
