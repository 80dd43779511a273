//! Estimation: starting values, the exact likelihood, L-BFGS, and the fitted model.

use argmin::core::{
    CostFunction, Executor, Gradient, IterState, Solver, State, TerminationReason,
    TerminationStatus,
};
use argmin::solver::linesearch::condition::ArmijoCondition;
use argmin::solver::linesearch::{BacktrackingLineSearch, MoreThuenteLineSearch};
use argmin::solver::quasinewton::LBFGS;
use augurs_core::{Forecast, ForecastIntervals};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::error::{Result, SarimaError};
use crate::linalg::least_squares;
use crate::poly;
use crate::spec::Order;
use crate::ssm::{self, DIFFUSE_VARIANCE, StateSpace};

/// Gradient norm (of the per-observation negative log-likelihood) under which a fit that
/// ran out of iterations is kept: at that size the parameters are converged for every
/// practical purpose (statsmodels keeps such a fit with a warning), and dropping a working
/// candidate for a strict stopping rule costs accuracy. The fit's `iterations` equal the
/// limit, which is how a caller tells it apart and warns.
pub const NEAR_CONVERGED_GRADIENT: f64 = 1e-3;

/// Format version of a saved [`FittedSarima`].
pub const ARTIFACT_VERSION: u32 = 1;

/// Exogenous regressors: named columns, one value per observation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Regressors {
    pub names: Vec<String>,
    pub columns: Vec<Vec<f64>>,
}

impl Regressors {
    /// No regressors.
    pub fn none() -> Self {
        Self::default()
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// `X b` for each row.
    fn combine(&self, beta: &[f64], rows: usize) -> Vec<f64> {
        let mut out = vec![0.0; rows];
        for (col, b) in self.columns.iter().zip(beta) {
            for (o, x) in out.iter_mut().zip(col) {
                *o += b * x;
            }
        }
        out
    }

    fn check(&self, rows: usize, what: &str) -> Result<()> {
        if self.names.len() != self.columns.len() {
            return Err(SarimaError::Regressors(format!(
                "{} names for {} columns",
                self.names.len(),
                self.columns.len()
            )));
        }
        for (name, col) in self.names.iter().zip(&self.columns) {
            if col.len() != rows {
                return Err(SarimaError::Regressors(format!(
                    "column {name} has {} values for {rows} {what}",
                    col.len()
                )));
            }
            if let Some((i, v)) = col.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(SarimaError::NonFinite {
                    what: format!("regressor {name}"),
                    index: i,
                    value: *v,
                });
            }
        }
        Ok(())
    }
}

/// A deterministic term added to the regressors: a constant, or (with differencing) a drift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// No deterministic term.
    #[default]
    None,
    /// A constant mean (for models without differencing).
    Constant,
    /// A linear time trend, which becomes a constant drift after one difference.
    Drift,
}

impl Trend {
    /// The column for periods `from..from + n`, if any.
    fn column(self, from: usize, n: usize) -> Option<(String, Vec<f64>)> {
        match self {
            Trend::None => None,
            Trend::Constant => Some(("const".into(), vec![1.0; n])),
            Trend::Drift => Some((
                "drift".into(),
                (from..from + n).map(|t| (t + 1) as f64).collect(),
            )),
        }
    }

    /// `regressors` with this term's column in front.
    fn augment(self, regressors: &Regressors, from: usize, n: usize) -> Regressors {
        match self.column(from, n) {
            None => regressors.clone(),
            Some((name, col)) => Regressors {
                names: std::iter::once(name)
                    .chain(regressors.names.iter().cloned())
                    .collect(),
                columns: std::iter::once(col)
                    .chain(regressors.columns.iter().cloned())
                    .collect(),
            },
        }
    }
}

/// Model parameters on their natural scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Regression coefficients, in the order of the regressors.
    pub exog: Vec<f64>,
    /// `phi_1..phi_p` of `1 - phi_1 L - ...`.
    pub ar: Vec<f64>,
    /// `theta_1..theta_q` of `1 + theta_1 L + ...`.
    pub ma: Vec<f64>,
    /// Seasonal AR coefficients.
    pub seasonal_ar: Vec<f64>,
    /// Seasonal MA coefficients.
    pub seasonal_ma: Vec<f64>,
    /// Innovation variance.
    pub sigma2: f64,
}

