//! The crate's error type.

/// Everything that can stop a search.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// A setting of the `tune:` section is out of its domain; the message names it.
    #[error("tune.{name}: {reason}")]
    Setting { name: String, reason: String },
    /// The training days cannot hold the folds asked for.
    #[error("folds: {0}")]
    Folds(String),
    /// A candidate given by hand (not sampled) is not in the search space.
    #[error("candidate: {0}")]
    Candidate(String),
    /// The trial log of an earlier search does not fit this one.
    #[error("trial log {path}: {reason}")]
    Log { path: String, reason: String },
    #[error(transparent)]
    Model(#[from] salescast_models::ModelError),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, TuneError>;

pub(crate) fn setting(name: impl Into<String>, reason: impl Into<String>) -> TuneError {
    TuneError::Setting {
        name: name.into(),
        reason: reason.into(),
    }
}
