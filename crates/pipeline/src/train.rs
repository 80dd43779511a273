//! The train stage.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use salescast_core::DayRange;
use salescast_core::artifact::{load_timings, save_timings, sha256_file, write_atomic};
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

use crate::stage::Progress;
use crate::{PipelineError, Result, features_dir};

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
    /// Serve models refitted on every day (the evaluation fit's settings and boosting rounds),
    /// rather than the evaluation fit, which never saw the test days.
    #[serde(default = "yes")]
    pub refit_on_all_data: bool,
}

fn yes() -> bool {
    true
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            kinds: Kind::ALL.to_vec(),
            random_forest: RandomForestParams::default(),
            gradient_boosting: GradientBoostingParams::default(),
            validation_days: 28,
            daily: None,
            refit_on_all_data: true,
        }
    }
}

/// What one model did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    pub kind: Kind,
    /// The evaluation fit's scores on the test days.
    pub test: Scores,
    pub fit_seconds: f64,
    /// Seconds of the refit on all days, when there was one.
    pub refit_seconds: Option<f64>,
    pub predict_rows_per_second: f64,
    pub artifact_bytes: u64,
    pub trees: usize,
    pub leaves: usize,
    pub oob_r2: Option<f64>,
    pub best_round: Option<usize>,
    /// The served model's training days.
    pub fitted_on: DayRange,
    pub evaluated_on: DayRange,
    pub refitted: bool,
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

/// The days and rows of a feature file.
fn range_of(f: &FeatureFile) -> Option<DayRange> {
    let first = f.date.iter().min()?;
    let last = f.date.iter().max()?;
    Some(DayRange {
        first: *first,
        last: *last,
        rows: f.n_rows(),
    })
}

/// A features directory read back: the transform and its training and test rows.
struct FeatureSet {
    dir: std::path::PathBuf,
    transform: FeatureTransform,
    train: FeatureFile,
    test: FeatureFile,
}

impl FeatureSet {
    fn load(dir: &Path) -> Result<Self> {
        let transform = FeatureTransform::load(&dir.join(TRANSFORM_FILE))?;
        let train = read_features(&dir.join(TRAIN_FILE), &transform.feature_names)?;
        let test = read_features(&dir.join(TEST_FILE), &transform.feature_names)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            transform,
            train,
            test,
        })
    }

    fn train_range(&self) -> Result<DayRange> {
        range_of(&self.train).ok_or_else(|| {
            PipelineError::BadInput(format!("{}: no training rows", self.dir.display()))
        })
    }
}

