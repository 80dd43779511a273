//! The seasonal-naive baseline: a transaction's revenue is predicted by the mean revenue per
//! transaction of its store and category on the same weekday one week earlier (else the pair's
//! training mean, else the overall training mean). Models must beat it to be worth serving.

use std::collections::HashMap;

/// Keys of one transaction for the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'a> {
    pub day: i32,
    pub store: &'a str,
    pub category: &'a str,
}

/// Predicts `targets` from `history` (earlier transactions with their revenue); `train_until`
/// bounds the days whose means serve as the fallback.
pub fn seasonal_naive(
    history: &[(Key<'_>, f64)],
    targets: &[Key<'_>],
    train_until: i32,
) -> Vec<f64> {
    let mut by_day: HashMap<(i32, &str, &str), (f64, u32)> = HashMap::new();
    let mut by_pair: HashMap<(&str, &str), (f64, u32)> = HashMap::new();
    let (mut total, mut count) = (0.0, 0u32);
    for (k, y) in history {
        let e = by_day.entry((k.day, k.store, k.category)).or_default();
        e.0 += y;
        e.1 += 1;
        if k.day <= train_until {
            let e = by_pair.entry((k.store, k.category)).or_default();
            e.0 += y;
            e.1 += 1;
            total += y;
            count += 1;
        }
    }
    let global = if count > 0 {
        total / f64::from(count)
    } else {
        0.0
    };
    targets
        .iter()
        .map(|k| {
            by_day
                .get(&(k.day - 7, k.store, k.category))
                .or_else(|| by_pair.get(&(k.store, k.category)))
                .map_or(global, |(s, n)| s / f64::from(*n))
        })
        .collect()
}
