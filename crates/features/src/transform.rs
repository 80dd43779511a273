//! The fitted feature transform: from one transaction's context to the model's feature vector.
//!
//! The same [`FeatureTransform::encode`] serves a single API request and a whole frame, so the
//! two cannot disagree. Everything it learned (vocabularies, imputation, scaling) comes from the
//! training days and is saved as a versioned artifact.

use chrono::NaiveDate;

use std::path::Path;

use rayon::prelude::*;
use salescast_core::artifact::{load_json, save_json};
use salescast_core::{TimeSplit, Transaction};
use salescast_preprocess::CleaningStats;
use salescast_preprocess::stats::FastMap;
use serde::{Deserialize, Serialize};

use crate::calendar::{self, CalendarFeatures};
use crate::error::{FeaturesError, Result};

/// The artifact kind and format version of [`FeatureTransform`].
pub const KIND: &str = "salescast/feature-transform";
pub const VERSION: u32 = 1;

/// The code every value unseen in training gets.
pub const UNSEEN: f64 = 0.0;

/// Feature names after the calendar block, in order.
const CONTEXT_NAMES: [&str; 10] = [
    "store_code",
    "product_code",
    "category_code",
    "segment_code",
    "payment_code",
    "unit_price",
    "discount",
    "promotion",
    "net_price",
    "price_ratio",
];

/// Features standardised when scaling is on: the unbounded continuous ones. Codes, flags and
/// small cyclic integers stay as they are.
const SCALED: [&str; 5] = [
    "unit_price",
    "net_price",
    "price_ratio",
    "days_to_next_holiday",
    "days_since_last_holiday",
];

/// The names of all features, in the order of the vector.
pub fn feature_names() -> Vec<String> {
    calendar::NAMES
        .iter()
        .chain(CONTEXT_NAMES.iter())
        .map(|s| (*s).to_owned())
        .collect()
}

/// The data-contract column a feature is computed from, for reporting a prediction's
/// contributions on the fields users know: the calendar features come from `date`, each code
/// from its field, and the two derived prices (`net_price = unit_price × (1 − discount)` and
/// `price_ratio`, the price against the product's reference price) count under `unit_price`,
/// the field they are priced from. `None` for a name this build does not make.
pub fn source_column(feature: &str) -> Option<salescast_core::Column> {
    use salescast_core::Column;
    if calendar::NAMES.contains(&feature) {
        return Some(Column::Date);
    }
    Some(match feature {
        "store_code" => Column::StoreId,
        "product_code" => Column::ProductId,
        "category_code" => Column::Category,
        "segment_code" => Column::CustomerSegment,
        "payment_code" => Column::PaymentMethod,
        "unit_price" | "net_price" | "price_ratio" => Column::UnitPrice,
        "discount" => Column::Discount,
        "promotion" => Column::Promotion,
        _ => return None,
    })
}

/// The number of features.
pub const N_FEATURES: usize = calendar::NAMES.len() + CONTEXT_NAMES.len();

/// An ordinal encoding: the training values, sorted, coded 1..=K; anything else is [`UNSEEN`].
/// Trees split on these codes; the unseen bucket lets a new store or product be scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Vocab {
    values: Vec<String>,
    index: FastMap<String, usize>,
}

impl From<Vec<String>> for Vocab {
    fn from(mut values: Vec<String>) -> Self {
        values.sort();
        values.dedup();
        let index = values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), i + 1))
            .collect();
        Self { values, index }
    }
}

impl From<Vocab> for Vec<String> {
    fn from(v: Vocab) -> Self {
        v.values
    }
}

