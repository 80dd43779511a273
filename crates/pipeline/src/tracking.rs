//! What the training-side stages record in experiment tracking.
//!
//! `train` makes one run per model: every hyperparameter, the data it saw (SHA-256, row counts,
//! split dates), the git commit, test metrics, the boosting curves as metric histories, the
//! artifacts and the model itself, registered with the `champion` alias on the best one.
//! `evaluate` adds its metrics and plot data to the same runs, found by the run key the
//! manifest keeps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use salescast_models::Kind;
use salescast_models::serving::{MANIFEST_FILE, Manifest, TRANSFORM_FILE};
use salescast_tracking::record::{RunRecord, RunStatus, new_key};
use salescast_tracking::{Artifact, ModelSpec, PyFunc};

use crate::evaluate::MetricsEntry;
use crate::train::{TrainOptions, TrainOutcome};

/// The sidecar in the models directory that ties each model to its tracking run, so that
/// `evaluate` adds to the same run. Run keys are random, so they stay out of the manifest
/// (`.dvcignore` keeps this file out of DVC's hashes).
pub const RUN_KEYS_FILE: &str = salescast_core::models_dir::RUN_KEYS;

/// A model's tracking run, as the sidecar records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunKey {
    pub run_key: String,
    /// The model version the run logged: a key is only used for that same model.
    pub version: String,
    /// The MLflow server's id of the run, once a server took it (the UI links to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// Writes the run keys of `records` (train runs of transaction models) beside the models.
pub fn save_run_keys(models_dir: &Path, records: &[RunRecord]) -> crate::Result<()> {
    let keys: BTreeMap<String, RunKey> = records
        .iter()
        .filter_map(|r| {
            let name = r.tags.get("model.family")?;
            let version = r.tags.get("model.version")?;
            Some((
                name.clone(),
                RunKey {
                    run_key: r.key.clone(),
                    version: version.clone(),
                    run_id: None,
                },
            ))
        })
        .collect();
    salescast_core::artifact::save_plain_json(&models_dir.join(RUN_KEYS_FILE), &keys)?;
    Ok(())
}

/// Adds the server's run ids (by run key) to the sidecar once the runs were logged.
pub fn record_run_ids(models_dir: &Path, ids: &BTreeMap<String, String>) -> crate::Result<()> {
    let mut keys = load_run_keys(models_dir);
    let mut changed = false;
    for k in keys.values_mut() {
        if let Some(id) = ids.get(&k.run_key) {
            k.run_id = Some(id.clone());
            changed = true;
        }
    }
    if changed {
        salescast_core::artifact::save_plain_json(&models_dir.join(RUN_KEYS_FILE), &keys)?;
    }
    Ok(())
}

