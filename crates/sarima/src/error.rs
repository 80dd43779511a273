//! Errors of the seasonal ARIMA crate.

use thiserror::Error;

/// What can go wrong when specifying, fitting or forecasting a seasonal ARIMA.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SarimaError {
    /// The orders cannot describe a model (for example a seasonal part with period 1).
    #[error("invalid order {order}: {reason}")]
    InvalidOrder { order: String, reason: String },
    /// An estimation setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    /// The series is shorter than the model needs.
    #[error("series too short for {order}: need at least {need} observations, got {got}")]
    TooShort {
        order: String,
        need: usize,
        got: usize,
    },
    /// A value of the series or of a regressor is NaN or infinite.
    #[error("{what} has a non-finite value ({value}) at index {index}")]
    NonFinite {
        what: String,
        index: usize,
        value: f64,
    },
    /// The series (after differencing) has no variation left to model.
    #[error("the series is constant after differencing ({order}); there is nothing to estimate")]
    Constant { order: String },
    /// The regressors do not fit the series or each other.
    #[error("regressors: {0}")]
    Regressors(String),
    /// The optimiser stopped at its iteration limit without meeting the convergence test.
    #[error(
        "the optimiser did not converge within {iterations} iterations (gradient norm {gradient_norm:.3e}); raise max_iter or simplify the order"
    )]
    NotConverged { iterations: u64, gradient_norm: f64 },
    /// The likelihood could not be evaluated at any parameter the optimiser tried.
    #[error("the likelihood is not finite at the starting parameters: {0}")]
    Likelihood(String),
    /// A forecast request that cannot be served.
    #[error("forecast: {0}")]
    Forecast(String),
    /// A saved model of another format version, or an unreadable one.
    #[error("artifact: {0}")]
    Artifact(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, SarimaError>;

impl augurs_core::ModelError for SarimaError {}
