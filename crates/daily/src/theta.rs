//! Theta models, two candidates of the daily selection.
//!
//! The standard Theta method (Assimakopoulos & Nikolopoulos, 2000) in the form of Hyndman &
//! Billah (2003) ([`Theta::fit_classic`], the `theta` candidate): simple exponential smoothing
//! plus half the slope of the linear trend, on the seasonally adjusted series, reseasonalised.
//! It won the M3 competition: robust on series that wander like random walks, where SARIMA
//! orders and smooth additive trends overshoot.
//!
//! - Seasonality: the weekly season is removed when the lag-7 autocorrelation is significant
//!   at 90% (the test of the classical Theta implementations), by classical decomposition:
//!   multiplicative when every value is positive, additive otherwise.
//! - SES: α and the initial level by least squares (for a given α the best initial level has a
//!   closed form, so only α is searched).
//! - Forecast: `ℓ_n + b/2·(h − 1 + (1 − (1 − α)^n)/α)`, `b` the least-squares slope.
//! - Intervals: those of SES (ETS(A,N,N)): variance `σ²·(1 + α²·(h − 1))`, reseasonalised.
//!
//! # AutoTheta
//!
//! [`Theta::fit`] (the `auto_theta` candidate) chooses, as statsforecast's `AutoTheta` does,
//! with the same seasonal adjustment, among the four state-space
//! Theta models of Fiorucci et al. (2016) on the adjusted series: the standard (STM, θ = 2) and
//! optimised (OTM) models, whose trend line is the least-squares line of the whole series, and
//! their dynamic forms (DSTM, DOTM), whose line is re-estimated after every day. Each model's
//! initial level, α (0.1 to 0.99) and, for the optimised ones, θ (at least 1) minimise the sum
//! of squared one-step errors after the first three days, by the same bounded Nelder–Mead as
//! the ETS fits; the model with the smallest sum is kept. Intervals keep the SES form above,
//! with σ from those one-step errors (the backtest calibrates them, as every candidate's).
//! Models saved before the four models read as the closed form ([`ThetaKind::Classic`]).
//!
//! Both are candidates because neither is better everywhere: on the public accuracy suite
//! AutoTheta alone in place of the classic method made the Wikipedia pages' 90-day forecasts
//! worse (1.088 to 1.115 of the best peer), both together made them better (1.053).

use augurs_core::{Forecast, ForecastIntervals};
use serde::{Deserialize, Serialize};

use crate::error::{DailyError, Result};

/// The season the method removes.
const PERIOD: usize = 7;

/// How the weekly season was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deseason {
    None,
    Multiplicative,
    Additive,
}

/// Which Theta model a fit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThetaKind {
    /// The closed form of Hyndman & Billah (2003): SES plus half the least-squares slope.
    /// Models saved without a kind hold it.
    #[default]
    Classic,
    /// Standard Theta model: θ = 2, the whole series' trend line.
    Stm,
    /// Optimised Theta model: θ estimated, the whole series' trend line.
    Otm,
    /// Dynamic standard Theta model: θ = 2, the trend line updated every day.
    Dstm,
    /// Dynamic optimised Theta model: θ estimated, the trend line updated every day.
    Dotm,
}

impl ThetaKind {
    /// The four state-space models, in the order ties are broken.
    pub const MODELS: [ThetaKind; 4] = [
        ThetaKind::Stm,
        ThetaKind::Otm,
        ThetaKind::Dstm,
        ThetaKind::Dotm,
    ];

    fn dynamic(self) -> bool {
        matches!(self, ThetaKind::Dstm | ThetaKind::Dotm)
    }

    fn optimised(self) -> bool {
        matches!(self, ThetaKind::Otm | ThetaKind::Dotm)
    }
}

/// A state-space Theta model's θ and its state after the last day (the level is
/// [`Theta::level`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThetaState {
    pub theta: f64,
    /// Mean of the adjusted series so far.
    pub mean: f64,
    /// Intercept and slope of the trend line (time counted from the first day as 1).
    pub a: f64,
    pub b: f64,
}

