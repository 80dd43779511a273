//! One series among many: the daily champion's selection (the same candidates, the same
//! rolling-origin cross-validation) run on each series on its own. A series the selection
//! cannot take (too short, constant, or every candidate failing) gets the weekly seasonal-naive
//! forecast and the reason, so one odd series never fails a run over thousands of them.
//!
//! `salescast forecast-many`, the Python package's `fit_series` and `salescast.spark`'s
//! `forecast_groups` all call [`fit_series`], which is why they agree to the last bit.

use augurs_core::Forecast;
use chrono::{Duration, NaiveDate};

use crate::error::{DailyError, Result};
use crate::model::{DailyModel, Scores, calibrated, floored};
use crate::select::{SelectSettings, interval_scale, select};

/// The seasonal period of the fallback (days in a week, as the candidates use).
pub const SEASON: usize = 7;

pub use salescast_core::schema::level_label;

/// What a series was given.
#[derive(Debug, Clone)]
pub enum SeriesModel {
    /// The champion of the series' own cross-validation, refitted on all its days.
    Selected(DailyModel),
    /// Seasonal naive: the last `period` days repeated (`period` 1, plain naive, for series
    /// shorter than a week), with intervals from the in-sample seasonal differences.
    SeasonalNaive {
        period: usize,
        /// The last `period` values.
        last: Vec<f64>,
        /// Root mean square of the seasonal differences (0 when there are none).
        sigma: f64,
    },
}

/// A fitted series.
#[derive(Debug, Clone)]
pub struct SeriesFit {
    /// The series' first day.
    pub start: NaiveDate,
    /// Days in the series.
    pub n_days: usize,
    pub model: SeriesModel,
    /// The chosen model's mean cross-validated MASE (the seasonal-naive fallback's own on the
    /// same folds when the series is long enough for them; `None` otherwise).
    pub cv_mase: Option<f64>,
    /// The backtest's calibration of the chosen model's intervals (1 for the fallback).
    pub interval_scale: f64,
    /// Why the series got the fallback.
    pub fallback: Option<String>,
    /// No value of the series is negative, so its forecasts and bounds are floored at zero.
    pub non_negative: bool,
}

impl SeriesFit {
    /// The chosen model's name, e.g. `sarima(1,1,1)(0,1,1,7)` or `seasonal_naive(7)`.
    pub fn model_name(&self) -> String {
        match &self.model {
            SeriesModel::Selected(m) => m.name(),
            SeriesModel::SeasonalNaive { period: 1, .. } => "naive".to_owned(),
            SeriesModel::SeasonalNaive { period, .. } => format!("seasonal_naive({period})"),
        }
    }

    /// The first forecast day: the day after the series' last.
    pub fn first_forecast_day(&self) -> NaiveDate {
        self.start + Duration::days(self.n_days as i64)
    }

    /// Forecasts the `horizon` days after the series, with intervals at `level` (0–1).
    pub fn forecast(&self, horizon: usize, level: Option<f64>) -> Result<Forecast> {
        if horizon == 0 {
            return Err(DailyError::Request {
                field: "horizon",
                reason: "must be at least 1".into(),
            });
        }
        let fc = match &self.model {
            SeriesModel::Selected(m) => {
                calibrated(m.forecast(self.start, horizon, level)?, self.interval_scale)
            }
            SeriesModel::SeasonalNaive {
                period,
                last,
                sigma,
            } => seasonal_naive_forecast(*period, last, *sigma, horizon, level)?,
        };
        Ok(if self.non_negative { floored(fc) } else { fc })
    }
}

