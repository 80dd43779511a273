//! Seasonal ARIMA with exogenous regressors (SARIMAX), estimated by exact maximum likelihood.
//!
//! - [`Order`] names the model, [`Sarima`] adds the estimation settings, and `fit_exog` (or
//!   augurs' [`augurs_core::Fit`] without regressors) returns a [`FittedSarima`].
//! - The likelihood is computed by the Kalman filter on the state-space form statsmodels'
//!   SARIMAX uses by default (see [`ssm`]), so the maximised log-likelihood, the parameters and
//!   the forecasts agree with statsmodels (golden tests in `tests/golden.rs`).
//! - Estimation maximises it with argmin's L-BFGS over unconstrained parameters; the AR parts
//!   stay stationary and the MA parts invertible through Monahan's transform ([`poly`]).
//! - [`auto`] chooses the orders as Hyndman and Khandakar's stepwise algorithm does.

pub mod auto;
pub mod error;
mod linalg;
pub mod model;
pub mod poly;
pub mod spec;
pub mod ssm;

pub use error::{Result, SarimaError};
pub use model::{ARTIFACT_VERSION, FittedSarima, Params, Regressors, Sarima, Trend, difference};
pub use spec::Order;
