//! The reference profile: what the monitor compares new data with, saved beside the models at
//! training time (`models/reference.json`, the rows in `models/reference.parquet`, the
//! error-estimation models in `models/reference_dle_<model>.bin`), so a run never needs the
//! training data.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use salescast_core::DayRange;
use salescast_core::artifact::{load_json, save_json, write_atomic};
use salescast_core::schema::Transaction;
use salescast_models::metrics::Scores;
use salescast_models::serving::Predictor;
use salescast_models::{Dataset, GradientBoostingParams, Kind, Model};
use serde::{Deserialize, Serialize};

use crate::data::{Frame, MISSING, Role, Values};
use crate::settings::MonitorSettings;
use crate::stats::{ColumnType, population_std};
use crate::{MonitorError, Result};

pub const PROFILE_FILE: &str = salescast_core::models_dir::REFERENCE;
pub const SAMPLE_FILE: &str = salescast_core::models_dir::REFERENCE_SAMPLE;
pub const PROFILE_KIND: &str = "salescast-reference-profile";
pub const PROFILE_VERSION: u32 = 1;

/// The file of a model's error-estimation model.
pub fn dle_file(kind: Kind) -> String {
    format!("reference_dle_{}.bin", kind.name())
}

/// The quantiles a [`Distribution`] keeps.
pub const QUANTILES: [f64; 11] = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// A numeric distribution in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: usize,
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// `(q, value)` at [`QUANTILES`] (linear interpolation, numpy's default).
    pub quantiles: Vec<(f64, f64)>,
}

impl Distribution {
    /// Of the finite values of `v`; `None` when there are none.
    pub fn of(v: &[f64]) -> Option<Self> {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_by(f64::total_cmp);
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        Some(Self {
            count: s.len(),
            mean,
            std: population_std(&s),
            quantiles: QUANTILES
                .iter()
                .map(|&q| (q, salescast_preprocess::stats::quantile_sorted(&s, q)))
                .collect(),
        })
    }
}

/// One watched column of the reference sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub role: Role,
    pub count: usize,
    pub missing_rate: f64,
    /// Numerical columns: mean, standard deviation and quantiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    /// Numerical columns: decile edges and the rows between consecutive edges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decile_edges: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decile_counts: Vec<u64>,
    /// Categorical columns: each category's share of the non-missing rows, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<(String, f64)>,
}

impl ColumnProfile {
    fn of(c: &crate::data::ColumnData) -> Self {
        let mut p = Self {
            name: c.name.clone(),
            kind: c.kind,
            role: c.role,
            count: c.values.len(),
            missing_rate: c.values.missing_rate(),
            distribution: None,
            decile_edges: Vec::new(),
            decile_counts: Vec::new(),
            categories: Vec::new(),
        };
        match &c.values {
            Values::Num(v) => {
                let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                s.sort_by(f64::total_cmp);
                p.distribution = Distribution::of(&s);
                if !s.is_empty() {
                    let edges: Vec<f64> = (0..=10)
                        .map(|i| salescast_preprocess::stats::quantile_sorted(&s, i as f64 / 10.0))
                        .collect();
                    p.decile_counts = crate::stats::histogram_sorted(&s, &edges);
                    p.decile_edges = edges;
                }
            }
            Values::Cat { codes, labels } => {
                let mut counts = vec![0u64; labels.len()];
                for &k in codes {
                    if k != MISSING {
                        counts[k as usize] += 1;
                    }
                }
                let n: u64 = counts.iter().sum();
                let mut cats: Vec<(String, f64)> = labels
                    .iter()
                    .zip(&counts)
                    .filter(|(_, k)| **k > 0)
                    .map(|(l, &k)| (l.clone(), k as f64 / n.max(1) as f64))
                    .collect();
                cats.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                p.categories = cats;
            }
        }
        p
    }
}

/// What the monitor knows of one served model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReference {
    /// The held-out metrics (the evaluation fit on the test window): the baseline.
    pub baseline: Scores,
    pub held_out_rows: usize,
    pub held_out_predictions: Distribution,
    pub held_out_abs_errors: Distribution,
    /// The error-estimation model, fitted on the held-out window only.
    pub dle: DleReference,
}