impl Params {
    /// The parameters as one vector, in statsmodels' order: exog, ar, ma, seasonal ar,
    /// seasonal ma, sigma2.
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = self.exog.clone();
        v.extend(&self.ar);
        v.extend(&self.ma);
        v.extend(&self.seasonal_ar);
        v.extend(&self.seasonal_ma);
        v.push(self.sigma2);
        v
    }

    fn from_slice(order: &Order, k_exog: usize, v: &[f64]) -> Self {
        let mut it = v.iter().copied();
        let mut take = |n: usize| -> Vec<f64> { (&mut it).take(n).collect() };
        let exog = take(k_exog);
        let ar = take(order.p);
        let ma = take(order.q);
        let seasonal_ar = take(order.seasonal_p);
        let seasonal_ma = take(order.seasonal_q);
        let sigma2 = take(1).first().copied().unwrap_or(1.0);
        Self {
            exog,
            ar,
            ma,
            seasonal_ar,
            seasonal_ma,
            sigma2,
        }
    }

    /// The reduced AR and MA polynomials.
    fn polynomials(&self, order: &Order) -> (Vec<f64>, Vec<f64>) {
        let s = order.step();
        let ar = poly::mul(
            &poly::ar_polynomial(&self.ar, 1),
            &poly::ar_polynomial(&self.seasonal_ar, s),
        );
        let ma = poly::mul(
            &poly::ma_polynomial(&self.ma, 1),
            &poly::ma_polynomial(&self.seasonal_ma, s),
        );
        (ar, ma)
    }

    fn state_space(&self, order: &Order, diffuse: f64) -> StateSpace {
        let (ar, ma) = self.polynomials(order);
        StateSpace::new(order, &ar, &ma, self.sigma2, diffuse)
    }
}

/// A SARIMA(X) specification and its estimation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sarima {
    pub order: Order,
    /// Deterministic term (its coefficient comes first among the regression coefficients).
    pub trend: Trend,
    /// Iteration limit of the optimiser.
    pub max_iter: u64,
    /// Gradient-norm tolerance of the (per-observation) negative log-likelihood.
    pub tolerance: f64,
    /// Whether stopping at `max_iter` short of the tolerance (with a gradient norm above
    /// [`NEAR_CONVERGED_GRADIENT`]) is an error. The order search
    /// turns it off: a capped fit still ranks (its AICc can only be too high), and the
    /// winner is refitted to convergence.
    #[serde(default = "yes")]
    pub require_convergence: bool,
}

fn yes() -> bool {
    true
}

impl Sarima {
    /// A model of the given orders with default settings (at most 200 L-BFGS iterations).
    pub fn new(order: Order) -> Self {
        Self {
            order,
            trend: Trend::None,
            max_iter: 200,
            tolerance: 1e-7,
            require_convergence: true,
        }
    }

    /// Adds a constant or a drift.
    pub fn trend(mut self, trend: Trend) -> Self {
        self.trend = trend;
        self
    }

    /// Sets the optimiser's iteration limit.
    pub fn max_iter(mut self, n: u64) -> Self {
        self.max_iter = n;
        self
    }

    /// Makes a fit that reaches `max_iter` an answer rather than an error.
    pub fn allow_unconverged(mut self) -> Self {
        self.require_convergence = false;
        self
    }

    /// Sets the gradient tolerance.
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    /// Number of free parameters with `k_exog` regressors (including the variance).
    pub fn n_params(&self, k_exog: usize) -> usize {
        k_exog + usize::from(self.trend != Trend::None) + self.order.n_arma() + 1
    }

    /// Fewest observations the model needs: the differencing, the lags used for starting
    /// values, and more observations than parameters.
    pub fn min_observations(&self, k_exog: usize) -> usize {
        let o = &self.order;
        o.k_diff() + o.ar_degree().max(3 * o.ma_degree()) + self.n_params(k_exog) + 3
    }

