//! The subcommands: settings are merged, the library does the work, the result is reported.

use std::fs;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use salescast_features::daily::DailyOptions;
use salescast_features::frame::StageOptions;
use salescast_features::transform::TransformOptions;
use salescast_pipeline::train::{TrainOptions, TrainOutcome};
use salescast_preprocess::{Options as CleanOptions, OutlierRule};
use serde::Serialize;

use crate::args::{
    CleanSettings, Cli, Command, EvaluateArgs, FeatureSettings, FeaturesArgs, GenerateArgs,
    PipelineArgs, PredictArgs, PreprocessArgs, TrackSettings, TrainArgs, TrainSettings,
};
use crate::exit::Failure;
use crate::params::{self, Params};
use crate::track::{self, Tracked};

type Outcome = Result<(), Failure>;

pub(crate) fn run(cli: Cli) -> Outcome {
    let (params, source) = match &cli.global.params {
        Some(p) => params::load(p, true),
        None => params::load(Path::new("params.yaml"), false),
    }
    .map_err(Failure::bad_input)?;
    tracing::debug!(settings = %source, "settings");
    if uses_settings(&cli.command) {
        tracing::info!(settings = %source, "settings");
    }
    let json = cli.global.json;
    match cli.command {
        Command::Generate(a) => generate(&a, &params, json),
        Command::Preprocess(a) => preprocess(&a, &params, json),
        Command::Features(a) => features(&a, &params, json),
        Command::Train(a) => train(&a, &params, json),
        Command::Evaluate(a) => evaluate(&a, json),
        Command::Predict(a) => predict(&a, json),
        Command::Forecast(a) => forecast(&a, json),
        Command::ForecastMany(a) => forecast_many(&a, json),
        Command::Pipeline(a) => pipeline(&a, &params, json),
        Command::Tune(a) => crate::tune::tune(&a, &params, json),
        Command::Tracking(c) => crate::track::command(&c, json),
    }
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Outcome {
    let text = serde_json::to_string_pretty(value).map_err(Failure::failed)?;
    println!("{text}");
    Ok(())
}

fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A progress bar per step of a stage that reports [`salescast_pipeline::stage::Progress`]:
/// the previous step's bar is cleared when the next step starts, the last one by [`Self::done`].
#[derive(Default)]
struct StepBars(std::sync::Mutex<Option<(String, ProgressBar)>>);

impl StepBars {
    fn update(&self, p: salescast_pipeline::stage::Progress<'_>) {
        let Ok(mut current) = self.0.lock() else {
            return;
        };
        match &*current {
            Some((step, bar)) if step == p.step => bar.set_position(p.done),
            _ => {
                if let Some((_, bar)) = current.take() {
                    bar.finish_and_clear();
                }
                let bar = progress(p.total, p.step);
                bar.set_position(p.done);
                *current = Some((p.step.to_owned(), bar));
            }
        }
    }

    fn done(&self) {
        if let Ok(mut current) = self.0.lock()
            && let Some((_, bar)) = current.take()
        {
            bar.finish_and_clear();
        }
    }
}

#[derive(Debug, Serialize)]
struct GenerateOutcome {
    out: String,
    rows: usize,
    first_date: chrono::NaiveDate,
    last_date: chrono::NaiveDate,
    absurd_quantities: usize,
    blank_prices: usize,
    blank_categories: usize,
    duplicate_ids: usize,
    seconds: f64,
}

fn generate(a: &GenerateArgs, p: &Params, json: bool) -> Outcome {
    let d = salescast_synth::Config::default();
    let g = &p.generate;
    let cfg = salescast_synth::Config {
        rows: a.rows.or(g.rows).unwrap_or(d.rows),
        days: a.days.or(g.days).unwrap_or(d.days),
        start: a.start.or(g.start).unwrap_or(d.start),
        stores: a.stores.or(g.stores).unwrap_or(d.stores),
        seed: a.seed.or(g.seed).unwrap_or(d.seed),
        ..d
    };
    cfg.validate()?;
    let started = std::time::Instant::now();
    let bar = progress(cfg.rows as u64, "generating");
    let mut summary = None;
    salescast_core::artifact::write_atomic(&a.out, |w| {
        let mut w = BufWriter::with_capacity(1 << 20, w);
        let s = salescast_synth::generate(&cfg, &mut w, |n| bar.set_position(n as u64))
            .map_err(std::io::Error::other)?;
        summary = Some(s);
        Ok(())
    })?;
    bar.finish_and_clear();
    let s = summary
        .context("the generator produced no summary")
        .map_err(Failure::failed)?;
    let outcome = GenerateOutcome {
        out: a.out.display().to_string(),
        rows: s.rows,
        first_date: s.first_date,
        last_date: s.last_date,
        absurd_quantities: s.absurd_quantities,
        blank_prices: s.blank_prices,
        blank_categories: s.blank_categories,
        duplicate_ids: s.duplicate_ids,
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(rows = s.rows, out = %a.out.display(), from = %s.first_date, to = %s.last_date, "generated");
    if json { print_json(&outcome) } else { Ok(()) }
}

fn clean_options(c: &CleanSettings, p: &Params) -> CleanOptions {
    let d = CleanOptions::default();
    CleanOptions {
        test_days: c.test_days.or(p.split.test_days).unwrap_or(d.test_days),
        rule: OutlierRule {
            k: c.outlier_k.or(p.preprocess.outlier_k).unwrap_or(d.rule.k),
        },
    }
}

fn stage_options(f: &FeatureSettings, p: &Params) -> StageOptions {
    let d = DailyOptions::default();
    StageOptions {
        transform: TransformOptions {
            scale: f.scale.or(p.features.scale).unwrap_or(false),
        },
        daily: DailyOptions {
            lags: p.features.lags.clone().unwrap_or(d.lags),
            windows: p.features.windows.clone().unwrap_or(d.windows),
        },
    }
}

fn run_preprocess(
    input: &Path,
    out_dir: &Path,
    opts: &CleanOptions,
) -> Result<salescast_preprocess::frame::Run, Failure> {
    let run = salescast_preprocess::frame::run(input, out_dir, opts)?;
    let report = &run.report;
    tracing::info!(
        rows_in = report.rows_in,
        rows_out = report.rows_out,
        rejected = report.rows_rejected,
        duplicates = report.duplicates_dropped,
        rejected_file = %run.outputs.rejected.display(),
        seconds = format!("{:.3}", report.seconds),
        "preprocessed"
    );
    Ok(run)
}

fn log_features(report: &salescast_features::frame::FeaturesReport) {
    tracing::info!(
        train_rows = report.train_rows,
        test_rows = report.test_rows,
        features = report.features.len(),
        series = report.daily_series,
        days = report.days,
        seconds = format!("{:.3}", report.seconds),
        "features built"
    );
}

fn preprocess(a: &PreprocessArgs, p: &Params, json: bool) -> Outcome {
    let run = run_preprocess(&a.input, &a.out_dir, &clean_options(&a.clean, p))?;
    if json {
        print_json(&run.report)
    } else {
        Ok(())
    }
}

fn features(a: &FeaturesArgs, p: &Params, json: bool) -> Outcome {
    let (report, _) =
        salescast_features::frame::run(&a.in_dir, &a.out_dir, &stage_options(&a.features, p))?;
    log_features(&report);
    if json { print_json(&report) } else { Ok(()) }
}

/// Whether a command reads `params.yaml` (the others need not say where it came from).
fn uses_settings(c: &Command) -> bool {
    matches!(
        c,
        Command::Generate(_)
            | Command::Preprocess(_)
            | Command::Features(_)
            | Command::Train(_)
            | Command::Pipeline(_)
            | Command::Tune(_)
    )
}

/// The name of the daily model in `--model` lists.
const SARIMA: &str = "sarima";

fn parse_kind(name: &str) -> Result<salescast_models::Kind, Failure> {
    salescast_models::Kind::parse(name.trim()).ok_or_else(|| {
        Failure::bad_input(anyhow::anyhow!(
            "unknown model {name:?}: expected random_forest, gradient_boosting or sarima"
        ))
        .on("--model")
    })
}

/// The `monitor:` section, checked.
fn monitor_settings(p: &Params) -> Result<salescast_monitor::settings::MonitorSettings, Failure> {
    let m = p.monitor.clone().unwrap_or_default();
    m.validate()
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("params {e}")))?;
    Ok(m)
}

