//! Choosing the daily champion by rolling-origin cross-validation.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DailyError, Result};
use crate::model::{
    DailyModel, Recipe, Scores, auto_recipe, auto_recipe_with, calibrated, ets_recipe, floored,
    mean_forecast,
};
use crate::regressors::CalendarSpec;

/// Settings of the selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectSettings {
    /// Rolling-origin folds before the test window.
    pub folds: usize,
    /// Days forecast in each fold.
    pub fold_days: usize,
    /// Calendar regressors of the SARIMAX candidate.
    pub calendar: CalendarSpec,
    /// Add folds over the test window's season and the served forecast's season one year
    /// earlier (see [`windows`]).
    #[serde(default = "yes")]
    pub seasonal_fold: bool,
}

fn yes() -> bool {
    true
}

impl Default for SelectSettings {
    fn default() -> Self {
        Self {
            folds: 3,
            fold_days: 90,
            calendar: CalendarSpec::default(),
            seasonal_fold: true,
        }
    }
}

/// Span the backtest windows cover together (a year, as far as 3 to 8 windows of the horizon
/// reach): a 28-day forecast is chosen on eight windows and a 90-day one on four, not three.
/// On the public accuracy suite a year of windows chose better than half a year: a ranking on
/// few windows is mostly noise.
const BACKTEST_SPAN: usize = 364;

impl SelectSettings {
    /// The settings of a per-series fit for a `horizon`-day forecast (`forecast-many`, the
    /// Python package, Spark): windows of the horizon (at least a week) unless `fold_days`
    /// says otherwise; as many as fit in a year (3 to 8) unless `folds` says otherwise;
    /// the served season one year back; calendar regressors with `holidays`.
    pub fn for_horizon(
        horizon: usize,
        folds: Option<usize>,
        fold_days: Option<usize>,
        holidays: bool,
    ) -> SelectSettings {
        let fold_days = fold_days.unwrap_or(horizon.max(MIN_FOLD_DAYS));
        SelectSettings {
            folds: folds.unwrap_or_else(|| (BACKTEST_SPAN / fold_days.max(1)).clamp(3, 8)),
            fold_days,
            calendar: if holidays {
                CalendarSpec::default()
            } else {
                CalendarSpec::none()
            },
            seasonal_fold: true,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(1..=20).contains(&self.folds) {
            return Err(DailyError::InvalidSetting {
                name: "folds",
                reason: "must be between 1 and 20".into(),
            });
        }
        if !(7..=366).contains(&self.fold_days) {
            return Err(DailyError::InvalidSetting {
                name: "fold_days",
                reason: "must be between 7 and 366".into(),
            });
        }
        if self.calendar.fourier_terms > 10 {
            return Err(DailyError::InvalidSetting {
                name: "fourier_terms",
                reason: "must be at most 10".into(),
            });
        }
        Ok(())
    }

    /// Fewest training days the selection takes: the folds shortened to a week each, after
    /// the few months SARIMA with weekly differencing needs. (A history shorter than the
    /// folds at `fold_days` gets shorter folds, see [`SelectSettings::fitted_to`].)
    pub fn min_days(&self) -> usize {
        self.folds * MIN_FOLD_DAYS + MIN_HISTORY
    }

    /// The settings a series of `n` days supports: `fold_days` shortened so that the folds
    /// fit after [`MIN_HISTORY`] days (never under a week), with the reason when they were.
    pub fn fitted_to(&self, n: usize) -> Result<(SelectSettings, Option<String>)> {
        if n < self.min_days() {
            return Err(DailyError::TooShort {
                need: self.min_days(),
                got: n,
            });
        }
        let room = (n - MIN_HISTORY) / self.folds;
        if room >= self.fold_days {
            return Ok((self.clone(), None));
        }
        let note = format!(
            "{n} days hold {} folds of {} days only after {MIN_HISTORY} days of history: folds of {room} days are used",
            self.folds, self.fold_days
        );
        Ok((
            SelectSettings {
                fold_days: room,
                ..self.clone()
            },
            Some(note),
        ))
    }
}

/// Days of history before the first recent fold's origin.
pub const MIN_HISTORY: usize = 84;

/// Shortest fold a short history gets.
const MIN_FOLD_DAYS: usize = 7;

/// Days of history before a window one year back: a year, so the yearly candidates fit there.
const SEASONAL_HISTORY: usize = 365;

/// One candidate's cross-validation result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    pub name: String,
    pub recipe: Recipe,
    /// MASE per fold, the seasonal fold last (NaN, `null` in JSON, where the fold failed).
    #[serde(with = "crate::nan::vec")]
    pub fold_mase: Vec<f64>,
    /// Mean MASE over the folds; `None` when any fold failed.
    pub mean_mase: Option<f64>,
    pub error: Option<String>,
    /// The factor that makes the candidate's 95% intervals cover 95% of the backtest days:
    /// the 95th percentile, over every backtest day, of the error divided by the interval's
    /// half-width on the error's side. Served intervals are scaled by it about the point
    /// forecast (at every level), so intervals that were too wide or too narrow in the
    /// backtest are corrected (split conformal calibration). Absent in older artifacts: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_scale: Option<f64>,
}

