//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while cleaning raw transactions.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// A required column is absent (exit code 2).
    #[error("{path}: {missing}")]
    MissingColumns {
        path: PathBuf,
        missing: salescast_core::schema::MissingColumns,
    },
    #[error("{path}: the file is empty")]
    EmptyFile { path: PathBuf },
    #[error("{path}: the file has a header but no data rows")]
    NoDataRows { path: PathBuf },
    #[error("{path}: not a UTF-8 CSV or Parquet file ({reason})")]
    NotText { path: PathBuf, reason: String },
    #[error("{path}: cannot be read as {format}: {source}")]
    Unreadable {
        path: PathBuf,
        format: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Every row was rejected or was a duplicate; the reasons say why.
    #[error("{path}: no row survived cleaning ({rows_in} in; {reasons})")]
    NoRowSurvived {
        path: PathBuf,
        rows_in: usize,
        reasons: String,
    },
    #[error(transparent)]
    Split(#[from] salescast_core::split::SplitError),
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Core(#[from] salescast_core::CoreError),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, PreprocessError>;

impl PreprocessError {
    /// The field (column or setting) the error is about, when one is: the first missing
    /// column, or the setting's name.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::MissingColumns { missing, .. } => missing.0.first().map(|c| c.name()),
            Self::InvalidSetting { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether the input (file or settings) is at fault, rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Write { .. } | Self::Core(_))
    }
}
