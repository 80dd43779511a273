//! Automatic order selection after Hyndman and Khandakar (2008), the algorithm of R's
//! `auto.arima` and statsforecast's `AutoARIMA`:
//!
//! 1. `D` from a seasonal-strength test: one seasonal difference when the STL seasonal
//!    strength of the series is at least 0.64;
//! 2. `d` from repeated KPSS tests (5% level) on the seasonally differenced series;
//! 3. a stepwise search over `p, q, P, Q` (and the constant or drift when `d + D <= 1`) on AICc:
//!    four starting models, then the neighbours of the best model (one order up or down, or
//!    both non-seasonal or both seasonal orders together, and the constant toggled) until no
//!    neighbour improves. Neighbours are fitted one per core at a time, moving on at the first
//!    group that improves.
//!
//! Models that fail to fit (too short for the order, no convergence) are skipped, not fatal.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SarimaError};
use crate::model::{FittedSarima, Regressors, Sarima, Trend, difference};
use crate::spec::Order;

/// KPSS 5% critical value for level stationarity (Kwiatkowski et al. 1992, table 1).
const KPSS_CRITICAL_5PCT: f64 = 0.463;
/// Seasonal strength from which a seasonal difference is taken (Wang, Smith and Hyndman 2006).
const SEASONAL_STRENGTH_THRESHOLD: f64 = 0.64;

/// A candidate's AICc and, from an exact fit, the fitted model.
type Scored = (f64, Option<FittedSarima>);

/// Gradient tolerance and iteration cap of the candidate fits during the search.
const SEARCH_TOLERANCE: f64 = 1e-4;
const SEARCH_MAX_ITER: u64 = 50;

/// Search limits and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoSarima {
    /// Seasonal period (1 or 0 for none).
    pub period: usize,
    pub max_p: usize,
    pub max_q: usize,
    pub max_seasonal_p: usize,
    pub max_seasonal_q: usize,
    pub max_d: usize,
    pub max_seasonal_d: usize,
    /// Most models fitted by the stepwise search.
    pub max_models: usize,
    /// Fixed differencing orders, when known (skips the tests).
    pub d: Option<usize>,
    pub seasonal_d: Option<usize>,
    /// Iteration limit of each fit.
    pub max_iter: u64,
    /// Rank candidates by conditional-sum-of-squares AICc instead of exact fits (R's
    /// `approximation = TRUE`). Off by default: on our daily series the CSS ranking favoured
    /// near-boundary models whose exact fits then failed to converge.
    pub approximation: Option<bool>,
}

/// One model the search fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub order: Order,
    pub trend: Trend,
    /// AICc, or `None` when the model could not be fitted.
    pub aicc: Option<f64>,
    /// Why it could not be fitted.
    pub error: Option<String>,
    /// Optimiser iterations and wall time of the fit.
    pub iterations: u64,
    pub seconds: f64,
}

/// The chosen model and the search trace.
#[derive(Debug, Clone)]
pub struct AutoResult {
    pub model: FittedSarima,
    pub candidates: Vec<Candidate>,
}

