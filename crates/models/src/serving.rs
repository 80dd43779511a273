//! Everything needed to score a transaction from a models directory: the manifest, the fitted
//! transform and the model artifacts. Plain Rust, no polars: the API links this alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use salescast_core::DayRange;
use salescast_core::Transaction;
use salescast_core::artifact::{load_json, save_json};
use salescast_features::FeatureTransform;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::metrics::Scores;
use crate::model::{Kind, Model};

/// The manifest's artifact kind and format version.
pub const MANIFEST_KIND: &str = "salescast/manifest";
pub const MANIFEST_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = salescast_core::models_dir::MANIFEST;
/// The transform is copied next to the models so that a models directory is self-contained.
pub const TRANSFORM_FILE: &str = salescast_core::models_dir::TRANSFORM;
/// Where the evaluation fit (training days only, scored on the test days) is kept when the served
/// models are refits on all days: a models directory of its own, loadable like any other.
pub const EVALUATION_DIR: &str = salescast_core::models_dir::EVALUATION;

/// The models directory holding the evaluation fit of `dir`: `dir/evaluation` when the served
/// models are refits, else `dir` itself.
pub fn evaluation_dir(dir: &Path) -> PathBuf {
    let e = dir.join(EVALUATION_DIR);
    if e.join(MANIFEST_FILE).is_file() {
        e
    } else {
        dir.to_path_buf()
    }
}

/// One model in the manifest.
///
/// The manifest holds no wall-clock value (fit seconds, creation time, run ids): the same data
/// and settings give the same bytes. Those go to MLflow and to `timings.json` beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub kind: Kind,
    pub artifact: String,
    /// The served artifact's SHA-256 prefix: it changes whenever the model does.
    pub version: String,
    pub params: serde_json::Value,
    /// Held-out scores of the evaluation fit (fitted on the training days only), on the days in
    /// `evaluated_on`.
    pub test_metrics: Scores,
    pub artifact_bytes: u64,
    /// The days and rows the served model was fitted on (absent in older manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_on: Option<DayRange>,
    /// The held-out window `test_metrics` come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_on: Option<DayRange>,
    /// Whether the served model is a refit on all days (`train.refit_on_all_data`) rather than
    /// the evaluation fit itself.
    #[serde(default)]
    pub refitted: bool,
    /// The evaluation fit's version, kept in `evaluation/` when the served model is a refit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_version: Option<String>,
    /// Boosting rounds kept: chosen by early stopping in the evaluation fit, and used as is by
    /// the refit (which has no validation days to stop on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// The evaluation fit's global importance: mean absolute TreeSHAP value on the days in
    /// `evaluated_on` (absent in older manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shap_importance: Option<ShapImportance>,
}

/// Global importance as the mean absolute TreeSHAP value over rows, per data-contract field
/// (of each row's field sums) and per model feature, largest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapImportance {
    /// Rows explained: at most [`SHAP_IMPORTANCE_ROWS`], evenly spaced over the days.
    pub rows: usize,
    pub by_field: Vec<Contribution>,
    pub by_feature: Vec<Contribution>,
}

/// Rows [`shap_importance`] explains at most: a deep forest takes milliseconds a row, and the
/// mean of 2,000 evenly spaced rows is within a few percent of the mean of all.
pub const SHAP_IMPORTANCE_ROWS: usize = 2000;

/// The daily champion as the manifest records it (`sarima.json` holds the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyEntry {
    pub artifact: String,
    pub champion: String,
    pub fitted_on: DayRange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_on: Option<DayRange>,
    pub refitted: bool,
    /// The evaluation fit's MAE, RMSE, MAPE and MASE on `evaluated_on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_metrics: Option<serde_json::Value>,
}

/// `models/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// SHA-256 of the feature file the served models were fitted on (all days for a refit).
    pub training_data_sha256: String,
    /// SHA-256 of the evaluation fit's training features, when it differs from the above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_data_sha256: Option<String>,
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_end: chrono::NaiveDate,
    pub test_start: chrono::NaiveDate,
    pub transform: String,
    pub models: BTreeMap<String, ModelEntry>,
    /// The model with the lowest test MAE.
    pub champion: String,
    pub baseline: Option<Scores>,
    /// Whether the served models are refits on all days.
    #[serde(default)]
    pub refit_on_all_data: bool,
    /// The daily champion, when one was trained with the models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailyEntry>,
}