impl Vocab {
    pub fn code(&self, value: &str) -> f64 {
        self.index.get(value).map_or(UNSEEN, |&i| i as f64)
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

/// The calendar features of the last day asked for: consecutive rows of the same day, which is
/// most rows of sorted data, reuse them instead of searching the holiday calendar again.
#[derive(Debug, Clone, Default)]
pub struct CalendarCache(Option<(NaiveDate, CalendarFeatures)>);

impl CalendarCache {
    pub fn of(&mut self, date: NaiveDate) -> CalendarFeatures {
        match self.0 {
            Some((day, c)) if day == date => c,
            _ => {
                let c = CalendarFeatures::of(date);
                self.0 = Some((date, c));
                c
            }
        }
    }
}

/// Standardisation `(x - mean) / std` of chosen columns, fitted on training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    pub columns: Vec<usize>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl StandardScaler {
    /// Fits on a row-major matrix with `n_cols` columns.
    pub fn fit(data: &[f64], n_cols: usize, columns: Vec<usize>) -> Self {
        let n = (data.len() / n_cols.max(1)).max(1) as f64;
        let mut mean = vec![0.0; columns.len()];
        let mut m2 = vec![0.0; columns.len()];
        for row in data.chunks_exact(n_cols) {
            for (k, &c) in columns.iter().enumerate() {
                mean[k] += row[c];
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        for row in data.chunks_exact(n_cols) {
            for (k, &c) in columns.iter().enumerate() {
                m2[k] += (row[c] - mean[k]).powi(2);
            }
        }
        // A constant column keeps its scale (std 1) instead of dividing by zero.
        let std = m2
            .iter()
            .map(|s| (s / n).sqrt())
            .map(|s| if s > 1e-12 { s } else { 1.0 })
            .collect();
        Self { columns, mean, std }
    }

    pub fn transform(&self, row: &mut [f64]) {
        for (k, &c) in self.columns.iter().enumerate() {
            row[c] = (row[c] - self.mean[k]) / self.std[k];
        }
    }

    pub fn inverse_transform(&self, row: &mut [f64]) {
        for (k, &c) in self.columns.iter().enumerate() {
            row[c] = row[c] * self.std[k] + self.mean[k];
        }
    }
}

/// Settings of the transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TransformOptions {
    /// Standardise the continuous features (for models that need it; trees do not).
    pub scale: bool,
}

/// A row-major feature matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub data: Vec<f64>,
}

impl FeatureMatrix {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }
}

/// The fitted transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureTransform {
    pub feature_names: Vec<String>,
    pub split: TimeSplit,
    pub cleaning: CleaningStats,
    pub stores: Vocab,
    pub products: Vocab,
    pub categories: Vocab,
    pub segments: Vocab,
    pub payments: Vocab,
    pub options: TransformOptions,
    /// Fitted always (so a model that needs it can use it); applied when `options.scale`.
    pub scaler: StandardScaler,
}