/// A direct-loss-estimation model: boosting on the features and the prediction, predicting
/// each row's absolute error (NannyML's DLE, with our boosting in place of LightGBM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DleReference {
    pub artifact: String,
    /// The feature transform its inputs come from (the evaluation fit's), relative to the
    /// models directory.
    pub transform: String,
    /// Standard deviation of the held-out absolute errors: the sampling error of a mean of `n`
    /// rows is `loss_std / sqrt(n)` (NannyML's rule); the band is three of them.
    pub loss_std: f64,
    /// Its estimate on the held-out window itself, beside the realised MAE there.
    pub held_out_estimate: f64,
}

/// What the monitor knows of the daily champion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyReference {
    /// The served model's last day: forecasts exist for the days after it.
    pub last_day: NaiveDate,
    /// In-sample MAE of the weekly seasonal-naive forecast on the served model's days.
    pub mase_scale: f64,
    /// The evaluation fit's scores on the test window.
    pub test: Option<salescast_daily::Scores>,
    /// Share of test days inside the evaluation fit's 95% interval.
    pub test_coverage: Option<f64>,
}

/// The whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    pub sample_file: String,
    pub sample_rows: usize,
    /// The training days the sample was drawn from.
    pub sampled_from: DayRange,
    pub seed: u64,
    pub columns: Vec<ColumnProfile>,
    pub models: BTreeMap<String, ModelReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailyReference>,
}

/// One model's held-out window, as the train stage has it: the evaluation fit's features
/// (row-major), the actuals and the evaluation fit's predictions.
#[derive(Debug)]
pub struct HeldOut<'a> {
    pub kind: Kind,
    pub x: &'a [f64],
    pub feature_names: &'a [String],
    pub y: &'a [f64],
    pub pred: &'a [f64],
}

/// The DLE model's inputs: the features, then the prediction.
pub fn dle_inputs(x: &[f64], d: usize, pred: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(pred.len() * (d + 1));
    for (row, p) in x.chunks(d).zip(pred) {
        out.extend_from_slice(row);
        out.push(*p);
    }
    out
}

fn dle_params() -> GradientBoostingParams {
    // LightGBM's defaults as NannyML uses them: 100 rounds at 0.1; shallow trees, since the
    // loss is noisy and the held-out window is small.
    GradientBoostingParams {
        n_rounds: 100,
        learning_rate: 0.1,
        max_depth: 5,
        min_child_weight: 20.0,
        early_stopping_rounds: 0,
        ..GradientBoostingParams::default()
    }
}

/// Draws `n` of `rows` with a seeded generator, kept in their order.
fn sample(rows: &[Transaction], n: usize, seed: u64) -> Vec<&Transaction> {
    if rows.len() <= n {
        return rows.iter().collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, rows.len(), n).into_vec();
    idx.sort_unstable();
    idx.into_iter().map(|i| &rows[i]).collect()
}

/// The served models' predictions for `rows`, by name.
pub fn predict_all(served: &Predictor, rows: &[Transaction]) -> Result<Vec<(Kind, Vec<f64>)>> {
    let d = served.transform.n_features();
    let mut x = vec![0.0; rows.len() * d];
    let mut cache = salescast_features::transform::CalendarCache::default();
    for (t, out) in rows.iter().zip(x.chunks_mut(d)) {
        served.transform.encode_row(t, &mut cache, out);
    }
    served
        .models
        .iter()
        .map(|(k, m)| Ok((*k, m.predict(&x)?)))
        .collect()
}