/// The last `period` values of `y` and the root mean square of its `period`-differences (0
/// when there are none).
fn seasonal_naive_fit(y: &[f64], period: usize) -> (Vec<f64>, f64) {
    let diffs: Vec<f64> = y.iter().skip(period).zip(y).map(|(a, b)| a - b).collect();
    let sigma = if diffs.is_empty() {
        0.0
    } else {
        (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt()
    };
    (y[y.len().saturating_sub(period)..].to_vec(), sigma)
}

/// The last `period` values repeated, with intervals widening with each completed period
/// (the seasonal random walk's).
fn seasonal_naive_forecast(
    period: usize,
    last: &[f64],
    sigma: f64,
    horizon: usize,
    level: Option<f64>,
) -> Result<Forecast> {
    let point: Vec<f64> = (0..horizon).map(|h| last[h % period]).collect();
    let intervals = match level {
        None => None,
        Some(level) => {
            let z = salescast_sarima::z_score(level)?;
            let half: Vec<f64> = (0..horizon)
                .map(|h| z * sigma * (((h / period) + 1) as f64).sqrt())
                .collect();
            Some(augurs_core::ForecastIntervals {
                level,
                lower: point.iter().zip(&half).map(|(p, w)| p - w).collect(),
                upper: point.iter().zip(&half).map(|(p, w)| p + w).collect(),
            })
        }
    };
    Ok(Forecast { point, intervals })
}

/// The seasonal-naive fallback on `y` (plain naive under a week).
fn seasonal_naive(y: &[f64]) -> SeriesModel {
    let period = if y.len() >= SEASON { SEASON } else { 1 };
    let (last, sigma) = seasonal_naive_fit(y, period);
    SeriesModel::SeasonalNaive {
        period,
        last,
        sigma,
    }
}

/// The seasonal-naive forecast's mean MASE on the selection's recent folds, when the series
/// holds them and a week before the first.
fn seasonal_naive_cv(y: &[f64], settings: &SelectSettings) -> Option<f64> {
    let span = settings.folds * settings.fold_days;
    if y.len() < span + 2 * SEASON {
        return None;
    }
    let origin = y.len() - span;
    let mut total = 0.0;
    for f in 0..settings.folds {
        let end = origin + f * settings.fold_days;
        let train = &y[..end];
        let point: Vec<f64> = (0..settings.fold_days)
            .map(|h| train[end - SEASON + h % SEASON])
            .collect();
        total += Scores::new(&y[end..end + settings.fold_days], &point, train).mase;
    }
    let mean = total / settings.folds as f64;
    mean.is_finite().then_some(mean)
}

/// Fits one series whose first day is `start`: the daily champion's selection when the series
/// allows it, else the seasonal-naive fallback with the reason. Fails only on invalid settings
/// or a non-finite value (bad input, named by its day).
pub fn fit_series(start: NaiveDate, y: &[f64], settings: &SelectSettings) -> Result<SeriesFit> {
    settings.validate()?;
    if y.is_empty() {
        return Err(DailyError::Request {
            field: "value",
            reason: "the series has no values".into(),
        });
    }
    if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DailyError::Request {
            field: "value",
            reason: format!(
                "the value on {} (day {}) is {v}, not a finite number",
                start + Duration::days(i as i64),
                i + 1
            ),
        });
    }
    let non_negative = y.iter().all(|v| *v >= 0.0);
    let fallback = |reason: String| SeriesFit {
        start,
        n_days: y.len(),
        model: seasonal_naive(y),
        cv_mase: seasonal_naive_cv(y, settings),
        interval_scale: 1.0,
        fallback: Some(reason),
        non_negative,
    };
    let need = settings.min_days();
    if y.len() < need {
        return Ok(fallback(format!(
            "too short: {} days, the selection needs at least {need} (folds of a week)",
            y.len()
        )));
    }
    if y.iter().all(|v| *v == y[0]) {
        return Ok(fallback(format!("constant: every value is {}", y[0])));
    }
    match select(start, y, &[], &[], settings) {
        Ok(sel) => {
            let recipe = sel.champion.recipe();
            let cv_mase = sel
                .candidates
                .iter()
                .find(|c| c.recipe == recipe)
                .and_then(|c| c.mean_mase);
            Ok(SeriesFit {
                start,
                n_days: y.len(),
                model: SeriesModel::Selected(sel.champion),
                cv_mase,
                interval_scale: interval_scale(&recipe, &sel.candidates),
                fallback: None,
                non_negative,
            })
        }
        Err(e) => Ok(fallback(format!("no candidate could be fitted: {e}"))),
    }
}

