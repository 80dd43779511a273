//! The daily candidates behind one interface: fit on a series that starts on a date,
//! forecast `h` days after its end.

use augurs_core::{Fit, Forecast, Predict};
use chrono::{Duration, NaiveDate};
use salescast_additive::{Additive, FittedAdditive};
use salescast_ets::{AutoEts, FittedEts};
use salescast_sarima::auto::AutoSarima;
use salescast_sarima::{FittedSarima, Order, Sarima, Trend};
use serde::{Deserialize, Serialize};

use crate::error::{DailyError, Result};
use crate::regressors::CalendarSpec;
use crate::theta::{Theta, ThetaKind};

/// Iteration limit of the fixed-order refits (folds, final, stores).
const REFIT_MAX_ITER: u64 = 500;

/// A fitted daily model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DailyModel {
    /// Seasonal ARIMA, with calendar regressors when `calendar` has any.
    Sarima {
        calendar: CalendarSpec,
        fitted: Box<FittedSarima>,
    },
    /// MSTL decomposition (weekly, and yearly when two years are available) with an AutoETS
    /// trend. augurs' fitted MSTL is not serialisable, so the artifact keeps the training
    /// series and refits on load (milliseconds).
    MstlEts {
        periods: Vec<usize>,
        history: Vec<f64>,
    },
    /// The Prophet-like additive model (piecewise-linear trend, weekly and yearly Fourier
    /// seasons, holiday effects; see `salescast_additive`).
    Additive { fitted: Box<FittedAdditive> },
    /// A Theta model on the weekly-adjusted series: the classic method or the one of the four
    /// state-space models AutoTheta chose (see [`crate::theta`]).
    Theta { fitted: Theta },
    /// An exponential smoothing state-space model (see `salescast_ets`).
    Ets { fitted: Box<FittedEts> },
    /// The mean of several models' forecasts, fitted on the same days. Its interval bounds are
    /// the members' bounds averaged (quantile averaging), which keeps them ordered and at the
    /// asked level when the members agree.
    Mean { members: Vec<DailyModel> },
}

/// How to fit a candidate again on another window (the orders stay fixed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipe {
    Sarima {
        calendar: CalendarSpec,
        order: Order,
        trend: Trend,
    },
    MstlEts {
        periods: Vec<usize>,
    },
    /// The additive model, with or without holiday effects.
    Additive {
        holidays: bool,
    },
    /// The standard Theta method.
    Theta,
    /// The Theta model statsforecast's `AutoTheta` would choose (standard, optimised, or
    /// either dynamic form), refitted on each window.
    AutoTheta,
    /// An ETS model of the given form (the form [`AutoEts`] chose by AICc before the
    /// earliest backtest window; refits estimate its parameters again).
    Ets {
        spec: salescast_ets::Spec,
    },
    /// The mean of the members' forecasts (a combination the cross-validation ranked).
    Mean {
        members: Vec<Recipe>,
    },
}