/// Level of the backtest forecasts' intervals, which [`CandidateResult::interval_scale`]
/// calibrates.
pub const CALIBRATION_LEVEL: f64 = 0.95;

/// Bounds of a calibration factor: a handful of backtest windows cannot justify more.
const SCALE_RANGE: (f64, f64) = (0.25, 4.0);

/// The interval scale of `recipe` among `candidates` (1 where it has none).
pub fn interval_scale(recipe: &Recipe, candidates: &[CandidateResult]) -> f64 {
    candidates
        .iter()
        .find(|c| c.recipe == *recipe)
        .and_then(|c| c.interval_scale)
        .unwrap_or(1.0)
}

/// The calibration factor from backtest forecasts and what happened (see
/// [`CandidateResult::interval_scale`]).
fn calibration(folds: &[(&[f64], &augurs_core::Forecast)]) -> Option<f64> {
    let mut ratios = Vec::new();
    for (actual, fc) in folds {
        let iv = fc.intervals.as_ref()?;
        for (i, y) in actual.iter().enumerate() {
            let p = fc.point[i];
            let half = if *y >= p {
                iv.upper[i] - p
            } else {
                p - iv.lower[i]
            };
            let err = (y - p).abs();
            ratios.push(if half > 0.0 {
                err / half
            } else if err == 0.0 {
                0.0
            } else {
                f64::INFINITY
            });
        }
    }
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let pos = CALIBRATION_LEVEL * (ratios.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let q = ratios[lo] + (ratios[hi] - ratios[lo]) * (pos - lo as f64);
    let q = if q.is_nan() { ratios[hi] } else { q };
    Some(q.clamp(SCALE_RANGE.0, SCALE_RANGE.1))
}

/// What [`select`] found.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The champion refitted on the whole training period.
    pub champion: DailyModel,
    pub candidates: Vec<CandidateResult>,
    /// The champion's scores on the test window, with its forecasts there.
    pub test: Option<(Scores, augurs_core::Forecast)>,
    /// Per-store models (the champion's recipe on each store's series).
    pub stores: BTreeMap<String, DailyModel>,
    /// Stores whose model could not be fitted, with the reason.
    pub store_errors: BTreeMap<String, String>,
}

