//! The ETS recursions: the one-step forecast, the state update and the likelihood.
//!
//! The state is `[level, slope (with a trend), s_0 .. s_{m-1} (with a season)]`, where `s_0` is
//! the most recent seasonal state and `s_{m-1}` the one the next observation uses. The update
//! is written in terms of the observation, so it is the same for additive and multiplicative
//! errors (Hyndman et al. 2008, ch. 2); only the error and the likelihood differ.

use crate::{Component, Spec};

/// Below this a divisor counts as zero.
pub(crate) const TOL: f64 = 1e-10;
/// What a ratio with a zero divisor becomes (as in the forecast package's `etscalc`).
const HUGE: f64 = 1e10;

/// Smoothing parameters in the form the recursions use: `beta` 0 without a trend, `gamma` 0
/// without a season, `phi` 1 without damping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Smoothing {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
}

/// Position of the first seasonal state in the state vector.
pub(crate) fn season_start(spec: &Spec) -> usize {
    1 + usize::from(spec.trend != Component::None)
}

/// The `i`-th forecast (0: next step) from `state`.
pub(crate) fn forecast_at(spec: &Spec, phi: f64, state: &[f64], i: usize) -> f64 {
    let l = state[0];
    let mut f = match spec.trend {
        Component::None => l,
        _ => {
            // φ + φ² + … + φ^(i+1)
            let phistar = if (phi - 1.0).abs() < TOL {
                (i + 1) as f64
            } else {
                (1..=i + 1).map(|k| phi.powi(k as i32)).sum()
            };
            l + phistar * state[1]
        }
    };
    let m = spec.period;
    match spec.season {
        Component::None => {}
        Component::Additive => f += state[season_start(spec) + m - 1 - i % m],
        Component::Multiplicative => f *= state[season_start(spec) + m - 1 - i % m],
    }
    f
}

/// Forecasts of the next `h` steps from `state`.
pub(crate) fn forecasts(spec: &Spec, phi: f64, state: &[f64], h: usize) -> Vec<f64> {
    (0..h).map(|i| forecast_at(spec, phi, state, i)).collect()
}

/// The state after observing `y`, in place.
pub(crate) fn update(spec: &Spec, p: &Smoothing, state: &mut [f64], y: f64) {
    let old_l = state[0];
    let (q, phib) = match spec.trend {
        Component::None => (old_l, 0.0),
        _ => {
            let phib = p.phi * state[1];
            (old_l + phib, phib)
        }
    };
    let ss = season_start(spec);
    let m = spec.period;
    let last = if spec.season == Component::None {
        0.0
    } else {
        state[ss + m - 1]
    };
    let deseasoned = match spec.season {
        Component::None => y,
        Component::Additive => y - last,
        Component::Multiplicative if last.abs() < TOL => HUGE,
        Component::Multiplicative => y / last,
    };
    let l = q + p.alpha * (deseasoned - q);
    state[0] = l;
    if spec.trend != Component::None {
        state[1] = phib + (p.beta / p.alpha) * (l - old_l - phib);
    }
    if spec.season != Component::None {
        let t = match spec.season {
            Component::Multiplicative if q.abs() < TOL => HUGE,
            Component::Multiplicative => y / q,
            _ => y - q,
        };
        state.copy_within(ss..ss + m - 1, ss + 1);
        state[ss] = last + p.gamma * (t - last);
    }
}

/// The one-step error of `y` given the forecast `f`: `y − f`, or `(y − f)/f` for a
/// multiplicative error.
pub(crate) fn error_of(spec: &Spec, y: f64, f: f64) -> f64 {
    match spec.error {
        Component::Multiplicative => {
            let d = if f.abs() < TOL { f + TOL } else { f };
            (y - f) / d
        }
        _ => y - f,
    }
}

/// What a pass over the series gives.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    /// `n·ln Σe²`, plus `2·Σ ln|f|` for a multiplicative error: −2 × the log-likelihood up
    /// to constants, with the error variance profiled out.
    pub lik: f64,
    pub sse: f64,
    pub last: Vec<f64>,
}

/// Runs the recursions over `y` from the initial (full) state.
pub(crate) fn pass(spec: &Spec, p: &Smoothing, initial: &[f64], y: &[f64]) -> Pass {
    let mut state = initial.to_vec();
    let mut sse = 0.0;
    let mut log_f = 0.0;
    for &v in y {
        let f = forecast_at(spec, p.phi, &state, 0);
        let e = error_of(spec, v, f);
        sse += e * e;
        let a = f.abs();
        log_f += if a > 0.0 { a.ln() } else { (a + 1e-8).ln() };
        update(spec, p, &mut state, v);
    }
    let n = y.len() as f64;
    let mut lik = if sse > 0.0 {
        n * sse.ln()
    } else {
        n * (sse + 1e-8).ln()
    };
    if spec.error == Component::Multiplicative {
        lik += 2.0 * log_f;
    }
    Pass {
        lik,
        sse,
        last: state,
    }
}