/// A fitted Theta model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Theta {
    #[serde(default)]
    pub kind: ThetaKind,
    /// The state-space models' θ and state; absent for [`ThetaKind::Classic`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ThetaState>,
    pub deseason: Deseason,
    /// Seasonal indices by position in the week (relative to the first day).
    pub season: Vec<f64>,
    pub alpha: f64,
    /// The SES level after the last day (seasonally adjusted units).
    pub level: f64,
    /// Least-squares slope per day of the adjusted series.
    pub slope: f64,
    /// Standard deviation of the one-step SES errors.
    pub sigma: f64,
    pub nobs: usize,
}

fn acf(y: &[f64], lag: usize) -> f64 {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let denom: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if denom <= 0.0 || lag >= n {
        return 0.0;
    }
    (lag..n)
        .map(|t| (y[t] - mean) * (y[t - lag] - mean))
        .sum::<f64>()
        / denom
}

/// Whether the lag-7 autocorrelation is significant at 90%.
fn seasonal(y: &[f64]) -> bool {
    let n = y.len();
    if n < 3 * PERIOD {
        return false;
    }
    let r: Vec<f64> = (1..=PERIOD).map(|k| acf(y, k)).collect();
    let var = (1.0 + 2.0 * r[..PERIOD - 1].iter().map(|v| v * v).sum::<f64>()) / n as f64;
    r[PERIOD - 1].abs() / var.sqrt() > 1.645
}

/// Seasonal indices of the classical decomposition of the week (see
/// [`salescast_ets::classical_season`]).
fn indices(y: &[f64], multiplicative: bool) -> Vec<f64> {
    salescast_ets::classical_season(y, PERIOD, multiplicative)
}

/// SES sum of squared one-step errors for `alpha` with the best initial level, and that level
/// after the last value.
fn ses(y: &[f64], alpha: f64) -> (f64, f64) {
    // ℓ_{t} = a_t + b_t·ℓ0; the one-step forecast of y_t is ℓ_{t-1}.
    let (mut a, mut b) = (0.0, 1.0);
    let (mut sab, mut sbb) = (0.0, 0.0);
    for &v in y {
        sab += (v - a) * b;
        sbb += b * b;
        a = alpha * v + (1.0 - alpha) * a;
        b *= 1.0 - alpha;
    }
    let l0 = if sbb > 0.0 { sab / sbb } else { y[0] };
    let mut level = l0;
    let mut sse = 0.0;
    for &v in y {
        sse += (v - level).powi(2);
        level += alpha * (v - level);
    }
    (sse, level)
}

/// `y` with the weekly season (indices by position in the week) removed.
fn adjust(y: &[f64], deseason: Deseason, season: &[f64]) -> Vec<f64> {
    y.iter()
        .enumerate()
        .map(|(t, v)| match deseason {
            Deseason::None => *v,
            Deseason::Multiplicative => v / season[t % PERIOD],
            Deseason::Additive => v - season[t % PERIOD],
        })
        .collect()
}

/// Days whose one-step errors the state-space fits leave out of their criterion.
const BURN_IN: usize = 3;

/// The one-step forecast of the day with index `i` from the state after day `i − 1`.
fn theta_step(level: f64, st: &ThetaState, alpha: f64, i: usize) -> f64 {
    let q: f64 = 1.0 - alpha;
    let qi = q.powi(i as i32);
    level + (1.0 - 1.0 / st.theta) * (st.a * qi + st.b * (1.0 - qi * q) / alpha)
}

/// The state after day `i` (value `v`), from the state after day `i − 1`.
fn theta_update(
    kind: ThetaKind,
    level: &mut f64,
    st: &mut ThetaState,
    alpha: f64,
    i: usize,
    v: f64,
) {
    let fi = i as f64;
    *level = alpha * v + (1.0 - alpha) * *level;
    let before = st.mean;
    st.mean = (fi * before + v) / (fi + 1.0);
    if kind.dynamic() {
        st.b = ((fi - 1.0) * st.b + 6.0 * (v - before) / (fi + 1.0)) / (fi + 2.0);
        st.a = st.mean - st.b * (fi + 2.0) / 2.0;
    }
}

