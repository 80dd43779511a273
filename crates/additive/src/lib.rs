//! A Prophet-like additive forecaster for daily series.
//!
//! `y(t) = trend(t) + weekly(t) + yearly(t) + holidays(t) + noise`, where
//! - the trend is piecewise linear, `k·t + m + Σ δ_j·(t − s_j)₊`, with changepoints `s_j`
//!   spread over the first 80% of the history and a Laplace prior on the rate changes `δ_j`
//!   (most stay near zero, so the trend bends only where the data insist);
//! - the weekly and yearly seasons are Fourier series of the date (their phase counts days from
//!   1970-01-01, so any future date gets its values) with normal priors;
//! - each holiday of the shared calendar seen in the history gets its own day effect;
//! - the noise is normal with a half-normal prior on its scale.
//!
//! The parameters are the maximum a posteriori estimate (L-BFGS on the negative log posterior,
//! with the series scaled by its largest absolute value), as Prophet's default fit computes it.
//! Every term is linear in its parameters, so the posterior's gradient is exact and cheap. The
//! intervals follow Prophet's simulation: future changepoints arrive at the rate seen in the
//! history with Laplace rate changes of the fitted changes' mean size, plus observation noise;
//! the interval is the empirical quantile of those paths. The random stream is seeded, so a
//! fit forecasts the same numbers every time.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::BacktrackingLineSearch;
use argmin::solver::linesearch::condition::ArmijoCondition;
use argmin::solver::quasinewton::LBFGS;
use augurs_core::{Forecast, ForecastIntervals};
use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use salescast_core::calendar::{Holiday, holiday_on};
use serde::{Deserialize, Serialize};

/// What can go wrong fitting or forecasting.
#[derive(Debug, thiserror::Error)]
pub enum AdditiveError {
    /// A value of the series is NaN or infinite.
    #[error("value {index} of the series is not finite ({value})")]
    NonFinite { index: usize, value: f64 },
    /// The series is shorter than the model needs.
    #[error("the additive model needs at least {need} days, got {got}")]
    TooShort { need: usize, got: usize },
    /// A setting is out of its range.
    #[error("setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    /// The optimiser failed to produce a finite posterior.
    #[error("the additive model's optimiser failed: {0}")]
    Optimiser(String),
}

/// Result with [`AdditiveError`].
pub type Result<T> = std::result::Result<T, AdditiveError>;

/// Fewest days the model fits on: two weeks, so the weekly terms are identified.
pub const MIN_DAYS: usize = 14;

/// The model's settings (Prophet's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Additive {
    /// Potential changepoints of the trend.
    pub changepoints: usize,
    /// Share of the history (from its start) where changepoints are placed.
    pub changepoint_range: f64,
    /// Scale of the Laplace prior on the trend's rate changes (larger: a more flexible trend).
    pub changepoint_prior_scale: f64,
    /// Standard deviation of the normal prior on the Fourier coefficients.
    pub seasonality_prior_scale: f64,
    /// Standard deviation of the normal prior on the holiday effects.
    pub holidays_prior_scale: f64,
    /// Fourier pairs of the weekly season.
    pub weekly_order: usize,
    /// Fourier pairs of the yearly season, used when the history holds at least a year.
    pub yearly_order: usize,
    /// Holiday effects for the shared calendar's holidays.
    pub holidays: bool,
    /// Simulated paths behind the intervals.
    pub samples: usize,
    /// Seed of the simulation.
    pub seed: u64,
    /// L-BFGS iteration limit.
    pub max_iter: u64,
}

impl Default for Additive {
    fn default() -> Self {
        Self {
            changepoints: 25,
            changepoint_range: 0.8,
            changepoint_prior_scale: 0.05,
            seasonality_prior_scale: 10.0,
            holidays_prior_scale: 10.0,
            weekly_order: 3,
            yearly_order: 10,
            holidays: true,
            samples: 1000,
            seed: 0,
            max_iter: 2000,
        }
    }
}