impl Recipe {
    /// A short display name, e.g. `sarimax(1,1,1)(1,1,1,7)`.
    pub fn name(&self) -> String {
        match self {
            Recipe::Sarima {
                calendar, order, ..
            } if *calendar != CalendarSpec::none() => format!("sarimax{order}"),
            Recipe::Sarima { order, .. } => format!("sarima{order}"),
            Recipe::MstlEts { periods } => format!("mstl{periods:?}+ets"),
            Recipe::Additive { holidays: true } => "additive+holidays".to_owned(),
            Recipe::Additive { holidays: false } => "additive".to_owned(),
            Recipe::Theta => "theta".to_owned(),
            Recipe::AutoTheta => "auto_theta".to_owned(),
            Recipe::Ets { spec } => format!("ets{}", spec.name().trim_start_matches("ETS")),
            Recipe::Mean { members } => format!(
                "mean[{}]",
                members
                    .iter()
                    .map(Recipe::name)
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
        }
    }

    /// Fits on `y`, whose first day is `start`.
    pub fn fit(&self, start: NaiveDate, y: &[f64]) -> Result<DailyModel> {
        match self {
            Recipe::Sarima {
                calendar,
                order,
                trend,
            } => {
                let exog = calendar.regressors(start, y.len());
                let fitted = Sarima::new(*order)
                    .trend(*trend)
                    .max_iter(REFIT_MAX_ITER)
                    .fit_exog(y, &exog)?;
                if fitted.iterations >= REFIT_MAX_ITER {
                    tracing::warn!(
                        order = %order,
                        iterations = fitted.iterations,
                        "kept a fit that reached the iteration limit with a small gradient"
                    );
                }
                Ok(DailyModel::Sarima {
                    calendar: *calendar,
                    fitted: Box::new(fitted),
                })
            }
            Recipe::MstlEts { periods } => {
                let model = DailyModel::MstlEts {
                    periods: periods.clone(),
                    history: y.to_vec(),
                };
                // Fit once now so a failure shows here, not at the first forecast.
                model.forecast(start, 1, None)?;
                Ok(model)
            }
            Recipe::Additive { holidays } => {
                let spec = Additive {
                    holidays: *holidays,
                    ..Additive::default()
                };
                Ok(DailyModel::Additive {
                    fitted: Box::new(spec.fit(start, y)?),
                })
            }
            Recipe::Theta => Ok(DailyModel::Theta {
                fitted: Theta::fit_classic(y)?,
            }),
            Recipe::AutoTheta => Ok(DailyModel::Theta {
                fitted: Theta::fit(y)?,
            }),
            Recipe::Ets { spec } => Ok(DailyModel::Ets {
                fitted: Box::new(spec.fit(y)?),
            }),
            Recipe::Mean { members } => Ok(DailyModel::Mean {
                members: members
                    .iter()
                    .map(|m| m.fit(start, y))
                    .collect::<Result<_>>()?,
            }),
        }
    }
}

/// The mean of forecasts of the same horizon: points averaged, and interval bounds averaged
/// when every member has them.
pub fn mean_forecast(parts: &[Forecast]) -> Forecast {
    let n = parts.len().max(1) as f64;
    let h = parts.first().map_or(0, |f| f.point.len());
    let mean_of = |get: &dyn Fn(&Forecast) -> &[f64]| -> Vec<f64> {
        (0..h)
            .map(|i| parts.iter().map(|f| get(f)[i]).sum::<f64>() / n)
            .collect()
    };
    let intervals = match parts
        .iter()
        .map(|f| f.intervals.as_ref())
        .collect::<Option<Vec<_>>>()
    {
        Some(iv) if !iv.is_empty() => Some(augurs_core::ForecastIntervals {
            level: iv[0].level,
            lower: (0..h)
                .map(|i| iv.iter().map(|v| v.lower[i]).sum::<f64>() / n)
                .collect(),
            upper: (0..h)
                .map(|i| iv.iter().map(|v| v.upper[i]).sum::<f64>() / n)
                .collect(),
        }),
        _ => None,
    };
    Forecast {
        point: mean_of(&|f| &f.point),
        intervals,
    }
}

/// Interval bounds widened or narrowed about the point forecast by `scale` (1: unchanged):
/// the backtest's calibration of a candidate's intervals (see
/// [`crate::select::CandidateResult::interval_scale`]).
pub fn calibrated(mut fc: Forecast, scale: f64) -> Forecast {
    if scale == 1.0 || !scale.is_finite() {
        return fc;
    }
    if let Some(iv) = fc.intervals.as_mut() {
        for ((l, u), p) in iv.lower.iter_mut().zip(iv.upper.iter_mut()).zip(&fc.point) {
            *l = p - scale * (p - *l);
            *u = p + scale * (*u - p);
        }
    }
    fc
}

/// A forecast of a series that cannot go below zero (revenue, units, visits), floored there:
/// a model's intervals are symmetric or unbounded, and a negative bound or mean only widens
/// the interval without ever holding an actual value.
pub fn floored(mut fc: Forecast) -> Forecast {
    for v in &mut fc.point {
        *v = v.max(0.0);
    }
    if let Some(iv) = fc.intervals.as_mut() {
        for v in iv.lower.iter_mut().chain(iv.upper.iter_mut()) {
            *v = v.max(0.0);
        }
    }
    fc
}

/// Automatic SARIMA(X) orders on `y` (first day `start`), weekly seasonality.
pub fn auto_recipe(start: NaiveDate, y: &[f64], calendar: CalendarSpec) -> Result<Recipe> {
    auto_recipe_with(start, y, calendar, None)
}

/// [`auto_recipe`] with the seasonal differencing order fixed (`Some(1)`: D = 1, which the
/// seasonal unit-root test alone rarely picks on revenue whose weekly pattern drifts slowly).
pub fn auto_recipe_with(
    start: NaiveDate,
    y: &[f64],
    calendar: CalendarSpec,
    seasonal_d: Option<usize>,
) -> Result<Recipe> {
    let exog = calendar.regressors(start, y.len());
    // Tighter limits than auto.arima's defaults: on three years of daily revenue the stepwise
    // search otherwise wanders to models such as (3,1,4)(2,0,2,7) whose refits on the
    // cross-validation windows then fail to converge, for AICc gains of a few units.
    let auto = AutoSarima {
        max_p: 3,
        max_q: 3,
        max_seasonal_p: 1,
        max_seasonal_q: 1,
        seasonal_d,
        ..AutoSarima::new(7)
    };
    let r = auto.fit(y, &exog)?;
    Ok(Recipe::Sarima {
        calendar,
        order: r.model.order,
        trend: r.model.trend,
    })
}

/// The ETS form [`AutoEts`] chooses on `y` (weekly season), as a recipe.
pub fn ets_recipe(y: &[f64]) -> Result<Recipe> {
    Ok(Recipe::Ets {
        spec: AutoEts::new(7).fit(y)?.spec,
    })
}

fn mstl_forecast(
    periods: &[usize],
    y: &[f64],
    horizon: usize,
    level: Option<f64>,
) -> Result<Forecast> {
    let trend = augurs_ets::AutoETS::non_seasonal().into_trend_model();
    let fitted = augurs_mstl::MSTLModel::new(periods.to_vec(), trend)
        .fit(y)
        .map_err(|e| DailyError::Mstl(e.to_string()))?;
    fitted
        .predict(horizon, level)
        .map_err(|e| DailyError::Mstl(e.to_string()))
}

impl DailyModel {
    /// Number of training days.
    pub fn nobs(&self) -> usize {
        match self {
            DailyModel::Sarima { fitted, .. } => fitted.nobs,
            DailyModel::MstlEts { history, .. } => history.len(),
            DailyModel::Additive { fitted } => fitted.nobs,
            DailyModel::Theta { fitted } => fitted.nobs,
            DailyModel::Ets { fitted } => fitted.nobs,
            DailyModel::Mean { members } => members.first().map_or(0, DailyModel::nobs),
        }
    }

