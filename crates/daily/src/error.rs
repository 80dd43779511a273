//! Errors of daily forecasting.

use thiserror::Error;

/// What can go wrong when selecting, saving or querying a daily model.
#[derive(Debug, Error)]
pub enum DailyError {
    #[error(transparent)]
    Sarima(#[from] salescast_sarima::SarimaError),
    /// The additive (Prophet-like) candidate failed.
    #[error("additive model: {0}")]
    Additive(#[from] salescast_additive::AdditiveError),
    /// The ETS candidate failed.
    #[error("ETS: {0}")]
    Ets(#[from] salescast_ets::EtsError),
    /// The MSTL/ETS candidate failed.
    #[error("MSTL+ETS: {0}")]
    Mstl(String),
    /// Every candidate failed (or none was tried); `reasons` joins their errors.
    #[error("no candidate could be fitted: {reasons}")]
    NoCandidate { reasons: String },
    #[error("series too short: need at least {need} training days, got {got}")]
    TooShort { need: usize, got: usize },
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    /// A forecast request outside what the model can answer; `field` names the culprit.
    #[error("{field}: {reason}")]
    Request { field: &'static str, reason: String },
    #[error(transparent)]
    Core(#[from] salescast_core::CoreError),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, DailyError>;

impl DailyError {
    /// Whether the caller can fix it by changing the request, the settings or the data (a
    /// series too short); a fit that fails numerically, or the machine, is a failure.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Request { .. } | Self::InvalidSetting { .. } | Self::TooShort { .. } => true,
            Self::Sarima(_)
            | Self::Additive(_)
            | Self::Ets(_)
            | Self::Mstl(_)
            | Self::NoCandidate { .. }
            | Self::Core(_) => false,
        }
    }

    /// The request field or setting the error is about, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Request { field, .. } => Some(field),
            Self::InvalidSetting { name, .. } => Some(name),
            _ => None,
        }
    }
}