/// The candidate recipes: SARIMAX with automatic orders chosen on the data before the earliest
/// fold (so no fold's target influences the orders), the same orders without regressors, the
/// automatic SARIMAX with seasonal differencing (D = 1) when the search left it out, MSTL+ETS
/// (weekly, plus yearly when two years precede the earliest fold), the additive
/// (Prophet-like) model, the Theta method and the ETS form statsforecast's AutoETS would
/// choose there (by AICc). (The weekly seasonal-naive forecast is not one:
/// when the last week holds a holiday peak it repeats the peak, and a backtest of a few
/// windows does not see that often enough to rule it out.) Combinations of the best of these are added by [`select`] from their
/// fold forecasts.
fn candidates(
    start: NaiveDate,
    y: &[f64],
    earliest: usize,
    settings: &SelectSettings,
) -> Result<Vec<Recipe>> {
    let sarimax = auto_recipe(start, &y[..earliest], settings.calendar)?;
    let mut out = vec![sarimax.clone()];
    if let Recipe::Sarima {
        order,
        trend,
        calendar,
    } = sarimax
    {
        if calendar != CalendarSpec::none() {
            out.push(Recipe::Sarima {
                calendar: CalendarSpec::none(),
                order,
                trend,
            });
        }
        if order.seasonal_d == 0 {
            // A failed search only loses this candidate, never the selection.
            match auto_recipe_with(start, &y[..earliest], settings.calendar, Some(1)) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(error = %e, "no seasonally differenced candidate"),
            }
        }
    }
    // The seasonal ARIMA most forecasters start from, SARIMA(1,1,1)(1,1,1,7): where the
    // automatic search settles elsewhere on a short window, this fixed form is often the more
    // robust one over a long horizon.
    let fixed = Recipe::Sarima {
        calendar: CalendarSpec::none(),
        order: salescast_sarima::Order {
            p: 1,
            d: 1,
            q: 1,
            seasonal_p: 1,
            seasonal_d: 1,
            seasonal_q: 1,
            period: 7,
        },
        trend: salescast_sarima::Trend::None,
    };
    if !out.contains(&fixed) {
        out.push(fixed);
    }
    out.push(Recipe::MstlEts { periods: vec![7] });
    if earliest >= 2 * 365 + 7 {
        out.push(Recipe::MstlEts {
            periods: vec![7, 365],
        });
    }
    out.push(Recipe::Additive {
        holidays: settings.calendar.holidays,
    });
    out.push(Recipe::Theta);
    out.push(Recipe::AutoTheta);
    // A failed search only loses this candidate, never the selection.
    match ets_recipe(&y[..earliest]) {
        Ok(r) => out.push(r),
        Err(e) => tracing::warn!(error = %e, "no ETS candidate"),
    }
    Ok(out)
}

/// Weeks in a year, in days: a window one year earlier starts 364 days before, on the same
/// weekday.
const YEAR_AGO: usize = 364;

/// The backtest windows `(origin, days)` on a training series of `n` days followed by
/// `test_days` held-out days (0 where the model is fitted on every day):
/// - `folds` consecutive windows of `fold_days` ending with the training series;
/// - the test window's season one year earlier, over the test window's length;
/// - the window the served model forecasts (the `fold_days` after the last of all days) one
///   year earlier: the recent folds alone never contain the season being forecast.
///
/// A window lies wholly inside the training series, and a window one year back has a year of
/// history before it; no fit reads a day after its origin and no test day is ever read.
pub fn windows(n: usize, test_days: usize, settings: &SelectSettings) -> Vec<(usize, usize)> {
    let origin = n.saturating_sub(settings.folds * settings.fold_days);
    let mut out: Vec<(usize, usize)> = (0..settings.folds)
        .map(|f| (origin + f * settings.fold_days, settings.fold_days))
        .collect();
    if !settings.seasonal_fold {
        return out;
    }
    let mut seasonal = Vec::new();
    if test_days > 0 {
        seasonal.push((n.checked_sub(YEAR_AGO), test_days.min(YEAR_AGO)));
    }
    seasonal.push(((n + test_days).checked_sub(YEAR_AGO), settings.fold_days));
    for (end, days) in seasonal {
        if let Some(end) = end
            && end >= SEASONAL_HISTORY
            && end + days <= n
            && !out.contains(&(end, days))
        {
            out.push((end, days));
        }
    }
    out
}

