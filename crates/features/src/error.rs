//! The crate's error type.

/// Everything that can go wrong while building features.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    #[error("no training rows before {test_start}: nothing to fit the transform on")]
    NoTrainingRows { test_start: chrono::NaiveDate },
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("transform {path}: {reason}")]
    BadTransform { path: String, reason: String },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Preprocess(#[from] salescast_preprocess::PreprocessError),
    #[error(transparent)]
    Core(#[from] salescast_core::CoreError),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, FeaturesError>;

impl FeaturesError {
    /// The field (column or setting) the error is about, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidSetting { name, .. } => Some(name),
            Self::Preprocess(e) => e.field(),
            _ => None,
        }
    }

    /// Whether the input (files or settings) is at fault, rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Write { .. } | Self::Core(_) => false,
            Self::Preprocess(e) => e.is_bad_input(),
            _ => true,
        }
    }
}