/// Days in a year, for the yearly Fourier terms (as Prophet uses).
const YEAR: f64 = 365.25;
/// Smoothing of |δ| in the Laplace prior, so the posterior is differentiable.
const ABS_EPS: f64 = 1e-6;
/// Prior standard deviations of the trend's slope and offset, and the noise scale (scaled units).
const TREND_PRIOR: f64 = 5.0;
const SIGMA_PRIOR: f64 = 0.5;
/// Smallest noise variance (scaled units): a millionth of the series' scale.
const SIGMA2_FLOOR: f64 = 1e-12;

/// A fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedAdditive {
    pub spec: Additive,
    /// Days the model was fitted on.
    pub nobs: usize,
    /// The first day of the history.
    pub start: NaiveDate,
    /// The series' scale (largest absolute value); parameters are in units of it.
    pub y_scale: f64,
    /// Yearly Fourier pairs in use (0 on less than a year of history).
    pub yearly_order: usize,
    /// The holidays with an effect, as indices into [`Holiday::ALL`].
    pub holidays: Vec<u8>,
    /// Changepoints in scaled time (0 = first day, 1 = last day).
    pub changepoints: Vec<f64>,
    pub k: f64,
    pub m: f64,
    pub delta: Vec<f64>,
    /// Weekly, then yearly Fourier coefficients, then holiday effects.
    pub beta: Vec<f64>,
    /// Noise standard deviation (scaled units).
    pub sigma: f64,
    /// Optimiser iterations used.
    pub iterations: u64,
}

/// Days since 1970-01-01.
fn epoch_days(d: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    (d - epoch).num_days() as f64
}

/// The seasonal and holiday columns of one day, in the order of `beta`.
fn day_features(
    date: NaiveDate,
    weekly: usize,
    yearly: usize,
    holidays: &[u8],
    out: &mut Vec<f64>,
) {
    let d = epoch_days(date);
    for (period, order) in [(7.0, weekly), (YEAR, yearly)] {
        for j in 1..=order {
            let x = 2.0 * std::f64::consts::PI * j as f64 * d / period;
            out.push(x.sin());
            out.push(x.cos());
        }
    }
    let today = holiday_on(date);
    for &h in holidays {
        out.push(f64::from(u8::from(
            today == Holiday::ALL.get(h as usize).copied(),
        )));
    }
}

/// The design of the fit: rows of `[t, 1, (t − s_j)₊…, features…]`.
struct Problem<'a> {
    y: &'a [f64],
    design: Vec<f64>,
    width: usize,
    n_delta: usize,
    /// Prior standard deviation per feature coefficient.
    beta_prior: Vec<f64>,
    tau: f64,
}