    /// The model's name, e.g. `sarimax(1,1,1)(1,1,1,7)`.
    pub fn name(&self) -> String {
        self.recipe().name()
    }

    /// The recipe that refits this model.
    pub fn recipe(&self) -> Recipe {
        match self {
            DailyModel::Sarima { calendar, fitted } => Recipe::Sarima {
                calendar: *calendar,
                order: fitted.order,
                trend: fitted.trend,
            },
            DailyModel::MstlEts { periods, .. } => Recipe::MstlEts {
                periods: periods.clone(),
            },
            DailyModel::Additive { fitted } => Recipe::Additive {
                holidays: fitted.spec.holidays,
            },
            DailyModel::Theta { fitted } if fitted.kind == ThetaKind::Classic => Recipe::Theta,
            DailyModel::Theta { .. } => Recipe::AutoTheta,
            DailyModel::Ets { fitted } => Recipe::Ets { spec: fitted.spec },
            DailyModel::Mean { members } => Recipe::Mean {
                members: members.iter().map(DailyModel::recipe).collect(),
            },
        }
    }

    /// Checks a model read from a file before it serves: the additive and Theta models'
    /// parameters must be ones a fit produces (every member's, for a mean).
    pub fn validate(&self) -> Result<()> {
        match self {
            DailyModel::Additive { fitted } => Ok(fitted.validate()?),
            DailyModel::Theta { fitted } => fitted.validate(),
            DailyModel::Ets { fitted } => Ok(fitted.validate()?),
            DailyModel::Mean { members } if members.is_empty() => Err(DailyError::InvalidSetting {
                name: "mean model",
                reason: "has no members".into(),
            }),
            DailyModel::Mean { members } => members.iter().try_for_each(DailyModel::validate),
            DailyModel::Sarima { .. } | DailyModel::MstlEts { .. } => Ok(()),
        }
    }

    /// The SARIMA order, when the model is one.
    pub fn order(&self) -> Option<Order> {
        match self {
            DailyModel::Sarima { fitted, .. } => Some(fitted.order),
            DailyModel::MstlEts { .. }
            | DailyModel::Additive { .. }
            | DailyModel::Theta { .. }
            | DailyModel::Ets { .. }
            | DailyModel::Mean { .. } => None,
        }
    }