impl AutoSarima {
    /// auto.arima's default limits for a seasonal period `period`.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            max_p: 5,
            max_q: 5,
            max_seasonal_p: 2,
            max_seasonal_q: 2,
            max_d: 2,
            max_seasonal_d: 1,
            max_models: 94,
            d: None,
            seasonal_d: None,
            max_iter: 200,
            approximation: None,
        }
    }

    /// Chooses `d` and `D` and searches the ARMA orders; regressors, if any, enter every
    /// candidate.
    pub fn fit(&self, y: &[f64], exog: &Regressors) -> Result<AutoResult> {
        if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SarimaError::NonFinite {
                what: "the series".into(),
                index: i,
                value: *v,
            });
        }
        if y.len() < 8 {
            return Err(SarimaError::TooShort {
                order: "automatic".into(),
                need: 8,
                got: y.len(),
            });
        }
        let seasonal = self.period > 1 && y.len() >= 2 * self.period + 2;
        let s = if seasonal { self.period } else { 1 };
        let big_d = match (self.seasonal_d, seasonal) {
            (_, false) => 0,
            (Some(v), true) => v,
            (None, true) => usize::from(
                self.max_seasonal_d > 0 && seasonal_strength(y, s) >= SEASONAL_STRENGTH_THRESHOLD,
            ),
        };
        let seasonal_order = |o: Order| Order {
            seasonal_d: big_d,
            period: if seasonal { s } else { 0 },
            ..o
        };
        let d = match self.d {
            Some(v) => v,
            None => {
                let w = difference(y, &seasonal_order(Order::arima(0, 0, 0)));
                ndiffs(&w, self.max_d)
            }
        };
        let w = difference(y, &seasonal_order(Order::arima(0, d, 0)));
        let (lo, hi) = w
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if w.is_empty() || hi - lo <= 1e-12 * (1.0 + hi.abs()) {
            return Err(SarimaError::Constant {
                order: format!("d={d}, D={big_d}"),
            });
        }
        let trends: &[Trend] = match d + big_d {
            0 => &[Trend::Constant, Trend::None],
            1 => &[Trend::Drift, Trend::None],
            _ => &[Trend::None],
        };
        let make = |p: usize, q: usize, sp: usize, sq: usize| {
            seasonal_order(Order {
                p,
                d,
                q,
                seasonal_p: if seasonal { sp } else { 0 },
                seasonal_d: big_d,
                seasonal_q: if seasonal { sq } else { 0 },
                period: s,
            })
        };
        let allowed = |o: &Order| {
            o.p <= self.max_p
                && o.q <= self.max_q
                && o.seasonal_p <= self.max_seasonal_p
                && o.seasonal_q <= self.max_seasonal_q
        };
        let approximate = self.approximation.unwrap_or(false);
        let mut fitted: HashMap<(Order, Trend), Option<Scored>> = HashMap::new();
        let mut trace = Vec::new();
        let t0 = trends[0];
        let mut batch: Vec<(Order, Trend)> = [
            make(2, 2, 1, 1),
            make(0, 0, 0, 0),
            make(1, 0, 1, 0),
            make(0, 1, 0, 1),
        ]
        .into_iter()
        .filter(|o| allowed(o))
        .map(|o| (o, t0))
        .collect();
        let mut best: Option<(Order, Trend, f64)> = None;
        loop {
            batch.retain(|k| !fitted.contains_key(k));
            let mut seen = std::collections::HashSet::new();
            batch.retain(|k| seen.insert(*k));
            let room = self.max_models.saturating_sub(fitted.len());
            batch.truncate(room);
            // After the starting models, neighbours go in groups of one per core and the search
            // moves on at the first group that improves (auto.arima moves at the first
            // improving neighbour); fitting every neighbour of every step wastes most fits.
            if fitted.len() >= 4 {
                batch.truncate(rayon::current_num_threads().max(2));
            }
            if batch.is_empty() {
                break;
            }
            type Outcome = (
                (Order, Trend),
                std::result::Result<Scored, SarimaError>,
                f64,
            );
            let results: Vec<Outcome> = batch
                .par_iter()
                .map(|&(o, t)| {
                    let start = std::time::Instant::now();
                    let spec = Sarima::new(o)
                        .trend(t)
                        .max_iter(self.max_iter.min(SEARCH_MAX_ITER))
                        .tolerance(SEARCH_TOLERANCE)
                        .allow_unconverged();
                    let r = if approximate {
                        spec.css_aicc(y, exog).map(|a| (a, None))
                    } else {
                        spec.fit_exog(y, exog).map(|f| (f.aicc(), Some(f)))
                    }
                    .and_then(|(a, f)| {
                        if a.is_finite() {
                            Ok((a, f))
                        } else {
                            Err(SarimaError::Likelihood("AICc is not finite".into()))
                        }
                    });
                    ((o, t), r, start.elapsed().as_secs_f64())
                })
                .collect();
            let mut improved = false;
            for ((o, t), r, seconds) in results {
                let aicc = r.as_ref().ok().map(|(a, _)| *a);
                trace.push(Candidate {
                    order: o,
                    trend: t,
                    aicc,
                    error: r.as_ref().err().map(ToString::to_string),
                    iterations: r
                        .as_ref()
                        .ok()
                        .and_then(|(_, f)| f.as_ref().map(|f| f.iterations))
                        .unwrap_or(0),
                    seconds,
                });
                let r = r.ok();
                if let Some(a) = aicc
                    && best.is_none_or(|(_, _, b)| a < b)
                {
                    best = Some((o, t, a));
                    improved = true;
                }
                fitted.insert((o, t), r);
            }
            let Some((b, bt, _)) = best else { break };
            // Neighbours of the current best.
            let mut next = Vec::new();
            let steps: [(i64, i64, i64, i64); 12] = [
                (1, 0, 0, 0),
                (-1, 0, 0, 0),
                (0, 1, 0, 0),
                (0, -1, 0, 0),
                (1, 1, 0, 0),
                (-1, -1, 0, 0),
                (0, 0, 1, 0),
                (0, 0, -1, 0),
                (0, 0, 0, 1),
                (0, 0, 0, -1),
                (0, 0, 1, 1),
                (0, 0, -1, -1),
            ];
            for (dp, dq, dsp, dsq) in steps {
                let add = |v: usize, dv: i64| usize::try_from(v as i64 + dv).ok();
                if let (Some(p), Some(q), Some(sp), Some(sq)) = (
                    add(b.p, dp),
                    add(b.q, dq),
                    add(b.seasonal_p, dsp),
                    add(b.seasonal_q, dsq),
                ) {
                    let o = make(p, q, sp, sq);
                    if allowed(&o) {
                        next.push((o, bt));
                    }
                }
            }
            for &t in trends {
                if t != bt {
                    next.push((b, t));
                }
            }
            batch = next;
            if !improved {
                // The best did not change: carry on with its neighbours not fitted yet, and stop
                // when there are none.
                batch.retain(|k| !fitted.contains_key(k));
                if batch.is_empty() {
                    break;
                }
            }
        }
        if best.is_none() {
            return Err(SarimaError::Likelihood(
                "no candidate model could be fitted".into(),
            ));
        }
        // The winner (by approximate or loose-tolerance AICc) is refitted by exact maximum
        // likelihood to full precision; if that fails, the next best is tried, as auto.arima does.
        let mut ranked: Vec<((Order, Trend), f64)> = fitted
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|(a, _)| (*k, *a)))
            .collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut last_error = None;
        let mut model = None;
        for ((o, t), _) in ranked.into_iter().take(5) {
            match Sarima::new(o)
                .trend(t)
                .max_iter(self.max_iter)
                .fit_exog(y, exog)
            {
                Ok(m) => {
                    model = Some(m);
                    break;
                }
                Err(e) => {
                    // A loose fit of the same model still stands when the strict one fails.
                    if let Some(Some((_, Some(rough)))) = fitted.remove(&(o, t)) {
                        model = Some(rough);
                        break;
                    }
                    last_error = Some(e);
                }
            }
        }
        let model = model.ok_or_else(|| {
            last_error.unwrap_or_else(|| {
                SarimaError::Likelihood("no candidate model could be fitted".into())
            })
        })?;
        Ok(AutoResult {
            model,
            candidates: trace,
        })
    }
}