impl Problem<'_> {
    fn residuals(&self, theta: &[f64]) -> Vec<f64> {
        let w = self.width;
        self.y
            .iter()
            .enumerate()
            .map(|(i, y)| {
                let row = &self.design[i * w..(i + 1) * w];
                y - row.iter().zip(theta).map(|(a, b)| a * b).sum::<f64>()
            })
            .collect()
    }

    /// Negative log posterior (up to a constant) and its gradient; `p` is the linear
    /// coefficients followed by log σ.
    fn evaluate(&self, p: &[f64], want_grad: bool) -> (f64, Vec<f64>) {
        let w = self.width;
        let (theta, log_sigma) = p.split_at(w);
        let log_sigma = log_sigma[0];
        // A floor under σ² keeps a perfect fit (a constant series) from sending the
        // posterior to −∞ as σ → 0.
        let sigma2 = (2.0 * log_sigma).exp() + SIGMA2_FLOOR;
        let r = self.residuals(theta);
        let rss: f64 = r.iter().map(|v| v * v).sum();
        let n = self.y.len() as f64;
        let mut cost =
            rss / (2.0 * sigma2) + 0.5 * n * sigma2.ln() + sigma2 / (2.0 * SIGMA_PRIOR.powi(2));
        cost += (theta[0].powi(2) + theta[1].powi(2)) / (2.0 * TREND_PRIOR.powi(2));
        let deltas = &theta[2..2 + self.n_delta];
        cost += deltas
            .iter()
            .map(|d| (d * d + ABS_EPS * ABS_EPS).sqrt())
            .sum::<f64>()
            / self.tau;
        let betas = &theta[2 + self.n_delta..];
        cost += betas
            .iter()
            .zip(&self.beta_prior)
            .map(|(b, s)| b * b / (2.0 * s * s))
            .sum::<f64>();
        if !want_grad {
            return (cost / n, Vec::new());
        }
        let mut grad = vec![0.0; w + 1];
        for (i, ri) in r.iter().enumerate() {
            let row = &self.design[i * w..(i + 1) * w];
            let f = -ri / sigma2;
            for (g, a) in grad.iter_mut().zip(row) {
                *g += f * a;
            }
        }
        grad[0] += theta[0] / TREND_PRIOR.powi(2);
        grad[1] += theta[1] / TREND_PRIOR.powi(2);
        for (j, d) in deltas.iter().enumerate() {
            grad[2 + j] += d / (d * d + ABS_EPS * ABS_EPS).sqrt() / self.tau;
        }
        for (j, (b, s)) in betas.iter().zip(&self.beta_prior).enumerate() {
            grad[2 + self.n_delta + j] += b / (s * s);
        }
        let dsigma2 = 2.0 * (2.0 * log_sigma).exp();
        grad[w] = dsigma2
            * (-rss / (2.0 * sigma2 * sigma2)
                + n / (2.0 * sigma2)
                + 1.0 / (2.0 * SIGMA_PRIOR.powi(2)));
        // Per observation, so the first quasi-Newton step has a sensible length.
        grad.iter_mut().for_each(|g| *g /= n);
        (cost / n, grad)
    }
}

/// The posterior as argmin sees it (a borrow, so the problem outlives the run).
struct Cost<'p, 'y>(&'p Problem<'y>);

impl CostFunction for Cost<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        let (c, _) = self.0.evaluate(p, false);
        // An overflowing trial step is just a bad step for the backtracking line search.
        Ok(if c.is_finite() { c } else { f64::INFINITY })
    }
}

impl Gradient for Cost<'_, '_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, p: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.0.evaluate(p, true).1)
    }
}

