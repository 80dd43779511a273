//! Exponential smoothing in state-space form (ETS; Hyndman, Koehler, Ord & Snyder 2008).
//!
//! A model is named by its error (additive or multiplicative), trend (none, additive, or
//! additive damped) and season (none, additive or multiplicative). [`AutoEts`] fits the family
//! the way statsforecast's `AutoETS` (and R's `forecast::ets`) does, so the two can be
//! compared model for model:
//! - initial states from a classical decomposition, starting smoothing parameters a fixed
//!   share of their range;
//! - the parameters and initial states by Nelder–Mead on the likelihood with the error
//!   variance profiled out (`n·ln Σe²`, plus `2·Σ ln|ŷ|` for a multiplicative error), within
//!   the usual bounds (`0.8 ≤ φ ≤ 0.98`);
//! - the models a series allows (multiplicative terms only on positive data; no additive
//!   error with a multiplicative season; no multiplicative trend), ranked by AICc.
//!
//! Intervals: analytic for the linear models (additive error and season: the variance
//! `σ²(1 + Σ c_j²)` from the model's impulse responses), by seeded simulation of future errors
//! for the others, so a fit forecasts the same numbers every time.
//!
//! One deliberate difference: a damped trend's `h`-step forecast adds `φ + φ² + … + φ^h`
//! slopes, the textbook formula; statsforecast's recursion adds `φ` twice from the second
//! step on. The likelihood (one step ahead) is the same in both.

mod filter;
mod init;
pub mod nelder_mead;

use augurs_core::{Forecast, ForecastIntervals};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use filter::{Smoothing, season_start};
pub use init::{PHI_RANGE, classical_season};

/// What can go wrong fitting or forecasting.
#[derive(Debug, thiserror::Error)]
pub enum EtsError {
    /// A value of the series is NaN or infinite.
    #[error("value {index} of the series is not finite ({value})")]
    NonFinite { index: usize, value: f64 },
    /// The series is shorter than the model needs.
    #[error("ETS needs at least {need} values, got {got}")]
    TooShort { need: usize, got: usize },
    /// A model or setting that cannot be used here.
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// No model of the family could be fitted.
    #[error("no ETS model could be fitted: {0}")]
    NoModel(String),
}

/// Result with [`EtsError`].
pub type Result<T> = std::result::Result<T, EtsError>;

/// A component's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    None,
    Additive,
    Multiplicative,
}

impl Component {
    fn letter(self) -> char {
        match self {
            Component::None => 'N',
            Component::Additive => 'A',
            Component::Multiplicative => 'M',
        }
    }
}

/// One model of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Spec {
    /// Additive or multiplicative.
    pub error: Component,
    /// None or additive (a multiplicative trend is not offered: it extrapolates growth
    /// exponentially, which statsforecast's default search leaves out as well).
    pub trend: Component,
    /// A damped trend (`trend` additive).
    pub damped: bool,
    pub season: Component,
    /// Length of the season (ignored without one).
    pub period: usize,
}

/// Longest season the recursions take (statsforecast's and R's limit: the initial seasonal
/// states are parameters, and dozens of them are not estimable).
pub const MAX_PERIOD: usize = 24;

impl Spec {
    /// A model; see [`Spec::validate`] for the combinations allowed.
    pub fn new(
        error: Component,
        trend: Component,
        damped: bool,
        season: Component,
        period: usize,
    ) -> Self {
        Self {
            error,
            trend,
            damped,
            season,
            period: if season == Component::None { 1 } else { period },
        }
    }

    /// The usual name, e.g. `ETS(M,Ad,M)`.
    pub fn name(&self) -> String {
        format!(
            "ETS({},{}{},{})",
            self.error.letter(),
            self.trend.letter(),
            if self.damped { "d" } else { "" },
            self.season.letter()
        )
    }

