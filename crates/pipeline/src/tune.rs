//! The tune stage on files: the folds cut from the training features (never the test days),
//! the search run with its trial log kept in the output directory so that an interrupted or
//! extended search resumes, and the best parameters written as a params file that
//! `salescast train --tuned` and DVC read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use salescast_core::artifact::{save_plain_json, sha256_file, write_atomic};
use salescast_core::schema::{date_to_days, days_to_date};
use salescast_features::FeatureTransform;
use salescast_features::frame::{TRAIN_FILE, TRANSFORM_FILE, read_features};
use salescast_models::Kind;
use salescast_tune::{Fold, FoldScores, ModelParams, Search, Trial, TuneSettings};
use serde::{Deserialize, Serialize};

use crate::{PipelineError, Result, features_dir};

/// The search's identity: a trial log is resumed only by a search with the same one.
pub const STUDY_FILE: &str = "study.json";
/// Every finished trial, one JSON object a line, rewritten whole after each batch.
pub const TRIALS_FILE: &str = "trials.jsonl";
/// The last search's outcome.
pub const SUMMARY_FILE: &str = "summary.json";

/// What a search is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    pub settings: TuneSettings,
    /// The parameters `salescast train` would use (trial 0 and every unsearched value).
    pub base: ModelParams,
    /// Boosting's early-stopping days at the end of each fold's training days (as in train).
    pub validation_days: u32,
    /// Start over even when the directory holds a log of the same search.
    pub fresh: bool,
}

/// What makes two searches the same one: the model, the data, the folds, the sampler and the
/// space. The number of trials and the time budget are left out, so a search can be extended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub model: Kind,
    pub training_data_sha256: String,
    pub base: ModelParams,
    pub validation_days: u32,
    pub seed: u64,
    pub parallel: usize,
    pub startup_trials: usize,
    pub folds: usize,
    pub fold_days: u32,
    pub space: serde_json::Value,
    /// The windows scored, as dates, for people reading the file.
    pub windows: Vec<(chrono::NaiveDate, chrono::NaiveDate)>,
}

/// One trial as reported: the log entry and how it compares with the defaults.
#[derive(Debug, Clone, Serialize)]
pub struct TrialReport {
    #[serde(flatten)]
    pub trial: Trial,
    /// `cv_mae / defaults' cv_mae - 1` (negative: better than the defaults).
    pub vs_defaults: Option<f64>,
}

/// The outcome of a search.
#[derive(Debug, Clone, Serialize)]
pub struct TuneOutcome {
    pub model: Kind,
    pub out_dir: PathBuf,
    pub study: Study,
    /// Trials in the log, failed ones included.
    pub trials: usize,
    /// Trials this invocation ran (the rest came from the log).
    pub new_trials: usize,
    pub failed_trials: usize,
    pub resumed: bool,
    /// Why the search stopped: `trials` (all done) or `time_budget`.
    pub stopped_by: String,
    pub defaults_cv_mae: Option<f64>,
    pub best_cv_mae: f64,
    /// `best / defaults - 1`: the cross-validated change the tuned parameters bring.
    pub best_vs_defaults: Option<f64>,
    pub best_trial: usize,
    pub best_params: ModelParams,
    pub seconds: f64,
    pub all: Vec<TrialReport>,
}

/// The training features (no test rows) with each row's day, and the study's data hash.
struct Training {
    data: salescast_models::Dataset,
    days: Vec<i64>,
    sha: String,
}

fn load_training(data_dir: &Path) -> Result<Training> {
    let dir = features_dir(data_dir);
    let transform = FeatureTransform::load(&dir.join(TRANSFORM_FILE))?;
    let train = read_features(&dir.join(TRAIN_FILE), &transform.feature_names)?;
    let days = train
        .date
        .iter()
        .map(|d| i64::from(date_to_days(*d)))
        .collect();
    Ok(Training {
        data: crate::train::dataset(&train, None)?,
        days,
        sha: sha256_file(&dir.join(TRAIN_FILE))?,
    })
}

fn bad(e: salescast_tune::TuneError) -> PipelineError {
    match e {
        salescast_tune::TuneError::Model(m) => PipelineError::Model(m),
        other => PipelineError::BadInput(other.to_string()),
    }
}

fn folds_for(t: &Training, opts: &TuneOptions) -> Result<Vec<Fold>> {
    let s = &opts.settings;
    // The forest does not stop early: it is fitted on every day before the window.
    let stop_days = match opts.base.kind() {
        Kind::GradientBoosting => opts.validation_days,
        Kind::RandomForest => 0,
    };
    salescast_tune::rolling_origin(&t.data, &t.days, s.folds, s.fold_days, stop_days).map_err(bad)
}