pub(crate) fn train_options(t: &TrainSettings, p: &Params) -> Result<TrainOptions, Failure> {
    let d = TrainOptions::default();
    let tuned = match &t.tuned {
        Some(path) => params::load_tuned(path).map_err(Failure::bad_input)?,
        None => params::Tuned::default(),
    };
    let (kinds, daily) = match t.models.clone().or_else(|| p.train.models.clone()) {
        Some(names) => {
            let daily = names.iter().any(|n| n.trim() == SARIMA);
            let kinds = names
                .iter()
                .filter(|n| n.trim() != SARIMA)
                .map(|n| parse_kind(n))
                .collect::<Result<Vec<_>, _>>()?;
            if kinds.is_empty() && !daily {
                return Err(
                    Failure::bad_input(anyhow::anyhow!("--model names no model")).on("--model"),
                );
            }
            (kinds, daily)
        }
        // A settings file without `train.models`: every model, the daily one included, as
        // the built-in settings have it.
        None => (d.kinds, true),
    };
    let settings = p.train.sarima.clone().unwrap_or_default().settings();
    settings
        .validate()
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("params train.sarima: {e}")))?;
    Ok(TrainOptions {
        daily: daily.then_some(settings),
        kinds,
        random_forest: tuned
            .train
            .random_forest
            .or_else(|| p.train.random_forest.clone())
            .unwrap_or(d.random_forest),
        gradient_boosting: tuned
            .train
            .gradient_boosting
            .or_else(|| p.train.gradient_boosting.clone())
            .unwrap_or(d.gradient_boosting),
        validation_days: p.train.validation_days.unwrap_or(d.validation_days),
        refit_on_all_data: !t.no_refit && p.train.refit_on_all_data.unwrap_or(d.refit_on_all_data),
    })
}