    /// AIC, when the model has a likelihood.
    pub fn aic(&self) -> Option<f64> {
        match self {
            DailyModel::Sarima { fitted, .. } => Some(fitted.aic()),
            DailyModel::MstlEts { .. }
            | DailyModel::Additive { .. }
            | DailyModel::Theta { .. }
            | DailyModel::Ets { .. }
            | DailyModel::Mean { .. } => None,
        }
    }

    /// Forecasts the `horizon` days after the training series (which started on `start`),
    /// with intervals at `level` (0–1).
    pub fn forecast(
        &self,
        start: NaiveDate,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Forecast> {
        match self {
            DailyModel::Sarima { calendar, fitted } => {
                let first = start + Duration::days(fitted.nobs as i64);
                let future = calendar.regressors(first, horizon);
                Ok(fitted.forecast_exog(horizon, &future, level)?)
            }
            DailyModel::MstlEts { periods, history } => {
                mstl_forecast(periods, history, horizon, level)
            }
            DailyModel::Additive { fitted } => Ok(fitted.forecast(horizon, level)?),
            DailyModel::Theta { fitted } => fitted.forecast(horizon, level),
            DailyModel::Ets { fitted } => Ok(fitted.forecast(horizon, level)?),
            DailyModel::Mean { members } => {
                let parts = members
                    .iter()
                    .map(|m| m.forecast(start, horizon, level))
                    .collect::<Result<Vec<_>>>()?;
                Ok(mean_forecast(&parts))
            }
        }
    }
}

/// Accuracy on a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    #[serde(with = "crate::nan")]
    pub mae: f64,
    #[serde(with = "crate::nan")]
    pub rmse: f64,
    /// Mean absolute percentage error over days with non-zero revenue (percent).
    #[serde(with = "crate::nan")]
    pub mape: f64,
    /// MAE divided by the in-sample MAE of the weekly seasonal-naive forecast.
    #[serde(with = "crate::nan")]
    pub mase: f64,
}

impl Scores {
    /// Scores `forecast` against `actual`, scaling by the training series `train`.
    pub fn new(actual: &[f64], forecast: &[f64], train: &[f64]) -> Self {
        let n = actual.len().max(1) as f64;
        let mae = actual
            .iter()
            .zip(forecast)
            .map(|(a, f)| (a - f).abs())
            .sum::<f64>()
            / n;
        let rmse = (actual
            .iter()
            .zip(forecast)
            .map(|(a, f)| (a - f).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let pct: Vec<f64> = actual
            .iter()
            .zip(forecast)
            .filter(|(a, _)| **a != 0.0)
            .map(|(a, f)| ((a - f) / a).abs())
            .collect();
        let mape = if pct.is_empty() {
            f64::NAN
        } else {
            100.0 * pct.iter().sum::<f64>() / pct.len() as f64
        };
        let naive: Vec<f64> = train
            .iter()
            .skip(7)
            .zip(train)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let scale = naive.iter().sum::<f64>() / naive.len().max(1) as f64;
        Self {
            mae,
            rmse,
            mape,
            mase: if scale > 0.0 { mae / scale } else { f64::NAN },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mean_averages_points_and_interval_bounds() {
        let f = |p: f64, w: f64| Forecast {
            point: vec![p, p + 1.0],
            intervals: Some(augurs_core::ForecastIntervals {
                level: 0.95,
                lower: vec![p - w, p + 1.0 - w],
                upper: vec![p + w, p + 1.0 + w],
            }),
        };
        let low = floored(f(1.0, 3.0));
        assert_eq!(low.point, vec![1.0, 2.0]);
        let iv = low.intervals.as_ref().unwrap();
        assert_eq!(
            (iv.lower.clone(), iv.upper.clone()),
            (vec![0.0, 0.0], vec![4.0, 5.0])
        );
        let m = mean_forecast(&[f(10.0, 2.0), f(20.0, 4.0)]);
        assert_eq!(m.point, vec![15.0, 16.0]);
        let iv = m.intervals.unwrap();
        assert_eq!((iv.lower[0], iv.upper[0]), (12.0, 18.0));
        // one member without intervals: none for the mean
        let bare = Forecast {
            point: vec![0.0, 0.0],
            intervals: None,
        };
        assert!(mean_forecast(&[f(1.0, 1.0), bare]).intervals.is_none());
    }
}