impl Additive {
    fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(AdditiveError::InvalidSetting {
                name,
                reason: reason.into(),
            })
        };
        if !(self.changepoint_range > 0.0 && self.changepoint_range <= 1.0) {
            return bad("changepoint_range", "must be in (0, 1]");
        }
        for (name, v) in [
            ("changepoint_prior_scale", self.changepoint_prior_scale),
            ("seasonality_prior_scale", self.seasonality_prior_scale),
            ("holidays_prior_scale", self.holidays_prior_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, "must be a positive number");
            }
        }
        if self.weekly_order > 3 {
            return bad("weekly_order", "must be at most 3 (a week has 7 days)");
        }
        if self.yearly_order > 30 {
            return bad("yearly_order", "must be at most 30");
        }
        if self.max_iter == 0 || self.samples == 0 {
            return bad("max_iter", "iterations and samples must be positive");
        }
        Ok(())
    }

    /// Fits the model on `y`, whose first day is `start`.
    pub fn fit(&self, start: NaiveDate, y: &[f64]) -> Result<FittedAdditive> {
        self.validate()?;
        if let Some((index, &value)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AdditiveError::NonFinite { index, value });
        }
        let n = y.len();
        if n < MIN_DAYS {
            return Err(AdditiveError::TooShort {
                need: MIN_DAYS,
                got: n,
            });
        }
        let y_scale = y.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let y_scale = if y_scale > 0.0 { y_scale } else { 1.0 };
        let ys: Vec<f64> = y.iter().map(|v| v / y_scale).collect();
        let span = (n - 1) as f64;
        // Changepoints as Prophet places them: evenly over the first `changepoint_range` of
        // the rows, the first row excluded.
        let hist = ((n as f64) * self.changepoint_range).floor() as usize;
        let n_cp = self.changepoints.min(hist.saturating_sub(1));
        let changepoints: Vec<f64> = (1..=n_cp)
            .map(|j| {
                let idx = (j as f64 * (hist - 1) as f64 / n_cp as f64).round();
                idx / span
            })
            .collect();
        let yearly_order = if n >= 365 { self.yearly_order } else { 0 };
        let dates = |i: usize| start + Duration::days(i as i64);
        let holidays: Vec<u8> = if self.holidays {
            Holiday::ALL
                .iter()
                .enumerate()
                .filter(|(_, h)| (0..n).any(|i| holiday_on(dates(i)) == Some(**h)))
                .map(|(i, _)| i as u8)
                .collect()
        } else {
            Vec::new()
        };
        let n_season = 2 * (self.weekly_order + yearly_order);
        let n_feat = n_season + holidays.len();
        let width = 2 + n_cp + n_feat;
        let mut design = Vec::with_capacity(n * width);
        let mut feats = Vec::with_capacity(n_feat);
        for i in 0..n {
            let t = i as f64 / span;
            design.push(t);
            design.push(1.0);
            design.extend(changepoints.iter().map(|s| (t - s).max(0.0)));
            feats.clear();
            day_features(
                dates(i),
                self.weekly_order,
                yearly_order,
                &holidays,
                &mut feats,
            );
            design.extend_from_slice(&feats);
        }
        let beta_prior: Vec<f64> = (0..n_feat)
            .map(|j| {
                if j < n_season {
                    self.seasonality_prior_scale
                } else {
                    self.holidays_prior_scale
                }
            })
            .collect();
        let problem = Problem {
            y: &ys,
            design,
            width,
            n_delta: n_cp,
            beta_prior,
            tau: self.changepoint_prior_scale,
        };
        // Prophet's starting point: the line through the first and last values, σ = 1.
        let mut p0 = vec![0.0; width + 1];
        p0[0] = ys[n - 1] - ys[0];
        p0[1] = ys[0];
        let armijo =
            ArmijoCondition::new(1e-4).map_err(|e| AdditiveError::Optimiser(e.to_string()))?;
        let solver = LBFGS::new(BacktrackingLineSearch::new(armijo), 10)
            .with_tolerance_grad(1e-9)
            .and_then(|s| s.with_tolerance_cost(1e-13))
            .map_err(|e| AdditiveError::Optimiser(e.to_string()))?;
        let run = Executor::new(Cost(&problem), solver)
            .configure(|s| s.param(p0.clone()).max_iters(self.max_iter))
            .run()
            .map_err(|e| AdditiveError::Optimiser(e.to_string()))?;
        let state = run.state();
        let p = state.get_best_param().cloned().unwrap_or(p0);
        let (cost, _) = problem.evaluate(&p, false);
        if !cost.is_finite() || p.iter().any(|v| !v.is_finite()) {
            return Err(AdditiveError::Optimiser(
                "the posterior is not finite at the optimum".into(),
            ));
        }
        Ok(FittedAdditive {
            spec: *self,
            nobs: n,
            start,
            y_scale,
            yearly_order,
            holidays,
            changepoints,
            k: p[0],
            m: p[1],
            delta: p[2..2 + n_cp].to_vec(),
            beta: p[2 + n_cp..width].to_vec(),
            sigma: ((2.0 * p[width]).exp() + SIGMA2_FLOOR).sqrt(),
            iterations: state.get_iter(),
        })
    }
}

/// A day's parts in the series' units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Components {
    pub trend: f64,
    pub weekly: f64,
    pub yearly: f64,
    pub holidays: f64,
}

/// Most simulated paths a loaded model may ask for (each costs horizon × 8 bytes).
const MAX_SAMPLES: usize = 100_000;

