//! The train stage.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use salescast_core::artifact::{sha256_file, write_atomic};
use salescast_core::schema::date_to_days;
use salescast_features::FeatureTransform;
use salescast_features::frame::{
    FeatureFile, TEST_FILE, TRAIN_FILE, TRANSFORM_FILE, read_features,
};
use salescast_models::baseline::{Key, seasonal_naive};
use salescast_models::metrics::Scores;
use salescast_models::serving::{self, Manifest, ModelEntry};
use salescast_models::{Dataset, GradientBoostingParams, Kind, Model, RandomForestParams};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{PipelineError, Result, bar, features_dir};

/// Settings of the train stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub kinds: Vec<Kind>,
    pub random_forest: RandomForestParams,
    pub gradient_boosting: GradientBoostingParams,
    /// The last days of the training period held out for boosting's early stopping.
    pub validation_days: u32,
    /// The daily champion selection (the `sarima` model), when asked for.
    #[serde(default)]
    pub daily: Option<salescast_daily::SelectSettings>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            kinds: Kind::ALL.to_vec(),
            random_forest: RandomForestParams::default(),
            gradient_boosting: GradientBoostingParams::default(),
            validation_days: 28,
            daily: None,
        }
    }
}

/// What one model did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    pub kind: Kind,
    pub test: Scores,
    pub fit_seconds: f64,
    pub predict_rows_per_second: f64,
    pub artifact_bytes: u64,
    pub trees: usize,
    pub leaves: usize,
    pub oob_r2: Option<f64>,
    pub best_round: Option<usize>,
    /// Per-round training and validation RMSE (boosting only), for tracking's metric history.
    #[serde(skip)]
    pub history: Vec<(f64, Option<f64>)>,
}

/// What the stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    pub manifest: Manifest,
    pub models: Vec<ModelReport>,
    pub baseline: Scores,
}

pub(crate) fn dataset(f: &FeatureFile, rows: Option<&[usize]>) -> Result<Dataset> {
    let d = f.feature_names.len();
    let (x, y) = match rows {
        None => (f.x.clone(), f.y.clone()),
        Some(idx) => (
            idx.iter()
                .flat_map(|&i| f.x[i * d..(i + 1) * d].iter().copied())
                .collect(),
            idx.iter().map(|&i| f.y[i]).collect(),
        ),
    };
    Ok(Dataset::new(x, y, f.feature_names.clone())?)
}

/// The seasonal-naive baseline's predictions for the test rows.
pub(crate) fn baseline(
    train: &FeatureFile,
    test: &FeatureFile,
    train_end: chrono::NaiveDate,
) -> Vec<f64> {
    fn key(f: &FeatureFile, i: usize) -> Key<'_> {
        Key {
            day: date_to_days(f.date[i]),
            store: f.store_id[i].as_str(),
            category: f.category[i].as_str(),
        }
    }
    let history: Vec<(Key<'_>, f64)> = (0..train.n_rows())
        .map(|i| (key(train, i), train.y[i]))
        .chain((0..test.n_rows()).map(|i| (key(test, i), test.y[i])))
        .collect();
    let targets: Vec<Key<'_>> = (0..test.n_rows()).map(|i| key(test, i)).collect();
    seasonal_naive(&history, &targets, date_to_days(train_end))
}