#[derive(Debug, Serialize)]
struct TrainReport {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    outcome: Option<TrainOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    daily: Option<salescast_pipeline::daily::DailyOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking: Option<Tracked>,
}

impl TrainReport {
    /// The report without what differs between two runs on the same inputs (wall-clock
    /// figures and tracking run ids): the train stage's deterministic DVC output.
    fn summary(&self) -> serde_json::Value {
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.retain(|k, _| !(k.ends_with("seconds") || k.ends_with("per_second")));
                    m.values_mut().for_each(strip);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut v = serde_json::json!({"outcome": &self.outcome, "daily": &self.daily});
        strip(&mut v);
        v
    }
}

/// Trains, then records one run per model. A failed training is recorded as FAILED runs before
/// the error is returned.
fn run_train(
    data_dir: &Path,
    models_dir: &Path,
    opts: &TrainOptions,
    track: &TrackSettings,
    monitor: &salescast_monitor::settings::MonitorSettings,
    clean: Option<&Path>,
) -> Result<TrainReport, Failure> {
    let tracker = track::tracker(track)?;
    let ctx = tracker.as_ref().map(|t| {
        salescast_pipeline::tracking::RunContext::detect(&t.experiment, &track.project_dir)
    });
    let bars = StepBars::default();
    let stage = salescast_pipeline::stage::TrainStage {
        data_dir,
        models_dir,
        options: opts,
        monitor,
        clean,
        progress: &|p| bars.update(p),
    };
    let result = salescast_pipeline::stage::train_stage(&stage);
    bars.done();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if let (Some(t), Some(ctx)) = (&tracker, &ctx)
                && !opts.kinds.is_empty()
            {
                let records =
                    salescast_pipeline::tracking::failed_records(opts, &e.to_string(), ctx);
                if let Err(te) = track::log(t, &records) {
                    tracing::warn!(error = %te.error, "could not record the failed run");
                }
            }
            return Err(e.into());
        }
    };
    let daily = report.daily;
    let daily_records: Vec<salescast_tracking::RunRecord> =
        match (&tracker, &ctx, &daily, opts.daily.as_ref()) {
            (Some(_), Some(ctx), Some(d), Some(settings)) => {
                vec![salescast_pipeline::tracking::daily_record(
                    d, settings, models_dir, ctx,
                )]
            }
            _ => Vec::new(),
        };
    let Some(outcome) = report.outcome else {
        let tracking = match &tracker {
            Some(t) if !daily_records.is_empty() => Some(track::log(t, &daily_records)?),
            _ => None,
        };
        return Ok(TrainReport {
            outcome: None,
            daily,
            tracking,
        });
    };
    let tracking = match (&tracker, &ctx) {
        (Some(t), Some(ctx)) => {
            let mut records = salescast_pipeline::tracking::train_records(
                &outcome, opts, data_dir, models_dir, ctx,
            );
            records.extend(daily_records);
            salescast_pipeline::tracking::save_run_keys(models_dir, &records)?;
            let tracked = track::log(t, &records)?;
            let ids: std::collections::BTreeMap<String, String> = tracked
                .runs
                .iter()
                .filter_map(|r| match &r.logged {
                    salescast_tracking::Logged::Server { run_id } => {
                        Some((r.run_key.clone(), run_id.clone()))
                    }
                    _ => None,
                })
                .collect();
            salescast_pipeline::tracking::record_run_ids(models_dir, &ids)?;
            let fit: f64 = outcome.models.iter().map(|m| m.fit_seconds).sum();
            tracing::info!(
                seconds = format!("{:.3}", tracked.seconds),
                share_of_fit = format!("{:.1}%", 100.0 * tracked.seconds / fit.max(1e-9)),
                "tracking"
            );
            Some(tracked)
        }
        _ => None,
    };
    Ok(TrainReport {
        outcome: Some(outcome),
        daily,
        tracking,
    })
}