impl FeatureTransform {
    /// Fits on the training days of `rows` (cleaned transactions); test days are ignored, by
    /// construction, whatever the caller passes.
    pub fn fit(
        rows: &[Transaction],
        cleaning: CleaningStats,
        options: TransformOptions,
    ) -> Result<Self> {
        let split = cleaning.split;
        let train: Vec<&Transaction> = rows.iter().filter(|t| t.date < split.test_start).collect();
        if train.is_empty() {
            return Err(FeaturesError::NoTrainingRows {
                test_start: split.test_start,
            });
        }
        fn vocab<'a>(values: impl Iterator<Item = &'a str>) -> Vocab {
            let distinct: std::collections::HashSet<&str> = values.collect();
            distinct
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into()
        }
        let categories = vocab(train.iter().map(|t| {
            t.category
                .as_deref()
                .unwrap_or_else(|| cleaning.category_for(&t.product_id))
        }));
        let mut t = Self {
            feature_names: feature_names(),
            split,
            stores: vocab(train.iter().map(|t| t.store_id.as_str())),
            products: vocab(train.iter().map(|t| t.product_id.as_str())),
            categories,
            segments: vocab(train.iter().map(|t| t.customer_segment.as_str())),
            payments: vocab(train.iter().map(|t| t.payment_method.as_str())),
            cleaning,
            options,
            scaler: StandardScaler {
                columns: vec![],
                mean: vec![],
                std: vec![],
            },
        };
        let names = t.feature_names.clone();
        let columns = SCALED
            .iter()
            .filter_map(|s| names.iter().position(|n| n == s))
            .collect();
        // Fit the scaler on unscaled training features.
        let raw = t.transform_refs(&train, false);
        t.scaler = StandardScaler::fit(&raw.data, raw.n_cols, columns);
        Ok(t)
    }

    /// The number of features.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Encodes one transaction into `out` (length [`N_FEATURES`]), given its calendar features.
    /// Blank category or price are imputed exactly as cleaning did.
    pub fn encode(&self, t: &Transaction, cal: &CalendarFeatures, scale: bool, out: &mut [f64]) {
        let category = t
            .category
            .as_deref()
            .unwrap_or_else(|| self.cleaning.category_for(&t.product_id));
        let reference = self.cleaning.reference_price(&t.product_id, category);
        let unit_price = t.unit_price.unwrap_or(reference);
        let net_price = unit_price * (1.0 - t.discount);
        out[..calendar::NAMES.len()].copy_from_slice(&cal.values());
        let ctx = [
            self.stores.code(&t.store_id),
            self.products.code(&t.product_id),
            self.categories.code(category),
            self.segments.code(&t.customer_segment),
            self.payments.code(&t.payment_method),
            unit_price,
            t.discount,
            f64::from(u8::from(t.promotion)),
            net_price,
            if reference > 0.0 {
                unit_price / reference
            } else {
                1.0
            },
        ];
        out[calendar::NAMES.len()..].copy_from_slice(&ctx);
        if scale {
            self.scaler.transform(out);
        }
    }

    /// The feature vector of one transaction (the serving path).
    pub fn transform_one(&self, t: &Transaction) -> Vec<f64> {
        let mut out = vec![0.0; self.n_features()];
        self.encode(
            t,
            &CalendarFeatures::of(t.date),
            self.options.scale,
            &mut out,
        );
        out
    }

    /// The feature matrix of many transactions (the frame path), in parallel. Calendar features
    /// are reused between consecutive rows of the same day, which is most rows of sorted data.
    pub fn transform(&self, rows: &[Transaction]) -> FeatureMatrix {
        let refs: Vec<&Transaction> = rows.iter().collect();
        self.transform_refs(&refs, self.options.scale)
    }

    fn transform_refs(&self, rows: &[&Transaction], scale: bool) -> FeatureMatrix {
        let d = self.n_features();
        let mut data = vec![0.0; rows.len() * d];
        const CHUNK: usize = 4096;
        data.par_chunks_mut(CHUNK * d)
            .zip(rows.par_chunks(CHUNK))
            .for_each(|(out, rows)| self.encode_into(rows, scale, out));
        FeatureMatrix {
            n_rows: rows.len(),
            n_cols: d,
            data,
        }
    }

    /// Encodes one row into `out` with the saved options (the serving path), reusing the
    /// calendar features of the previous row's day from `cache`; equal to
    /// [`Self::transform_one`].
    pub fn encode_row(&self, t: &Transaction, cache: &mut CalendarCache, out: &mut [f64]) {
        self.encode(t, &cache.of(t.date), self.options.scale, out);
    }

    /// Encodes `rows` into `out`.
    fn encode_into(&self, rows: &[&Transaction], scale: bool, out: &mut [f64]) {
        let mut cache = CalendarCache::default();
        for (o, t) in out.chunks_exact_mut(self.n_features()).zip(rows) {
            self.encode(t, &cache.of(t.date), scale, o);
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        Ok(save_json(path, KIND, VERSION, self)?)
    }

    /// Loads a saved transform; one whose feature list is not this code's layout is refused,
    /// since encoding into it would produce garbage.
    pub fn load(path: &Path) -> Result<Self> {
        let t: Self = load_json(path, KIND, VERSION)?;
        if t.feature_names != feature_names() {
            return Err(FeaturesError::BadTransform {
                path: path.display().to_string(),
                reason: format!(
                    "it lists {} features ({}), this build encodes {}",
                    t.feature_names.len(),
                    t.feature_names.join(","),
                    N_FEATURES
                ),
            });
        }
        Ok(t)
    }
}

#[cfg(test)]
mod source_tests {
    #[test]
    fn every_feature_has_a_source_column() {
        for name in super::feature_names() {
            assert!(super::source_column(&name).is_some(), "{name}");
        }
        assert_eq!(super::source_column("nonsense"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vocab_codes_unseen_as_zero() {
        let v: Vocab = vec!["b".to_owned(), "a".to_owned(), "b".to_owned()].into();
        assert_eq!(v.code("a"), 1.0);
        assert_eq!(v.code("b"), 2.0);
        assert_eq!(v.code("zzz"), UNSEEN);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"["a","b"]"#);
        let back: Vocab = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
    }

    proptest! {
        #[test]
        fn scaler_inverse_undoes_it(rows in proptest::collection::vec(
            proptest::collection::vec(-1e6f64..1e6, 3), 1..50)) {
            let data: Vec<f64> = rows.concat();
            let s = StandardScaler::fit(&data, 3, vec![0, 2]);
            for r in &rows {
                let mut x = r.clone();
                s.transform(&mut x);
                prop_assert_eq!(x[1], r[1]);
                s.inverse_transform(&mut x);
                for (a, b) in x.iter().zip(r) {
                    prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{} vs {}", a, b);
                }
            }
        }
    }
}
