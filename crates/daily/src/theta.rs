//! The standard Theta method (Assimakopoulos & Nikolopoulos, 2000) in the form of Hyndman &
//! Billah (2003): simple exponential smoothing plus half the slope of the linear trend, on the
//! seasonally adjusted series, reseasonalised. It is the model statsforecast's AutoTheta calls
//! STM, and the one that won the M3 competition: robust on series that wander like random walks,
//! where SARIMA orders and smooth additive trends overshoot.
//!
//! - Seasonality: the weekly season is removed when the lag-7 autocorrelation is significant
//!   at 90% (the test of the classical Theta implementations), by classical decomposition:
//!   multiplicative when every value is positive, additive otherwise.
//! - SES: α and the initial level by least squares (for a given α the best initial level has a
//!   closed form, so only α is searched).
//! - Forecast: `ℓ_n + b/2·(h − 1 + (1 − (1 − α)^n)/α)`, `b` the least-squares slope.
//! - Intervals: those of SES (ETS(A,N,N)): variance `σ²·(1 + α²·(h − 1))`, reseasonalised.

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

/// A fitted Theta model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Theta {
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

impl Theta {
    /// Fits the method on `y`.
    pub fn fit(y: &[f64]) -> Result<Theta> {
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
        let adjusted: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(t, v)| match deseason {
                Deseason::None => *v,
                Deseason::Multiplicative => v / season[t % PERIOD],
                Deseason::Additive => v - season[t % PERIOD],
            })
            .collect();
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
        let ok = self.season.len() == PERIOD
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
        for h in 1..=horizon {
            let adj = self.level + 0.5 * self.slope * ((h - 1) as f64 + drift);
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
        let fit = Theta::fit(&y).unwrap();
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