/// A `--data-dir` that does not exist is the user's mistake (exit 2), whichever command reads
/// it, not a failure of the command.
fn existing_dir(flag: &str, dir: &Path) -> Outcome {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Failure::bad_input(anyhow::anyhow!(
            "{flag} {}: no such directory",
            dir.display()
        ))
        .on(flag))
    }
}

fn train(a: &TrainArgs, p: &Params, json: bool) -> Outcome {
    existing_dir("--data-dir", &a.data_dir)?;
    if let Some(clean) = &a.clean_data
        && !clean.is_file()
    {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--clean-data {}: no such file",
            clean.display()
        ))
        .on("--clean-data"));
    }
    let report = run_train(
        &a.data_dir,
        &a.models_dir,
        &train_options(&a.train, p)?,
        &a.track,
        &monitor_settings(p)?,
        a.clean_data.as_deref(),
    )?;
    if let Some(path) = &a.runs_file {
        let runs = report.tracking.as_ref().map(|t| &t.runs);
        salescast_core::artifact::save_plain_json(path, &runs)?;
    }
    if let Some(path) = &a.report {
        salescast_core::artifact::save_plain_json(path, &report.summary())?;
    }
    if json { print_json(&report) } else { Ok(()) }
}

fn run_evaluate(
    data_dir: &Path,
    models_dir: &Path,
    metrics: &Path,
    plots_dir: Option<&Path>,
    track: &TrackSettings,
) -> Result<std::collections::BTreeMap<String, salescast_pipeline::evaluate::MetricsEntry>, Failure>
{
    let tracker = track::tracker(track)?;
    let m = salescast_pipeline::evaluate::evaluate(data_dir, models_dir, metrics, plots_dir)?;
    for (name, e) in &m {
        tracing::info!(model = %name, mae = e.mae, rmse = e.rmse, r2 = e.r2, "test days");
    }
    if let Some(t) = &tracker {
        let ctx =
            salescast_pipeline::tracking::RunContext::detect(&t.experiment, &track.project_dir);
        let records = salescast_pipeline::tracking::evaluate_records(
            &m, models_dir, metrics, plots_dir, &ctx,
        )?;
        track::log(t, &records)?;
    }
    Ok(m)
}

fn evaluate(a: &EvaluateArgs, json: bool) -> Outcome {
    existing_dir("--data-dir", &a.data_dir)?;
    let m = run_evaluate(
        &a.data_dir,
        &a.models_dir,
        &a.metrics,
        a.plots_dir.as_deref(),
        &a.track,
    )?;
    if json { print_json(&m) } else { Ok(()) }
}

fn forecast(a: &crate::args::ForecastArgs, json: bool) -> Outcome {
    let path = a.models_dir.join(salescast_pipeline::daily::DAILY_ARTIFACT);
    if !path.exists() {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "{} does not exist: train the daily model first (salescast train --model sarima)",
            path.display()
        ))
        .on("--models-dir"));
    }
    let artifact = salescast_daily::DailyArtifact::load(&path)
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("{}: {e}", path.display())))?;
    let body = artifact
        .respond(a.store.as_deref(), a.start, a.end, a.level)
        .map_err(|e| {
            let flag = e
                .field()
                .map(|f| format!("--{}", f.trim_end_matches("_date")));
            let f = Failure::bad_input(anyhow::anyhow!("{e}"));
            match flag {
                Some(flag) => f.on(flag),
                None => f,
            }
        })?;
    tracing::info!(
        model = %body.champion,
        last_day_seen = %body.last_day_seen,
        refitted = body.refitted,
        "forecast"
    );
    if json {
        return print_json(&body);
    }
    // The bounds carry their level in the name, as forecast-many's and evaluate's tables do.
    let lab = salescast_daily::level_label(body.level);
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    let write = |out: &mut csv::Writer<_>| -> Result<(), csv::Error> {
        out.write_record([
            "date".to_owned(),
            "mean".to_owned(),
            format!("lower_{lab}"),
            format!("upper_{lab}"),
        ])?;
        for d in &body.forecast {
            out.write_record([
                d.date.to_string(),
                d.mean.to_string(),
                d.lower.to_string(),
                d.upper.to_string(),
            ])?;
        }
        out.flush()?;
        Ok(())
    };
    write(&mut out).map_err(|e| Failure::failed(anyhow::anyhow!("writing the forecast: {e}")))
}

