//! Regression metrics.

use serde::{Deserialize, Serialize};

pub fn mae(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len().max(1) as f64
}

pub fn rmse(y: &[f64], p: &[f64]) -> f64 {
    (y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / y.len().max(1) as f64).sqrt()
}

/// Coefficient of determination (1 − SSE/SST); 0 for a constant target predicted exactly.
pub fn r2(y: &[f64], p: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
    let sst: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
    let sse: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
    if sst == 0.0 {
        if sse == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - sse / sst
    }
}

/// Mean absolute percentage error over the non-zero actuals, in percent.
pub fn mape(y: &[f64], p: &[f64]) -> f64 {
    let (s, n) = y
        .iter()
        .zip(p)
        .filter(|(a, _)| **a != 0.0)
        .fold((0.0, 0usize), |(s, n), (a, b)| {
            (s + ((a - b) / a).abs(), n + 1)
        });
    100.0 * s / n.max(1) as f64
}

/// The metrics reported for a per-transaction model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub mae: f64,
    pub rmse: f64,
    pub r2: f64,
    /// In percent, over the non-zero actuals; absent (0) in manifests written before it existed.
    #[serde(default)]
    pub mape: f64,
}

impl Scores {
    pub fn of(y: &[f64], p: &[f64]) -> Self {
        Self {
            mae: mae(y, p),
            rmse: rmse(y, p),
            r2: r2(y, p),
            mape: mape(y, p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let p = [1.0, 2.0, 3.0, 6.0];
        assert_eq!(mae(&y, &p), 0.5);
        assert_eq!(rmse(&y, &p), 1.0);
        assert!((r2(&y, &p) - 0.2).abs() < 1e-12);
        assert!((mape(&y, &p) - 12.5).abs() < 1e-12);
    }
}
