//! `salescast tune`: settings merged, the search run with a progress bar, every trial logged
//! to experiment tracking as a child run under one parent, the best parameters written.

use std::collections::BTreeMap;

use indicatif::{ProgressBar, ProgressStyle};
use salescast_pipeline::PipelineError;
use salescast_pipeline::tune::{self as stage, TuneOptions};
use salescast_tracking::Logged;
use salescast_tune::{ModelParams, TuneSettings};

use crate::args::{TrainSettings, TuneArgs};
use crate::commands::{print_json, train_options};
use crate::exit::Failure;
use crate::params::Params;
use crate::track;

fn settings(a: &TuneArgs, p: &Params) -> Result<TuneSettings, Failure> {
    let mut s = p.tune.clone().unwrap_or_default();
    if let Some(n) = a.trials {
        s.trials = n;
    }
    if let Some(t) = a.time_budget {
        s.time_budget_secs = t;
    }
    if let Some(seed) = a.seed {
        s.seed = seed;
    }
    s.validate()
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("params {e}")))?;
    Ok(s)
}

fn options(a: &TuneArgs, p: &Params) -> Result<TuneOptions, Failure> {
    let kind = salescast_models::Kind::parse(a.model.trim()).ok_or_else(|| {
        Failure::bad_input(anyhow::anyhow!(
            "--model {:?}: expected gradient_boosting or random_forest",
            a.model
        ))
    })?;
    // Trial 0 is what `salescast train` would fit from params.yaml.
    let train = train_options(
        &TrainSettings {
            models: None,
            no_refit: false,
            tuned: None,
        },
        p,
    )?;
    let base = match kind {
        salescast_models::Kind::GradientBoosting => {
            ModelParams::GradientBoosting(train.gradient_boosting)
        }
        salescast_models::Kind::RandomForest => ModelParams::RandomForest(train.random_forest),
    };
    Ok(TuneOptions {
        settings: settings(a, p)?,
        base,
        validation_days: train.validation_days,
        fresh: a.fresh,
    })
}

fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("trials [{bar:30}] {pos}/{len} ({elapsed}) {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn run_id(logged: &Logged) -> Option<String> {
    match logged {
        Logged::Server { run_id } => Some(run_id.clone()),
        Logged::Local { run_dir } => run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        Logged::Spooled { .. } => None,
    }
}

pub(crate) fn tune(a: &TuneArgs, p: &Params, json: bool) -> Result<(), Failure> {
    let opts = options(a, p)?;
    let kind = opts.base.kind();
    if let Some(candidate) = &a.evaluate {
        let values: BTreeMap<String, f64> = serde_json::from_str(candidate).map_err(|e| {
            Failure::bad_input(anyhow::anyhow!(
                "--evaluate: expected a JSON object of numbers by name: {e}"
            ))
        })?;
        let scores = stage::evaluate_candidate(&a.data_dir, &opts, &values)?;
        let out = serde_json::json!({
            "model": kind.name(),
            "params": values,
            "fold_mae": scores.fold_mae,
            "cv_mae": scores.cv_mae(),
            "rounds": scores.rounds,
        });
        return print_json(&out);
    }
    let tracker = track::tracker(&a.track)?;
    let ctx = tracker.as_ref().map(|t| {
        salescast_pipeline::tracking::RunContext::detect(&t.experiment, &a.track.project_dir)
    });
    let out_dir = a.out_dir.join(kind.name());
    let prepared = stage::prepare(&a.data_dir, &out_dir, &opts)?;
    let run_key = prepared.run_key.clone();
    let parent_id = match (&tracker, &ctx) {
        (Some(t), Some(ctx)) => {
            let parent =
                salescast_pipeline::tracking::tune_parent_record(&prepared, &opts.settings, ctx);
            let tracked = track::log(t, &[parent])?;
            tracked.runs.first().and_then(|r| run_id(&r.logged))
        }
        _ => None,
    };
    tracing::info!(
        model = kind.name(),
        trials = opts.settings.trials,
        budget_secs = opts.settings.time_budget_secs,
        folds = opts.settings.folds,
        fold_days = opts.settings.fold_days,
        resumed = prepared.done.len(),
        log = %out_dir.display(),
        "tuning"
    );
    let progress = bar(opts.settings.trials as u64);
    progress.set_position(prepared.done.len() as u64);
    let outcome = prepared.run(&mut |new, all| {
        progress.set_position(all.len() as u64);
        let defaults = all.iter().find(|t| t.number == 0).and_then(|t| t.cv_mae);
        if let Some(best) = salescast_tune::best(all).and_then(|b| b.cv_mae) {
            progress.set_message(format!(
                "best MAE {best:.4}, defaults {}",
                defaults
                    .map(|d| format!("{d:.4}"))
                    .unwrap_or_else(|| "-".into())
            ));
        }
        for t in new {
            progress.suspend(|| match (t.cv_mae, defaults) {
                (Some(v), Some(d)) => tracing::info!(
                    trial = t.number,
                    source = ?t.source,
                    cv_mae = format!("{v:.4}"),
                    vs_defaults = format!("{:+.2}%", 100.0 * (v / d - 1.0)),
                    seconds = format!("{:.1}", t.seconds),
                    "trial"
                ),
                (Some(v), None) => tracing::info!(trial = t.number, cv_mae = v, "trial"),
                (None, _) => tracing::warn!(
                    trial = t.number,
                    error = t.error.as_deref().unwrap_or(""),
                    "trial failed"
                ),
            });
        }
        if let (Some(t), Some(ctx)) = (&tracker, &ctx) {
            let records: Vec<_> = new
                .iter()
                .map(|trial| {
                    salescast_pipeline::tracking::tune_trial_record(
                        &run_key,
                        parent_id.as_deref(),
                        kind,
                        trial,
                        defaults,
                        ctx,
                    )
                })
                .collect();
            progress
                .suspend(|| track::log(t, &records))
                .map_err(|f| PipelineError::BadInput(format!("tracking: {:#}", f.error)))?;
        }
        Ok(())
    });
    progress.finish_and_clear();
    let outcome = outcome?;
    stage::write_tuned_params(&a.params_out, &outcome)?;
    if let (Some(t), Some(ctx)) = (&tracker, &ctx) {
        let fin = salescast_pipeline::tracking::tune_parent_final(
            &run_key,
            &outcome,
            Some(&a.params_out),
            ctx,
        );
        track::log(t, &[fin])?;
    }
    tracing::info!(
        model = kind.name(),
        trials = outcome.trials,
        new = outcome.new_trials,
        stopped_by = %outcome.stopped_by,
        best_trial = outcome.best_trial,
        best_cv_mae = format!("{:.4}", outcome.best_cv_mae),
        defaults_cv_mae = outcome.defaults_cv_mae.map(|d| format!("{d:.4}")),
        vs_defaults = outcome.best_vs_defaults.map(|v| format!("{:+.2}%", 100.0 * v)),
        params_out = %a.params_out.display(),
        "tuned"
    );
    if json { print_json(&outcome) } else { Ok(()) }
}
