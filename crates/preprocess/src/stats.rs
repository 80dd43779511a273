//! What cleaning learns from the training days, and how it is applied to any row.
//!
//! Imputation and outlier bounds are fitted on training days only (the contract's honesty rule)
//! and saved, so serving fills a blank exactly as training did. This part has no polars in it:
//! the API applies [`CleaningStats::impute`] to a single request row.

use std::collections::HashMap;

/// A hash map with a fast hasher and a fixed seed, for per-row grouping while fitting and for
/// the lookups done once per scored row. The keys are training values, not request input that
/// could aim for collisions; the fixed seed also makes serialized maps come out in the same
/// order every run.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

use salescast_core::{TimeSplit, Transaction, schema::UNKNOWN};
use serde::{Deserialize, Serialize};

/// The artifact kind and format version of [`CleaningStats`].
pub const KIND: &str = "salescast/cleaning";
pub const VERSION: u32 = 1;

/// Bounds below a category has too few training rows for its own quartiles.
const MIN_ROWS_FOR_OWN_BOUNDS: usize = 30;

/// The outlier rule: a value above `Q3 + k·IQR` of `log1p` of its category's training values is
/// clipped to that fence (and a row whose quantity is clipped has its revenue capped at what
/// the fenced quantity would have brought). On the log scale the fence follows the spread of each category (a
/// grocery basket and a television differ by orders of magnitude) and is insensitive to the very
/// outliers it is meant to catch. Low values are never clipped: 0 is a legitimate quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OutlierRule {
    pub k: f64,
}

impl Default for OutlierRule {
    fn default() -> Self {
        Self { k: 3.0 }
    }
}

/// Upper fences for the two target columns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fences {
    pub quantity: f64,
    pub revenue: f64,
}

/// Statistics learned on the training days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleaningStats {
    pub split: TimeSplit,
    pub rule: OutlierRule,
    /// Most frequent category of each product (ties: alphabetical).
    pub product_category: FastMap<String, String>,
    pub product_median_price: FastMap<String, f64>,
    pub category_median_price: FastMap<String, f64>,
    pub global_median_price: f64,
    pub category_fences: FastMap<String, Fences>,
    pub global_fences: Fences,
}

/// What [`CleaningStats::impute`] filled in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imputed {
    pub category: bool,
    pub unit_price: bool,
}

/// What [`CleaningStats::clip`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clipped {
    pub quantity: bool,
    pub revenue: bool,
}

/// Linear-interpolation quantile of sorted data (numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, 0.5)
}

fn fence(mut values: Vec<f64>, k: f64) -> f64 {
    values.iter_mut().for_each(|v| *v = v.ln_1p());
    values.sort_by(f64::total_cmp);
    let q1 = quantile_sorted(&values, 0.25);
    let q3 = quantile_sorted(&values, 0.75);
    // A category whose values are all equal still gets room above them.
    let iqr = (q3 - q1).max(0.1);
    (q3 + k * iqr).exp_m1()
}