    /// Checks the combination: an error is additive or multiplicative, the trend none or
    /// additive (damped only with a trend), a season of 2 to [`MAX_PERIOD`], and no additive
    /// error with a multiplicative season (its variance is not defined by the model).
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(EtsError::Invalid {
                name: "ETS model",
                reason: format!("{}: {reason}", self.name()),
            })
        };
        if self.error == Component::None {
            return bad("the error is additive or multiplicative");
        }
        if self.trend == Component::Multiplicative {
            return bad("a multiplicative trend is not offered");
        }
        if self.damped && self.trend == Component::None {
            return bad("only a trend can be damped");
        }
        if self.season != Component::None && !(2..=MAX_PERIOD).contains(&self.period) {
            return bad(&format!("the season's length must be 2 to {MAX_PERIOD}"));
        }
        if self.error == Component::Additive && self.season == Component::Multiplicative {
            return bad("an additive error with a multiplicative season is not allowed");
        }
        Ok(())
    }

    /// Whether the model has multiplicative parts (and so needs positive data).
    pub fn multiplicative(&self) -> bool {
        self.error == Component::Multiplicative || self.season == Component::Multiplicative
    }

    /// Free smoothing parameters.
    fn smoothing_count(&self) -> usize {
        1 + usize::from(self.trend != Component::None)
            + usize::from(self.season != Component::None)
            + usize::from(self.damped)
    }

    /// Free initial states (the last seasonal state is implied by the others).
    fn state_count(&self) -> usize {
        1 + usize::from(self.trend != Component::None)
            + if self.season == Component::None {
                0
            } else {
                self.period - 1
            }
    }

    fn full_state_len(&self) -> usize {
        self.state_count() + usize::from(self.season != Component::None)
    }

    /// Fewest values a fit takes: more than the parameters plus four (as statsforecast).
    pub fn min_len(&self) -> usize {
        self.smoothing_count() + 2 + usize::from(self.season != Component::None) + 4 + 1
    }

    /// Fits the model's parameters and initial states.
    pub fn fit(&self, y: &[f64]) -> Result<FittedEts> {
        self.validate()?;
        check_series(y)?;
        if y.len() < self.min_len() {
            return Err(EtsError::TooShort {
                need: self.min_len(),
                got: y.len(),
            });
        }
        if self.multiplicative() && y.iter().any(|v| *v <= 0.0) {
            return Err(EtsError::Invalid {
                name: "ETS model",
                reason: format!("{} needs positive values", self.name()),
            });
        }
        fit_spec(self, y, &mut init::Bounds::default())
    }
}

/// The smoothing parameters of a fitted model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub alpha: f64,
    /// 0 without a trend.
    pub beta: f64,
    /// 0 without a season.
    pub gamma: f64,
    /// 1 without damping.
    pub phi: f64,
}