/// Runs a state-space Theta model over `y` from initial level `l0`: the sum of squared
/// one-step errors after [`BURN_IN`] days over the mean absolute value (statsforecast's
/// criterion), those errors, and the level and state after the last day.
fn theta_run(
    y: &[f64],
    kind: ThetaKind,
    l0: f64,
    alpha: f64,
    theta: f64,
) -> (f64, Vec<f64>, f64, ThetaState) {
    let n = y.len();
    let (a, b) = if kind.dynamic() {
        (y[0], 0.0)
    } else {
        let nf = n as f64;
        let mean = y.iter().sum::<f64>() / nf;
        let weighted = y
            .iter()
            .enumerate()
            .map(|(t, v)| (t + 1) as f64 * v)
            .sum::<f64>()
            / nf;
        let b = 6.0 * (2.0 * weighted - (nf + 1.0) * mean) / (nf * nf - 1.0);
        (mean - (nf + 1.0) * b / 2.0, b)
    };
    let mut st = ThetaState {
        theta,
        mean: y[0],
        a,
        b,
    };
    let first = if kind.dynamic() {
        y[0]
    } else {
        l0 + (1.0 - 1.0 / theta) * (a + b)
    };
    let mut errors = Vec::with_capacity(n);
    errors.push(y[0] - first);
    let mut level = alpha * y[0] + (1.0 - alpha) * l0;
    for (i, &v) in y.iter().enumerate().skip(1) {
        errors.push(v - theta_step(level, &st, alpha, i));
        theta_update(kind, &mut level, &mut st, alpha, i, v);
    }
    let scale = (y.iter().map(|v| v.abs()).sum::<f64>() / n as f64).max(1e-10);
    let sse: f64 = errors.iter().skip(BURN_IN).map(|e| e * e).sum();
    let cost = if sse.is_finite() {
        sse / scale
    } else {
        f64::INFINITY
    };
    (cost, errors, level, st)
}

/// Fits one state-space Theta model to the adjusted series: initial level, α and (optimised
/// kinds) θ by Nelder–Mead from statsforecast's start (half the first value, 0.5, 2).
fn theta_fit(y: &[f64], kind: ThetaKind) -> (f64, Vec<f64>, f64, f64, ThetaState) {
    let (x0, lower, upper) = if kind.optimised() {
        (
            vec![y[0] / 2.0, 0.5, 2.0],
            vec![-1e10, 0.1, 1.0],
            vec![1e10, 0.99, 1e10],
        )
    } else {
        (vec![y[0] / 2.0, 0.5], vec![-1e10, 0.1], vec![1e10, 0.99])
    };
    let theta_of = |x: &[f64]| x.get(2).copied().unwrap_or(2.0);
    let (x, _) = salescast_ets::nelder_mead::minimise(
        |x| theta_run(y, kind, x[0], x[1], theta_of(x)).0,
        &x0,
        &lower,
        &upper,
        &Default::default(),
    );
    let (cost, errors, level, st) = theta_run(y, kind, x[0], x[1], theta_of(&x));
    (cost, errors, x[1], level, st)
}

impl Theta {
    /// Fits the four state-space Theta models on `y` (weekly-adjusted as the module says) and
    /// keeps the one with the smallest criterion, as statsforecast's `AutoTheta` does.
    pub fn fit(y: &[f64]) -> Result<Theta> {
        let classic = Theta::fit_classic(y)?;
        let adjusted = adjust(y, classic.deseason, &classic.season);
        let best = ThetaKind::MODELS
            .iter()
            .map(|&kind| (kind, theta_fit(&adjusted, kind)))
            .filter(|(_, (cost, ..))| cost.is_finite())
            .min_by(|a, b| a.1.0.total_cmp(&b.1.0));
        let Some((kind, (_, errors, alpha, level, state))) = best else {
            return Err(DailyError::Request {
                field: "value",
                reason: "no Theta model could be fitted".into(),
            });
        };
        let tail = &errors[BURN_IN.min(errors.len())..];
        let m = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
        let var =
            tail.iter().map(|e| (e - m).powi(2)).sum::<f64>() / (tail.len().max(2) - 1) as f64;
        let fit = Theta {
            kind,
            state: Some(state),
            alpha,
            level,
            slope: state.b,
            sigma: var.sqrt(),
            ..classic
        };
        fit.validate()?;
        Ok(fit)
    }

