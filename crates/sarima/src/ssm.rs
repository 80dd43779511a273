//! The state-space form of a SARIMA model and its Kalman filter.
//!
//! The layout is the one of statsmodels' SARIMAX with `simple_differencing=False`: the first
//! `d + s·D` states carry the differencing (so the likelihood is that of the undifferenced
//! series), the remaining `r = max(p + sP, q + sQ + 1)` states are the ARMA part in Harvey's
//! form. The differencing states start approximately diffuse (variance 10^6) and the first
//! `d + s·D` observations are left out of the likelihood; the ARMA states start from their
//! stationary distribution. Keeping exactly this layout is what makes our log-likelihood equal
//! statsmodels' default, including the (not quite negligible) effect of the finite diffuse
//! variance.
//!
//! The transition matrix is sparse (a companion block plus ones), so `T P T'` is computed
//! from its non-zeros: `O(nnz · m)` per step instead of `O(m^3)`. Once the state covariance
//! stops changing (the filter has reached its steady state) it is frozen, as statsmodels does.

use crate::error::{Result, SarimaError};
use crate::spec::Order;

/// Variance of the approximately diffuse differencing states (statsmodels' default).
pub const DIFFUSE_VARIANCE: f64 = 1e6;

/// Relative change of the state covariance below which the filter counts as converged.
const STEADY_TOLERANCE: f64 = 1e-13;

/// A SARIMA model in state-space form, for one set of parameters.
#[derive(Debug, Clone)]
pub struct StateSpace {
    /// Number of states.
    pub m: usize,
    /// Number of differencing states (`d + s·D`), which is also the likelihood burn-in.
    pub k_diff: usize,
    /// Size of the ARMA block.
    pub r: usize,
    /// Indices of the states the observation loads on (all with coefficient 1).
    pub z: Vec<usize>,
    /// Transition matrix by row: `(column, value)`.
    pub rows: Vec<Vec<(usize, f64)>>,
    /// Selection vector (the MA polynomial on the ARMA block).
    pub sel: Vec<f64>,
    /// Innovation variance.
    pub sigma2: f64,
    /// Variance of the diffuse states.
    pub diffuse: f64,
    /// AR polynomial coefficients as they enter the transition (`phi*` of the reduced form).
    ar: Vec<f64>,
}