impl Manifest {
    /// Loads and checks the manifest: every file it names must be a plain name in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let m: Self = load_json(&dir.join(MANIFEST_FILE), MANIFEST_KIND, MANIFEST_VERSION)
            .map_err(|e| ModelError::Artifact(e.to_string()))?;
        let listed = std::iter::once(&m.transform)
            .chain(m.models.values().map(|e| &e.artifact))
            .chain(m.daily.iter().map(|d| &d.artifact));
        for name in listed {
            salescast_core::artifact::check_listed_name(name)
                .map_err(|e| ModelError::Artifact(format!("{MANIFEST_FILE} {e}")))?;
        }
        Ok(m)
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        save_json(
            &dir.join(MANIFEST_FILE),
            MANIFEST_KIND,
            MANIFEST_VERSION,
            self,
        )
        .map_err(|e| ModelError::Artifact(e.to_string()))
    }
}

/// Why a row could not be scored.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreError {
    /// The row breaks the data contract: every invalid field.
    Fields(Vec<salescast_core::FieldError>),
    Model(String),
}

impl std::fmt::Display for ScoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fields(errs) => {
                let parts: Vec<String> = errs.iter().map(ToString::to_string).collect();
                f.write_str(&parts.join("; "))
            }
            Self::Model(m) => f.write_str(m),
        }
    }
}

/// One name's share of a prediction (a contract field or a model feature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub name: String,
    pub value: f64,
}

/// One prediction taken apart by TreeSHAP: `expected_value` plus the contributions of either
/// list is `prediction`, up to rounding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explained {
    pub prediction: f64,
    pub expected_value: f64,
    /// Per data-contract field ([`salescast_features::transform::source_column`]), largest
    /// magnitude first.
    pub by_field: Vec<Contribution>,
    /// Per model feature, largest magnitude first.
    pub by_feature: Vec<Contribution>,
}

/// The field each feature is reported under: its contract column, or its own name when this
/// build does not know it.
pub fn field_of(feature: &str) -> String {
    salescast_features::transform::source_column(feature)
        .map_or_else(|| feature.to_owned(), |c| c.name().to_owned())
}

/// Sums per-feature values into per-field ones, in the order fields first appear.
pub fn by_field(features: &[String], values: &[f64]) -> Vec<Contribution> {
    let mut out: Vec<Contribution> = Vec::new();
    for (f, v) in features.iter().zip(values) {
        let field = field_of(f);
        match out.iter_mut().find(|c| c.name == field) {
            Some(c) => c.value += v,
            None => out.push(Contribution {
                name: field,
                value: *v,
            }),
        }
    }
    out
}

/// Largest magnitude first; ties keep their order.
fn by_magnitude(mut v: Vec<Contribution>) -> Vec<Contribution> {
    v.sort_by(|a, b| b.value.abs().total_cmp(&a.value.abs()));
    v
}

impl Explained {
    fn of(model: &Model, x: &[f64]) -> Result<Self> {
        let e = model.explain_row(x)?;
        let names = model.feature_names();
        let features = names
            .iter()
            .zip(&e.contributions)
            .map(|(n, v)| Contribution {
                name: n.clone(),
                value: *v,
            })
            .collect();
        Ok(Self {
            prediction: model.predict_row(x),
            expected_value: e.expected,
            by_field: by_magnitude(by_field(names, &e.contributions)),
            by_feature: by_magnitude(features),
        })
    }
}