    /// Fits the closed form ([`ThetaKind::Classic`]) on `y`.
    pub fn fit_classic(y: &[f64]) -> Result<Theta> {
        let n = y.len();
        if n < 2 * PERIOD {
            return Err(DailyError::TooShort {
                need: 2 * PERIOD,
                got: n,
            });
        }
        let deseason = if !seasonal(y) {
            Deseason::None
        } else if y.iter().all(|v| *v > 0.0) {
            Deseason::Multiplicative
        } else {
            Deseason::Additive
        };
        let season = match deseason {
            Deseason::None => vec![0.0; PERIOD],
            Deseason::Multiplicative => indices(y, true),
            Deseason::Additive => indices(y, false),
        };
        let adjusted = adjust(y, deseason, &season);
        // α by golden-section search on the SSE, after a coarse grid picks the bracket.
        let grid: Vec<f64> = (1..=20).map(|i| i as f64 / 20.0 - 0.0249).collect();
        let best = grid
            .iter()
            .copied()
            .min_by(|a, b| ses(&adjusted, *a).0.total_cmp(&ses(&adjusted, *b).0))
            .unwrap_or(0.5);
        let (mut lo, mut hi) = ((best - 0.05).max(1e-4), (best + 0.05).min(0.9999));
        let phi = (5.0_f64.sqrt() - 1.0) / 2.0;
        for _ in 0..40 {
            let x1 = hi - phi * (hi - lo);
            let x2 = lo + phi * (hi - lo);
            if ses(&adjusted, x1).0 < ses(&adjusted, x2).0 {
                hi = x2;
            } else {
                lo = x1;
            }
        }
        let alpha = (lo + hi) / 2.0;
        let (sse, level) = ses(&adjusted, alpha);
        let tbar = (n as f64 - 1.0) / 2.0;
        let ybar = adjusted.iter().sum::<f64>() / n as f64;
        let sxy: f64 = adjusted
            .iter()
            .enumerate()
            .map(|(t, v)| (t as f64 - tbar) * (v - ybar))
            .sum();
        let sxx: f64 = (0..n).map(|t| (t as f64 - tbar).powi(2)).sum();
        let fit = Theta {
            kind: ThetaKind::Classic,
            state: None,
            deseason,
            season,
            alpha,
            level,
            slope: sxy / sxx,
            sigma: (sse / (n - 1) as f64).sqrt(),
            nobs: n,
        };
        if [fit.alpha, fit.level, fit.slope, fit.sigma]
            .iter()
            .any(|v| !v.is_finite())
        {
            return Err(DailyError::Request {
                field: "value",
                reason: "the Theta fit is not finite".into(),
            });
        }
        Ok(fit)
    }

    /// Checks that a model read from a file is one [`Theta::fit`] could have produced.
    pub fn validate(&self) -> Result<()> {
        let state_ok = match (self.kind, &self.state) {
            (ThetaKind::Classic, None) => true,
            (ThetaKind::Classic, Some(_)) | (_, None) => false,
            (_, Some(st)) => {
                st.theta >= 1.0
                    && [st.theta, st.mean, st.a, st.b]
                        .iter()
                        .all(|v| v.is_finite())
            }
        };
        let ok = state_ok
            && self.season.len() == PERIOD
            && self.nobs >= 2 * PERIOD
            && self.alpha > 0.0
            && self.alpha < 1.0
            && self.sigma >= 0.0
            && [self.level, self.slope, self.sigma]
                .iter()
                .chain(&self.season)
                .all(|v| v.is_finite());
        if ok {
            Ok(())
        } else {
            Err(DailyError::InvalidSetting {
                name: "theta model",
                reason: "its parameters are not ones a fit produces".into(),
            })
        }
    }