/// Sizes of the combinations tried: the mean of the best two, and of the best three, single
/// candidates by backtest MASE (the backtest chooses how many to combine).
const COMBINED: [usize; 2] = [2, 3];

/// A candidate's result from its fold forecasts (`Err` where a fold could not be fitted).
fn scored(
    recipe: &Recipe,
    folds: &[FoldForecast],
    windows: &[(usize, usize)],
    train: &[f64],
) -> CandidateResult {
    let error = folds.iter().find_map(|r| r.as_ref().err().cloned());
    let fold_mase: Vec<f64> = folds
        .iter()
        .zip(windows)
        .map(|(r, &(end, days))| match r {
            Ok(fc) => Scores::new(&train[end..end + days], &fc.point, &train[..end]).mase,
            Err(_) => f64::NAN,
        })
        .collect();
    let mean = fold_mase.iter().sum::<f64>() / fold_mase.len() as f64;
    let interval_scale = if error.is_none() {
        let pairs: Vec<(&[f64], &augurs_core::Forecast)> = folds
            .iter()
            .zip(windows)
            .filter_map(|(r, &(end, days))| r.as_ref().ok().map(|fc| (&train[end..end + days], fc)))
            .collect();
        calibration(&pairs)
    } else {
        None
    };
    CandidateResult {
        name: recipe.name(),
        recipe: recipe.clone(),
        mean_mase: (error.is_none() && mean.is_finite()).then_some(mean),
        fold_mase,
        error,
        interval_scale,
    }
}

/// One backtest window's forecast (with intervals at [`CALIBRATION_LEVEL`]), or why the
/// candidate could not make it.
type FoldForecast = std::result::Result<augurs_core::Forecast, String>;

/// Indices of the candidates that were scored, best (lowest mean cross-validation MASE) first;
/// ties keep the candidates' order, so the ranking is deterministic.
fn ranked(results: &[CandidateResult]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].mean_mase.is_some())
        .collect();
    order.sort_by(|&a, &b| {
        let mase = |i: usize| results[i].mean_mase.unwrap_or(f64::INFINITY);
        mase(a).total_cmp(&mase(b))
    });
    order
}

/// The recipes to try in turn where `first` cannot be fitted: `first`, then the other scored
/// candidates in ranking order.
fn fallback_order(first: Recipe, candidates: &[CandidateResult]) -> Vec<Recipe> {
    let rest: Vec<Recipe> = ranked(candidates)
        .into_iter()
        .map(|i| candidates[i].recipe.clone())
        .filter(|r| *r != first)
        .collect();
    std::iter::once(first).chain(rest).collect()
}