/// Global importance of `model` over the rows of `x` (row-major): at most `max_rows`, evenly
/// spaced, explained in parallel and summed in row order, so the result does not depend on
/// the number of threads and a manifest holding it stays byte-for-byte reproducible.
pub fn shap_importance(model: &Model, x: &[f64], max_rows: usize) -> Result<ShapImportance> {
    let names = model.feature_names();
    let d = names.len();
    let n = x.len() / d.max(1);
    let step = n.div_ceil(max_rows.max(1)).max(1);
    let rows: Vec<&[f64]> = x.chunks_exact(d).step_by(step).collect();
    let explained: Vec<Vec<f64>> = rows
        .par_iter()
        .map_init(crate::explain::ExplainScratch::default, |scratch, row| {
            model
                .explain_row_with(row, scratch)
                .map(|e| e.contributions)
        })
        .collect::<Result<_>>()?;
    let fields = by_field(names, &vec![0.0; d]);
    let (mut feature_sum, mut field_sum) = (vec![0.0; d], vec![0.0; fields.len()]);
    for c in &explained {
        for (s, v) in feature_sum.iter_mut().zip(c) {
            *s += v.abs();
        }
        for (s, f) in field_sum.iter_mut().zip(by_field(names, c)) {
            *s += f.value.abs();
        }
    }
    let k = explained.len().max(1) as f64;
    let list = |names: Vec<String>, sums: Vec<f64>| {
        by_magnitude(
            names
                .into_iter()
                .zip(sums)
                .map(|(name, s)| Contribution { name, value: s / k })
                .collect(),
        )
    };
    Ok(ShapImportance {
        rows: explained.len(),
        by_field: list(fields.into_iter().map(|c| c.name).collect(), field_sum),
        by_feature: list(names.to_vec(), feature_sum),
    })
}

/// A loaded models directory, ready to score.
#[derive(Debug, Clone)]
pub struct Predictor {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub transform: FeatureTransform,
    pub models: BTreeMap<Kind, Model>,
    pub champion: Kind,
}

