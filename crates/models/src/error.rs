//! The crate's error type.

/// Everything that can go wrong when fitting, using or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A hyperparameter is out of its domain; the message names it.
    #[error("invalid hyperparameter {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    #[error("not enough data: need at least {need} rows, got {got}")]
    NotEnoughData { need: usize, got: usize },
    #[error("{what}: expected {expected} values, got {got}")]
    Shape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("the target has a non-finite value at row {row}")]
    NonFiniteTarget { row: usize },
    #[error("the model was trained on {expected} features ({names}), the input has {got}")]
    SchemaMismatch {
        expected: usize,
        got: usize,
        names: String,
    },
    #[error("model artifact: {0}")]
    Artifact(String),
    /// The model cannot explain its predictions; the message says why.
    #[error("explanation: {0}")]
    Explain(String),
}

impl ModelError {
    /// Whether the caller can fix it by changing what it gave: every model error is about the
    /// hyperparameters, the data or the model file it was handed, so every command maps it to
    /// the same exit code (2), the pipeline and the monitor alike.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::InvalidParam { .. }
            | Self::NotEnoughData { .. }
            | Self::Shape { .. }
            | Self::NonFiniteTarget { .. }
            | Self::SchemaMismatch { .. }
            | Self::Artifact(_)
            | Self::Explain(_) => true,
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, ModelError>;

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::InvalidParam {
        name,
        reason: reason.into(),
    }
}