impl Params {
    fn smoothing(&self) -> Smoothing {
        Smoothing {
            alpha: self.alpha,
            beta: self.beta,
            gamma: self.gamma,
            phi: self.phi,
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedEts {
    pub spec: Spec,
    pub params: Params,
    /// The initial state `[level, slope (with a trend), s_0 .. s_{m-1}]`; `s_0` is the most
    /// recent seasonal state.
    pub initial: Vec<f64>,
    /// The state after the last value, where forecasts start.
    pub last: Vec<f64>,
    /// Variance of the one-step errors (relative errors for a multiplicative error).
    pub sigma2: f64,
    /// Log-likelihood, `−½·n·ln Σe²` (minus `Σ ln|ŷ|` for a multiplicative error): the
    /// Gaussian log-likelihood up to a constant, as statsforecast and R report it.
    pub loglik: f64,
    pub aicc: f64,
    /// Estimated parameters, the error variance included.
    pub n_params: usize,
    pub nobs: usize,
    /// Seed of the simulated intervals.
    pub seed: u64,
}

/// Simulated paths behind the intervals of the non-linear models.
const PATHS: usize = 2000;

fn check_series(y: &[f64]) -> Result<()> {
    if let Some((index, value)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(EtsError::NonFinite {
            index,
            value: *value,
        });
    }
    Ok(())
}

/// The full initial state from the free one (the implied last seasonal state appended).
fn full_state(spec: &Spec, free: &[f64]) -> Vec<f64> {
    let mut x = free.to_vec();
    if spec.season != Component::None {
        let ss = season_start(spec);
        let sum: f64 = free[ss..].iter().sum();
        let total = if spec.season == Component::Multiplicative {
            spec.period as f64
        } else {
            0.0
        };
        x.push(total - sum);
    }
    x
}

/// The log-likelihood of `y` under `spec` at given parameters and a full initial state (for
/// comparisons with other implementations).
pub fn loglik(spec: &Spec, params: &Params, initial: &[f64], y: &[f64]) -> Result<f64> {
    spec.validate()?;
    check_series(y)?;
    if initial.len() != spec.full_state_len() {
        return Err(EtsError::Invalid {
            name: "initial state",
            reason: format!(
                "{} has {} states, got {}",
                spec.name(),
                spec.full_state_len(),
                initial.len()
            ),
        });
    }
    Ok(-0.5 * filter::pass(spec, &params.smoothing(), initial, y).lik)
}

/// Splits an optimiser vector into smoothing parameters (defaults where fixed) and states.
fn unpack(spec: &Spec, v: &[f64]) -> (Smoothing, usize) {
    let mut j = 0;
    let mut next = || {
        j += 1;
        v[j - 1]
    };
    let alpha = next();
    let beta = if spec.trend != Component::None {
        next()
    } else {
        0.0
    };
    let gamma = if spec.season != Component::None {
        next()
    } else {
        0.0
    };
    let phi = if spec.damped { next() } else { 1.0 };
    (
        Smoothing {
            alpha,
            beta,
            gamma,
            phi,
        },
        j,
    )
}

/// Fits one model with the search's current bounds.
fn fit_spec(spec: &Spec, y: &[f64], bounds: &mut init::Bounds) -> Result<FittedEts> {
    let start = bounds.start(spec);
    let states = init::initial_states(y, spec);
    let mut x0 = Vec::new();
    let mut lower = Vec::new();
    let mut upper = Vec::new();
    for (i, v) in start.iter().enumerate() {
        if !v.is_nan() {
            x0.push(*v);
            lower.push(bounds.lower[i]);
            upper.push(bounds.upper[i]);
        }
    }
    x0.extend(&states);
    lower.resize(x0.len(), f64::NEG_INFINITY);
    upper.resize(x0.len(), f64::INFINITY);
    let n_opt = x0.len();
    if n_opt >= y.len().saturating_sub(1) {
        return Err(EtsError::TooShort {
            need: n_opt + 2,
            got: y.len(),
        });
    }
    let ss = season_start(spec);
    let cost = |v: &[f64]| {
        let (p, k) = unpack(spec, v);
        let x = full_state(spec, &v[k..]);
        if spec.season == Component::Multiplicative && x[ss..].iter().any(|s| *s < 0.0) {
            return f64::INFINITY;
        }
        let lik = filter::pass(spec, &p, &x, y).lik.max(-1e10);
        if lik.is_nan() { f64::INFINITY } else { lik }
    };
    let (best, _) = nelder_mead::minimise(cost, &x0, &lower, &upper, &Default::default());
    let (p, k) = unpack(spec, &best);
    let initial = full_state(spec, &best[k..]);
    let run = filter::pass(spec, &p, &initial, y);
    if !run.lik.is_finite() || run.last.iter().any(|v| !v.is_finite()) {
        return Err(EtsError::NoModel(format!(
            "{} gave a non-finite likelihood",
            spec.name()
        )));
    }
    let n = y.len() as f64;
    let n_params = n_opt + 1;
    let np = n_params as f64;
    let aic = run.lik + 2.0 * np;
    let aicc = if n - np - 1.0 != 0.0 {
        aic + 2.0 * np * (np + 1.0) / (n - np - 1.0)
    } else {
        f64::INFINITY
    };
    Ok(FittedEts {
        spec: *spec,
        params: Params {
            alpha: p.alpha,
            beta: p.beta,
            gamma: p.gamma,
            phi: p.phi,
        },
        initial,
        last: run.last,
        sigma2: run.sse / (n - np - 1.0).max(1.0),
        loglik: -0.5 * run.lik,
        aicc,
        n_params,
        nobs: y.len(),
        seed: 0,
    })
}

/// Chooses and fits a model of the family by AICc.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoEts {
    /// Length of the season (1: none).
    pub period: usize,
    /// Whether multiplicative errors and seasons are tried (on positive data).
    pub multiplicative: bool,
}

impl AutoEts {
    /// The whole family for a season of `period`.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            multiplicative: true,
        }
    }