/// A series put together from its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    pub start: NaiveDate,
    pub values: Vec<f64>,
    /// Missing days filled with zero.
    pub filled: usize,
}

/// A series from its rows in any order: sorted by day; a day given twice is refused, and so
/// is a day missing inside the series unless `fill_missing_zero` says it had no sales (0).
/// `forecast-many` and the Python package's per-group fit both start here, so a group means
/// the same series to each.
pub fn assemble(days: &[NaiveDate], values: &[f64], fill_missing_zero: bool) -> Result<Assembled> {
    if days.len() != values.len() {
        return Err(DailyError::Request {
            field: "date",
            reason: format!("{} dates for {} values", days.len(), values.len()),
        });
    }
    if days.is_empty() {
        return Err(DailyError::Request {
            field: "value",
            reason: "the series has no rows".into(),
        });
    }
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by_key(|&i| days[i]);
    let start = days[order[0]];
    let mut out = Vec::with_capacity(days.len());
    let mut filled = 0;
    let mut prev: Option<NaiveDate> = None;
    for i in order {
        let day = days[i];
        if let Some(p) = prev {
            if day == p {
                return Err(DailyError::Request {
                    field: "date",
                    reason: format!("has {day} twice"),
                });
            }
            let gap = (day - p).num_days() - 1;
            if gap > 0 {
                if !fill_missing_zero {
                    return Err(DailyError::Request {
                        field: "date",
                        reason: format!(
                            "has no row for {} (rows for {p} and {day}); add the days, or fill missing days with zero",
                            p + Duration::days(1)
                        ),
                    });
                }
                out.extend(std::iter::repeat_n(0.0, gap as usize));
                filled += gap as usize;
            }
        }
        out.push(values[i]);
        prev = Some(day);
    }
    Ok(Assembled {
        start,
        values: out,
        filled,
    })
}