impl CleaningStats {
    /// Learns the statistics from `rows`, using only those before `split.test_start`.
    pub fn fit(rows: &[Transaction], split: TimeSplit, rule: OutlierRule) -> Self {
        let train = || rows.iter().filter(|t| t.date < split.test_start);

        let mut counts: FastMap<&str, FastMap<&str, usize>> = FastMap::default();
        for t in train() {
            if let Some(c) = &t.category {
                *counts
                    .entry(&t.product_id)
                    .or_default()
                    .entry(c)
                    .or_default() += 1;
            }
        }
        let product_category: FastMap<String, String> = counts
            .into_iter()
            .filter_map(|(p, cats)| {
                cats.into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                    .map(|(c, _)| (p.to_owned(), c.to_owned()))
            })
            .collect();
        fn category_of<'a>(
            t: &'a Transaction,
            product_category: &'a FastMap<String, String>,
        ) -> &'a str {
            t.category.as_deref().unwrap_or_else(|| {
                product_category
                    .get(&t.product_id)
                    .map_or(UNKNOWN, String::as_str)
            })
        }

        let mut by_product: FastMap<&str, Vec<f64>> = FastMap::default();
        let mut by_category: FastMap<&str, Vec<f64>> = FastMap::default();
        let mut all_prices = Vec::new();
        let mut qty: FastMap<&str, Vec<f64>> = FastMap::default();
        let mut rev: FastMap<&str, Vec<f64>> = FastMap::default();
        let (mut all_qty, mut all_rev) = (Vec::new(), Vec::new());
        for t in train() {
            let c = category_of(t, &product_category);
            if let Some(p) = t.unit_price {
                by_product.entry(&t.product_id).or_default().push(p);
                by_category.entry(c).or_default().push(p);
                all_prices.push(p);
            }
            if let Some(q) = t.quantity {
                qty.entry(c).or_default().push(q);
                all_qty.push(q);
            }
            if let Some(r) = t.revenue {
                rev.entry(c).or_default().push(r);
                all_rev.push(r);
            }
        }
        let global_fences = Fences {
            quantity: if all_qty.is_empty() {
                f64::INFINITY
            } else {
                fence(all_qty, rule.k)
            },
            revenue: if all_rev.is_empty() {
                f64::INFINITY
            } else {
                fence(all_rev, rule.k)
            },
        };
        let category_fences = qty
            .into_iter()
            .filter_map(|(c, q)| {
                let r = rev.remove(c).unwrap_or_default();
                (q.len() >= MIN_ROWS_FOR_OWN_BOUNDS && r.len() >= MIN_ROWS_FOR_OWN_BOUNDS).then(
                    || {
                        let f = Fences {
                            quantity: fence(q, rule.k),
                            revenue: fence(r, rule.k),
                        };
                        (c.to_owned(), f)
                    },
                )
            })
            .collect();
        Self {
            split,
            rule,
            product_median_price: by_product
                .into_iter()
                .map(|(p, v)| (p.to_owned(), median(v)))
                .collect(),
            category_median_price: by_category
                .into_iter()
                .map(|(c, v)| (c.to_owned(), median(v)))
                .collect(),
            global_median_price: if all_prices.is_empty() {
                0.0
            } else {
                median(all_prices)
            },
            product_category,
            category_fences,
            global_fences,
        }
    }

    /// The category a blank gets: the product's most frequent one in training, else `Unknown`.
    pub fn category_for(&self, product_id: &str) -> &str {
        self.product_category
            .get(product_id)
            .map_or(UNKNOWN, String::as_str)
    }

    /// The price a blank gets, and the product's usual price: the median of the product, else
    /// of the category, else global.
    pub fn reference_price(&self, product_id: &str, category: &str) -> f64 {
        self.product_median_price
            .get(product_id)
            .or_else(|| self.category_median_price.get(category))
            .copied()
            .unwrap_or(self.global_median_price)
    }

    /// Fills a blank category and a blank price as [`Self::category_for`] and
    /// [`Self::reference_price`] say.
    pub fn impute(&self, t: &mut Transaction) -> Imputed {
        let mut done = Imputed::default();
        if t.category.is_none() {
            t.category = Some(self.category_for(&t.product_id).to_owned());
            done.category = true;
        }
        if t.unit_price.is_none() {
            let category = t.category.as_deref().unwrap_or(UNKNOWN);
            t.unit_price = Some(self.reference_price(&t.product_id, category));
            done.unit_price = true;
        }
        done
    }

    /// The fences that apply to a category.
    pub fn fences(&self, category: &str) -> Fences {
        self.category_fences
            .get(category)
            .copied()
            .unwrap_or(self.global_fences)
    }

    /// Clips quantity and revenue above their category's fence.
    pub fn clip(&self, t: &mut Transaction) -> Clipped {
        let f = self.fences(t.category.as_deref().unwrap_or(UNKNOWN));
        let mut done = Clipped::default();
        if let Some(q) = t.quantity.as_mut()
            && *q > f.quantity
        {
            *q = f.quantity;
            done.quantity = true;
        }
        // Revenue is price × quantity × (1 − discount): a clipped quantity caps revenue at what
        // the fenced quantity would have brought, and revenue has its own fence besides.
        let mut cap = f.revenue;
        if done.quantity
            && let Some(p) = t.unit_price
        {
            cap = cap.min(p * f.quantity * (1.0 - t.discount));
        }
        if let Some(r) = t.revenue.as_mut()
            && *r > cap
        {
            *r = cap;
            done.revenue = true;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn tx(
        day: i64,
        product: &str,
        category: Option<&str>,
        price: Option<f64>,
        qty: f64,
    ) -> Transaction {
        Transaction {
            transaction_id: None,
            date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(day),
            store_id: "S1".into(),
            product_id: product.into(),
            category: category.map(Into::into),
            unit_price: price,
            quantity: Some(qty),
            discount: 0.0,
            promotion: false,
            customer_segment: "Regular".into(),
            payment_method: "Card".into(),
            revenue: price.map(|p| p * qty),
        }
    }

    #[test]
    fn quantiles_match_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.5), 2.5);
        assert_eq!(quantile_sorted(&v, 0.25), 1.75);
    }

    #[test]
    fn imputation_uses_training_days_only() {
        let mut rows: Vec<_> = (0..40)
            .map(|d| tx(d, "P1", Some("Toys"), Some(10.0 + (d % 3) as f64), 2.0))
            .collect();
        // test days carry wildly different prices and categories; they must not matter
        rows.extend((40..60).map(|d| tx(d, "P1", Some("Books"), Some(1000.0), 9999.0)));
        let split = TimeSplit::new(rows[0].date, rows[59].date, 20).unwrap();
        let s = CleaningStats::fit(&rows, split, OutlierRule::default());
        assert_eq!(s.product_category["P1"], "Toys");
        assert_eq!(s.product_median_price["P1"], 11.0);
        let mut blank = tx(5, "P1", None, None, 1.0);
        assert_eq!(
            s.impute(&mut blank),
            Imputed {
                category: true,
                unit_price: true
            }
        );
        assert_eq!(blank.category.as_deref(), Some("Toys"));
        assert_eq!(blank.unit_price, Some(11.0));
        let mut unseen = tx(5, "P9", None, None, 1.0);
        s.impute(&mut unseen);
        assert_eq!(unseen.category.as_deref(), Some(UNKNOWN));
        assert_eq!(unseen.unit_price, Some(11.0)); // global median
        let mut absurd = tx(50, "P1", Some("Toys"), Some(10.0), 9999.0);
        let c = s.clip(&mut absurd);
        assert!(c.quantity && c.revenue);
        assert!(absurd.quantity.unwrap() < 20.0);
    }
}