    /// Fits by exact maximum likelihood.
    /// Checks settings and data; returns the regressors with the trend column and the scale
    /// (standard deviation of the differenced series).
    fn prepare(&self, y: &[f64], exog: &Regressors) -> Result<(Regressors, f64)> {
        let order = self.order;
        order.validate()?;
        if self.max_iter == 0 || self.max_iter > 100_000 {
            return Err(SarimaError::InvalidSetting {
                name: "max_iter",
                reason: "must be between 1 and 100000".into(),
            });
        }
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(SarimaError::InvalidSetting {
                name: "tolerance",
                reason: "must be in (0, 1)".into(),
            });
        }
        if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SarimaError::NonFinite {
                what: "the series".into(),
                index: i,
                value: *v,
            });
        }
        exog.check(y.len(), "observations")?;
        if exog.names.iter().any(|n| n == "const" || n == "drift") {
            return Err(SarimaError::Regressors(
                "\"const\" and \"drift\" are reserved for the trend setting".into(),
            ));
        }
        let need = self.min_observations(exog.len());
        if y.len() < need {
            return Err(SarimaError::TooShort {
                order: order.to_string(),
                need,
                got: y.len(),
            });
        }
        let w = difference(y, &order);
        let (mean, var) = mean_var(&w);
        if var.is_nan() || var <= 1e-20 * (1.0 + mean * mean) {
            return Err(SarimaError::Constant {
                order: order.to_string(),
            });
        }
        Ok((self.trend.augment(exog, 0, y.len()), var.sqrt()))
    }

    /// AICc from a conditional-sum-of-squares fit instead of the exact likelihood: what R's
    /// `auto.arima` ranks candidates by on long series (`approximation = TRUE`). A few
    /// percent of the cost of an exact fit; comparable between models of the same `d` and `D`.
    pub fn css_aicc(&self, y: &[f64], exog: &Regressors) -> Result<f64> {
        let (exog, scale) = self.prepare(y, exog)?;
        let ys: Vec<f64> = y.iter().map(|v| v / scale).collect();
        let problem = Problem {
            order: self.order,
            y: &ys,
            exog: &exog,
            diffuse: DIFFUSE_VARIANCE / (scale * scale),
            n_eff: (y.len() - self.order.k_diff()) as f64,
            forward: false,
            differenced: Differenced::new(&ys, &exog, &self.order),
        };
        let start = start_params(&self.order, &ys, &exog);
        let u = problem.refine_by_css_only(problem.unconstrain(&start));
        let (_, mean_sq, n) = problem.css_fit(&u);
        if !(mean_sq.is_finite() && mean_sq > 0.0) || n == 0 {
            return Err(SarimaError::Likelihood(format!(
                "{}: conditional sum of squares failed",
                self.order
            )));
        }
        let n = n as f64;
        let k = self.n_params(exog.len() - usize::from(self.trend != Trend::None)) as f64;
        let sigma2 = mean_sq * scale * scale;
        let loglik = -0.5 * n * ((2.0 * std::f64::consts::PI * sigma2).ln() + 1.0);
        if n - k - 1.0 <= 0.0 {
            return Ok(f64::INFINITY);
        }
        Ok(-2.0 * loglik + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0))
    }

    /// Fits by exact maximum likelihood.
    pub fn fit_exog(&self, y: &[f64], exog: &Regressors) -> Result<FittedSarima> {
        let order = self.order;
        let user_exog = exog;
        let (augmented, scale) = self.prepare(y, exog)?;
        let exog = &augmented;
        // Work on a unit-scale copy: the optimiser then sees parameters of similar size. The
        // diffuse variance is rescaled with the data, so the likelihood is the same function.
        let ys: Vec<f64> = y.iter().map(|v| v / scale).collect();
        let diffuse = DIFFUSE_VARIANCE / (scale * scale);
        let problem = Problem {
            order,
            y: &ys,
            exog,
            diffuse,
            n_eff: (y.len() - order.k_diff()) as f64,
            forward: self.tolerance >= FORWARD_DIFFERENCES_ABOVE,
            differenced: Differenced::new(&ys, exog, &order),
        };
        let start = start_params(&order, &ys, exog);
        let u0 = problem.unconstrain(&start);
        let f0 = problem.objective(&u0);
        let u0 = if f0.is_finite() {
            u0
        } else {
            let mut zero = start.clone();
            zero.ar.fill(0.0);
            zero.ma.fill(0.0);
            zero.seasonal_ar.fill(0.0);
            zero.seasonal_ma.fill(0.0);
            let u = problem.unconstrain(&zero);
            if !problem.objective(&u).is_finite() {
                return Err(SarimaError::Likelihood(format!(
                    "{order} at its starting values"
                )));
            }
            u
        };
        let u0 = problem.refine_by_css(u0);
        let (u, iterations, gradient_norm, converged) =
            problem.optimise(u0, self.max_iter, self.tolerance)?;
        if !converged && self.require_convergence && gradient_norm > NEAR_CONVERGED_GRADIENT {
            return Err(SarimaError::NotConverged {
                iterations,
                gradient_norm,
            });
        }
        let mut params = problem.constrain(&u);
        params.exog.iter_mut().for_each(|b| *b *= scale);
        params.sigma2 *= scale * scale;
        let mut fitted = FittedSarima::from_params(order, params, y, exog, iterations)?;
        fitted.trend = self.trend;
        fitted.regressors = user_exog.names.clone();
        Ok(fitted)
    }
}

impl augurs_core::Fit for Sarima {
    type Fitted = FittedSarima;
    type Error = SarimaError;

    fn fit(&self, y: &[f64]) -> Result<FittedSarima> {
        self.fit_exog(y, &Regressors::none())
    }
}

/// `Delta^d Delta_s^D y`.
pub fn difference(y: &[f64], order: &Order) -> Vec<f64> {
    let mut w = y.to_vec();
    for _ in 0..order.d {
        w = w.windows(2).map(|p| p[1] - p[0]).collect();
    }
    let s = order.step();
    for _ in 0..order.seasonal_d {
        w = w.iter().skip(s).zip(&w).map(|(a, b)| a - b).collect();
    }
    w
}