    /// The models tried on `y`, in the order statsforecast tries them.
    pub fn candidates(&self, y: &[f64]) -> Vec<Spec> {
        let positive = y.iter().all(|v| *v > 0.0);
        let seasonal = self.period > 1 && self.period <= MAX_PERIOD && y.len() > self.period;
        let mut out = Vec::new();
        for error in [Component::Additive, Component::Multiplicative] {
            for trend in [Component::None, Component::Additive] {
                for season in [
                    Component::None,
                    Component::Additive,
                    Component::Multiplicative,
                ] {
                    for damped in [true, false] {
                        let spec = Spec::new(error, trend, damped, season, self.period);
                        let allowed = spec.validate().is_ok()
                            && (season == Component::None || seasonal)
                            && (!spec.multiplicative() || (positive && self.multiplicative));
                        if allowed {
                            out.push(spec);
                        }
                    }
                }
            }
        }
        out
    }

    /// Fits every candidate and keeps the lowest AICc. A constant series gets simple
    /// exponential smoothing at α = 0.9999 (there is nothing to estimate).
    pub fn fit(&self, y: &[f64]) -> Result<FittedEts> {
        check_series(y)?;
        let simple = Spec::new(
            Component::Additive,
            Component::None,
            false,
            Component::None,
            1,
        );
        if y.len() < simple.min_len() {
            return Err(EtsError::TooShort {
                need: simple.min_len(),
                got: y.len(),
            });
        }
        if y.iter().all(|v| *v == y[0]) {
            return Ok(constant(y));
        }
        let mut bounds = init::Bounds::default();
        let mut best: Option<FittedEts> = None;
        let mut last_error = None;
        for spec in self.candidates(y) {
            if y.len() < spec.min_len() {
                continue;
            }
            match fit_spec(&spec, y, &mut bounds) {
                Ok(f) if f.aicc.is_finite() => {
                    if best.as_ref().is_none_or(|b| f.aicc < b.aicc) {
                        best = Some(f);
                    }
                }
                Ok(_) => {}
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        best.ok_or_else(|| {
            EtsError::NoModel(last_error.unwrap_or_else(|| "every candidate failed".into()))
        })
    }
}

/// The fit of a constant series: the level is the value, every error zero.
fn constant(y: &[f64]) -> FittedEts {
    let spec = Spec::new(
        Component::Additive,
        Component::None,
        false,
        Component::None,
        1,
    );
    FittedEts {
        spec,
        params: Params {
            alpha: 0.9999,
            beta: 0.0,
            gamma: 0.0,
            phi: 1.0,
        },
        initial: vec![y[0]],
        last: vec![y[0]],
        sigma2: 0.0,
        loglik: f64::INFINITY,
        aicc: f64::NEG_INFINITY,
        n_params: 2,
        nobs: y.len(),
        seed: 0,
    }
}

/// The standard normal quantile.
fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal as StdNormal};
    StdNormal::standard().inverse_cdf(p)
}

impl FittedEts {
    /// The model's name, e.g. `ETS(A,Ad,A)`.
    pub fn name(&self) -> String {
        self.spec.name()
    }

    /// Checks a model read from a file: a valid combination, parameters in their ranges,
    /// states of the model's length, all finite.
    pub fn validate(&self) -> Result<()> {
        self.spec.validate()?;
        let p = &self.params;
        let ok = [p.alpha, p.beta, p.gamma, p.phi, self.sigma2]
            .iter()
            .all(|v| v.is_finite())
            && (0.0..=1.0).contains(&p.alpha)
            && (0.0..=1.0).contains(&p.beta)
            && (0.0..=1.0).contains(&p.gamma)
            && (0.0..=1.0).contains(&p.phi)
            && self.sigma2 >= 0.0
            && self.last.len() == self.spec.full_state_len()
            && self.initial.len() == self.spec.full_state_len()
            && self.last.iter().chain(&self.initial).all(|v| v.is_finite());
        if ok {
            Ok(())
        } else {
            Err(EtsError::Invalid {
                name: "ETS model",
                reason: "parameters or states out of range".into(),
            })
        }
    }