fn study_of(t: &Training, folds: &[Fold], opts: &TuneOptions) -> Result<Study> {
    let s = &opts.settings;
    let space = match opts.base.kind() {
        Kind::GradientBoosting => serde_json::to_value(&s.gradient_boosting),
        Kind::RandomForest => serde_json::to_value(&s.random_forest),
    }
    .map_err(|e| PipelineError::BadInput(e.to_string()))?;
    Ok(Study {
        model: opts.base.kind(),
        training_data_sha256: t.sha.clone(),
        base: opts.base.clone(),
        validation_days: opts.validation_days,
        seed: s.seed,
        parallel: s.parallel,
        startup_trials: s.startup_trials,
        folds: s.folds,
        fold_days: s.fold_days,
        space,
        windows: folds
            .iter()
            .map(|f| {
                (
                    days_to_date(f.window.0 as i32),
                    days_to_date(f.window.1 as i32),
                )
            })
            .collect(),
    })
}

fn io(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PipelineError {
    PipelineError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// The trial log in `dir`. A torn or hand-broken line is an error naming it: the log is the
/// search's memory, and guessing around a damaged one would silently change the search.
pub fn load_trials(dir: &Path) -> Result<Vec<Trial>> {
    let path = dir.join(TRIALS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path, e)),
    };
    let mut out: Vec<Trial> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let t: Trial = serde_json::from_str(line).map_err(|e| {
            PipelineError::BadInput(format!(
                "{} line {}: {e} (remove the line, or start over with --fresh)",
                path.display(),
                i + 1
            ))
        })?;
        if out.iter().any(|o| o.number == t.number) {
            return Err(PipelineError::BadInput(format!(
                "{} line {}: trial {} appears twice",
                path.display(),
                i + 1,
                t.number
            )));
        }
        out.push(t);
    }
    Ok(out)
}

