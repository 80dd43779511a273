//! Starting values of a fit: the initial states from a classical decomposition (Hyndman et
//! al. 2008, §2.6.1, as the forecast package and statsforecast compute them) and the starting
//! smoothing parameters with their bounds.

use crate::{Component, Spec};

/// Seasonal pattern of a classical decomposition (as statsmodels' `seasonal_decompose`
/// computes it): the centred moving average of the period (2×m for an even period), the
/// detrended values averaged by position in the cycle and normalised to sum to 0 (additive) or
/// average 1 (multiplicative). Entry `i` belongs to the days `t` with `t mod m = i`; a position
/// with no detrended value gets 0 (or 1).
pub fn classical_season(y: &[f64], m: usize, multiplicative: bool) -> Vec<f64> {
    let n = y.len();
    // The filter's weights and half-width.
    let weights: Vec<f64> = if m.is_multiple_of(2) {
        let mut w = vec![1.0 / m as f64; m + 1];
        w[0] = 0.5 / m as f64;
        w[m] = 0.5 / m as f64;
        w
    } else {
        vec![1.0 / m as f64; m]
    };
    let half = weights.len() / 2;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for t in half..n.saturating_sub(half) {
        let trend: f64 = weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * y[t + k - half])
            .sum();
        let d = if multiplicative {
            y[t] / trend
        } else {
            y[t] - trend
        };
        if d.is_finite() {
            sums[t % m] += d;
            counts[t % m] += 1;
        }
    }
    let mut avg: Vec<f64> = (0..m)
        .map(|i| {
            if counts[i] > 0 {
                sums[i] / counts[i] as f64
            } else if multiplicative {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let mean = avg.iter().sum::<f64>() / m as f64;
    for v in &mut avg {
        if multiplicative {
            *v /= mean;
        } else {
            *v -= mean;
        }
    }
    avg
}

/// Intercept and slope of the least-squares line through `(t, y_t)`, `t = 1, 2, …`.
fn line(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let tm = (n + 1.0) / 2.0;
    let ym = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dt = (i + 1) as f64 - tm;
        sxy += dt * (v - ym);
        sxx += dt * dt;
    }
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (ym - b * tm, b)
}

/// Solves the small dense system `a·x = b` by Gaussian elimination with partial pivoting
/// (`None` when it is singular).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let k = b.len();
    for c in 0..k {
        let p = (c..k).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        let (top, rest) = a.split_at_mut(c + 1);
        let pivot = &top[c];
        for (r, row) in rest.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[c + 1 + r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; k];
    for r in (0..k).rev() {
        let s: f64 = (r + 1..k).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// The free initial states `[l0, b0 (with a trend), s_0 .. s_{m-2} (with a season)]`: the
/// last seasonal state is implied (the seasonal states sum to 0, or to `m` for a
/// multiplicative season). `y` must hold at least 4 values; with a multiplicative season all
/// must be positive.
pub(crate) fn initial_states(y: &[f64], spec: &Spec) -> Vec<f64> {
    let n = y.len();
    let mut m = spec.period;
    let multiplicative = spec.season == Component::Multiplicative;
    let (init_season, adjusted) = if spec.season == Component::None {
        m = 1;
        (Vec::new(), y.to_vec())
    } else {
        let season: Vec<f64> = if n < 3 * m {
            // Too short to decompose: a line plus one Fourier pair, then the line removed.
            let cols = |t: usize| {
                let x = std::f64::consts::TAU * t as f64 / m as f64;
                [1.0, t as f64, x.sin(), x.cos()]
            };
            let mut xtx = vec![vec![0.0; 4]; 4];
            let mut xty = vec![0.0; 4];
            for (i, v) in y.iter().enumerate() {
                let c = cols(i + 1);
                for r in 0..4 {
                    xty[r] += c[r] * v;
                    for s in 0..4 {
                        xtx[r][s] += c[r] * c[s];
                    }
                }
            }
            let coef = solve(xtx, xty).unwrap_or_else(|| vec![y[0], 0.0, 0.0, 0.0]);
            y.iter()
                .enumerate()
                .map(|(i, v)| {
                    let trend = coef[0] + coef[1] * (i + 1) as f64;
                    if multiplicative { v / trend } else { v - trend }
                })
                .collect()
        } else {
            let pattern = classical_season(y, m, multiplicative);
            (0..n).map(|t| pattern[t % m]).collect()
        };
        // s_0 (the most recent state) belongs to the day before the first, s_{m-2} to m−1
        // days before it.
        let mut init: Vec<f64> = season[1..m].iter().rev().copied().collect();
        let adjusted = if multiplicative {
            for v in &mut init {
                *v = v.max(1e-2);
            }
            let sum: f64 = init.iter().sum();
            if sum > m as f64 {
                let d: f64 = init.iter().map(|v| v + 1e-2).sum();
                for v in &mut init {
                    *v /= d;
                }
            }
            y.iter()
                .zip(&season)
                .map(|(v, s)| v / s.max(1e-2))
                .collect()
        } else {
            y.iter()
                .zip(&season)
                .map(|(v, s)| v - s)
                .collect::<Vec<_>>()
        };
        (init, adjusted)
    };
    let maxn = 10.max(2 * m).min(n);
    let mut out = Vec::with_capacity(2 + init_season.len());
    if spec.trend == Component::None {
        out.push(adjusted[..maxn].iter().sum::<f64>() / maxn as f64);
    } else {
        let (mut l, mut b) = line(&adjusted[..maxn]);
        if (l + b).abs() < 1e-8 {
            l *= 1.0 + 1e-3;
            b *= 1.0 - 1e-3;
        }
        out.push(l);
        out.push(b);
    }
    out.extend(init_season);
    out
}

/// Lower and upper bounds of `[alpha, beta, gamma, phi]`.
///
/// A model search narrows them as it goes, as statsforecast's does: each fit caps `beta` at
/// its starting `alpha` and `gamma` at one minus it, and the caps carry over to the models
/// fitted after it. (Keeping that order is what makes our search choose the model
/// statsforecast's `AutoETS` chooses, which the fixture tests check.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bounds {
    pub lower: [f64; 4],
    pub upper: [f64; 4],
}

/// Lowest and highest damping (statsforecast's and the forecast package's defaults).
pub const PHI_RANGE: (f64, f64) = (0.8, 0.98);

impl Default for Bounds {
    fn default() -> Self {
        Self {
            lower: [1e-4, 1e-4, 1e-4, PHI_RANGE.0],
            upper: [0.9999, 0.9999, 0.9999, PHI_RANGE.1],
        }
    }
}

impl Bounds {
    /// Starting `[alpha, beta, gamma, phi]` for `spec` (`NaN` where the model has none), with
    /// the bounds narrowed as described on [`Bounds`].
    pub(crate) fn start(&mut self, spec: &Spec) -> [f64; 4] {
        let m = if spec.season == Component::None {
            1
        } else {
            spec.period
        };
        let (lo, up) = (&self.lower, &mut self.upper);
        let mut alpha = lo[0] + 0.2 * (up[0] - lo[0]) / m as f64;
        if !(0.0..=1.0).contains(&alpha) {
            alpha = lo[0] + 2e-3;
        }
        let mut beta = f64::NAN;
        if spec.trend != Component::None {
            up[1] = up[1].min(alpha);
            beta = lo[1] + 0.1 * (up[1] - lo[1]);
            if beta < 0.0 || beta > alpha {
                beta = alpha - 1e-3;
            }
        }
        let mut gamma = f64::NAN;
        if spec.season != Component::None {
            up[2] = up[2].min(1.0 - alpha);
            gamma = lo[2] + 0.05 * (up[2] - lo[2]);
            if gamma < 0.0 || gamma > 1.0 - alpha {
                gamma = 1.0 - alpha - 1e-3;
            }
        }
        let mut phi = f64::NAN;
        if spec.damped {
            phi = lo[3] + 0.99 * (up[3] - lo[3]);
            if !(0.0..=1.0).contains(&phi) {
                phi = up[3] - 1e-3;
            }
        }
        [alpha, beta, gamma, phi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_and_a_weekly_pattern_are_found() {
        let pattern = [3.0, -1.0, 0.0, 2.0, -2.0, -1.0, -1.0];
        let y: Vec<f64> = (0..70)
            .map(|t| 100.0 + 0.5 * t as f64 + pattern[t % 7])
            .collect();
        let s = classical_season(&y, 7, false);
        for (a, b) in s.iter().zip(pattern) {
            assert!((a - b).abs() < 1e-9, "{s:?}");
        }
        let spec = Spec::new(
            Component::Additive,
            Component::Additive,
            false,
            Component::Additive,
            7,
        );
        let x = initial_states(&y, &spec);
        // l0 is the line at t = 0 on the adjusted series, b0 its slope
        assert!(
            (x[0] - 99.5).abs() < 1e-9 && (x[1] - 0.5).abs() < 1e-9,
            "{x:?}"
        );
        // s_0 belongs to day −1 ≡ 6, s_5 to day −6 ≡ 1
        assert!((x[2] - pattern[6]).abs() < 1e-9 && (x[7] - pattern[1]).abs() < 1e-9);
    }

    #[test]
    fn solve_recovers_a_known_solution() {
        let a = vec![vec![2.0, 1.0], vec![1.0, 3.0]];
        let x = solve(a, vec![5.0, 10.0]).unwrap_or_default();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 3.0).abs() < 1e-12);
        assert!(solve(vec![vec![0.0, 0.0], vec![0.0, 0.0]], vec![1.0, 1.0]).is_none());
    }
}