    /// Forecasts `horizon` days after the series, with intervals at `level` (0–1).
    pub fn forecast(&self, horizon: usize, level: Option<f64>) -> Result<Forecast> {
        let a = self.alpha;
        let drift = (1.0 - (1.0 - a).powi(self.nobs as i32)) / a;
        let z = level.map(salescast_sarima::z_score).transpose()?;
        let mut point = Vec::with_capacity(horizon);
        let mut lower = Vec::with_capacity(horizon);
        let mut upper = Vec::with_capacity(horizon);
        // The state-space models' path: each day's forecast updates the state as if observed.
        let mut path = Vec::with_capacity(horizon);
        if let Some(mut st) = self.state {
            let mut level = self.level;
            for j in 0..horizon {
                let i = self.nobs + j;
                let mu = theta_step(level, &st, a, i);
                path.push(mu);
                theta_update(self.kind, &mut level, &mut st, a, i, mu);
            }
        }
        for h in 1..=horizon {
            let adj = match path.get(h - 1) {
                Some(&mu) => mu,
                None => self.level + 0.5 * self.slope * ((h - 1) as f64 + drift),
            };
            let half = z.unwrap_or(0.0) * self.sigma * (1.0 + a * a * (h - 1) as f64).sqrt();
            let s = self.season[(self.nobs + h - 1) % PERIOD];
            let back = |v: f64| match self.deseason {
                Deseason::None => v,
                Deseason::Multiplicative => v * s,
                Deseason::Additive => v + s,
            };
            point.push(back(adj));
            lower.push(back(adj - half));
            upper.push(back(adj + half));
        }
        Ok(Forecast {
            point,
            intervals: level.map(|level| ForecastIntervals {
                level,
                lower,
                upper,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_is_continued_and_a_week_is_repeated() {
        let y: Vec<f64> = (0..200).map(|t| 10.0 + 0.5 * t as f64).collect();
        let fit = Theta::fit_classic(&y).unwrap();
        assert!((fit.slope - 0.5).abs() < 1e-9);
        let fc = fit.forecast(5, Some(0.95)).unwrap();
        // SES follows the line with α near 1 and the drift adds half the slope per day: the
        // forecast grows by the slope/2 per day from about the last value
        assert!(
            (fc.point[1] - fc.point[0] - 0.25).abs() < 1e-6,
            "{:?}",
            fc.point
        );
        let week = [5.0, 1.0, 1.0, 1.0, 1.0, 8.0, 9.0];
        let y: Vec<f64> = (0..140).map(|t| 100.0 * week[t % 7]).collect();
        let fit = Theta::fit(&y).unwrap();
        assert_eq!(fit.deseason, Deseason::Multiplicative);
        let fc = fit.forecast(14, None).unwrap();
        for (h, p) in fc.point.iter().enumerate() {
            assert!(
                (p - 100.0 * week[(140 + h) % 7]).abs() < 1e-6 * p,
                "{h}: {p}"
            );
        }
    }

    /// AutoTheta on a line: whichever of the four models wins, its one-step errors are near
    /// zero, so it continues the line; a saved model reads back and forecasts the same.
    #[test]
    fn auto_theta_continues_a_line_and_round_trips() {
        let y: Vec<f64> = (0..300).map(|t| 10.0 + 0.5 * t as f64).collect();
        let fit = Theta::fit(&y).unwrap();
        assert_ne!(fit.kind, ThetaKind::Classic);
        let fc = fit.forecast(10, Some(0.95)).unwrap();
        for (h, p) in fc.point.iter().enumerate() {
            let want = 10.0 + 0.5 * (300 + h) as f64;
            assert!(
                (p - want).abs() < 0.02 * (h + 1) as f64,
                "{h}: {p} vs {want}"
            );
        }
        let back: Theta = serde_json::from_str(&serde_json::to_string(&fit).unwrap()).unwrap();
        assert_eq!(back, fit);
        back.validate().unwrap();
        // a model saved before the four models (no kind, no state) is the closed form
        let mut old = serde_json::to_value(Theta::fit_classic(&y).unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("kind");
        let old: Theta = serde_json::from_value(old).unwrap();
        assert_eq!(old.kind, ThetaKind::Classic);
        assert_eq!(old, Theta::fit_classic(&y).unwrap());
    }

    /// The dynamic models' trend line is the least-squares line of the days so far: after the
    /// last day it equals the whole series' line, which the static models use throughout.
    #[test]
    fn the_dynamic_trend_line_is_the_running_least_squares_line() {
        let y: Vec<f64> = (0..120)
            .map(|t| 50.0 + 0.3 * t as f64 + ((t * 7919) % 11) as f64)
            .collect();
        let (_, _, _, dynamic) = theta_run(&y, ThetaKind::Dstm, 40.0, 0.4, 2.0);
        let (_, _, _, fixed) = theta_run(&y, ThetaKind::Stm, 40.0, 0.4, 2.0);
        assert!((dynamic.b - fixed.b).abs() < 1e-9, "{dynamic:?} {fixed:?}");
        assert!((dynamic.a - fixed.a).abs() < 1e-9, "{dynamic:?} {fixed:?}");
    }

    /// statsforecast's AutoTheta on the committed fixtures (`tools/theta_fixtures.py`): the same
    /// seasonal adjustment, the same criterion for each of the four models at statsforecast's
    /// parameters, the same chosen model, and the same forecast up to where two Nelder–Mead
    /// searches on a flat criterion stop.
    #[test]
    fn auto_theta_matches_statsforecast_on_the_fixtures() {
        #[derive(serde::Deserialize)]
        struct Fixtures {
            series: Vec<Series>,
        }
        #[derive(serde::Deserialize)]
        struct Series {
            name: String,
            y: Vec<f64>,
            decomposed: bool,
            chosen: String,
            forecast: Vec<f64>,
            models: Vec<Single>,
        }
        #[derive(serde::Deserialize)]
        struct Single {
            model: String,
            initial_smoothed: f64,
            alpha: f64,
            theta: f64,
            criterion: f64,
        }
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/theta_statsforecast.json"
        );
        let fixtures: Fixtures =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let kind_of = |m: &str| match m {
            "STM" => ThetaKind::Stm,
            "OTM" => ThetaKind::Otm,
            "DSTM" => ThetaKind::Dstm,
            _ => ThetaKind::Dotm,
        };
        for s in &fixtures.series {
            let classic = Theta::fit_classic(&s.y).unwrap();
            assert_eq!(
                classic.deseason != Deseason::None,
                s.decomposed,
                "{}",
                s.name
            );
            let adjusted = adjust(&s.y, classic.deseason, &classic.season);
            for m in &s.models {
                let (cost, ..) = theta_run(
                    &adjusted,
                    kind_of(&m.model),
                    m.initial_smoothed,
                    m.alpha,
                    m.theta,
                );
                assert!(
                    (cost - m.criterion).abs() <= 1e-9 * m.criterion.abs(),
                    "{} {}: {cost} vs {}",
                    s.name,
                    m.model,
                    m.criterion
                );
            }
            let fit = Theta::fit(&s.y).unwrap();
            assert_eq!(fit.kind, kind_of(&s.chosen), "{}", s.name);
            let fc = fit.forecast(s.forecast.len(), None).unwrap();
            for (ours, theirs) in fc.point.iter().zip(&s.forecast) {
                assert!(
                    (ours - theirs).abs() <= 0.01 * theirs.abs().max(1.0),
                    "{}: {:?} vs {:?}",
                    s.name,
                    fc.point,
                    s.forecast
                );
            }
        }
    }

    #[test]
    fn intervals_widen_and_short_series_are_refused() {
        let y: Vec<f64> = (0..100).map(|t| ((t * 7919) % 13) as f64 + 50.0).collect();
        let fc = Theta::fit(&y).unwrap().forecast(30, Some(0.95)).unwrap();
        let iv = fc.intervals.unwrap();
        let w: Vec<f64> = iv.upper.iter().zip(&iv.lower).map(|(u, l)| u - l).collect();
        // wider a week later on the same weekday (the season scales the width by weekday)
        assert!((0..23).all(|h| w[h + 7] >= w[h] - 1e-12), "{w:?}");
        assert!(Theta::fit(&y[..10]).is_err());
    }
}