/// [`fit_series`], then the forecast of the `horizon` days after the series at `level`
/// (0–1). Where the chosen model's forecast fails or is not finite, the series gets the
/// fallback with that reason instead, so only bad input or bad settings fail.
pub fn forecast_series(
    start: NaiveDate,
    y: &[f64],
    settings: &SelectSettings,
    horizon: usize,
    level: Option<f64>,
) -> Result<(SeriesFit, Forecast)> {
    if horizon == 0 {
        return Err(DailyError::Request {
            field: "horizon",
            reason: "must be at least 1".into(),
        });
    }
    if let Some(level) = level {
        salescast_sarima::z_score(level).map_err(|_| DailyError::Request {
            field: "level",
            reason: format!("{level} must be strictly between 0 and 1"),
        })?;
    }
    let fit = fit_series(start, y, settings)?;
    let finite = |f: &Forecast| {
        f.point.iter().all(|v| v.is_finite())
            && f.intervals
                .as_ref()
                .is_none_or(|iv| iv.lower.iter().chain(&iv.upper).all(|v| v.is_finite()))
    };
    let problem = match fit.forecast(horizon, level) {
        Ok(fc) if finite(&fc) => return Ok((fit, fc)),
        Ok(_) => "not finite".to_owned(),
        Err(e) => e.to_string(),
    };
    let fallback = SeriesFit {
        model: seasonal_naive(y),
        cv_mase: seasonal_naive_cv(y, settings),
        interval_scale: 1.0,
        fallback: Some(format!(
            "the forecast of {} failed: {problem}",
            fit.model_name()
        )),
        ..fit
    };
    let fc = fallback.forecast(horizon, level)?;
    Ok((fallback, fc))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day0() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
    }

    fn weekly(n: usize) -> Vec<f64> {
        (0..n)
            .map(|t| {
                100.0
                    + 0.05 * t as f64
                    + 20.0 * ((t % 7) as f64 - 3.0)
                    + 3.0 * ((t * 7919 % 13) as f64 - 6.0)
            })
            .collect()
    }

    #[test]
    fn a_regular_series_gets_a_selected_model_and_its_cv_mase() {
        let settings = SelectSettings {
            folds: 2,
            ..SelectSettings::default()
        };
        let fit = fit_series(day0(), &weekly(300), &settings).unwrap();
        assert!(fit.fallback.is_none(), "{:?}", fit.fallback);
        assert!(matches!(fit.model, SeriesModel::Selected(_)));
        assert!(fit.cv_mase.unwrap() > 0.0);
        let fc = fit.forecast(14, Some(0.9)).unwrap();
        assert_eq!(fc.point.len(), 14);
        let iv = fc.intervals.unwrap();
        assert!(iv.lower.iter().zip(&iv.upper).all(|(l, u)| l <= u));
        assert_eq!(fit.first_forecast_day(), day0() + Duration::days(300));
    }

    #[test]
    fn a_series_that_never_goes_below_zero_is_not_forecast_below_it() {
        // sales of a few units a day: the wide intervals would reach below zero
        let sparse: Vec<f64> = (0..200)
            .map(|t| ((t * 7919) % 5) as f64 * (t % 7 == 0) as u8 as f64)
            .collect();
        let short = SelectSettings {
            folds: 2,
            fold_days: 14,
            ..SelectSettings::default()
        };
        let fit = fit_series(day0(), &sparse, &short).unwrap();
        assert!(fit.non_negative);
        let fc = fit.forecast(28, Some(0.95)).unwrap();
        let iv = fc.intervals.unwrap();
        assert!(
            fc.point.iter().chain(&iv.lower).all(|v| *v >= 0.0),
            "{:?}",
            iv.lower
        );
        // a series with negative values (a balance, a change) keeps its negative bounds
        let signed: Vec<f64> = weekly(200).iter().map(|v| v - 100.0).collect();
        let fit = fit_series(day0(), &signed, &short).unwrap();
        assert!(!fit.non_negative);
        let iv = fit.forecast(28, Some(0.95)).unwrap().intervals.unwrap();
        assert!(iv.lower.iter().any(|v| *v < 0.0));
    }

    #[test]
    fn short_and_constant_series_get_the_seasonal_naive_fallback_with_a_reason() {
        let settings = SelectSettings::default();
        let short = weekly(20);
        let fit = fit_series(day0(), &short, &settings).unwrap();
        assert!(
            fit.fallback
                .as_deref()
                .unwrap()
                .starts_with("too short: 20 days")
        );
        assert_eq!(fit.model_name(), "seasonal_naive(7)");
        let fc = fit.forecast(9, Some(0.95)).unwrap();
        assert_eq!(fc.point[0], short[13]);
        assert_eq!(fc.point[7], short[13]);
        let iv = fc.intervals.unwrap();
        // the second week's interval is wider by sqrt(2)
        let w0 = iv.upper[0] - fc.point[0];
        let w7 = iv.upper[7] - fc.point[7];
        assert!((w7 / w0 - 2f64.sqrt()).abs() < 1e-12);

        let flat = vec![5.0; 400];
        let fit = fit_series(day0(), &flat, &settings).unwrap();
        assert!(fit.fallback.as_deref().unwrap().starts_with("constant"));
        let fc = fit.forecast(3, Some(0.8)).unwrap();
        assert_eq!(fc.point, vec![5.0; 3]);
        assert_eq!(fc.intervals.unwrap().lower, vec![5.0; 3]);
        assert_eq!(fit.cv_mase, None);

        let tiny = fit_series(day0(), &[3.0, 4.0], &settings).unwrap();
        assert_eq!(tiny.model_name(), "naive");
        assert_eq!(tiny.forecast(2, None).unwrap().point, vec![4.0, 4.0]);
    }

    #[test]
    fn bad_values_and_requests_are_refused_by_name() {
        let mut y = weekly(30);
        y[4] = f64::NAN;
        let e = fit_series(day0(), &y, &SelectSettings::default()).unwrap_err();
        assert!(e.to_string().contains("2024-01-05"), "{e}");
        let fit = fit_series(day0(), &weekly(30), &SelectSettings::default()).unwrap();
        assert!(
            fit.forecast(0, None)
                .unwrap_err()
                .to_string()
                .contains("horizon")
        );
        assert!(fit.forecast(3, Some(1.5)).is_err());
    }
}
