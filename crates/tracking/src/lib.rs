//! Experiment tracking for Salescast.
//!
//! A stage builds a [`RunRecord`] (params, metrics with their histories, tags, artifacts, a
//! model to log and register) and hands it to a [`Tracker`], which sends it to where
//! `MLFLOW_TRACKING_URI` points:
//!
//! - `http(s)://…`: an MLflow server, over its REST API ([`MlflowClient`]). When the server is
//!   unreachable the record goes to the [`Spool`] and the stage still succeeds;
//!   `salescast tracking sync` replays it later, without duplicates.
//! - unset, a plain path or `file://…`: an MLflow file store in the project ([`FileStore`]),
//!   so a run is recorded with no server at all.

pub mod client;
pub mod error;
pub mod local;
pub mod mlmodel;
pub mod record;
pub mod registry;
pub mod server;
pub mod spool;
mod values;

use std::path::{Path, PathBuf};

pub use client::{Credentials, MlflowClient};
pub use error::{Result, TrackingError};
pub use local::FileStore;
pub use record::{Artifact, Metric, ModelSpec, PyFunc, RunRecord, RunStatus};
pub use spool::{Spool, SyncReport};

/// The experiment used when `MLFLOW_EXPERIMENT_NAME` is unset.
pub const DEFAULT_EXPERIMENT: &str = "salescast";
/// Where runs are spooled inside the project.
pub const SPOOL_DIR: &str = ".salescast/spool";
/// The local file store inside the project.
pub const LOCAL_STORE: &str = "mlruns";

/// Where runs go.
#[derive(Debug, Clone)]
pub enum Destination {
    Server(MlflowClient),
    Local(FileStore),
}

/// Where one record went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Logged {
    Server { run_id: String },
    Local { run_dir: PathBuf },
    Spooled { entry: PathBuf, reason: String },
}

/// Sends run records to the configured destination, spooling them when a server is down.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub destination: Destination,
    pub spool: Spool,
    pub experiment: String,
    /// Held while the spool replays, so concurrent loggers never replay one entry twice.
    sync_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Tracker {
    /// Reads `MLFLOW_TRACKING_URI` and `MLFLOW_EXPERIMENT_NAME`; relative local paths are taken
    /// from `project_dir`.
    pub fn from_env(project_dir: &Path) -> Result<Self> {
        let uri = std::env::var("MLFLOW_TRACKING_URI").ok();
        let experiment = match std::env::var("MLFLOW_EXPERIMENT_NAME") {
            Ok(e) if !e.trim().is_empty() => e,
            _ => DEFAULT_EXPERIMENT.to_owned(),
        };
        Self::new(uri.as_deref(), &experiment, project_dir)
    }

    /// A server is reached with MLflow's credentials from the environment
    /// ([`Credentials::from_env`]).
    pub fn new(uri: Option<&str>, experiment: &str, project_dir: &Path) -> Result<Self> {
        Self::with_credentials(uri, experiment, project_dir, None)
    }

    /// [`Self::new`] with a server's credentials given (`None`: the environment's).
    pub fn with_credentials(
        uri: Option<&str>,
        experiment: &str,
        project_dir: &Path,
        credentials: Option<&Credentials>,
    ) -> Result<Self> {
        let uri = uri.map(str::trim).filter(|u| !u.is_empty());
        let destination = match uri {
            None => Destination::Local(FileStore::new(&project_dir.join(LOCAL_STORE))?),
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                let credentials = match credentials {
                    Some(c) => c.clone(),
                    None => Credentials::from_env()?,
                };
                Destination::Server(MlflowClient::with_credentials(
                    u,
                    client::Retry::default(),
                    &credentials,
                )?)
            }
            Some(u) if u.starts_with("file://") => Destination::Local(FileStore::new(
                &project_dir.join(u.trim_start_matches("file://")),
            )?),
            Some(u) if !u.contains("://") && !u.contains(':') => {
                Destination::Local(FileStore::new(&project_dir.join(u))?)
            }
            Some(u) => {
                return Err(TrackingError::Config(format!(
                    "MLFLOW_TRACKING_URI {u:?}: expected http(s)://host:port, file://path or a \
                     path (databases are reached through an MLflow server)"
                )));
            }
        };
        Ok(Self {
            destination,
            spool: Spool::new(project_dir.join(SPOOL_DIR)),
            experiment: experiment.to_owned(),
            sync_lock: Default::default(),
        })
    }

    /// Sends `record`. A server that cannot be reached is not an error: the record is spooled.
    pub async fn log(&self, record: &RunRecord) -> Result<Logged> {
        match &self.destination {
            Destination::Local(store) => Ok(Logged::Local {
                run_dir: store.log(record)?,
            }),
            Destination::Server(client) => {
                // Records for a run must stay in order: while older ones wait, queue behind them.
                let guard = self.sync_lock.lock().await;
                if !self.spool.entries()?.is_empty() {
                    let synced = self.spool.sync(client).await?;
                    if synced.pending > 0 {
                        let entry = self.spool.put(record)?;
                        return Ok(Logged::Spooled {
                            entry,
                            reason: "earlier runs are still waiting for the server".into(),
                        });
                    }
                }
                drop(guard);
                match server::send(client, record).await {
                    Ok(run_id) => Ok(Logged::Server { run_id }),
                    Err(e) if e.is_transient() => {
                        record.validate()?;
                        let entry = self.spool.put(record)?;
                        Ok(Logged::Spooled {
                            entry,
                            reason: e.to_string(),
                        })
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Replays spooled runs to the server.
    pub async fn sync(&self) -> Result<SyncReport> {
        match &self.destination {
            Destination::Server(client) => {
                let _guard = self.sync_lock.lock().await;
                self.spool.sync(client).await
            }
            Destination::Local(_) => Err(TrackingError::Config(
                "tracking sync needs MLFLOW_TRACKING_URI set to the server to upload to".into(),
            )),
        }
    }
}