fn mean_var(w: &[f64]) -> (f64, f64) {
    if w.is_empty() {
        return (0.0, 0.0);
    }
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    (mean, w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
}

/// Conditional-sum-of-squares starting values for one (possibly seasonal) ARMA part, on the
/// differenced series: a long autoregression supplies residuals, then one least-squares fit
/// on the lags of the series and of those residuals (the Hannan–Rissanen idea, as statsmodels
/// does). Returns the AR and MA coefficients and the residual variance; zeros when the series
/// is too short.
fn css(w: &[f64], p: usize, q: usize, step: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let zeros = (vec![0.0; p], vec![0.0; q], mean_var(w).1);
    if p + q == 0 {
        return zeros;
    }
    let k_ar = p * step;
    let k_ma = q * step;
    let k = 2 * k_ma;
    let r = (k + k_ma).max(k_ar);
    if w.len() <= r + p + q + 1 || w.len() <= k + 1 {
        return zeros;
    }
    let mut resid = Vec::new();
    if q > 0 {
        let y: Vec<f64> = w[k..].to_vec();
        let cols: Vec<Vec<f64>> = (1..=k).map(|l| w[k - l..w.len() - l].to_vec()).collect();
        let Some(b) = least_squares(&cols, &y) else {
            return zeros;
        };
        resid = y
            .iter()
            .enumerate()
            .map(|(t, v)| v - cols.iter().zip(&b).map(|(c, b)| c[t] * b).sum::<f64>())
            .collect();
    }
    // Row t of the regression is observation r + t; residual index i is observation k + i.
    let y: Vec<f64> = w[r..].to_vec();
    let mut cols: Vec<Vec<f64>> = (1..=p)
        .map(|i| w[r - i * step..w.len() - i * step].to_vec())
        .collect();
    cols.extend((1..=q).map(|i| resid[r - k - i * step..resid.len() - i * step].to_vec()));
    let Some(b) = least_squares(&cols, &y) else {
        return zeros;
    };
    let sse: f64 = y
        .iter()
        .enumerate()
        .map(|(t, v)| (v - cols.iter().zip(&b).map(|(c, b)| c[t] * b).sum::<f64>()).powi(2))
        .sum();
    (b[..p].to_vec(), b[p..].to_vec(), sse / y.len() as f64)
}

fn start_params(order: &Order, y: &[f64], exog: &Regressors) -> Params {
    let mut w = difference(y, order);
    let mut beta = vec![0.0; exog.len()];
    if !exog.is_empty() {
        let cols: Vec<Vec<f64>> = exog.columns.iter().map(|c| difference(c, order)).collect();
        if let Some(b) = least_squares(&cols, &w) {
            for (c, bi) in cols.iter().zip(&b) {
                for (wi, ci) in w.iter_mut().zip(c) {
                    *wi -= bi * ci;
                }
            }
            beta = b;
        }
    }
    let (mut ar, mut ma, var) = css(&w, order.p, order.q, 1);
    if !poly::is_stationary(&ar) {
        ar.fill(0.0);
    }
    if !poly::is_invertible(&ma) {
        ma.fill(0.0);
    }
    let s = order.step();
    let (mut sar, mut sma, svar) = css(&w, order.seasonal_p, order.seasonal_q, s);
    if !poly::is_stationary(&sar) {
        sar.fill(0.0);
    }
    if !poly::is_invertible(&sma) {
        sma.fill(0.0);
    }
    let sigma2 = var.max(svar).max(1e-8);
    Params {
        exog: beta,
        ar,
        ma,
        seasonal_ar: sar,
        seasonal_ma: sma,
        sigma2,
    }
}

/// The optimisation problem on the unit-scale series.
struct Problem<'a> {
    order: Order,
    y: &'a [f64],
    exog: &'a Regressors,
    diffuse: f64,
    n_eff: f64,
    /// Forward instead of central differences for the gradient (see [`numeric_gradient`]).
    forward: bool,
    /// The differenced series and regressors, for the conditional sum of squares.
    differenced: Differenced,
}

/// `Delta^d Delta_s^D` of the series and of each regressor. Differencing is linear, so the
/// differenced regression residual `Delta(y - X b)` is `Delta y - (Delta X) b`: computed once
/// per fit instead of once per evaluation of the conditional sum of squares.
struct Differenced {
    y: Vec<f64>,
    columns: Vec<Vec<f64>>,
}

impl Differenced {
    fn new(y: &[f64], exog: &Regressors, order: &Order) -> Self {
        Self {
            y: difference(y, order),
            columns: exog.columns.iter().map(|c| difference(c, order)).collect(),
        }
    }
}

/// Returned by the cost where the likelihood cannot be evaluated: large enough to make the line
/// search back off.
const PENALTY: f64 = 1e10;

impl<'b> Problem<'b> {
    fn constrain(&self, u: &[f64]) -> Params {
        let o = &self.order;
        let mut p = Params::from_slice(o, self.exog.len(), u);
        p.ar = poly::constrain_stationary(&p.ar);
        p.ma = poly::constrain_stationary(&p.ma)
            .iter()
            .map(|v| -v)
            .collect();
        p.seasonal_ar = poly::constrain_stationary(&p.seasonal_ar);
        p.seasonal_ma = poly::constrain_stationary(&p.seasonal_ma)
            .iter()
            .map(|v| -v)
            .collect();
        p.sigma2 = p.sigma2 * p.sigma2;
        p
    }