fn forecast_many(a: &crate::args::ForecastManyArgs, json: bool) -> Outcome {
    use salescast_pipeline::many;
    let opts = many::ManyOptions {
        id_col: a.id_col.clone(),
        date_col: a.date_col.clone(),
        value_col: a.value_col.clone(),
        horizon: a.horizon,
        level: a.level,
        settings: salescast_daily::SelectSettings::for_horizon(
            a.horizon,
            a.folds,
            a.fold_days,
            a.holidays,
        ),
        fill_missing_zero: a.fill_missing.is_some(),
        progress: !json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let summary = a
        .summary
        .clone()
        .unwrap_or_else(|| many::default_summary_path(&a.out));
    let s = many::forecast_many(&a.input, &a.out, &summary, &opts)?;
    tracing::info!(
        series = s.series,
        selected = s.selected,
        fallbacks = s.fallbacks,
        mean_cv_mase = s.mean_cv_mase,
        seconds = s.seconds,
        out = %s.out,
        summary = %s.summary,
        "forecast many"
    );
    if json { print_json(&s) } else { Ok(()) }
}

fn predict(a: &PredictArgs, json: bool) -> Outcome {
    let kind = a
        .model
        .as_deref()
        .map(|name| {
            if name.trim() == SARIMA {
                return Err(Failure::bad_input(anyhow::anyhow!(
                    "--model sarima: predict scores transactions with random_forest or gradient_boosting; \
                     the daily model forecasts dates: use `salescast forecast`"
                ))
                .on("--model"));
            }
            salescast_models::Kind::parse(name.trim()).ok_or_else(|| {
                Failure::bad_input(anyhow::anyhow!(
                    "unknown model {name:?}: expected random_forest or gradient_boosting"
                ))
                .on("--model")
            })
        })
        .transpose()?;
    let s = salescast_pipeline::predict::predict(
        &a.models_dir,
        &a.input,
        &a.out,
        kind,
        a.explain,
        true,
        a.ignore_extra_columns,
    )?;
    tracing::info!(rows = s.rows, scored = s.scored, errors = s.errors, model = %s.model, out = %a.out.display(), "scored");
    if json { print_json(&s) } else { Ok(()) }
}

#[derive(Debug, Serialize)]
struct PipelineOutcome {
    preprocess: salescast_preprocess::PreprocessReport,
    features: salescast_features::frame::FeaturesReport,
    train: TrainReport,
    metrics: std::collections::BTreeMap<String, salescast_pipeline::evaluate::MetricsEntry>,
}

fn pipeline(a: &PipelineArgs, p: &Params, json: bool) -> Outcome {
    let processed = a.workdir.join("data/processed");
    let features_dir = a.workdir.join("data/features");
    fs::create_dir_all(&a.workdir)
        .with_context(|| format!("creating {}", a.workdir.display()))
        .map_err(Failure::failed)?;
    let started = std::time::Instant::now();
    let pre = run_preprocess(&a.input, &processed, &clean_options(&a.clean, p))?;
    let refit = &pre.cleaned.refit;
    let (feat, _) = salescast_features::frame::build_all(
        &pre.cleaned.rows,
        pre.cleaned.stats.clone(),
        Some((&refit.rows, refit.stats.clone())),
        &features_dir,
        &stage_options(&a.features, p),
        started,
    )?;
    log_features(&feat);
    let models_dir = a.workdir.join("models");
    let trained = run_train(
        &features_dir,
        &models_dir,
        &train_options(&a.train, p)?,
        &a.track,
        &monitor_settings(p)?,
        None,
    )?;
    let metrics = run_evaluate(
        &features_dir,
        &models_dir,
        &a.workdir.join("metrics.json"),
        Some(&a.workdir.join("plots")),
        &a.track,
    )?;
    if json {
        print_json(&PipelineOutcome {
            preprocess: pre.report,
            features: feat,
            train: trained,
            metrics,
        })
    } else {
        Ok(())
    }
}
