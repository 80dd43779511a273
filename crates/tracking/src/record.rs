//! A run as data: everything one MLflow run records, built before anything is sent.
//!
//! Building the whole record first lets the same run go to a server, to the local file store or
//! to the spool, and lets a replay send exactly what the first attempt would have sent. Every
//! timestamp is fixed in the record, so a replayed metric point is identical to the first one and
//! MLflow de-duplicates it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrackingError};

/// The tag that identifies a run across retries and replays (MLflow's run id is not known until
/// the server creates the run).
pub const RUN_KEY_TAG: &str = "salescast.run_key";
/// MLflow keeps at most this many characters of a param value and silently truncates the rest.
pub const MAX_PARAM_VALUE: usize = 6000;
/// MLflow's limit on key names.
pub const MAX_KEY: usize = 250;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Finished,
    Failed,
}

impl RunStatus {
    /// The exact status string MLflow expects; an unknown one is silently ignored by the server.
    pub fn as_mlflow(self) -> &'static str {
        match self {
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
        }
    }

    /// The enum value MLflow's file store writes.
    pub fn file_store_code(self) -> u8 {
        match self {
            Self::Finished => 3,
            Self::Failed => 4,
        }
    }
}

/// One point of a metric; `step` orders a history (boosting rounds, folds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    #[serde(with = "crate::values")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

/// A local file to upload under `path` in the run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub local: PathBuf,
    pub path: String,
}

/// A model to log with the run and register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The logged model's name (also its folder under the run's artifacts in the 2.x flow).
    pub name: String,
    /// Free-form `model_type` shown by MLflow.
    pub model_type: String,
    /// The files of the model; `path` is relative to the model folder.
    pub files: Vec<Artifact>,
    /// The custom flavor written into `MLmodel` (name and settings).
    pub flavor: String,
    pub flavor_settings: BTreeMap<String, String>,
    /// Input and output schema as MLflow signature JSON strings, shown by the UI.
    pub signature_inputs: Option<String>,
    pub signature_outputs: Option<String>,
    /// Register a version of this model under `registered_name`.
    pub registered_name: Option<String>,
    /// Move the `champion` alias to the new version.
    pub champion: bool,
    /// MLflow's `python_function` flavor beside ours (absent in records spooled before it).
    #[serde(default)]
    pub pyfunc: Option<PyFunc>,
}

/// What MLflow's `python_function` flavor needs, so that `mlflow.pyfunc.load_model`,
/// `mlflow models serve` and `mlflow.pyfunc.spark_udf` load the folder: the module whose
/// `_load_pyfunc(path)` loads it, and the pip requirement that provides that module (written
/// to the folder's `requirements.txt`, which MLflow reads for the model's environment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PyFunc {
    pub loader_module: String,
    pub requirement: String,
}

/// Everything one run records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Stable identity of the run across retries, replays and later stages that add to it.
    pub key: String,
    pub experiment: String,
    pub run_name: String,
    pub user: String,
    pub start_time: i64,
    /// `Some` finishes the run; `None` adds to a run that another record finishes.
    pub end: Option<(i64, RunStatus)>,
    pub params: BTreeMap<String, String>,
    pub metrics: Vec<Metric>,
    pub tags: BTreeMap<String, String>,
    pub artifacts: Vec<Artifact>,
    pub model: Option<ModelSpec>,
    /// True when no earlier attempt can have sent any of this run (a new key, first send), so
    /// the sender may skip the look-ups that make replays idempotent. Spooled copies are never
    /// fresh.
    #[serde(default)]
    pub fresh: bool,
}