/// Builds and saves the profile into `models_dir`: the seeded sample of `training_rows`
/// (cleaned rows of the training days; imputed values already set back to missing), its
/// predictions by the served models, the held-out distributions and the DLE models.
pub fn build(
    models_dir: &Path,
    training_rows: &[Transaction],
    held_out: &[HeldOut<'_>],
    eval_transform: &str,
    daily: Option<DailyReference>,
    settings: &MonitorSettings,
) -> Result<ReferenceProfile> {
    settings.validate()?;
    let first = training_rows.iter().map(|t| t.date).min();
    let last = training_rows.iter().map(|t| t.date).max();
    let (Some(first), Some(last)) = (first, last) else {
        return Err(MonitorError::BadInput(
            "the reference profile needs training rows; none were given".into(),
        ));
    };
    let served = Predictor::load(models_dir)?;
    let picked: Vec<Transaction> = sample(training_rows, settings.reference_rows, settings.seed)
        .into_iter()
        .cloned()
        .collect();
    let mut frame = Frame::of_transactions(&picked, true);
    // Predictions need every field; an imputed field was set to missing for the profile only,
    // and the served transform imputes it again exactly as serving does.
    for (kind, pred) in predict_all(&served, &picked)? {
        frame.push_prediction(kind.name(), pred);
    }
    let mut df = frame.to_polars()?;
    salescast_preprocess::frame::write_parquet(&models_dir.join(SAMPLE_FILE), &mut df)?;

    let mut models = BTreeMap::new();
    for h in held_out {
        let d = h.feature_names.len();
        let loss: Vec<f64> = h.y.iter().zip(h.pred).map(|(y, p)| (y - p).abs()).collect();
        let mut names = h.feature_names.to_vec();
        names.push("prediction".into());
        let data = Dataset::new(dle_inputs(h.x, d, h.pred), loss.clone(), names)?;
        let fitted = dle_params().fit(&data, None, &|_| {})?;
        let model = Model::GradientBoosting(fitted);
        let estimate = model.predict(&data.x)?;
        let held_out_estimate =
            estimate.iter().map(|v| v.max(0.0)).sum::<f64>() / estimate.len().max(1) as f64;
        let bytes = model.to_bytes()?;
        let artifact = dle_file(h.kind);
        write_atomic(&models_dir.join(&artifact), |w| w.write_all(&bytes))?;
        let missing =
            |what: &str| MonitorError::BadInput(format!("{}: no held-out {what}", h.kind.name()));
        models.insert(
            h.kind.name().to_owned(),
            ModelReference {
                baseline: Scores::of(h.y, h.pred),
                held_out_rows: h.y.len(),
                held_out_predictions: Distribution::of(h.pred)
                    .ok_or_else(|| missing("predictions"))?,
                held_out_abs_errors: Distribution::of(&loss).ok_or_else(|| missing("errors"))?,
                dle: DleReference {
                    artifact,
                    transform: eval_transform.to_owned(),
                    loss_std: population_std(&loss),
                    held_out_estimate,
                },
            },
        );
    }
    let profile = ReferenceProfile {
        sample_file: SAMPLE_FILE.to_owned(),
        sample_rows: frame.len(),
        sampled_from: DayRange {
            first,
            last,
            rows: training_rows.len(),
        },
        seed: settings.seed,
        columns: frame.columns.iter().map(ColumnProfile::of).collect(),
        models,
        daily,
    };
    save_json(
        &models_dir.join(PROFILE_FILE),
        PROFILE_KIND,
        PROFILE_VERSION,
        &profile,
    )?;
    Ok(profile)
}

/// Loads the profile and its sample from `models_dir`.
pub fn load(models_dir: &Path) -> Result<(ReferenceProfile, Frame)> {
    let path = models_dir.join(PROFILE_FILE);
    if !path.is_file() {
        return Err(MonitorError::Artifact {
            path,
            reason: "no reference profile (reference.json) in the models directory: training writes \
                     it when it finds the cleaned training data, `processed/clean.parquet` beside the \
                     features directory or the file `salescast train --clean-data FILE` names; \
                     train again with that, then run the monitor"
                .into(),
        });
    }
    let profile: ReferenceProfile = load_json(&path, PROFILE_KIND, PROFILE_VERSION)?;
    let listed = std::iter::once(&profile.sample_file).chain(
        profile
            .models
            .values()
            .flat_map(|m| [&m.dle.artifact, &m.dle.transform]),
    );
    for name in listed {
        salescast_core::artifact::check_listed_name(name).map_err(|reason| {
            MonitorError::Artifact {
                path: path.clone(),
                reason,
            }
        })?;
    }
    let schema: Vec<(String, ColumnType, Role)> = profile
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.kind, c.role))
        .collect();
    let frame = Frame::read_parquet(&models_dir.join(&profile.sample_file), &schema)?;
    Ok((profile, frame))
}
