//! The daily revenue series (all stores, and per store) with lag and rolling features.
//!
//! Days without a transaction are days with revenue 0, not missing days. Lags and rolling
//! statistics at day `t` look only at days before `t`, so a training day's features never see a
//! test day.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use salescast_core::calendar;
use salescast_core::{Part, TimeSplit, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::{FeaturesError, Result};

/// The name of the all-stores series.
pub const ALL_STORES: &str = "ALL";

/// Settings of the daily features.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyOptions {
    pub lags: Vec<usize>,
    pub windows: Vec<usize>,
}

impl Default for DailyOptions {
    fn default() -> Self {
        Self {
            lags: vec![1, 7, 14, 28],
            windows: vec![7, 28],
        }
    }
}

impl DailyOptions {
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(FeaturesError::InvalidSetting {
                name,
                reason: reason.into(),
            })
        };
        if self.lags.iter().any(|&l| l == 0 || l > 3660) {
            return bad("lags", "each lag must be between 1 and 3660 days");
        }
        if self.windows.iter().any(|&w| !(2..=3660).contains(&w)) {
            return bad("windows", "each window must be between 2 and 3660 days");
        }
        Ok(())
    }
}

/// One daily series, zero-filled over the whole date range.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub start: NaiveDate,
    pub revenue: Vec<f64>,
    pub transactions: Vec<u32>,
}

impl Series {
    pub fn date(&self, i: usize) -> NaiveDate {
        self.start + Duration::days(i as i64)
    }
}

/// Sums revenue per day over `[split.first_date, split.last_date]`: the all-stores series first,
/// then one per store (seen on training days) in name order.
pub fn aggregate(rows: &[Transaction], split: &TimeSplit) -> Vec<Series> {
    let n = ((split.last_date - split.first_date).num_days() + 1).max(0) as usize;
    let empty = |name: &str| Series {
        name: name.to_owned(),
        start: split.first_date,
        revenue: vec![0.0; n],
        transactions: vec![0; n],
    };
    let mut all = empty(ALL_STORES);
    // Per-store series exist for the stores seen on training days: a store that opens during
    // the test window must not announce itself in the training rows.
    let names: BTreeSet<&str> = rows
        .iter()
        .filter(|t| t.date < split.test_start)
        .map(|t| t.store_id.as_str())
        .collect();
    let mut stores: BTreeMap<&str, Series> = names.into_iter().map(|n| (n, empty(n))).collect();
    for t in rows {
        let d = (t.date - split.first_date).num_days();
        if d < 0 || d as usize >= n {
            continue;
        }
        let d = d as usize;
        let r = t.revenue.unwrap_or(0.0);
        all.revenue[d] += r;
        all.transactions[d] += 1;
        if let Some(s) = stores.get_mut(t.store_id.as_str()) {
            s.revenue[d] += r;
            s.transactions[d] += 1;
        }
    }
    std::iter::once(all).chain(stores.into_values()).collect()
}

/// One day of one series with its features.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyRow {
    pub series: String,
    pub date: NaiveDate,
    pub revenue: f64,
    pub transactions: u32,
    pub part: Part,
    pub is_holiday: bool,
    pub lags: Vec<Option<f64>>,
    pub roll_mean: Vec<Option<f64>>,
    pub roll_std: Vec<Option<f64>>,
}

/// Mean and sample standard deviation (ddof = 1, as pandas) of `w`.
fn mean_std(w: &[f64]) -> (f64, f64) {
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Lag and rolling features of a series; `None` where the history is too short.
pub fn features(series: &Series, split: &TimeSplit, opts: &DailyOptions) -> Vec<DailyRow> {
    let y = &series.revenue;
    (0..y.len())
        .map(|t| {
            let date = series.date(t);
            let windows: Vec<Option<(f64, f64)>> = opts
                .windows
                .iter()
                .map(|&w| (t >= w).then(|| mean_std(&y[t - w..t])))
                .collect();
            DailyRow {
                series: series.name.clone(),
                date,
                revenue: y[t],
                transactions: series.transactions[t],
                part: split.part(date),
                is_holiday: calendar::holiday_on(date).is_some(),
                lags: opts
                    .lags
                    .iter()
                    .map(|&k| (t >= k).then(|| y[t - k]))
                    .collect(),
                roll_mean: windows.iter().map(|w| w.map(|(m, _)| m)).collect(),
                roll_std: windows.iter().map(|w| w.map(|(_, s)| s)).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(day: i64, store: &str, revenue: f64) -> Transaction {
        Transaction {
            transaction_id: None,
            date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(day),
            store_id: store.into(),
            product_id: "P".into(),
            category: None,
            unit_price: None,
            quantity: Some(1.0),
            discount: 0.0,
            promotion: false,
            customer_segment: "Regular".into(),
            payment_method: "Card".into(),
            revenue: Some(revenue),
        }
    }

    #[test]
    fn zero_filled_and_lagged() {
        // store C first appears in the test window: counted in ALL, no series of its own
        let rows = vec![
            tx(0, "A", 1.0),
            tx(2, "B", 3.0),
            tx(2, "A", 2.0),
            tx(9, "A", 5.0),
            tx(9, "C", 4.0),
        ];
        let split = TimeSplit::new(rows[0].date, rows[3].date, 2).unwrap();
        let s = aggregate(&rows, &split);
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].revenue,
            vec![1.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0]
        );
        assert_eq!(s[1].name, "A");
        assert_eq!(s[2].revenue[2], 3.0);
        let opts = DailyOptions {
            lags: vec![1, 2],
            windows: vec![3],
        };
        let f = features(&s[0], &split, &opts);
        assert_eq!(f[0].lags, vec![None, None]);
        assert_eq!(f[3].lags, vec![Some(5.0), Some(0.0)]);
        assert_eq!(f[3].roll_mean, vec![Some(2.0)]);
        assert!((f[3].roll_std[0].unwrap() - 2.6457513110645907).abs() < 1e-12);
        assert_eq!(f[8].part, Part::Test);
        assert_eq!(f[7].part, Part::Train);
    }
}