    fn unconstrain(&self, p: &Params) -> Vec<f64> {
        let neg = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
        let or_zero = |v: Option<Vec<f64>>, n: usize| v.unwrap_or_else(|| vec![0.0; n]);
        let mut u = p.exog.clone();
        u.extend(or_zero(poly::unconstrain_stationary(&p.ar), p.ar.len()));
        u.extend(or_zero(
            poly::unconstrain_stationary(&neg(&p.ma)),
            p.ma.len(),
        ));
        u.extend(or_zero(
            poly::unconstrain_stationary(&p.seasonal_ar),
            p.seasonal_ar.len(),
        ));
        u.extend(or_zero(
            poly::unconstrain_stationary(&neg(&p.seasonal_ma)),
            p.seasonal_ma.len(),
        ));
        u.push(p.sigma2.sqrt());
        u
    }

    /// Conditional sum of squares of the ARMA recursion on the differenced, regression-adjusted
    /// series, as half the log of the mean square (a profile objective without the variance).
    /// It needs no covariance recursion, so it costs a few percent of one exact likelihood.
    fn css_objective(&self, u: &[f64]) -> (f64, f64) {
        let (f, m, _) = self.css_fit(u);
        (f, m)
    }

    /// The CSS objective, the mean square and the number of residuals it is over.
    fn css_fit(&self, u: &[f64]) -> (f64, f64, usize) {
        let params = self.constrain(u);
        let mut w = self.differenced.y.clone();
        for (column, b) in self.differenced.columns.iter().zip(&params.exog) {
            for (o, x) in w.iter_mut().zip(column) {
                *o -= b * x;
            }
        }
        let (ar, ma) = params.polynomials(&self.order);
        let (pa, qa) = (ar.len() - 1, ma.len() - 1);
        if w.len() <= pa + 1 {
            return (PENALTY, 1.0, 0);
        }
        // Seasonal products are mostly zeros: only the non-zero lags enter the recursion.
        let nonzero = |poly: &[f64]| -> Vec<(usize, f64)> {
            poly.iter()
                .copied()
                .enumerate()
                .skip(1)
                .filter(|(_, c)| *c != 0.0)
                .collect()
        };
        let (ar_lags, ma_lags) = (nonzero(&ar), nonzero(&ma));
        // Residuals with `qa` leading zeros, so that every MA lag is in range.
        let mut e = vec![0.0; w.len() + qa];
        let mut sse = 0.0;
        for t in pa..w.len() {
            let mut v = w[t];
            for &(i, c) in &ar_lags {
                v += c * w[t - i];
            }
            for &(j, c) in &ma_lags {
                v -= c * e[qa + t - j];
            }
            e[qa + t] = v;
            sse += v * v;
        }
        let mean_sq = sse / (w.len() - pa) as f64;
        if !(mean_sq.is_finite() && mean_sq > 0.0) {
            return (PENALTY, 1.0, 0);
        }
        (0.5 * mean_sq.ln(), mean_sq, w.len() - pa)
    }

    /// Moves the start to the conditional-sum-of-squares optimum (what R's `arima` does before
    /// the exact likelihood, "CSS-ML"): the exact optimisation then needs far fewer iterations.
    /// Kept only when the exact likelihood agrees it is a better start.
    fn refine_by_css(&self, u0: Vec<f64>) -> Vec<f64> {
        let u = self.refine_by_css_only(u0.clone());
        if self.objective(&u) < self.objective(&u0) {
            u
        } else {
            u0
        }
    }

    /// The CSS optimum from `u0`, with the variance set to the CSS mean square.
    fn refine_by_css_only(&self, u0: Vec<f64>) -> Vec<f64> {
        let k = u0.len() - 1;
        if self.order.n_arma() == 0 && self.exog.is_empty() {
            return u0;
        }
        let sigma = u0[k];
        let full = |x: &[f64]| {
            let mut v = x.to_vec();
            v.push(sigma);
            v
        };
        let cost = FnCost(|x: &[f64]| self.css_objective(&full(x)).0);
        let solver = match LBFGS::new(MoreThuenteLineSearch::new(), 7).with_tolerance_grad(1e-6) {
            Ok(s) => s,
            Err(_) => return u0,
        };
        let run = Executor::new(cost, solver)
            .configure(|state| state.param(u0[..k].to_vec()).max_iters(60))
            .run();
        let Some(best) = run.ok().and_then(|r| r.state().get_best_param().cloned()) else {
            return u0;
        };
        let mut u = full(&best);
        let (_, mean_sq) = self.css_objective(&u);
        u[k] = mean_sq.sqrt();
        u
    }