/// Fits the models named in `opts` on `data_dir`'s training features, scores them on the test
/// days and writes the artifacts, the transform and `manifest.json` into `models_dir`.
pub fn train(
    data_dir: &Path,
    models_dir: &Path,
    opts: &TrainOptions,
    progress: bool,
) -> Result<TrainOutcome> {
    if opts.kinds.is_empty() {
        return Err(PipelineError::BadInput("no model to train".into()));
    }
    opts.random_forest.validate()?;
    opts.gradient_boosting.validate()?;
    let dir = features_dir(data_dir);
    let transform = FeatureTransform::load(&dir.join(TRANSFORM_FILE))?;
    let train_file = read_features(&dir.join(TRAIN_FILE), &transform.feature_names)?;
    let test_file = read_features(&dir.join(TEST_FILE), &transform.feature_names)?;
    if train_file.n_rows() < 2 || test_file.n_rows() == 0 {
        return Err(PipelineError::BadInput(format!(
            "{}: {} training and {} test rows; need at least 2 and 1",
            dir.display(),
            train_file.n_rows(),
            test_file.n_rows()
        )));
    }
    let split = transform.split;
    let train_set = dataset(&train_file, None)?;
    let test_set = dataset(&test_file, None)?;
    let base_pred = baseline(&train_file, &test_file, split.train_end());
    let baseline_scores = Scores::of(&test_set.y, &base_pred);

    let mut entries = BTreeMap::new();
    let mut reports = Vec::new();
    for &kind in &opts.kinds {
        let started = Instant::now();
        let (model, params) = match kind {
            Kind::RandomForest => {
                let p = &opts.random_forest;
                let b = bar(progress, p.n_trees as u64, "random forest");
                let m = p.fit(&train_set, &|n| b.set_position(n as u64))?;
                b.finish_and_clear();
                (Model::RandomForest(m), serde_json::to_value(p))
            }
            Kind::GradientBoosting => {
                let p = &opts.gradient_boosting;
                // Early stopping watches the end of the training period, never the test days.
                let valid_from =
                    split.train_end() - chrono::Duration::days(i64::from(opts.validation_days));
                let (fit_idx, valid_idx): (Vec<usize>, Vec<usize>) = (0..train_file.n_rows())
                    .partition(|&i| opts.validation_days == 0 || train_file.date[i] <= valid_from);
                let fit = dataset(&train_file, Some(&fit_idx))?;
                let valid = (!valid_idx.is_empty())
                    .then(|| dataset(&train_file, Some(&valid_idx)))
                    .transpose()?;
                let b = bar(progress, p.n_rounds as u64, "gradient boosting");
                let m = p.fit(&fit, valid.as_ref(), &|n| b.set_position(n as u64))?;
                b.finish_and_clear();
                (Model::GradientBoosting(m), serde_json::to_value(p))
            }
        };
        let fit_seconds = started.elapsed().as_secs_f64();
        let t = Instant::now();
        let pred = model.predict(&test_set.x)?;
        let predict_rows_per_second = test_set.n_rows as f64 / t.elapsed().as_secs_f64().max(1e-9);
        let test = Scores::of(&test_set.y, &pred);
        let bytes = model.to_bytes()?;
        let file = format!("{}.bin", kind.name());
        write_atomic(&models_dir.join(&file), |w| w.write_all(&bytes))?;
        let version: String = Sha256::digest(&bytes)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let history = match &model {
            Model::GradientBoosting(m) => m
                .history
                .iter()
                .map(|r| (r.train_rmse, r.valid_rmse))
                .collect(),
            Model::RandomForest(_) => Vec::new(),
        };
        let (n_trees, leaves, oob_r2, best_round) = match &model {
            Model::RandomForest(m) => (
                m.trees.len(),
                m.trees.iter().map(|t| t.n_leaves()).sum(),
                m.oob_r2,
                None,
            ),
            Model::GradientBoosting(m) => (
                m.trees.len(),
                m.trees.iter().map(|t| t.n_leaves()).sum(),
                None,
                m.best_round,
            ),
        };
        tracing::info!(
            model = kind.name(),
            mae = test.mae,
            rmse = test.rmse,
            r2 = test.r2,
            fit_seconds,
            trees = n_trees,
            "trained"
        );
        if let Model::GradientBoosting(m) = &model {
            write_history(&models_dir.join("gradient_boosting_history.csv"), m)?;
        }
        entries.insert(
            kind.name().to_owned(),
            ModelEntry {
                kind,
                artifact: file,
                version,
                params: params.map_err(|e| PipelineError::BadInput(e.to_string()))?,
                test_metrics: test,
                fit_seconds,
                artifact_bytes: bytes.len() as u64,
                run_key: salescast_tracking::record::new_key(),
            },
        );
        reports.push(ModelReport {
            kind,
            test,
            fit_seconds,
            predict_rows_per_second,
            artifact_bytes: bytes.len() as u64,
            trees: n_trees,
            leaves,
            oob_r2,
            best_round,
            history,
        });
    }
    let champion = reports
        .iter()
        .min_by(|a, b| a.test.mae.total_cmp(&b.test.mae))
        .map(|r| r.kind.name().to_owned())
        .unwrap_or_default();
    transform.save(&models_dir.join(serving::TRANSFORM_FILE))?;
    let manifest = Manifest {
        format_version: serving::MANIFEST_VERSION,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        training_data_sha256: sha256_file(&dir.join(TRAIN_FILE))?,
        train_rows: train_set.n_rows,
        test_rows: test_set.n_rows,
        train_end: split.train_end(),
        test_start: split.test_start,
        transform: serving::TRANSFORM_FILE.to_owned(),
        models: entries,
        champion,
        baseline: Some(baseline_scores),
    };
    manifest.save(models_dir)?;
    Ok(TrainOutcome {
        manifest,
        models: reports,
        baseline: baseline_scores,
    })
}

fn write_history(path: &Path, m: &salescast_models::GradientBoosting) -> Result<()> {
    write_atomic(path, |w| {
        writeln!(w, "round,train_rmse,valid_rmse")?;
        for (i, r) in m.history.iter().enumerate() {
            let v = r.valid_rmse.map(|v| v.to_string()).unwrap_or_default();
            writeln!(w, "{},{},{}", i + 1, r.train_rmse, v)?;
        }
        Ok(())
    })?;
    Ok(())
}