impl Predictor {
    /// Loads and checks everything the manifest names: a model whose features differ from the
    /// transform's is refused.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, false)
    }

    /// Loads a registered version's folder, which holds its own model beside a manifest that
    /// names every model of its training: the models present (at least one) are loaded and
    /// checked as [`Self::load`] checks them, and the champion falls back to a present one.
    /// The folder is only read (MLflow's download cache may be shared).
    pub fn load_present(dir: &Path) -> Result<Self> {
        Self::load_with(dir, true)
    }

    fn load_with(dir: &Path, present_only: bool) -> Result<Self> {
        let mut manifest = Manifest::load(dir)?;
        if present_only {
            manifest
                .models
                .retain(|_, e| dir.join(&e.artifact).is_file());
            if !manifest.models.contains_key(&manifest.champion) {
                manifest.champion = manifest.models.keys().next().cloned().ok_or_else(|| {
                    ModelError::Artifact(format!(
                        "{} holds no model file its manifest names",
                        dir.display()
                    ))
                })?;
            }
        }
        let transform = FeatureTransform::load(&dir.join(&manifest.transform))
            .map_err(|e| ModelError::Artifact(e.to_string()))?;
        let mut models = BTreeMap::new();
        for entry in manifest.models.values() {
            let path = dir.join(&entry.artifact);
            let bytes = std::fs::read(&path)
                .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
            let found = salescast_core::artifact::content_version(&bytes);
            if found != entry.version {
                return Err(ModelError::Artifact(format!(
                    "{} is version {found}, the manifest names {}: the directory mixes files of two trainings (an interrupted write?); train again",
                    entry.artifact, entry.version
                )));
            }
            let model = Model::from_bytes(&bytes)
                .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
            if model.kind() != entry.kind {
                return Err(ModelError::Artifact(format!(
                    "{} holds a {}, the manifest says {}",
                    entry.artifact,
                    model.kind().name(),
                    entry.kind.name()
                )));
            }
            model.check_features(&transform.feature_names)?;
            models.insert(entry.kind, model);
        }
        let champion = Kind::parse(&manifest.champion)
            .filter(|k| models.contains_key(k))
            .ok_or_else(|| {
                ModelError::Artifact(format!(
                    "champion {:?} is not among the models",
                    manifest.champion
                ))
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            transform,
            models,
            champion,
        })
    }

    /// The model of `kind`, or the champion.
    pub fn model(&self, kind: Option<Kind>) -> Result<&Model> {
        let k = kind.unwrap_or(self.champion);
        self.models
            .get(&k)
            .ok_or_else(|| ModelError::Artifact(format!("model {} is not loaded", k.name())))
    }

    /// Predicts one transaction's revenue.
    pub fn predict(&self, t: &Transaction, kind: Option<Kind>) -> Result<f64> {
        let model = self.model(kind)?;
        Ok(model.predict_row(&self.transform.transform_one(t)))
    }

    /// Explains one transaction's prediction ([`Explained`]).
    pub fn explain(&self, t: &Transaction, kind: Option<Kind>) -> Result<Explained> {
        Explained::of(self.model(kind)?, &self.transform.transform_one(t))
    }

    /// [`Self::score_fields`] with the prediction's explanation.
    pub fn explain_fields<'a>(
        &self,
        get: impl Fn(salescast_core::Column) -> Option<&'a str>,
        kind: Option<Kind>,
    ) -> std::result::Result<Explained, ScoreError> {
        let t = salescast_core::schema::parse_row(get, salescast_core::Mode::Scoring)
            .map_err(ScoreError::Fields)?;
        self.explain(&t, kind)
            .map_err(|e| ScoreError::Model(e.to_string()))
    }

    /// Scores many raw rows, `cell(row, column)` giving each column's text: the same rules,
    /// transform and model as [`Self::score_fields`], with the same numbers to the bit, but in
    /// parallel chunks whose valid rows are encoded and scored together (tree-major), which is
    /// several times faster than row by row. Results are in the order of `rows`.
    pub fn score_many<'a, R, F>(
        &self,
        rows: &'a [R],
        cell: F,
        kind: Option<Kind>,
    ) -> Vec<std::result::Result<f64, ScoreError>>
    where
        R: Sync,
        F: Fn(&'a R, salescast_core::Column) -> Option<&'a str> + Sync,
    {
        const CHUNK: usize = 1024;
        let model = match self.model(kind) {
            Ok(m) => m,
            Err(e) => return vec![Err(ScoreError::Model(e.to_string())); rows.len()],
        };
        let d = self.transform.n_features();
        rows.par_chunks(CHUNK)
            .flat_map_iter(|chunk| {
                // One transaction is parsed into again and again, and each valid row is
                // encoded straight into the chunk's feature matrix.
                let mut t = Transaction::default();
                let mut cache = salescast_features::transform::CalendarCache::default();
                let mut x = Vec::with_capacity(chunk.len() * d);
                let parsed: Vec<std::result::Result<(), ScoreError>> = chunk
                    .iter()
                    .map(|r| {
                        salescast_core::schema::parse_row_into(
                            |c| cell(r, c),
                            salescast_core::Mode::Scoring,
                            &mut t,
                        )
                        .map_err(ScoreError::Fields)?;
                        let at = x.len();
                        x.resize(at + d, 0.0);
                        self.transform.encode_row(&t, &mut cache, &mut x[at..]);
                        Ok(())
                    })
                    .collect();
                let scored = model
                    .predict_seq(&x)
                    .map_err(|e| ScoreError::Model(e.to_string()));
                let mut values = match &scored {
                    Ok(v) => v.iter().copied(),
                    Err(_) => [].iter().copied(),
                };
                parsed
                    .into_iter()
                    .map(|p| {
                        p?;
                        match &scored {
                            Ok(_) => values
                                .next()
                                .ok_or_else(|| ScoreError::Model("a prediction is missing".into())),
                            Err(e) => Err(e.clone()),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Scores one raw row given each column's text (`None` when absent): the contract's rules,
    /// then the saved transform and the model. Every input path (CSV file, JSON, upload) goes
    /// through here, so they all agree to the bit. `Err` lists every invalid field.
    pub fn score_fields<'a>(
        &self,
        get: impl Fn(salescast_core::Column) -> Option<&'a str>,
        kind: Option<Kind>,
    ) -> std::result::Result<f64, ScoreError> {
        let t = salescast_core::schema::parse_row(get, salescast_core::Mode::Scoring)
            .map_err(ScoreError::Fields)?;
        self.predict(&t, kind)
            .map_err(|e| ScoreError::Model(e.to_string()))
    }
}