    /// Negative log-likelihood per effective observation.
    fn objective(&self, u: &[f64]) -> f64 {
        let params = self.constrain(u);
        let offset = self.exog.combine(&params.exog, self.y.len());
        let ssm = params.state_space(&self.order, self.diffuse);
        match ssm::filter(&ssm, self.y, &offset, false) {
            Ok((ll, _)) if ll.is_finite() => -ll / self.n_eff,
            _ => PENALTY,
        }
    }

    /// One L-BFGS run (memory 10) from `u` with the given line search.
    fn lbfgs<'s, L>(
        &'s self,
        linesearch: L,
        u: &[f64],
        budget: u64,
        tol: f64,
    ) -> Result<std::result::Result<LbfgsState, argmin::core::Error>>
    where
        LBFGS<L, Vec<f64>, Vec<f64>, f64>: Solver<Cost<'s, 'b>, LbfgsState>,
    {
        let solver = LBFGS::new(linesearch, 10)
            .with_tolerance_grad(tol)
            .and_then(|s| s.with_tolerance_cost(1e-14))
            .map_err(|e| SarimaError::Likelihood(e.to_string()))?;
        Ok(Executor::new(Cost { problem: self }, solver)
            .configure(|state| state.param(u.to_vec()).max_iters(budget))
            .run()
            .map(|r| r.state().clone()))
    }

    /// L-BFGS with a backtracking line search (the gradient is then needed only at accepted
    /// points, half the filter runs of a More-Thuente search), restarted from the best point
    /// with a More-Thuente search when it stops with a gradient that is not small: a stall of
    /// the backtracking search must not pass for convergence. Gradients are central
    /// differences, or forward ones for a loose fit (see [`numeric_gradient`]).
    fn optimise(
        &self,
        u0: Vec<f64>,
        max_iter: u64,
        tol: f64,
    ) -> Result<(Vec<f64>, u64, f64, bool)> {
        let mut u = u0;
        let mut used = 0u64;
        let mut central = false;
        let mut previous: Option<f64> = None;
        for _round in 0..4 {
            let budget = max_iter.saturating_sub(used).max(1);
            // The first round backtracks (cheap); a restart uses More-Thuente, whose curvature
            // condition keeps the quasi-Newton updates sound near a flat optimum.
            let run = if central {
                self.lbfgs(MoreThuenteLineSearch::new(), &u, budget, tol)?
            } else {
                let condition = ArmijoCondition::new(1e-4)
                    .map_err(|e| SarimaError::Likelihood(e.to_string()))?;
                self.lbfgs(BacktrackingLineSearch::new(condition), &u, budget, tol)?
            };
            let state = run.map_err(|e| SarimaError::Likelihood(format!("optimiser: {e}")))?;
            used += state.get_iter();
            let cost = state.get_best_cost();
            if let Some(best) = state.get_best_param() {
                u = best.clone();
            }
            let gnorm = numeric_gradient(self, &u)
                .iter()
                .map(|g| g * g)
                .sum::<f64>()
                .sqrt();
            let status = state.get_termination_status().clone();
            let out_of_budget = used >= max_iter
                || matches!(
                    status,
                    TerminationStatus::Terminated(TerminationReason::MaxItersReached)
                );
            // A restart that no longer lowers the cost has reached the objective's numerical
            // floor: with approximately diffuse states and a tiny variance the likelihood is
            // only accurate to ~1e-9 relative, and a finite-difference gradient there is noise.
            let at_floor = previous.is_some_and(|p: f64| p - cost <= 1e-9 * cost.abs().max(1.0));
            let restart_above = RESTART_ABOVE.max(10.0 * tol);
            if gnorm <= restart_above || at_floor || out_of_budget {
                let converged = gnorm <= restart_above || at_floor || gnorm <= 1e-4;
                return Ok((u, used, gnorm, converged));
            }
            previous = Some(cost);
            central = true;
        }
        let gnorm = numeric_gradient(self, &u)
            .iter()
            .map(|g| g * g)
            .sum::<f64>()
            .sqrt();
        Ok((u, used, gnorm, gnorm <= 1e-4))
    }
}

/// The optimiser state of an L-BFGS run on parameter vectors.
type LbfgsState = IterState<Vec<f64>, Vec<f64>, (), (), (), f64>;

/// Gradient norm (per-observation objective) above which a stopped optimiser is restarted.
const RESTART_ABOVE: f64 = 1e-5;

/// A cost given by a closure, with forward-difference gradients (for cheap objectives).
struct FnCost<F>(F);

impl<F: Fn(&[f64]) -> f64> CostFunction for FnCost<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok((self.0)(u))
    }
}

impl<F: Fn(&[f64]) -> f64> Gradient for FnCost<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    /// Forward differences: the conditional-sum-of-squares optimum only serves as a start for
    /// the exact likelihood, so `k + 1` evaluations per gradient are enough where central
    /// differences would take `2k`.
    fn gradient(&self, u: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let base = (self.0)(u);
        let mut x = u.clone();
        Ok((0..u.len())
            .map(|i| {
                let h = 1e-7 * u[i].abs().max(1.0);
                x[i] = u[i] + h;
                let up = (self.0)(&x);
                x[i] = u[i];
                (up - base) / h
            })
            .collect())
    }
}

