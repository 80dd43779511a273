//! Daily revenue forecasting.
//!
//! - [`regressors`]: calendar regressors (holiday flags from the shared calendar, yearly
//!   Fourier terms) computed for any dates, so a forecast between arbitrary future dates gets
//!   the right ones.
//! - [`select`]: the candidates (SARIMAX with automatic orders and calendar regressors, the
//!   same orders without regressors, MSTL with an AutoETS trend, the Prophet-like additive
//!   model of `salescast_additive`, the [`theta`] method), compared by rolling-origin
//!   backtests on MASE whose windows match the served horizon and include the served season
//!   one year earlier; the champion is refitted on the whole training period and scored on
//!   the test window; per-store series are fitted in parallel.
//! - [`many`]: the same selection on each of many series, with a seasonal-naive fallback
//!   for the series it cannot take.
//! - [`DailyArtifact`]: the saved champion and the forecasts served by `/forecast_sarima`
//!   and `salescast forecast`.

pub mod artifact;
pub mod error;
pub mod many;
pub mod model;
mod nan;
pub mod regressors;
pub mod select;
pub mod theta;

pub use artifact::{
    ARTIFACT_KIND, ARTIFACT_VERSION, DEFAULT_MAX_HORIZON, DailyArtifact, DayForecast,
    ForecastResponse, TestDay,
};
pub use error::{DailyError, Result};
pub use many::{SeriesFit, SeriesModel, fit_series, forecast_series, level_label};
pub use model::{DailyModel, Scores};
pub use regressors::CalendarSpec;
pub use select::{SelectSettings, Selection, select};