/// Writes a model's bytes into `dir` and returns the file name and the version.
fn save_model(dir: &Path, kind: Kind, bytes: &[u8]) -> Result<(String, String)> {
    let file = format!("{}.bin", kind.name());
    write_atomic(&dir.join(&file), |w| w.write_all(bytes))?;
    Ok((file, salescast_core::artifact::content_version(bytes)))
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

/// Fits the models named in `opts` on `data_dir`'s training features and scores them on the test
/// days (the evaluation fit, where every reported metric comes from); then, with
/// `refit_on_all_data`, fits them again with the same settings on every day (`data_dir/refit`).
/// The served models (the refits, or else the evaluation fits), the transform and
/// `manifest.json` go into `models_dir`; the evaluation fit of a refit goes into
/// `models_dir/evaluation`, a models directory of its own.
pub fn train(
    data_dir: &Path,
    models_dir: &Path,
    opts: &TrainOptions,
    progress: crate::stage::OnProgress<'_>,
) -> Result<TrainOutcome> {
    if opts.kinds.is_empty() {
        return Err(PipelineError::BadInput("no model to train".into()));
    }
    opts.random_forest.validate()?;
    opts.gradient_boosting.validate()?;
    let dir = features_dir(data_dir);
    let eval = FeatureSet::load(&dir)?;
    let split = eval.transform.split;
    if !split.has_test() {
        return Err(PipelineError::BadInput(format!(
            "{}: the data cover {} day(s) ({} to {}); training needs at least {} days (a test window of {} after as many training days)",
            dir.display(),
            split.days(),
            split.first_date,
            split.last_date,
            salescast_core::split::MIN_DAYS_WITH_TEST,
            salescast_core::split::MIN_SHRUNK_TEST_DAYS,
        )));
    }
    if let Some(note) = split.shrink_note() {
        tracing::warn!("{note}");
    }
    if eval.train.n_rows() < 2 || eval.test.n_rows() == 0 {
        return Err(PipelineError::BadInput(format!(
            "{}: {} training and {} test rows; need at least 2 and 1",
            dir.display(),
            eval.train.n_rows(),
            eval.test.n_rows()
        )));
    }
    let refit = if opts.refit_on_all_data {
        let refit_dir = dir.join(salescast_features::frame::REFIT_DIR);
        if !refit_dir.join(TRANSFORM_FILE).is_file() {
            return Err(PipelineError::BadInput(format!(
                "{} has no refit features ({}): run `salescast features` again, or set train.refit_on_all_data: false",
                dir.display(),
                refit_dir.display()
            )));
        }
        Some(FeatureSet::load(&refit_dir)?)
    } else {
        None
    };
    let eval_dir = if refit.is_some() {
        models_dir.join(serving::EVALUATION_DIR)
    } else {
        // A stale evaluation fit must not be taken for this run's.
        let stale = models_dir.join(serving::EVALUATION_DIR);
        if stale.exists() {
            std::fs::remove_dir_all(&stale).map_err(|e| PipelineError::Io {
                path: stale.clone(),
                source: e.into(),
            })?;
        }
        models_dir.to_path_buf()
    };
    let train_set = dataset(&eval.train, None)?;
    let test_set = dataset(&eval.test, None)?;
    let refit_set = refit
        .as_ref()
        .map(|r| dataset(&r.train, None))
        .transpose()?;
    let base_pred = baseline(&eval.train, &eval.test, split.train_end());
    let baseline_scores = Scores::of(&test_set.y, &base_pred);
    let evaluated_on = range_of(&eval.test)
        .ok_or_else(|| PipelineError::BadInput(format!("{}: no test rows", dir.display())))?;
    let eval_range = eval.train_range()?;
    let served_range = match &refit {
        Some(r) => r.train_range()?,
        None => eval_range,
    };

    let mut eval_entries = BTreeMap::new();
    let mut entries = BTreeMap::new();
    let mut reports = Vec::new();
    for &kind in &opts.kinds {
        let started = Instant::now();
        let (model, params) = match kind {
            Kind::RandomForest => {
                let p = &opts.random_forest;
                let (step, total) = ("random forest", p.n_trees as u64);
                let m = p.fit(&train_set, &|n| {
                    progress(Progress {
                        step,
                        done: n as u64,
                        total,
                    })
                })?;
                (Model::RandomForest(m), serde_json::to_value(p))
            }
            Kind::GradientBoosting => {
                let p = &opts.gradient_boosting;
                // Early stopping watches the end of the training period, never the test days.
                let valid_from =
                    split.train_end() - chrono::Duration::days(i64::from(opts.validation_days));
                let (fit_idx, valid_idx): (Vec<usize>, Vec<usize>) = (0..eval.train.n_rows())
                    .partition(|&i| opts.validation_days == 0 || eval.train.date[i] <= valid_from);
                let fit = dataset(&eval.train, Some(&fit_idx))?;
                let valid = (!valid_idx.is_empty())
                    .then(|| dataset(&eval.train, Some(&valid_idx)))
                    .transpose()?;
                let (step, total) = ("gradient boosting", p.n_rounds as u64);
                let m = p.fit(&fit, valid.as_ref(), &|n| {
                    progress(Progress {
                        step,
                        done: n as u64,
                        total,
                    })
                })?;
                // The validation days chose the number of rounds; the evaluated model is then
                // fitted on every training day with that many, so that it is not the one model
                // that never saw the most recent month before the test days (its held-out
                // score would understate it, and the champion choice with it). The first fit's
                // curve and best round are kept: they are what the validation days showed.
                let m = if valid.is_some() {
                    let (step, total) = ("gradient boosting (training days)", m.trees.len() as u64);
                    // The objective too: `auto` chose one on the validation days.
                    let chosen = GradientBoostingParams {
                        objective: m.params.objective,
                        ..p.clone()
                    };
                    let mut all = GradientBoostingParams {
                        n_rounds: m.trees.len().max(1),
                        early_stopping_rounds: 0,
                        ..chosen.clone()
                    }
                    .fit(&train_set, None, &|n| {
                        progress(Progress {
                            step,
                            done: n as u64,
                            total,
                        })
                    })?;
                    all.params = chosen;
                    all.history = m.history;
                    all.best_round = m.best_round;
                    all.stopped_early = m.stopped_early;
                    all
                } else {
                    m
                };
                // The parameters as fitted: the objective `auto` chose rather than `auto`.
                tracing::info!(
                    objective = m.params.objective.name(),
                    rounds = m.trees.len(),
                    "gradient boosting's loss"
                );
                let params = serde_json::to_value(&m.params);
                (Model::GradientBoosting(m), params)
            }
        };
        let params = params.map_err(|e| PipelineError::BadInput(e.to_string()))?;
        let fit_seconds = started.elapsed().as_secs_f64();
        let t = Instant::now();
        let pred = model.predict(&test_set.x)?;
        let predict_rows_per_second = test_set.n_rows as f64 / t.elapsed().as_secs_f64().max(1e-9);
        let test = Scores::of(&test_set.y, &pred);
        let eval_bytes = model.to_bytes()?;
        let (file, eval_version) = save_model(&eval_dir, kind, &eval_bytes)?;
        let history = match &model {
            Model::GradientBoosting(m) => m
                .history
                .iter()
                .map(|r| (r.train_rmse, r.valid_rmse))
                .collect(),
            Model::RandomForest(_) => Vec::new(),
        };
        let (oob_r2, best_round, rounds) = match &model {
            Model::RandomForest(m) => (m.oob_r2, None, None),
            Model::GradientBoosting(m) => (None, m.best_round, Some(m.trees.len())),
        };
        if let Model::GradientBoosting(m) = &model {
            write_history(&eval_dir.join("gradient_boosting_history.csv"), m)?;
        }
        tracing::info!(
            model = kind.name(),
            mae = test.mae,
            rmse = test.rmse,
            r2 = test.r2,
            fit_seconds,
            "evaluation fit"
        );
        let t = Instant::now();
        let shap = serving::shap_importance(&model, &test_set.x, serving::SHAP_IMPORTANCE_ROWS)?;
        tracing::info!(
            model = kind.name(),
            rows = shap.rows,
            seconds = t.elapsed().as_secs_f64(),
            "mean |SHAP| on the test days"
        );
        let entry = ModelEntry {
            kind,
            artifact: file.clone(),
            version: eval_version.clone(),
            params,
            test_metrics: test,
            artifact_bytes: eval_bytes.len() as u64,
            fitted_on: Some(eval_range),
            evaluated_on: Some(evaluated_on),
            refitted: false,
            evaluation_version: None,
            rounds,
            shap_importance: Some(shap),
        };
        eval_entries.insert(kind.name().to_owned(), entry.clone());

        // The refit: the same settings on every day. Boosting keeps the rounds early stopping
        // chose, since there are no later days left to stop on.
        let (served, refit_seconds, entry) = match (&refit_set, &model) {
            (Some(all), _) => {
                let t = Instant::now();
                let served = match &model {
                    Model::RandomForest(_) => {
                        let p = &opts.random_forest;
                        let (step, total) = ("random forest (all days)", p.n_trees as u64);
                        let m = p.fit(all, &|n| {
                            progress(Progress {
                                step,
                                done: n as u64,
                                total,
                            })
                        })?;
                        Model::RandomForest(m)
                    }
                    Model::GradientBoosting(m) => {
                        let p = GradientBoostingParams {
                            n_rounds: m.trees.len().max(1),
                            early_stopping_rounds: 0,
                            objective: m.params.objective,
                            ..opts.gradient_boosting.clone()
                        };
                        let (step, total) = ("gradient boosting (all days)", p.n_rounds as u64);
                        let m = p.fit(all, None, &|n| {
                            progress(Progress {
                                step,
                                done: n as u64,
                                total,
                            })
                        })?;
                        Model::GradientBoosting(m)
                    }
                };
                let secs = t.elapsed().as_secs_f64();
                let bytes = served.to_bytes()?;
                let (file, version) = save_model(models_dir, kind, &bytes)?;
                tracing::info!(
                    model = kind.name(),
                    rows = all.n_rows,
                    last_day = %served_range.last,
                    seconds = secs,
                    "refitted on all days"
                );
                let entry = ModelEntry {
                    artifact: file,
                    version,
                    artifact_bytes: bytes.len() as u64,
                    fitted_on: Some(served_range),
                    refitted: true,
                    evaluation_version: Some(eval_version),
                    ..entry
                };
                (served, Some(secs), entry)
            }
            (None, _) => (model, None, entry),
        };
        let (n_trees, leaves) = match &served {
            Model::RandomForest(m) => (m.trees.len(), m.trees.iter().map(|t| t.n_leaves()).sum()),
            Model::GradientBoosting(m) => {
                (m.trees.len(), m.trees.iter().map(|t| t.n_leaves()).sum())
            }
        };
        reports.push(ModelReport {
            kind,
            test,
            fit_seconds,
            refit_seconds,
            predict_rows_per_second,
            artifact_bytes: entry.artifact_bytes,
            trees: n_trees,
            leaves,
            oob_r2,
            best_round,
            fitted_on: served_range,
            evaluated_on,
            refitted: entry.refitted,
            history,
        });
        entries.insert(kind.name().to_owned(), entry);
    }
    let champion = reports
        .iter()
        .min_by(|a, b| a.test.mae.total_cmp(&b.test.mae))
        .map(|r| r.kind.name().to_owned())
        .unwrap_or_default();
    let eval_sha = sha256_file(&dir.join(TRAIN_FILE))?;
    let eval_manifest = Manifest {
        format_version: serving::MANIFEST_VERSION,
        training_data_sha256: eval_sha.clone(),
        evaluation_data_sha256: None,
        train_rows: train_set.n_rows,
        test_rows: test_set.n_rows,
        train_end: split.train_end(),
        test_start: split.test_start,
        transform: serving::TRANSFORM_FILE.to_owned(),
        models: eval_entries,
        champion,
        baseline: Some(baseline_scores),
        refit_on_all_data: false,
        daily: None,
    };
    eval.transform
        .save(&eval_dir.join(serving::TRANSFORM_FILE))?;
    let manifest = match &refit {
        Some(r) => {
            r.transform
                .save(&models_dir.join(serving::TRANSFORM_FILE))?;
            eval_manifest.save(&eval_dir)?;
            Manifest {
                training_data_sha256: sha256_file(&r.dir.join(TRAIN_FILE))?,
                evaluation_data_sha256: Some(eval_sha),
                models: entries,
                refit_on_all_data: true,
                ..eval_manifest
            }
        }
        None => eval_manifest,
    };
    manifest.save(models_dir)?;
    save_train_timings(models_dir, &reports)?;
    Ok(TrainOutcome {
        manifest,
        models: reports,
        baseline: baseline_scores,
    })
}

/// `models/timings.json`: the wall-clock side of training, kept out of the artifacts.
fn save_train_timings(models_dir: &Path, reports: &[ModelReport]) -> Result<()> {
    let models: BTreeMap<&str, serde_json::Value> = reports
        .iter()
        .map(|r| {
            (
                r.kind.name(),
                serde_json::json!({
                    "fit_seconds": r.fit_seconds,
                    "refit_seconds": r.refit_seconds,
                    "predict_rows_per_second": r.predict_rows_per_second,
                }),
            )
        })
        .collect();
    let mut doc = load_timings(models_dir);
    doc.insert("trained_at".into(), serde_json::json!(now_utc()));
    doc.insert("models".into(), serde_json::json!(models));
    Ok(save_timings(models_dir, &doc)?)
}

/// The current time as RFC 3339 (UTC, seconds), for timing files and MLflow only.
pub(crate) fn now_utc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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