impl StateSpace {
    /// Builds the matrices from the reduced polynomials: `ar_poly = 1 - ...`, `ma_poly = 1 + ...`.
    pub fn new(order: &Order, ar_poly: &[f64], ma_poly: &[f64], sigma2: f64, diffuse: f64) -> Self {
        let (d, dd, s) = (order.d, order.seasonal_d, order.period);
        let k_diff = d + s * dd;
        let r = (ar_poly.len() - 1).max(ma_poly.len()).max(1);
        let m = k_diff + r;
        let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m];
        let arma = k_diff;
        // Plain differencing: an upper-triangular block of ones, plus the last state of each
        // seasonal block and the ARMA state.
        for (i, row) in rows.iter_mut().enumerate().take(d) {
            for c in i..d {
                row.push((c, 1.0));
            }
            for j in 0..dd {
                row.push((d + j * s + s - 1, 1.0));
            }
            row.push((arma, 1.0));
        }
        // Seasonal differencing: a cyclic shift per block, chained to the next block.
        for j in 0..dd {
            let start = d + j * s;
            let end = start + s;
            rows[start].push((end - 1, 1.0));
            if j + 1 < dd {
                rows[start].push((end + s - 1, 1.0));
            }
            rows[start].push((arma, 1.0));
            for i in 1..s {
                rows[start + i].push((start + i - 1, 1.0));
            }
        }
        let ar: Vec<f64> = (0..r)
            .map(|i| -ar_poly.get(i + 1).copied().unwrap_or(0.0))
            .collect();
        for i in 0..r {
            if ar[i] != 0.0 {
                rows[arma + i].push((arma, ar[i]));
            }
            if i + 1 < r {
                rows[arma + i].push((arma + i + 1, 1.0));
            }
        }
        let mut sel = vec![0.0; m];
        for i in 0..r {
            sel[arma + i] = ma_poly.get(i).copied().unwrap_or(0.0);
        }
        let mut z: Vec<usize> = (0..d).collect();
        z.extend((0..dd).map(|j| d + j * s + s - 1));
        z.push(arma);
        Self {
            m,
            k_diff,
            r,
            z,
            rows,
            sel,
            sigma2,
            diffuse,
            ar,
        }
    }

    /// Initial state mean and covariance: diffuse differencing states, stationary ARMA block.
    pub fn initial(&self) -> Result<(Vec<f64>, Vec<f64>)> {
        let (m, r, k) = (self.m, self.r, self.k_diff);
        let mut p = vec![0.0; m * m];
        for i in 0..k {
            p[i * m + i] = self.diffuse;
        }
        let block = self.stationary_covariance()?;
        for i in 0..r {
            for j in 0..r {
                p[(k + i) * m + k + j] = block[i * r + j];
            }
        }
        Ok((vec![0.0; m], p))
    }

    /// Solves `P = T P T' + sigma2 R R'` for the ARMA block by doubling:
    /// `P_{k+1} = P_k + A_k P_k A_k'`, `A_{k+1} = A_k^2`.
    fn stationary_covariance(&self) -> Result<Vec<f64>> {
        let r = self.r;
        let k = self.k_diff;
        let mut a = vec![0.0; r * r];
        for i in 0..r {
            a[i * r] = self.ar[i];
            if i + 1 < r {
                a[i * r + i + 1] = 1.0;
            }
        }
        let mut p = vec![0.0; r * r];
        for i in 0..r {
            for j in 0..r {
                p[i * r + j] = self.sigma2 * self.sel[k + i] * self.sel[k + j];
            }
        }
        let mut tmp = vec![0.0; r * r];
        let mut apa = vec![0.0; r * r];
        for _ in 0..200 {
            matmul(&a, &p, &mut tmp, r);
            matmul_t(&tmp, &a, &mut apa, r);
            let mut change = 0.0f64;
            let mut size = 0.0f64;
            for (x, y) in p.iter_mut().zip(&apa) {
                *x += y;
                change = change.max(y.abs());
                size = size.max(x.abs());
            }
            if !size.is_finite() {
                break;
            }
            if change <= 1e-15 * size {
                return Ok(p);
            }
            matmul(&a, &a, &mut tmp, r);
            std::mem::swap(&mut a, &mut tmp);
        }
        Err(SarimaError::Likelihood(
            "the AR part is not stationary, so the ARMA states have no stationary distribution"
                .into(),
        ))
    }

    /// `out = T x` for a state vector.
    fn transition(&self, x: &[f64], out: &mut [f64]) {
        for (o, row) in out.iter_mut().zip(&self.rows) {
            *o = row.iter().map(|&(c, v)| v * x[c]).sum();
        }
    }

    /// `out = T P T' + sigma2 R R'`, using `tmp` as scratch. With `P` symmetric,
    /// `T P T' = T (T P)'`: two passes of the same row operation with a transpose between,
    /// and every pass works on whole contiguous rows (copies for the shift rows, `axpy` for
    /// the rest), which the compiler vectorises.
    fn propagate(&self, p: &[f64], tmp: &mut [f64], out: &mut [f64]) {
        let m = self.m;
        self.rows_times(p, tmp);
        for a in 0..m {
            for c in 0..m {
                out[c * m + a] = tmp[a * m + c];
            }
        }
        tmp.copy_from_slice(out);
        self.rows_times(tmp, out);
        let q = self.sigma2;
        for i in self.k_diff..m {
            let si = self.sel[i] * q;
            if si == 0.0 {
                continue;
            }
            let row = &mut out[i * m..(i + 1) * m];
            for (o, sj) in row[self.k_diff..].iter_mut().zip(&self.sel[self.k_diff..]) {
                *o += si * sj;
            }
        }
    }

    /// `dst = T src` for an `m x m` row-major `src`.
    fn rows_times(&self, src: &[f64], dst: &mut [f64]) {
        let m = self.m;
        for (i, row) in self.rows.iter().enumerate() {
            let d = &mut dst[i * m..(i + 1) * m];
            match row.as_slice() {
                [(c, v)] if *v == 1.0 => d.copy_from_slice(&src[c * m..(c + 1) * m]),
                _ => {
                    d.fill(0.0);
                    for &(c, v) in row {
                        for (x, s) in d.iter_mut().zip(&src[c * m..(c + 1) * m]) {
                            *x += v * s;
                        }
                    }
                }
            }
        }
    }
}

/// What the filter returns besides the log-likelihood, when asked to keep it.
#[derive(Debug, Clone, Default)]
pub struct Filtered {
    /// One-step-ahead predictions of each observation (including the regression part).
    pub predictions: Vec<f64>,
    /// Innovations `y_t - prediction_t`.
    pub innovations: Vec<f64>,
    /// Innovation variances `F_t`.
    pub variances: Vec<f64>,
    /// Predicted state for the first period after the sample.
    pub next_state: Vec<f64>,
    /// Its covariance (row-major).
    pub next_cov: Vec<f64>,
}