fn save_trials(dir: &Path, trials: &[Trial]) -> Result<()> {
    write_atomic(&dir.join(TRIALS_FILE), |w| {
        for t in trials {
            serde_json::to_writer(&mut *w, t).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The log to resume from: the trials of the same study, or nothing. A log of another study
/// (other data, space or seed) is kept as `trials.previous.jsonl`, never mixed in.
fn resume_from(dir: &Path, study: &Study, fresh: bool) -> Result<Vec<Trial>> {
    let study_path = dir.join(STUDY_FILE);
    let earlier: Option<Study> = std::fs::read_to_string(&study_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let same = earlier.as_ref() == Some(study);
    let log = dir.join(TRIALS_FILE);
    if log.exists() && (fresh || !same) {
        let kept = dir.join("trials.previous.jsonl");
        std::fs::rename(&log, &kept).map_err(|e| io(&log, e))?;
        tracing::warn!(
            kept = %kept.display(),
            reason = if fresh { "--fresh" } else { "the data, folds, seed or space changed" },
            "starting a new search; the earlier trial log is kept"
        );
    }
    save_plain_json(&study_path, study)?;
    if fresh || !same {
        return Ok(Vec::new());
    }
    load_trials(dir)
}

fn report(trials: &[Trial]) -> Vec<TrialReport> {
    let defaults = trials.iter().find(|t| t.number == 0).and_then(|t| t.cv_mae);
    trials
        .iter()
        .map(|t| TrialReport {
            trial: t.clone(),
            vs_defaults: match (t.cv_mae, defaults) {
                (Some(v), Some(d)) if d > 0.0 => Some(v / d - 1.0),
                _ => None,
            },
        })
        .collect()
}

/// What the stage calls after each batch (its trials, then every trial so far); an error
/// stops the search.
pub type OnBatch<'a> = dyn FnMut(&[Trial], &[Trial]) -> Result<()> + 'a;

/// A search ready to run: its folds cut, its study written, its earlier trials read.
#[derive(Debug)]
pub struct Prepared {
    pub study: Study,
    /// A stable key for the search (from the study), so that its tracking runs are found
    /// again when it resumes: 32 hex digits, the shape of an MLflow run id.
    pub run_key: String,
    /// Trials from the log of the same search, resumed.
    pub done: Vec<Trial>,
    folds: Vec<Fold>,
    out_dir: PathBuf,
    opts: TuneOptions,
}

/// Cuts the folds from `data_dir`'s training days, writes the study into `out_dir` and reads
/// the trials to resume from.
pub fn prepare(data_dir: &Path, out_dir: &Path, opts: &TuneOptions) -> Result<Prepared> {
    opts.settings.validate().map_err(bad)?;
    opts.base.validate()?;
    let training = load_training(data_dir)?;
    let folds = folds_for(&training, opts)?;
    let study = study_of(&training, &folds, opts)?;
    drop(training);
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let done = resume_from(out_dir, &study, opts.fresh)?;
    let study_json =
        serde_json::to_vec(&study).map_err(|e| PipelineError::BadInput(e.to_string()))?;
    let run_key = crate::tracking::stable_key(&study_json);
    Ok(Prepared {
        study,
        run_key,
        done,
        folds,
        out_dir: out_dir.to_path_buf(),
        opts: opts.clone(),
    })
}

impl Prepared {
    /// Runs the missing trials, saving the log after each batch. `on_batch` sees each finished
    /// batch (new trials, all trials) and may stop the search by returning an error.
    pub fn run(self, on_batch: &mut OnBatch<'_>) -> Result<TuneOutcome> {
        let started = Instant::now();
        let Self {
            study,
            done,
            folds,
            out_dir,
            opts,
            ..
        } = self;
        let out_dir = out_dir.as_path();
        let resumed = !done.is_empty();
        let before = done.len();
        if resumed {
            tracing::info!(
                trials = before,
                log = %out_dir.join(TRIALS_FILE).display(),
                "resuming the search from its log"
            );
        }
        let search = Search {
            settings: &opts.settings,
            base: opts.base.clone(),
            folds: &folds,
        };
        let mut failure = None;
        let trials = search
            .run(done, &mut |new, all| {
                save_trials(out_dir, all)
                    .and_then(|()| on_batch(new, all))
                    .map_err(|e| {
                        let msg = e.to_string();
                        failure = Some(e);
                        salescast_tune::TuneError::Candidate(msg)
                    })
            })
            .map_err(|e| failure.take().unwrap_or_else(|| bad(e)))?;
        let best = salescast_tune::best(&trials).ok_or_else(|| {
            PipelineError::BadInput(format!(
                "no trial succeeded; the first error: {}",
                trials
                    .iter()
                    .find_map(|t| t.error.clone())
                    .unwrap_or_else(|| "none ran".into())
            ))
        })?;
        let best_params =
            salescast_tune::apply(&opts.base, &search.dims(), &best.params).map_err(bad)?;
        let defaults_cv_mae = trials.iter().find(|t| t.number == 0).and_then(|t| t.cv_mae);
        let best_cv_mae = best.cv_mae.unwrap_or(f64::NAN);
        let outcome = TuneOutcome {
            model: opts.base.kind(),
            out_dir: out_dir.to_path_buf(),
            study,
            trials: trials.len(),
            new_trials: trials.len() - before,
            failed_trials: trials.iter().filter(|t| t.cv_mae.is_none()).count(),
            resumed,
            stopped_by: if trials.len() >= opts.settings.trials {
                "trials".into()
            } else {
                "time_budget".into()
            },
            defaults_cv_mae,
            best_cv_mae,
            best_vs_defaults: defaults_cv_mae
                .filter(|d| *d > 0.0)
                .map(|d| best_cv_mae / d - 1.0),
            best_trial: best.number,
            best_params,
            seconds: started.elapsed().as_secs_f64(),
            all: report(&trials),
        };
        save_plain_json(&out_dir.join(SUMMARY_FILE), &outcome)?;
        Ok(outcome)
    }
}

/// Scores one candidate given by hand (the searched values by name) on the same folds, without
/// touching any log: the objective for an outside optimiser to call.
pub fn evaluate_candidate(
    data_dir: &Path,
    opts: &TuneOptions,
    values: &BTreeMap<String, f64>,
) -> Result<FoldScores> {
    opts.settings.validate().map_err(bad)?;
    let dims = opts.settings.dims(opts.base.kind());
    let params = salescast_tune::apply(&opts.base, &dims, values).map_err(bad)?;
    let training = load_training(data_dir)?;
    let folds = folds_for(&training, opts)?;
    drop(training);
    salescast_tune::evaluate(&params, &folds).map_err(bad)
}

/// Writes `params` as the `train.<model>` section of the params file `path`, keeping the other
/// model's section when the file has one (so that tuning each model in turn fills one file).
pub fn write_tuned_params(path: &Path, outcome: &TuneOutcome) -> Result<()> {
    let mut doc: serde_yaml_ng::Mapping = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => serde_yaml_ng::from_str(&text).map_err(|e| {
            PipelineError::BadInput(format!("{}: not a tuned params file: {e}", path.display()))
        })?,
        _ => serde_yaml_ng::Mapping::new(),
    };
    let train = doc
        .entry("train".into())
        .or_insert_with(|| serde_yaml_ng::Value::Mapping(Default::default()));
    let serde_yaml_ng::Value::Mapping(train) = train else {
        return Err(PipelineError::BadInput(format!(
            "{}: `train` is not a mapping",
            path.display()
        )));
    };
    let value = serde_yaml_ng::to_value(&outcome.best_params)
        .map_err(|e| PipelineError::BadInput(e.to_string()))?;
    train.insert(outcome.model.name().into(), value);
    let body =
        serde_yaml_ng::to_string(&doc).map_err(|e| PipelineError::BadInput(e.to_string()))?;
    let d = outcome
        .defaults_cv_mae
        .map(|d| format!("{d:.4}"))
        .unwrap_or_else(|| "n/a".into());
    let header = format!(
        "# Tuned hyperparameters, read by `salescast train --tuned {}` (and the DVC train stage).\n\
         # Last search, {}: trial {} of {}, cross-validated MAE {:.4} against {} for the defaults, on {} folds of {} days.\n",
        path.display(),
        outcome.model.name(),
        outcome.best_trial,
        outcome.trials,
        outcome.best_cv_mae,
        d,
        outcome.study.folds,
        outcome.study.fold_days,
    );
    write_atomic(path, |w| {
        w.write_all(header.as_bytes())?;
        w.write_all(body.as_bytes())
    })?;
    Ok(())
}