/// Number of differences (up to `max_d`) after which the KPSS test no longer rejects level
/// stationarity at 5%.
pub fn ndiffs(y: &[f64], max_d: usize) -> usize {
    let mut w = y.to_vec();
    for d in 0..max_d {
        if w.len() < 4 || kpss(&w) < KPSS_CRITICAL_5PCT {
            return d;
        }
        w = w.windows(2).map(|p| p[1] - p[0]).collect();
    }
    max_d
}

/// KPSS level-stationarity statistic with Bartlett-weighted long-run variance and
/// `trunc(3 sqrt(n) / 13)` lags, as R's `ndiffs` uses.
pub fn kpss(y: &[f64]) -> f64 {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let e: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let mut s = 0.0;
    let mut eta = 0.0;
    for v in &e {
        s += v;
        eta += s * s;
    }
    let lags = (3.0 * (n as f64).sqrt() / 13.0).trunc() as usize;
    let mut lrv = e.iter().map(|v| v * v).sum::<f64>() / n as f64;
    for k in 1..=lags.min(n - 1) {
        let w = 1.0 - k as f64 / (lags as f64 + 1.0);
        let c: f64 = (k..n).map(|t| e[t] * e[t - k]).sum::<f64>() / n as f64;
        lrv += 2.0 * w * c;
    }
    if lrv <= 0.0 {
        return 0.0;
    }
    eta / (n as f64 * n as f64 * lrv)
}

/// STL seasonal strength `max(0, 1 - var(R) / var(S + R))`.
pub fn seasonal_strength(y: &[f64], period: usize) -> f64 {
    match stlrs::params().robust(true).fit(y, period) {
        Ok(r) => r.seasonal_strength(),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        // Uniform in (-0.5, 0.5); enough noise for order tests without a dependency.
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }

    #[test]
    fn kpss_separates_a_random_walk_from_noise() {
        let mut seed = 7;
        let noise: Vec<f64> = (0..400).map(|_| lcg(&mut seed)).collect();
        let walk: Vec<f64> = noise
            .iter()
            .scan(0.0, |s, v| {
                *s += v;
                Some(*s)
            })
            .collect();
        assert!(kpss(&noise) < KPSS_CRITICAL_5PCT);
        assert!(kpss(&walk) > KPSS_CRITICAL_5PCT);
        assert_eq!(ndiffs(&walk, 2), 1);
        assert_eq!(ndiffs(&noise, 2), 0);
    }

    #[test]
    fn picks_a_seasonal_difference_for_a_strong_weekly_pattern() {
        let mut seed = 3;
        let y: Vec<f64> = (0..364)
            .map(|t| 10.0 * ((t % 7) as f64) + lcg(&mut seed))
            .collect();
        assert!(seasonal_strength(&y, 7) > SEASONAL_STRENGTH_THRESHOLD);
        let r = AutoSarima::new(7)
            .fit(&y, &Regressors::none())
            .expect("auto");
        assert_eq!(r.model.order.seasonal_d, 1);
        assert!(r.candidates.len() >= 4);
    }

    #[test]
    fn constant_series_is_an_error() {
        let e = AutoSarima::new(7)
            .fit(&[5.0; 100], &Regressors::none())
            .unwrap_err();
        assert!(matches!(e, SarimaError::Constant { .. }), "{e}");
    }
}