/// Runs the Kalman filter over `y - offset` and returns the log-likelihood of the observations
/// after the burn-in, plus the filter's by-products when `keep` is set.
pub fn filter(
    ssm: &StateSpace,
    y: &[f64],
    offset: &[f64],
    keep: bool,
) -> Result<(f64, Option<Filtered>)> {
    let m = ssm.m;
    let (mut a, mut p) = ssm.initial()?;
    let mut tmp = vec![0.0; m * m];
    let mut next_p = vec![0.0; m * m];
    let mut next_a = vec![0.0; m];
    let mut pz = vec![0.0; m];
    let mut converged = false;
    let mut f = 0.0;
    let mut out = keep.then(|| Filtered {
        predictions: Vec::with_capacity(y.len()),
        innovations: Vec::with_capacity(y.len()),
        variances: Vec::with_capacity(y.len()),
        ..Filtered::default()
    });
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let mut loglik = 0.0;
    for t in 0..y.len() {
        if !converged {
            for (i, v) in pz.iter_mut().enumerate() {
                let row = &p[i * m..(i + 1) * m];
                *v = ssm.z.iter().map(|&c| row[c]).sum();
            }
            f = ssm.z.iter().map(|&c| pz[c]).sum();
        }
        let pred_state: f64 = ssm.z.iter().map(|&c| a[c]).sum();
        let v = y[t] - offset[t] - pred_state;
        if !(f > 0.0 && f.is_finite() && v.is_finite()) {
            return Err(SarimaError::Likelihood(format!(
                "innovation variance {f} at observation {t}"
            )));
        }
        if t >= ssm.k_diff {
            loglik -= 0.5 * (ln2pi + f.ln() + v * v / f);
        }
        if let Some(o) = out.as_mut() {
            o.predictions.push(pred_state + offset[t]);
            o.innovations.push(v);
            o.variances.push(f);
        }
        let gain = v / f;
        for (ai, pzi) in a.iter_mut().zip(&pz) {
            *ai += pzi * gain;
        }
        ssm.transition(&a, &mut next_a);
        std::mem::swap(&mut a, &mut next_a);
        if !converged {
            for i in 0..m {
                let ki = pz[i] / f;
                let row = &mut p[i * m..(i + 1) * m];
                for (pij, pzj) in row.iter_mut().zip(&pz) {
                    *pij -= ki * pzj;
                }
            }
            ssm.propagate(&p, &mut tmp, &mut next_p);
            // Compare P_{t+1|t} with P_{t|t-1} every few steps (the check costs as much as the
            // rank-one update).
            if t > ssm.k_diff && t % 8 == 0 {
                let mut change = 0.0f64;
                let mut size = 0.0f64;
                for (x, y) in next_p.iter().zip(&p) {
                    change = change.max((x - y).abs());
                    size = size.max(x.abs());
                }
                converged = change <= STEADY_TOLERANCE * size;
            }
            std::mem::swap(&mut p, &mut next_p);
        }
    }
    if let Some(o) = out.as_mut() {
        o.next_state = a;
        o.next_cov = p;
    }
    Ok((loglik, out))
}

/// Forecasts `horizon` steps from a predicted state: means and variances of the observations
/// (before the regression part is added).
pub fn forecast(
    ssm: &StateSpace,
    state: &[f64],
    cov: &[f64],
    horizon: usize,
) -> (Vec<f64>, Vec<f64>) {
    let m = ssm.m;
    let mut a = state.to_vec();
    let mut p = cov.to_vec();
    let mut tmp = vec![0.0; m * m];
    let mut next_p = vec![0.0; m * m];
    let mut next_a = vec![0.0; m];
    let mut means = Vec::with_capacity(horizon);
    let mut vars = Vec::with_capacity(horizon);
    for _ in 0..horizon {
        means.push(ssm.z.iter().map(|&c| a[c]).sum());
        let var: f64 = ssm
            .z
            .iter()
            .map(|&i| ssm.z.iter().map(|&j| p[i * m + j]).sum::<f64>())
            .sum();
        vars.push(var.max(0.0));
        ssm.transition(&a, &mut next_a);
        std::mem::swap(&mut a, &mut next_a);
        ssm.propagate(&p, &mut tmp, &mut next_p);
        std::mem::swap(&mut p, &mut next_p);
    }
    (means, vars)
}

fn matmul(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
        }
    }
}

/// `out = a b'`.
fn matmul_t(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| a[i * n + k] * b[j * n + k]).sum();
        }
    }
}