impl FittedAdditive {
    /// Checks that a model read from a file is one [`Additive::fit`] could have produced:
    /// lengths that agree with its orders, holiday indices in range, finite numbers, settings in
    /// range. A file that decodes but fails this would otherwise panic or run away when it
    /// forecasts.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(AdditiveError::InvalidSetting {
                name: "additive model",
                reason,
            })
        };
        self.spec.validate()?;
        if self.spec.samples > MAX_SAMPLES {
            return bad(format!(
                "{} simulated paths (at most {MAX_SAMPLES})",
                self.spec.samples
            ));
        }
        if self.nobs < MIN_DAYS {
            return bad(format!("{} days (at least {MIN_DAYS})", self.nobs));
        }
        if self.yearly_order > self.spec.yearly_order {
            return bad("more yearly terms than its settings allow".into());
        }
        if let Some(h) = self
            .holidays
            .iter()
            .find(|h| **h as usize >= Holiday::ALL.len())
        {
            return bad(format!("unknown holiday index {h}"));
        }
        let width = 2 * (self.spec.weekly_order + self.yearly_order) + self.holidays.len();
        if self.beta.len() != width || self.delta.len() != self.changepoints.len() {
            return bad("coefficient counts do not match its terms".into());
        }
        let numbers = [self.y_scale, self.k, self.m, self.sigma];
        if numbers
            .iter()
            .chain(&self.delta)
            .chain(&self.beta)
            .chain(&self.changepoints)
            .any(|v| !v.is_finite())
            || self.y_scale <= 0.0
            || self.sigma < 0.0
        {
            return bad("a parameter is not a finite number in range".into());
        }
        Ok(())
    }

    fn t(&self, index: usize) -> f64 {
        index as f64 / (self.nobs - 1) as f64
    }

    /// The fitted trend at scaled time `t` (scaled units).
    fn trend_at(&self, t: f64) -> f64 {
        self.k * t
            + self.m
            + self
                .changepoints
                .iter()
                .zip(&self.delta)
                .map(|(s, d)| d * (t - s).max(0.0))
                .sum::<f64>()
    }

    /// The parts of day `index` (0 = the first day of the history; past its end for a
    /// forecast), in the series' units.
    pub fn components(&self, index: usize) -> Components {
        let date = self.start + Duration::days(index as i64);
        let mut f = Vec::with_capacity(self.beta.len());
        day_features(
            date,
            self.spec.weekly_order,
            self.yearly_order,
            &self.holidays,
            &mut f,
        );
        let w = 2 * self.spec.weekly_order;
        let yr = 2 * self.yearly_order;
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        Components {
            trend: self.trend_at(self.t(index)) * self.y_scale,
            weekly: dot(&f[..w], &self.beta[..w]) * self.y_scale,
            yearly: dot(&f[w..w + yr], &self.beta[w..w + yr]) * self.y_scale,
            holidays: dot(&f[w + yr..], &self.beta[w + yr..]) * self.y_scale,
        }
    }

    /// The effect of a holiday's day, in the series' units, when the model has one.
    pub fn holiday_effect(&self, holiday: Holiday) -> Option<f64> {
        let base = 2 * (self.spec.weekly_order + self.yearly_order);
        self.holidays
            .iter()
            .position(|&h| Holiday::ALL.get(h as usize) == Some(&holiday))
            .map(|j| self.beta[base + j] * self.y_scale)
    }

    /// The trend's slope per day, at the end of the history, in the series' units.
    pub fn final_slope_per_day(&self) -> f64 {
        (self.k + self.delta.iter().sum::<f64>()) * self.y_scale / (self.nobs - 1) as f64
    }

    /// Forecasts the `horizon` days after the history, with intervals at `level` (0–1).
    pub fn forecast(&self, horizon: usize, level: Option<f64>) -> Result<Forecast> {
        let point: Vec<f64> = (0..horizon)
            .map(|h| {
                let c = self.components(self.nobs + h);
                c.trend + c.weekly + c.yearly + c.holidays
            })
            .collect();
        let Some(level) = level else {
            return Ok(Forecast {
                point,
                intervals: None,
            });
        };
        if !(level > 0.0 && level < 1.0) {
            return Err(AdditiveError::InvalidSetting {
                name: "level",
                reason: format!("must be between 0 and 1, got {level}"),
            });
        }
        let (lower, upper) = self.simulate(&point, level);
        Ok(Forecast {
            point,
            intervals: Some(ForecastIntervals {
                level,
                lower,
                upper,
            }),
        })
    }

    /// Interval bounds from simulated paths: new changepoints after the history at the
    /// history's rate, Laplace rate changes of the fitted changes' mean size, normal noise.
    fn simulate(&self, point: &[f64], level: f64) -> (Vec<f64>, Vec<f64>) {
        let horizon = point.len();
        let mut rng = ChaCha8Rng::seed_from_u64(self.spec.seed);
        let t_end = self.t(self.nobs - 1 + horizon);
        let rate = self.changepoints.len() as f64 * (t_end - 1.0);
        let lambda =
            self.delta.iter().map(|d| d.abs()).sum::<f64>() / self.delta.len().max(1) as f64 + 1e-8;
        let poisson = Poisson::new(rate).ok();
        let samples = self.spec.samples;
        let mut paths = vec![0.0; samples * horizon];
        for s in 0..samples {
            let n_new = poisson.as_ref().map_or(0, |p| p.sample(&mut rng) as usize);
            let new: Vec<(f64, f64)> = (0..n_new)
                .map(|_| {
                    let at = 1.0 + rng.random::<f64>() * (t_end - 1.0);
                    let u: f64 = rng.random::<f64>() - 0.5;
                    let size = -lambda * u.signum() * (1.0 - 2.0 * u.abs()).max(1e-300).ln();
                    (at, size)
                })
                .collect();
            for h in 0..horizon {
                let t = self.t(self.nobs + h);
                let extra: f64 = new.iter().map(|(c, d)| d * (t - c).max(0.0)).sum();
                let noise: f64 = rng.sample(StandardNormal);
                paths[s * horizon + h] = point[h] + (extra + self.sigma * noise) * self.y_scale;
            }
        }
        let lo_q = (1.0 - level) / 2.0;
        let hi_q = 1.0 - lo_q;
        let mut lower = Vec::with_capacity(horizon);
        let mut upper = Vec::with_capacity(horizon);
        let mut col = vec![0.0; samples];
        for h in 0..horizon {
            for s in 0..samples {
                col[s] = paths[s * horizon + h];
            }
            col.sort_by(f64::total_cmp);
            lower.push(quantile(&col, lo_q));
            upper.push(quantile(&col, hi_q));
        }
        (lower, upper)
    }
}