/// The run keys [`save_run_keys`] wrote (none when absent or unreadable).
pub fn load_run_keys(models_dir: &Path) -> BTreeMap<String, RunKey> {
    std::fs::read(models_dir.join(RUN_KEYS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The registered model every transaction model is a version of.
pub const REGISTERED_MODEL: &str = "salescast-revenue";
/// MLflow's custom flavor for our artifacts.
pub const FLAVOR: &str = "salescast";

/// Context a run records besides the model: where it ran and from which code.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub experiment: String,
    pub git_commit: Option<String>,
    /// The DVC stage running us (`DVC_STAGE`), if any.
    pub dvc_stage: Option<String>,
    pub dvc_exp: Option<String>,
}

impl RunContext {
    /// Reads the git commit of `dir` (when it is a repository) and DVC's variables.
    pub fn detect(experiment: &str, dir: &Path) -> Self {
        let git_commit = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            experiment: experiment.to_owned(),
            git_commit,
            dvc_stage: var("DVC_STAGE"),
            dvc_exp: var("DVC_EXP_NAME"),
        }
    }

    pub(crate) fn apply(&self, r: &mut RunRecord, stage: &str) {
        r.tag("stage", stage)
            .tag("mlflow.source.name", format!("salescast {stage}"));
        if let Some(c) = &self.git_commit {
            r.tag("mlflow.source.git.commit", c.clone());
        }
        if let Some(s) = &self.dvc_stage {
            r.tag("dvc.stage", s.clone());
        }
        if let Some(e) = &self.dvc_exp {
            r.tag("dvc.exp_name", e.clone());
        }
    }
}

fn existing(paths: impl IntoIterator<Item = (PathBuf, String)>) -> Vec<Artifact> {
    paths
        .into_iter()
        .filter(|(p, _)| p.is_file())
        .map(|(local, path)| Artifact { local, path })
        .collect()
}

/// The input schema MLflow shows for the models, and that `mlflow.pyfunc` checks frames
/// against: the data contract's fields for scoring (all but the quantity and the revenue),
/// required as scoring requires them; dates as `YYYY-MM-DD` text, promotion as 0/1.
fn signature_inputs() -> String {
    use salescast_core::schema::{Column, Mode};
    let v: Vec<serde_json::Value> = Column::ALL
        .iter()
        .filter(|c| !matches!(c, Column::Quantity | Column::Revenue))
        .map(|&c| {
            let kind = match c {
                Column::UnitPrice | Column::Discount => "double",
                Column::Promotion => "long",
                _ => "string",
            };
            serde_json::json!({"name": c.name(), "type": kind, "required": c.required(Mode::Scoring)})
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

/// The Python module whose `_load_pyfunc` loads a logged model folder (the `salescast`
/// package, built from `python/`), and the requirement that installs it.
const PYFUNC_LOADER: &str = "salescast.mlflow_model";

/// One finished run per trained model.
pub fn train_records(
    outcome: &TrainOutcome,
    opts: &TrainOptions,
    data_dir: &Path,
    models_dir: &Path,
    ctx: &RunContext,
) -> Vec<RunRecord> {
    let m = &outcome.manifest;
    let features = crate::features_dir(data_dir);
    // The daily champion and the history trained with these models travel with each
    // registered version, so that a service loading a version from the registry forecasts too.
    // Only when this training recorded them in the manifest: an older file must not ride along.
    let daily_files: Vec<(PathBuf, String)> = match Manifest::load(models_dir) {
        Ok(served) if served.daily.is_some() => [
            crate::daily::DAILY_ARTIFACT,
            salescast_core::history::HISTORY_FILE,
        ]
        .iter()
        .map(|f| (models_dir.join(f), (*f).to_owned()))
        .collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for report in &outcome.models {
        let name = report.kind.name();
        let Some(entry) = m.models.get(name) else {
            continue;
        };
        let mut r = RunRecord::new(new_key(), &ctx.experiment, &format!("train-{name}"));
        r.start_time -=
            ((report.fit_seconds + report.refit_seconds.unwrap_or(0.0)) * 1000.0) as i64;
        ctx.apply(&mut r, "train");
        r.tag("model.family", name)
            .tag("model.version", entry.version.clone())
            .tag("champion", (m.champion == name).to_string());
        r.params_from_json("", &entry.params)
            .param("model", name)
            .param("validation_days", opts.validation_days)
            .param("data.training_sha256", &m.training_data_sha256)
            .param("data.train_rows", m.train_rows)
            .param("data.test_rows", m.test_rows)
            .param("data.train_end", m.train_end)
            .param("data.test_start", m.test_start)
            .param("refit_on_all_data", report.refitted)
            .param("fitted_on.first", report.fitted_on.first)
            .param("fitted_on.last", report.fitted_on.last)
            .param("fitted_on.rows", report.fitted_on.rows)
            .param("evaluated_on.first", report.evaluated_on.first)
            .param("evaluated_on.last", report.evaluated_on.last)
            .param("evaluated_on.rows", report.evaluated_on.rows);
        if let Some(v) = &entry.evaluation_version {
            r.tag("model.evaluation_version", v.clone());
        }
        if let Some(n) = entry.rounds {
            r.param("rounds", n);
        }
        let t = &report.test;
        r.metric("test_mae", t.mae, 0)
            .metric("test_rmse", t.rmse, 0)
            .metric("test_r2", t.r2, 0)
            .metric("test_mape", t.mape, 0)
            .metric("fit_seconds", report.fit_seconds, 0)
            .metric("refit_seconds", report.refit_seconds.unwrap_or(0.0), 0)
            .metric("predict_rows_per_second", report.predict_rows_per_second, 0)
            .metric("artifact_bytes", report.artifact_bytes as f64, 0)
            .metric("trees", report.trees as f64, 0)
            .metric("leaves", report.leaves as f64, 0)
            .metric("baseline_mae", outcome.baseline.mae, 0)
            .metric(
                "mae_vs_seasonal_naive",
                t.mae / outcome.baseline.mae.max(f64::MIN_POSITIVE),
                0,
            );
        if let Some(v) = report.oob_r2 {
            r.metric("oob_r2", v, 0);
        }
        if let Some(v) = report.best_round {
            r.metric("best_round", v as f64, 0);
        }
        for (i, h) in report.history.iter().enumerate() {
            let step = i as i64 + 1;
            r.metric("train_rmse", h.0, step);
            if let Some(v) = h.1 {
                r.metric("valid_rmse", v, step);
            }
        }
        // The model file itself travels with the logged model, linked to this run.
        let mut files = vec![
            (
                models_dir.join(MANIFEST_FILE),
                format!("models/{MANIFEST_FILE}"),
            ),
            (
                models_dir.join(TRANSFORM_FILE),
                format!("models/{TRANSFORM_FILE}"),
            ),
            (
                features.join(salescast_features::frame::REPORT_FILE),
                format!("reports/{}", salescast_features::frame::REPORT_FILE),
            ),
            (
                features
                    .parent()
                    .map(|p| {
                        p.join("processed")
                            .join(salescast_preprocess::frame::REPORT_FILE)
                    })
                    .unwrap_or_default(),
                "reports/preprocess_report.json".to_owned(),
            ),
        ];
        let eval_dir = salescast_models::serving::evaluation_dir(models_dir);
        if report.kind == Kind::GradientBoosting {
            files.push((
                eval_dir.join("gradient_boosting_history.csv"),
                "curves/gradient_boosting_history.csv".to_owned(),
            ));
        }
        // The evaluation fit, whose test metrics the run records, beside the served refit
        // (the logged and registered model below).
        if eval_dir != models_dir {
            for f in [entry.artifact.as_str(), MANIFEST_FILE, TRANSFORM_FILE] {
                files.push((eval_dir.join(f), format!("evaluation_fit/{f}")));
            }
        }
        r.artifacts = existing(files);
        r.model = Some(ModelSpec {
            name: "model".into(),
            model_type: name.into(),
            files: existing(
                [
                    (models_dir.join(&entry.artifact), entry.artifact.clone()),
                    (models_dir.join(TRANSFORM_FILE), TRANSFORM_FILE.to_owned()),
                    (models_dir.join(MANIFEST_FILE), MANIFEST_FILE.to_owned()),
                ]
                .into_iter()
                .chain(daily_files.iter().cloned()),
            ),
            flavor: FLAVOR.into(),
            flavor_settings: BTreeMap::from([
                ("artifact".to_owned(), entry.artifact.clone()),
                ("transform".to_owned(), TRANSFORM_FILE.to_owned()),
                ("manifest".to_owned(), MANIFEST_FILE.to_owned()),
                ("kind".to_owned(), name.to_owned()),
                ("version".to_owned(), entry.version.clone()),
                (
                    "format".to_owned(),
                    format!(
                        "salescast model artifact, format {}",
                        salescast_models::model::FORMAT_VERSION
                    ),
                ),
            ]),
            signature_inputs: Some(signature_inputs()),
            signature_outputs: Some(
                r#"[{"name": "predicted_revenue", "type": "double", "required": true}]"#.into(),
            ),
            registered_name: Some(REGISTERED_MODEL.into()),
            champion: m.champion == name,
            // The Python package has the workspace's version (maturin reads it from Cargo).
            pyfunc: Some(PyFunc {
                loader_module: PYFUNC_LOADER.into(),
                requirement: format!("salescast=={}", env!("CARGO_PKG_VERSION")),
            }),
        });
        r.finish(RunStatus::Finished);
        r.fresh = true;
        out.push(r);
    }
    out
}

/// One FAILED run per model that was to be trained, with the error.
pub fn failed_records(opts: &TrainOptions, error: &str, ctx: &RunContext) -> Vec<RunRecord> {
    opts.kinds
        .iter()
        .map(|kind| {
            let name = kind.name();
            let mut r = RunRecord::new(new_key(), &ctx.experiment, &format!("train-{name}"));
            ctx.apply(&mut r, "train");
            r.tag("model.family", name)
                .tag("error", error.chars().take(5000).collect::<String>());
            let params = match kind {
                Kind::RandomForest => serde_json::to_value(&opts.random_forest),
                Kind::GradientBoosting => serde_json::to_value(&opts.gradient_boosting),
            };
            if let Ok(p) = params {
                r.params_from_json("", &p);
            }
            r.param("model", name).finish(RunStatus::Failed);
            r.fresh = true;
            r
        })
        .collect()
}

/// Additions to each model's run from the evaluate stage.
pub fn evaluate_records(
    metrics: &BTreeMap<String, MetricsEntry>,
    models_dir: &Path,
    metrics_file: &Path,
    plots_dir: Option<&Path>,
    ctx: &RunContext,
) -> crate::Result<Vec<RunRecord>> {
    let manifest = Manifest::load(models_dir)?;
    let keys = load_run_keys(models_dir);
    let mut out = Vec::new();
    for (name, entry) in &manifest.models {
        let Some(key) = keys.get(name).filter(|k| k.version == entry.version) else {
            continue;
        };
        let Some(m) = metrics.get(name) else { continue };
        let mut r = RunRecord::new(
            key.run_key.clone(),
            &ctx.experiment,
            &format!("train-{name}"),
        );
        r.tags
            .retain(|k, _| k == salescast_tracking::record::RUN_KEY_TAG);
        r.tag("evaluated", "true");
        r.metric("eval_mae", m.mae, 0)
            .metric("eval_rmse", m.rmse, 0)
            .metric("eval_r2", m.r2, 0);
        if let Some(b) = metrics.get("seasonal_naive") {
            r.metric("eval_baseline_mae", b.mae, 0);
        }
        let mut files = vec![(
            metrics_file.to_path_buf(),
            "evaluation/metrics.json".to_owned(),
        )];
        if let Some(p) = plots_dir {
            for f in [
                "predictions.csv",
                "residuals_by_day.csv",
                "feature_importance.csv",
                "field_importance.csv",
            ] {
                files.push((p.join(f), format!("plots/{f}")));
            }
        }
        r.artifacts = existing(files);
        out.push(r);
    }
    Ok(out)
}

/// The run of the daily champion selection: every candidate's rolling-origin MASE, the
/// champion's order and test scores, and `sarima.json` as the artifact.
pub fn daily_record(
    outcome: &crate::daily::DailyOutcome,
    settings: &salescast_daily::SelectSettings,
    models_dir: &Path,
    ctx: &RunContext,
) -> RunRecord {
    let mut r = RunRecord::new(new_key(), &ctx.experiment, "train-sarima");
    r.start_time -= (outcome.fit_seconds * 1000.0) as i64;
    ctx.apply(&mut r, "train");
    r.tag("model.family", "sarima")
        .tag("daily.champion", outcome.model.clone());
    r.param("model", "sarima")
        .param("champion", &outcome.model)
        .param(
            "order",
            outcome.order.clone().unwrap_or_else(|| "none".into()),
        )
        .param("cv.folds", settings.folds)
        .param("cv.fold_days", settings.fold_days)
        .param("calendar.holidays", settings.calendar.holidays)
        .param("calendar.fourier_terms", settings.calendar.fourier_terms)
        .param("stores", outcome.stores)
        .param("refit_on_all_data", outcome.refitted)
        .param("fitted_on.first", outcome.fitted_on.first)
        .param("fitted_on.last", outcome.fitted_on.last)
        .param("fitted_on.rows", outcome.fitted_on.rows);
    if let Some(e) = &outcome.evaluated_on {
        r.param("evaluated_on.first", e.first)
            .param("evaluated_on.last", e.last)
            .param("evaluated_on.rows", e.rows);
    }
    if let Some(t) = &outcome.test {
        r.metric("test_mae", t.mae, 0)
            .metric("test_rmse", t.rmse, 0)
            .metric("test_mape", t.mape, 0)
            .metric("test_mase", t.mase, 0);
    }
    if let Some(aic) = outcome.aic {
        r.metric("aic", aic, 0);
    }
    r.metric("fit_seconds", outcome.fit_seconds, 0);
    for (i, c) in outcome.candidates.iter().enumerate() {
        r.param(format!("candidate.{i}"), &c.name);
        if let Some(m) = c.mean_mase {
            r.metric(format!("cv_mase.candidate_{i}"), m, 0);
        }
    }
    r.artifacts = existing([
        (
            models_dir.join(crate::daily::DAILY_ARTIFACT),
            format!("models/{}", crate::daily::DAILY_ARTIFACT),
        ),
        (
            models_dir
                .join(salescast_models::serving::EVALUATION_DIR)
                .join(crate::daily::DAILY_ARTIFACT),
            format!("evaluation_fit/{}", crate::daily::DAILY_ARTIFACT),
        ),
    ]);
    r.finish(RunStatus::Finished);
    r
}

/// A run key derived from `bytes` (the first 16 bytes of their SHA-256, in hex: the shape of an
/// MLflow run id), so that the same search or trial is always the same run.
pub fn stable_key(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parent run of a search, as it starts: what defines the search (its params never
/// change, so a resumed search adds to the same run). Its key is the search's stable key.
pub fn tune_parent_record(
    prepared: &crate::tune::Prepared,
    settings: &salescast_tune::TuneSettings,
    ctx: &RunContext,
) -> RunRecord {
    let study = &prepared.study;
    let name = study.model.name();
    let mut r = RunRecord::new(
        prepared.run_key.clone(),
        &ctx.experiment,
        &format!("tune-{name}"),
    );
    ctx.apply(&mut r, "tune");
    r.tag("model.family", name);
    r.param("model", name)
        .param("seed", study.seed)
        .param("parallel", study.parallel)
        .param("startup_trials", study.startup_trials)
        .param("folds", study.folds)
        .param("fold_days", study.fold_days)
        .param("validation_days", study.validation_days)
        .param("sampler", "tpe")
        .param("data.training_sha256", &study.training_data_sha256)
        .params_from_json("space.", &study.space);
    if let Ok(base) = serde_json::to_value(&study.base) {
        r.params_from_json("base.", &base);
    }
    // Budget settings may change between resumptions: tags, which can be overwritten.
    r.tag("tune.trials", settings.trials.to_string()).tag(
        "tune.time_budget_secs",
        settings.time_budget_secs.to_string(),
    );
    for (i, (a, b)) in study.windows.iter().enumerate() {
        r.tag(format!("fold.{}", i + 1), format!("{a}..{b}"));
    }
    r
}

/// The parent run finished: the best trial and the defaults as metrics, the best values as
/// tags, the summary, the log and the tuned params file as artifacts.
pub fn tune_parent_final(
    prepared_key: &str,
    outcome: &crate::tune::TuneOutcome,
    params_file: Option<&Path>,
    ctx: &RunContext,
) -> RunRecord {
    let name = outcome.model.name();
    let mut r = RunRecord::new(
        prepared_key.to_owned(),
        &ctx.experiment,
        &format!("tune-{name}"),
    );
    r.tags
        .retain(|k, _| k == salescast_tracking::record::RUN_KEY_TAG);
    r.metric("best_cv_mae", outcome.best_cv_mae, 0)
        .metric("trials", outcome.trials as f64, 0)
        .metric("failed_trials", outcome.failed_trials as f64, 0)
        .metric("best_trial", outcome.best_trial as f64, 0)
        .metric("seconds", outcome.seconds, 0);
    if let Some(d) = outcome.defaults_cv_mae {
        r.metric("defaults_cv_mae", d, 0);
    }
    if let Some(v) = outcome.best_vs_defaults {
        r.metric("best_vs_defaults", v, 0);
    }
    r.tag("stopped_by", outcome.stopped_by.clone());
    if let Some(best) = outcome
        .all
        .iter()
        .find(|t| t.trial.number == outcome.best_trial)
    {
        for (k, v) in &best.trial.params {
            r.tag(format!("best.{k}"), v.to_string());
        }
    }
    let mut files = vec![
        (
            outcome.out_dir.join(crate::tune::SUMMARY_FILE),
            format!("tune/{}", crate::tune::SUMMARY_FILE),
        ),
        (
            outcome.out_dir.join(crate::tune::TRIALS_FILE),
            format!("tune/{}", crate::tune::TRIALS_FILE),
        ),
    ];
    if let Some(p) = params_file {
        let file = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tuned.yaml".into());
        files.push((p.to_path_buf(), format!("tune/{file}")));
    }
    r.artifacts = existing(files);
    r.finish(RunStatus::Finished);
    r
}

/// One finished trial as a child run of the search (MLflow's `mlflow.parentRunId` tag, when
/// the parent's id is known; the parent's key always). Its key is derived from the parent's
/// and the trial number, so a replay updates the same run.
pub fn tune_trial_record(
    parent_key: &str,
    parent_run_id: Option<&str>,
    model: Kind,
    trial: &salescast_tune::Trial,
    defaults_cv_mae: Option<f64>,
    ctx: &RunContext,
) -> RunRecord {
    let key = stable_key(format!("{parent_key}/{}", trial.number).as_bytes());
    let name = model.name();
    let mut r = RunRecord::new(
        key,
        &ctx.experiment,
        &format!("tune-{name}-trial-{}", trial.number),
    );
    ctx.apply(&mut r, "tune");
    r.tag("model.family", name)
        .tag("salescast.parent_run_key", parent_key)
        .tag("trial.source", format!("{:?}", trial.source).to_lowercase());
    if let Some(id) = parent_run_id {
        r.tag("mlflow.parentRunId", id);
    }
    r.param("trial", trial.number);
    for (k, v) in &trial.params {
        r.param(k.clone(), v);
    }
    for (i, m) in trial.fold_mae.iter().enumerate() {
        r.metric("fold_mae", *m, i as i64 + 1);
    }
    for (i, n) in trial.rounds.iter().enumerate() {
        r.metric("rounds", *n as f64, i as i64 + 1);
    }
    r.metric("seconds", trial.seconds, 0);
    r.start_time -= (trial.seconds * 1000.0) as i64;
    match (trial.cv_mae, &trial.error) {
        (Some(v), _) => {
            r.metric("cv_mae", v, 0);
            if let Some(d) = defaults_cv_mae.filter(|d| *d > 0.0) {
                r.metric("vs_defaults", v / d - 1.0, 0);
            }
            r.finish(RunStatus::Finished);
        }
        (None, e) => {
            r.tag("error", e.clone().unwrap_or_default());
            r.finish(RunStatus::Failed);
        }
    }
    r
}