/// Selects the champion on `train` (first day `start`), scores it on `test` (the days right
/// after), and fits the champion's recipe on each store series in parallel.
pub fn select(
    start: NaiveDate,
    train: &[f64],
    test: &[f64],
    stores: &[(String, Vec<f64>)],
    settings: &SelectSettings,
) -> Result<Selection> {
    settings.validate()?;
    if let Some((i, v)) = train
        .iter()
        .chain(test)
        .enumerate()
        .find(|(_, v)| !v.is_finite())
    {
        return Err(DailyError::Sarima(
            salescast_sarima::SarimaError::NonFinite {
                what: "daily revenue".into(),
                index: i,
                value: *v,
            },
        ));
    }
    let (fitted, note) = settings.fitted_to(train.len())?;
    if let Some(note) = &note {
        tracing::warn!("{note}");
    }
    let settings = &fitted;
    let windows = windows(train.len(), test.len(), settings);
    let earliest = windows.iter().map(|w| w.0).min().unwrap_or(train.len());
    let recipes = candidates(start, train, earliest, settings)?;
    let n_windows = windows.len();
    let jobs: Vec<(usize, usize)> = (0..recipes.len())
        .flat_map(|c| (0..n_windows).map(move |f| (c, f)))
        .collect();
    let fold_points: Vec<FoldForecast> = jobs
        .par_iter()
        .map(|&(c, f)| {
            let (end, days) = windows[f];
            let fitted = recipes[c]
                .fit(start, &train[..end])
                .map_err(|e| e.to_string())?;
            fitted
                .forecast(start, days, Some(CALIBRATION_LEVEL))
                .map_err(|e| e.to_string())
        })
        .collect();
    let folds_of = |c: usize| &fold_points[c * n_windows..(c + 1) * n_windows];
    let mut results: Vec<CandidateResult> = recipes
        .iter()
        .enumerate()
        .map(|(c, recipe)| scored(recipe, folds_of(c), &windows, train))
        .collect();
    // Combinations: the mean of the best singles' fold forecasts, so they cost no extra fit.
    let best = ranked(&results);
    for k in COMBINED.into_iter().filter(|&k| best.len() >= k) {
        let members = &best[..k];
        let folds: Vec<FoldForecast> = (0..n_windows)
            .map(|f| {
                let parts = members
                    .iter()
                    .map(|&c| folds_of(c)[f].clone())
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(mean_forecast(&parts))
            })
            .collect();
        let recipe = Recipe::Mean {
            members: members.iter().map(|&c| recipes[c].clone()).collect(),
        };
        results.push(scored(&recipe, &folds, &windows, train));
    }
    for c in &results {
        tracing::debug!(
            candidate = %c.name,
            mean_mase = c.mean_mase.unwrap_or(f64::NAN),
            folds = ?c.fold_mase,
            windows = ?windows,
            error = c.error.as_deref().unwrap_or(""),
            "backtest"
        );
    }
    // The best candidate that also fits on the whole training period.
    let mut champion = None;
    let mut last_error = None;
    for c in ranked(&results).into_iter().map(|i| &results[i]) {
        match c.recipe.fit(start, train) {
            Ok(m) => {
                champion = Some(m);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let Some(champion) = champion else {
        return Err(last_error.unwrap_or_else(|| DailyError::NoCandidate {
            reasons: results
                .iter()
                .filter_map(|c| c.error.clone())
                .collect::<Vec<_>>()
                .join("; "),
        }));
    };
    let test = if test.is_empty() {
        None
    } else {
        let fc = champion.forecast(start, test.len(), Some(0.95))?;
        let fc = calibrated(fc, interval_scale(&champion.recipe(), &results));
        let fc = if train.iter().all(|v| *v >= 0.0) {
            floored(fc)
        } else {
            fc
        };
        Some((Scores::new(test, &fc.point, train), fc))
    };
    // Each store gets the champion's recipe; where that fails (a store series can be too
    // irregular for the orders chosen on the total), the next candidates in ranking order.
    let order = fallback_order(champion.recipe(), &results);
    let fitted: Vec<(String, Result<DailyModel>)> = stores
        .par_iter()
        .map(|(name, y)| {
            let mut first_error = None;
            for recipe in &order {
                match recipe.fit(start, y) {
                    Ok(m) => return (name.clone(), Ok(m)),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            let e = first_error.unwrap_or_else(|| DailyError::NoCandidate {
                reasons: "no recipe to try".into(),
            });
            (name.clone(), Err(e))
        })
        .collect();
    let mut store_models = BTreeMap::new();
    let mut store_errors = BTreeMap::new();
    for (name, r) in fitted {
        match r {
            Ok(m) => {
                store_models.insert(name, m);
            }
            Err(e) => {
                store_errors.insert(name, e.to_string());
            }
        }
    }
    Ok(Selection {
        champion,
        candidates: results,
        test,
        stores: store_models,
        store_errors,
    })
}

/// The selection refitted on a longer series (every day, for serving).
#[derive(Debug, Clone)]
pub struct Refitted {
    pub champion: DailyModel,
    pub stores: BTreeMap<String, DailyModel>,
    pub store_errors: BTreeMap<String, String>,
}

/// Re-estimates the chosen models on `y` (first day `start`, the series the selection saw plus
/// the days after it) and each store's on its longer series: the same recipes (orders,
/// regressors, combinations) with fresh parameters, no new selection. Where the champion's
/// recipe no longer converges, the next candidates in cross-validation order are tried, so a
/// refit never serves something the selection did not rank.
pub fn refit(
    champion: &DailyModel,
    candidates: &[CandidateResult],
    store_models: &BTreeMap<String, DailyModel>,
    start: NaiveDate,
    y: &[f64],
    stores: &[(String, Vec<f64>)],
) -> Result<Refitted> {
    let first = champion.recipe();
    let order = fallback_order(first.clone(), candidates);
    let mut last_error = None;
    let mut refitted = None;
    for recipe in &order {
        match recipe.fit(start, y) {
            Ok(m) => {
                if *recipe != first {
                    tracing::warn!(
                        champion = %first.name(),
                        used = %recipe.name(),
                        "the champion's recipe failed on all days; the next candidate is served"
                    );
                }
                refitted = Some(m);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let champion = match refitted {
        Some(m) => m,
        None => {
            return Err(last_error.unwrap_or_else(|| DailyError::NoCandidate {
                reasons: "no recipe to refit".into(),
            }));
        }
    };
    let fitted: Vec<(String, Result<DailyModel>)> = stores
        .par_iter()
        .map(|(name, ys)| {
            let own = store_models.get(name).map(DailyModel::recipe);
            let mut first_error = None;
            for recipe in own.iter().chain(order.iter()) {
                match recipe.fit(start, ys) {
                    Ok(m) => return (name.clone(), Ok(m)),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            let e = first_error.unwrap_or_else(|| DailyError::NoCandidate {
                reasons: "no recipe to try".into(),
            });
            (name.clone(), Err(e))
        })
        .collect();
    let mut out = Refitted {
        champion,
        stores: BTreeMap::new(),
        store_errors: BTreeMap::new(),
    };
    for (name, r) in fitted {
        match r {
            Ok(m) => {
                out.stores.insert(name, m);
            }
            Err(e) => {
                out.store_errors.insert(name, e.to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(point: Vec<f64>, half: f64) -> augurs_core::Forecast {
        augurs_core::Forecast {
            intervals: Some(augurs_core::ForecastIntervals {
                level: CALIBRATION_LEVEL,
                lower: point.iter().map(|p| p - half).collect(),
                upper: point.iter().map(|p| p + half).collect(),
            }),
            point,
        }
    }

    #[test]
    fn calibration_scales_intervals_to_cover_95_percent_of_backtest_days() {
        // errors spread evenly over ±2 half-widths: intervals must grow by about 1.9
        let actual: Vec<f64> = (0..=200).map(|i| -2.0 + 4.0 * i as f64 / 200.0).collect();
        let f = fc(vec![0.0; actual.len()], 1.0);
        let s = calibration(&[(&actual, &f)]).unwrap();
        assert!((s - 1.9).abs() < 0.02, "{s}");
        let wide = calibrated(f.clone(), s);
        let iv = wide.intervals.unwrap();
        let inside = actual
            .iter()
            .enumerate()
            .filter(|(i, y)| iv.lower[*i] <= **y && **y <= iv.upper[*i])
            .count();
        assert!((inside as f64 / actual.len() as f64 - 0.95).abs() < 0.01);
        // far too wide intervals shrink, down to the floor
        let tiny: Vec<f64> = actual.iter().map(|a| a * 1e-3).collect();
        assert_eq!(calibration(&[(&tiny, &f)]), Some(SCALE_RANGE.0));
        // no intervals, no calibration
        let bare = augurs_core::Forecast {
            point: vec![0.0],
            intervals: None,
        };
        assert_eq!(calibration(&[(&actual[..1], &bare)]), None);
    }
}
