//! Recording runs in experiment tracking from the stages, and the `tracking` subcommands.

use std::path::Path;
use std::time::Instant;

use salescast_tracking::{Logged, RunRecord, Tracker, TrackingError};
use serde::Serialize;

use crate::args::{TrackSettings, TrackingArgs, TrackingCommand};
use crate::exit::Failure;

impl From<TrackingError> for Failure {
    fn from(e: TrackingError) -> Self {
        match e {
            TrackingError::Config(_) | TrackingError::InvalidRecord(_) => Self::bad_input(e),
            _ => Self::failed(e),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::failed)
}

/// The tracker for this invocation, or `None` with `--no-track`. Read before training so that a
/// bad `MLFLOW_TRACKING_URI` fails at once rather than after the work.
pub(crate) fn tracker(s: &TrackSettings) -> Result<Option<Tracker>, Failure> {
    if s.no_track {
        return Ok(None);
    }
    Ok(Some(Tracker::from_env(&s.project_dir)?))
}

/// Where each record went, and how long it took.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tracked {
    pub runs: Vec<TrackedRun>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrackedRun {
    pub run_name: String,
    pub run_key: String,
    #[serde(flatten)]
    pub logged: Logged,
}

/// Sends `records`; a server that is down spools them (a warning, not a failure), a server that
/// refuses them is a failure naming the MLflow call.
pub(crate) fn log(tracker: &Tracker, records: &[RunRecord]) -> Result<Tracked, Failure> {
    let started = Instant::now();
    // The runs are independent, so they go out concurrently: each is a chain of small requests
    // whose latency, not bandwidth, sets the time.
    let results = runtime()?.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, r) in records.iter().enumerate() {
            let (t, r) = (tracker.clone(), r.clone());
            set.spawn(async move { (i, t.log(&r).await) });
        }
        let mut out = Vec::new();
        while let Some(done) = set.join_next().await {
            out.push(done);
        }
        out
    });
    let mut logged: Vec<Option<Logged>> = vec![None; records.len()];
    for done in results {
        let (i, result) = done.map_err(Failure::failed)?;
        logged[i] = Some(result?);
    }
    let mut runs = Vec::new();
    for (r, logged) in records.iter().zip(logged) {
        let Some(logged) = logged else { continue };
        match &logged {
            Logged::Server { run_id } => {
                tracing::info!(run = %r.run_name, run_id, "logged to MLflow");
            }
            Logged::Local { run_dir } => {
                tracing::info!(run = %r.run_name, dir = %run_dir.display(), "logged to the local MLflow store");
            }
            Logged::Spooled { entry, reason } => {
                tracing::warn!(
                    run = %r.run_name,
                    spool = %entry.display(),
                    %reason,
                    "MLflow unreachable: run spooled; `salescast tracking sync` uploads it later"
                );
            }
        }
        runs.push(TrackedRun {
            run_name: r.run_name.clone(),
            run_key: r.key.clone(),
            logged,
        });
    }
    Ok(Tracked {
        runs,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(Debug, Serialize)]
struct Status {
    destination: String,
    experiment: String,
    spooled: Vec<String>,
}

pub(crate) fn command(c: &TrackingCommand, json: bool) -> Result<(), Failure> {
    match c {
        TrackingCommand::Sync(a) => sync(a, json),
        TrackingCommand::Status(a) => status(a, json),
    }
}

fn sync(a: &TrackingArgs, json: bool) -> Result<(), Failure> {
    let tracker = Tracker::from_env(&a.project_dir)?;
    let report = runtime()?.block_on(tracker.sync())?;
    tracing::info!(
        sent = report.sent.len(),
        pending = report.pending,
        refused = report.refused.len(),
        "tracking sync"
    );
    if json {
        crate::commands::print_json(&report)?;
    }
    if report.pending > 0 {
        return Err(Failure::failed(anyhow::anyhow!(
            "{} spooled runs remain: the MLflow server is unreachable or failing",
            report.pending
        )));
    }
    if !report.refused.is_empty() {
        return Err(Failure::failed(anyhow::anyhow!(
            "the server refused {} spooled runs:\n{}",
            report.refused.len(),
            report.refused.join("\n")
        )));
    }
    Ok(())
}

fn status(a: &TrackingArgs, json: bool) -> Result<(), Failure> {
    let tracker = Tracker::from_env(&a.project_dir)?;
    let destination = match &tracker.destination {
        salescast_tracking::Destination::Server(c) => c.base().to_owned(),
        salescast_tracking::Destination::Local(s) => format!("file://{}", s.root().display()),
    };
    let spooled: Vec<String> = tracker
        .spool
        .entries()?
        .iter()
        .map(|p| display(p))
        .collect();
    let s = Status {
        destination,
        experiment: tracker.experiment.clone(),
        spooled,
    };
    if json {
        crate::commands::print_json(&s)
    } else {
        println!(
            "runs go to: {} (experiment {})",
            s.destination, s.experiment
        );
        println!("spooled runs: {}", s.spooled.len());
        for e in &s.spooled {
            println!("  {e}");
        }
        Ok(())
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