/// Milliseconds since the epoch, as MLflow stores times.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh random run key (32 hex digits, the shape of an MLflow run id).
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl RunRecord {
    /// A new run record with its key tag set.
    pub fn new(key: String, experiment: &str, run_name: &str) -> Self {
        let mut tags = BTreeMap::new();
        tags.insert(RUN_KEY_TAG.to_owned(), key.clone());
        tags.insert("mlflow.runName".to_owned(), run_name.to_owned());
        tags.insert("mlflow.source.type".to_owned(), "LOCAL".to_owned());
        let user = std::env::var("USER").unwrap_or_else(|_| "salescast".to_owned());
        tags.insert("mlflow.user".to_owned(), user.clone());
        Self {
            key,
            experiment: experiment.to_owned(),
            run_name: run_name.to_owned(),
            user,
            start_time: now_ms(),
            end: None,
            params: BTreeMap::new(),
            metrics: Vec::new(),
            tags,
            artifacts: Vec::new(),
            model: None,
            fresh: false,
        }
    }

    pub fn param(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Self {
        self.params.insert(key.into(), value.to_string());
        self
    }

    pub fn tag(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Adds one metric value at `step`.
    pub fn metric(&mut self, key: impl Into<String>, value: f64, step: i64) -> &mut Self {
        self.metrics.push(Metric {
            key: key.into(),
            value,
            timestamp: now_ms(),
            step,
        });
        self
    }

    pub fn artifact(&mut self, local: impl Into<PathBuf>, path: impl Into<String>) -> &mut Self {
        self.artifacts.push(Artifact {
            local: local.into(),
            path: path.into(),
        });
        self
    }

    /// Adds every leaf of a JSON object as a param, with dotted keys (`random_forest.n_trees`).
    pub fn params_from_json(&mut self, prefix: &str, value: &serde_json::Value) -> &mut Self {
        flatten(prefix, value, &mut self.params);
        self
    }

    /// Ends the run now with `status`.
    pub fn finish(&mut self, status: RunStatus) -> &mut Self {
        self.end = Some((now_ms(), status));
        self
    }

    /// Checks the record against MLflow's naming rules before anything is sent, so a bad key is
    /// a clear local error rather than a rejected batch halfway through a run.
    pub fn validate(&self) -> Result<()> {
        let keys = self
            .params
            .keys()
            .chain(self.tags.keys())
            .chain(self.metrics.iter().map(|m| &m.key));
        for k in keys {
            check_key(k)?;
        }
        for a in self
            .artifacts
            .iter()
            .chain(self.model.iter().flat_map(|m| &m.files))
        {
            check_artifact_path(&a.path)?;
            if !a.local.is_file() {
                return Err(TrackingError::InvalidRecord(format!(
                    "artifact {}: {} is not a file",
                    a.path,
                    a.local.display()
                )));
            }
        }
        if self.experiment.trim().is_empty() {
            return Err(TrackingError::InvalidRecord("empty experiment name".into()));
        }
        Ok(())
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        serde_json::Value::Null => {
            out.insert(prefix.to_owned(), "None".to_owned());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// MLflow's rule for metric, param and tag names.
pub fn check_key(key: &str) -> Result<()> {
    let bad = |why: &str| Err(TrackingError::InvalidRecord(format!("key {key:?}: {why}")));
    if key.is_empty() {
        return bad("empty");
    }
    if key.chars().count() > MAX_KEY {
        return bad("longer than 250 characters");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-. :/".contains(c))
    {
        return bad("only letters, digits, _ - . space : / are allowed");
    }
    if key.split('/').any(|part| part == "..") || key.starts_with('/') {
        return bad("must not leave its folder");
    }
    Ok(())
}

fn check_artifact_path(path: &str) -> Result<()> {
    if path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|p| p.is_empty() || p == "..")
    {
        return Err(TrackingError::InvalidRecord(format!(
            "artifact path {path:?} must be relative and stay inside the run"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_params_are_flattened_with_dots() {
        let mut r = RunRecord::new(new_key(), "e", "r");
        r.params_from_json(
            "gbm",
            &serde_json::json!({"lr": 0.1, "depth": 6, "nested": {"a": "x"}, "none": null}),
        );
        assert_eq!(r.params["gbm.lr"], "0.1");
        assert_eq!(r.params["gbm.depth"], "6");
        assert_eq!(r.params["gbm.nested.a"], "x");
        assert_eq!(r.params["gbm.none"], "None");
    }

    #[test]
    fn keys_follow_mlflow_rules() {
        assert!(check_key("val/rmse").is_ok());
        assert!(check_key("bad key!").is_err());
        assert!(check_key("../etc").is_err());
        assert!(check_key(&"k".repeat(251)).is_err());
        assert!(check_artifact_path("model/MLmodel").is_ok());
        assert!(check_artifact_path("../x").is_err());
        assert!(check_artifact_path("/abs").is_err());
    }

    #[test]
    fn keys_are_unique_and_look_like_run_ids() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