/// The exact likelihood as argmin's cost, with finite-difference gradients.
struct Cost<'a, 'b> {
    problem: &'a Problem<'b>,
}

impl CostFunction for Cost<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.problem.objective(u))
    }
}

impl Gradient for Cost<'_, '_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    /// Forward differences would halve the filter runs, but near the optimum the likelihood
    /// is only accurate to about 1e-9 relative (approximately diffuse states next to a small
    /// variance), and their `O(h)` error then stalls the line search short of the maximum.
    fn gradient(&self, u: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(numeric_gradient(self.problem, u))
    }
}

/// Central differences: accurate to `O(h^2)`, enough for the optimum to match statsmodels'
/// (complex-step) gradients to the tolerance the golden tests ask for. The `2k` filter runs
/// are independent, so they are spread over the cores.
///
/// A loose fit (the order search ranks candidates at a gradient tolerance of `1e-4`) takes
/// forward differences instead: `k + 1` runs, and their `O(h)` error (about `1e-7` here) is
/// far below that tolerance.
fn numeric_gradient(problem: &Problem<'_>, u: &[f64]) -> Vec<f64> {
    if problem.forward {
        let base = problem.objective(u);
        return (0..u.len())
            .into_par_iter()
            .map(|i| {
                let mut x = u.to_vec();
                let h = 1e-7 * u[i].abs().max(1.0);
                x[i] = u[i] + h;
                (problem.objective(&x) - base) / h
            })
            .collect();
    }
    (0..u.len())
        .into_par_iter()
        .map(|i| {
            let mut x = u.to_vec();
            let h = 1e-5 * u[i].abs().max(1.0);
            x[i] = u[i] + h;
            let up = problem.objective(&x);
            x[i] = u[i] - h;
            let down = problem.objective(&x);
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// Gradient tolerance from which fits use forward differences.
const FORWARD_DIFFERENCES_ABOVE: f64 = 1e-5;

/// The standard normal quantile of a two-sided interval at `level` (0–1, exclusive).
pub fn z_score(level: f64) -> Result<f64> {
    if !(level > 0.0 && level < 1.0) {
        return Err(SarimaError::Forecast(format!(
            "interval level {level} must be strictly between 0 and 1"
        )));
    }
    let normal = Normal::new(0.0, 1.0).map_err(|e| SarimaError::Forecast(e.to_string()))?;
    Ok(normal.inverse_cdf(0.5 + level / 2.0))
}

/// A fitted SARIMA(X): parameters, fit statistics and the filtered state at the end of the
/// sample, which is all a forecast needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedSarima {
    pub order: Order,
    /// Deterministic term; its coefficient is the first of `params.exog`.
    pub trend: Trend,
    pub params: Params,
    /// Names of the regressors the model was fitted with.
    pub regressors: Vec<String>,
    /// Maximised log-likelihood (of the observations after the `d + s·D` burn-in).
    pub loglik: f64,
    /// Observations in the sample.
    pub nobs: usize,
    /// Observations in the likelihood.
    pub nobs_effective: usize,
    /// Optimiser iterations used.
    pub iterations: u64,
    /// One-step-ahead in-sample predictions.
    pub fitted: Vec<f64>,
    /// Their standard errors.
    pub fitted_std: Vec<f64>,
    /// Innovations (observed minus predicted).
    pub residuals: Vec<f64>,
    next_state: Vec<f64>,
    next_cov: Vec<f64>,
}

impl FittedSarima {
    /// Filters `y` with given parameters: the fitted model for those parameters (no estimation).
    pub fn from_params(
        order: Order,
        params: Params,
        y: &[f64],
        exog: &Regressors,
        iterations: u64,
    ) -> Result<Self> {
        order.validate()?;
        exog.check(y.len(), "observations")?;
        if params.exog.len() != exog.len() {
            return Err(SarimaError::Regressors(format!(
                "{} coefficients for {} regressors",
                params.exog.len(),
                exog.len()
            )));
        }
        let offset = exog.combine(&params.exog, y.len());
        let ssm = params.state_space(&order, DIFFUSE_VARIANCE);
        let (loglik, kept) = ssm::filter(&ssm, y, &offset, true)?;
        let kept = kept.unwrap_or_default();
        Ok(Self {
            order,
            trend: Trend::None,
            regressors: exog.names.clone(),
            loglik,
            nobs: y.len(),
            nobs_effective: y.len() - order.k_diff().min(y.len()),
            iterations,
            fitted: kept.predictions,
            fitted_std: kept.variances.iter().map(|v| v.sqrt()).collect(),
            residuals: kept.innovations,
            next_state: kept.next_state,
            next_cov: kept.next_cov,
            params,
        })
    }

    /// Number of estimated parameters (regressors, ARMA coefficients and the variance).
    pub fn n_params(&self) -> usize {
        self.params.exog.len() + self.order.n_arma() + 1
    }

    /// Akaike's information criterion.
    pub fn aic(&self) -> f64 {
        -2.0 * self.loglik + 2.0 * self.n_params() as f64
    }

    /// AIC with the small-sample correction (as statsmodels, on the effective observations).
    pub fn aicc(&self) -> f64 {
        let k = self.n_params() as f64;
        let n = self.nobs_effective as f64;
        if n - k - 1.0 <= 0.0 {
            return f64::INFINITY;
        }
        self.aic() + 2.0 * k * (k + 1.0) / (n - k - 1.0)
    }

    /// Schwarz's Bayesian information criterion.
    pub fn bic(&self) -> f64 {
        -2.0 * self.loglik + (self.nobs_effective as f64).ln() * self.n_params() as f64
    }

    /// Standardised innovations after the burn-in.
    pub fn standardized_residuals(&self) -> Vec<f64> {
        let k = self.nobs - self.nobs_effective;
        self.residuals
            .iter()
            .zip(&self.fitted_std)
            .skip(k)
            .map(|(r, s)| r / s)
            .collect()
    }

    /// Ljung–Box test of the standardised residuals up to `lags`: the statistic and its
    /// p-value (chi-squared with `lags - p - q - P - Q` degrees of freedom, at least 1).
    pub fn ljung_box(&self, lags: usize) -> Result<(f64, f64)> {
        let e = self.standardized_residuals();
        let n = e.len();
        if lags == 0 || lags >= n {
            return Err(SarimaError::InvalidSetting {
                name: "lags",
                reason: format!("must be between 1 and {}", n.saturating_sub(1)),
            });
        }
        let (mean, var) = mean_var(&e);
        let denom = var * n as f64;
        let mut q = 0.0;
        for k in 1..=lags {
            let acf: f64 = (k..n)
                .map(|t| (e[t] - mean) * (e[t - k] - mean))
                .sum::<f64>()
                / denom;
            q += acf * acf / (n - k) as f64;
        }
        q *= n as f64 * (n as f64 + 2.0);
        let df = lags.saturating_sub(self.order.n_arma()).max(1) as f64;
        let p = ChiSquared::new(df)
            .map(|c| 1.0 - c.cdf(q))
            .unwrap_or(f64::NAN);
        Ok((q, p))
    }

    /// Forecasts `horizon` periods after the sample, with the regressors' future values
    /// (one column per regressor, `horizon` values each) and intervals at `level` (0–1).
    pub fn forecast_exog(
        &self,
        horizon: usize,
        future: &Regressors,
        level: Option<f64>,
    ) -> Result<Forecast> {
        if future.names != self.regressors {
            return Err(SarimaError::Forecast(format!(
                "the model was fitted with regressors {:?}, got {:?}",
                self.regressors, future.names
            )));
        }
        future.check(horizon, "forecast periods")?;
        let future = &self.trend.augment(future, self.nobs, horizon);
        let z = level.map(z_score).transpose()?;
        let ssm = self.params.state_space(&self.order, DIFFUSE_VARIANCE);
        let (mut point, vars) = ssm::forecast(&ssm, &self.next_state, &self.next_cov, horizon);
        for (p, x) in point
            .iter_mut()
            .zip(future.combine(&self.params.exog, horizon))
        {
            *p += x;
        }
        let intervals = z.zip(level).map(|(z, level)| ForecastIntervals {
            level,
            lower: point
                .iter()
                .zip(&vars)
                .map(|(m, v)| m - z * v.sqrt())
                .collect(),
            upper: point
                .iter()
                .zip(&vars)
                .map(|(m, v)| m + z * v.sqrt())
                .collect(),
        });
        Ok(Forecast { point, intervals })
    }
}

impl augurs_core::Predict for FittedSarima {
    type Error = SarimaError;

    fn training_data_size(&self) -> usize {
        self.nobs
    }

    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<()> {
        *forecast = self.forecast_exog(horizon, &Regressors::none(), level)?;
        Ok(())
    }

    fn predict_in_sample_inplace(&self, level: Option<f64>, forecast: &mut Forecast) -> Result<()> {
        let point = self.fitted.clone();
        let intervals = match level {
            Some(l) => {
                let z = z_score(l)?;
                Some(ForecastIntervals {
                    level: l,
                    lower: point
                        .iter()
                        .zip(&self.fitted_std)
                        .map(|(m, s)| m - z * s)
                        .collect(),
                    upper: point
                        .iter()
                        .zip(&self.fitted_std)
                        .map(|(m, s)| m + z * s)
                        .collect(),
                })
            }
            None => None,
        };
        *forecast = Forecast { point, intervals };
        Ok(())
    }
}