/// Linear-interpolated quantile of sorted values (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::Normal;

    fn day0() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, 4).unwrap_or(NaiveDate::MIN)
    }

    /// A known series: a trend that bends once, a weekly shape, a yearly wave, a Christmas
    /// lift, and noise.
    fn known(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 2.0).unwrap_or_else(|_| unreachable!());
        (0..n)
            .map(|i| {
                let date = day0() + Duration::days(i as i64);
                let d = epoch_days(date);
                let trend = if i < 400 {
                    100.0 + 0.05 * i as f64
                } else {
                    120.0 + 0.15 * (i - 400) as f64
                };
                let weekly = 8.0 * (2.0 * std::f64::consts::PI * d / 7.0).sin();
                let yearly = 15.0 * (2.0 * std::f64::consts::PI * d / YEAR).cos();
                let xmas = if holiday_on(date) == Some(Holiday::Christmas) {
                    40.0
                } else {
                    0.0
                };
                trend + weekly + yearly + xmas + noise.sample(&mut rng)
            })
            .collect()
    }

    #[test]
    fn recovers_trend_seasonality_and_holiday() {
        let n = 900;
        let y = known(n + 60, 1);
        let fit = Additive::default().fit(day0(), &y[..n]).unwrap();
        // the slope after the bend: 0.15 a day
        assert!(
            (fit.final_slope_per_day() - 0.15).abs() < 0.03,
            "{}",
            fit.final_slope_per_day()
        );
        let xmas = fit.holiday_effect(Holiday::Christmas).unwrap();
        assert!((xmas - 40.0).abs() < 6.0, "christmas {xmas}");
        // the weekly part is the known 8·sin(2π·d/7)
        for i in 0..7 {
            let d = epoch_days(day0() + Duration::days(i as i64));
            let truth = 8.0 * (2.0 * std::f64::consts::PI * d / 7.0).sin();
            let got = fit.components(i).weekly;
            assert!(
                (got - truth).abs() < 1.5,
                "weekly day {i}: {got} vs {truth}"
            );
        }
        // noise scale close to the truth
        assert!((fit.sigma * fit.y_scale - 2.0).abs() < 0.4);
        // the forecast of the next 60 days is close to what the process does
        let fc = fit.forecast(60, Some(0.95)).unwrap();
        let mae: f64 = fc
            .point
            .iter()
            .zip(&y[n..])
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
            / 60.0;
        assert!(mae < 4.0, "mae {mae}");
        let iv = fc.intervals.unwrap();
        let inside = y[n..]
            .iter()
            .enumerate()
            .filter(|(i, v)| iv.lower[*i] <= **v && **v <= iv.upper[*i])
            .count();
        assert!(inside >= 52, "covered {inside} of 60");
        assert!(iv.lower.iter().zip(&fc.point).all(|(l, p)| l < p));
    }

    /// The analytic gradient of the posterior equals central differences.
    #[test]
    fn the_gradient_is_exact() {
        let y: Vec<f64> = known(120, 3).iter().map(|v| v / 200.0).collect();
        let n = y.len();
        let width = 2 + 3 + 2;
        let mut design = Vec::new();
        for i in 0..n {
            let t = i as f64 / (n - 1) as f64;
            design.extend([t, 1.0]);
            design.extend([0.2, 0.5, 0.7].iter().map(|s| (t - s).max(0.0)));
            design.extend([(t * 40.0).sin(), (t * 40.0).cos()]);
        }
        let problem = Problem {
            y: &y,
            design,
            width,
            n_delta: 3,
            beta_prior: vec![10.0, 10.0],
            tau: 0.05,
        };
        let p = vec![0.3, 0.4, 0.05, -0.02, 0.01, 0.1, -0.2, -1.5];
        let (_, grad) = problem.evaluate(&p, true);
        for j in 0..p.len() {
            let h = 1e-6;
            let (mut a, mut b) = (p.clone(), p.clone());
            a[j] += h;
            b[j] -= h;
            let numeric =
                (problem.evaluate(&a, false).0 - problem.evaluate(&b, false).0) / (2.0 * h);
            assert!(
                (numeric - grad[j]).abs() < 1e-5 * (1.0 + numeric.abs()),
                "{j}: {numeric} vs {}",
                grad[j]
            );
        }
    }

    #[test]
    fn forecasts_repeat_exactly_and_refuse_bad_input() {
        let y = known(200, 2);
        let a = Additive::default().fit(day0(), &y).unwrap();
        let b = Additive::default().fit(day0(), &y).unwrap();
        let (fa, fb) = (
            a.forecast(30, Some(0.9)).unwrap(),
            b.forecast(30, Some(0.9)).unwrap(),
        );
        assert_eq!(fa.point, fb.point);
        let (ia, ib) = (fa.intervals.unwrap(), fb.intervals.unwrap());
        assert_eq!((ia.lower, ia.upper), (ib.lower, ib.upper));
        assert_eq!(a.yearly_order, 0, "no yearly season on 200 days");
        let mut bad = y.clone();
        bad[5] = f64::NAN;
        assert!(matches!(
            Additive::default().fit(day0(), &bad),
            Err(AdditiveError::NonFinite { index: 5, .. })
        ));
        assert!(matches!(
            Additive::default().fit(day0(), &y[..10]),
            Err(AdditiveError::TooShort { .. })
        ));
        assert!(a.forecast(3, Some(1.5)).is_err());
        a.validate().unwrap();
        let mut broken = a.clone();
        broken.beta.pop();
        assert!(broken.validate().is_err());
        let mut broken = a.clone();
        broken.holidays.push(200);
        assert!(broken.validate().is_err());
        let mut broken = a.clone();
        broken.sigma = f64::NAN;
        assert!(broken.validate().is_err());
        let constant = vec![0.0; 60];
        let z = Additive::default().fit(day0(), &constant).unwrap();
        assert!(
            z.forecast(7, Some(0.95))
                .unwrap()
                .point
                .iter()
                .all(|v| v.abs() < 1e-6)
        );
    }
}