    /// Point forecasts of the next `horizon` values, with intervals at `level` (0–1).
    pub fn forecast(&self, horizon: usize, level: Option<f64>) -> Result<Forecast> {
        let point = filter::forecasts(&self.spec, self.params.phi, &self.last, horizon);
        if let Some((index, value)) = point.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(EtsError::NonFinite {
                index,
                value: *value,
            });
        }
        let intervals = match level {
            None => None,
            Some(l) if !(l > 0.0 && l < 1.0) => {
                return Err(EtsError::Invalid {
                    name: "level",
                    reason: format!("must be between 0 and 1, got {l}"),
                });
            }
            Some(l) if self.linear() => Some(self.analytic(&point, l)),
            Some(l) => Some(self.simulated(horizon, l)),
        };
        Ok(Forecast { point, intervals })
    }

    /// Whether the forecast distribution is normal with a variance from impulse responses
    /// (additive error, no multiplicative season).
    fn linear(&self) -> bool {
        self.spec.error == Component::Additive && self.spec.season != Component::Multiplicative
    }

    /// `σ²(1 + Σ_{j<h} c_j²)`, where `c_j` is the effect of a unit error on the forecast `j`
    /// steps later (the model is linear, so the difference of two runs gives it exactly).
    fn analytic(&self, point: &[f64], level: f64) -> ForecastIntervals {
        let h = point.len();
        let p = self.params.smoothing();
        let f0 = filter::forecast_at(&self.spec, p.phi, &self.last, 0);
        let mut base = self.last.clone();
        filter::update(&self.spec, &p, &mut base, f0);
        let mut shocked = self.last.clone();
        filter::update(&self.spec, &p, &mut shocked, f0 + 1.0);
        let c: Vec<f64> = (0..h.saturating_sub(1))
            .map(|i| {
                filter::forecast_at(&self.spec, p.phi, &shocked, i)
                    - filter::forecast_at(&self.spec, p.phi, &base, i)
            })
            .collect();
        let z = normal_quantile(0.5 + level / 2.0);
        let mut acc = 1.0;
        let mut lower = Vec::with_capacity(h);
        let mut upper = Vec::with_capacity(h);
        for (i, f) in point.iter().enumerate() {
            if i > 0 {
                acc += c[i - 1] * c[i - 1];
            }
            let half = z * (self.sigma2 * acc).sqrt();
            lower.push(f - half);
            upper.push(f + half);
        }
        ForecastIntervals {
            level,
            lower,
            upper,
        }
    }

    /// Quantiles of simulated future paths.
    fn simulated(&self, h: usize, level: f64) -> ForecastIntervals {
        let p = self.params.smoothing();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let noise = Normal::new(0.0, self.sigma2.sqrt()).unwrap_or_else(|_| {
            Normal::new(0.0, 0.0).unwrap_or_else(|_| unreachable!("a zero-variance normal"))
        });
        let mut paths = vec![Vec::with_capacity(PATHS); h];
        let mut state = self.last.clone();
        for _ in 0..PATHS {
            state.clone_from(&self.last);
            for path in paths.iter_mut() {
                let f = filter::forecast_at(&self.spec, p.phi, &state, 0);
                let e = noise.sample(&mut rng);
                let y = match self.spec.error {
                    Component::Multiplicative => f * (1.0 + e),
                    _ => f + e,
                };
                path.push(y);
                filter::update(&self.spec, &p, &mut state, y);
            }
        }
        let q = |v: &mut Vec<f64>, p: f64| {
            v.sort_by(f64::total_cmp);
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        let (a, b) = ((1.0 - level) / 2.0, (1.0 + level) / 2.0);
        let mut lower = Vec::with_capacity(h);
        let mut upper = Vec::with_capacity(h);
        for mut path in paths {
            lower.push(q(&mut path, a));
            upper.push(q(&mut path, b));
        }
        ForecastIntervals {
            level,
            lower,
            upper,
        }
    }
}

#[cfg(test)]
mod tests;
