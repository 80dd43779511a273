//! The embedded default: runs written into an MLflow file store (`mlruns/`) in the project.
//!
//! With no tracking server configured, a newcomer still gets every run on disk at once. The
//! layout is the one MLflow's file store uses (experiment and run `meta.yaml`, one file per
//! metric, param and tag, plain artifact files), which both MLflow 2.x and 3.x read: MLflow 3
//! needs `MLFLOW_ALLOW_FILE_STORE=true` to open it, and `mlflow migrate-filestore` copies it into
//! a SQLite store losslessly. The model registry has no file-store form here, so registration
//! and aliases happen only on a server.

use std::fs;
use std::path::{Path, PathBuf};

use salescast_core::artifact::write_atomic;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrackingError};
use crate::mlmodel;
use crate::record::{RUN_KEY_TAG, RunRecord};
use crate::values;

#[derive(Debug, Serialize, Deserialize)]
struct ExperimentMeta {
    artifact_location: String,
    experiment_id: String,
    lifecycle_stage: String,
    name: String,
    #[serde(default)]
    creation_time: Option<i64>,
    #[serde(default)]
    last_update_time: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RunMeta {
    artifact_uri: String,
    end_time: Option<i64>,
    entry_point_name: String,
    experiment_id: String,
    lifecycle_stage: String,
    run_id: String,
    run_name: String,
    run_uuid: String,
    source_name: String,
    source_type: u8,
    source_version: String,
    start_time: i64,
    status: u8,
    tags: Vec<String>,
    user_id: String,
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |w| w.write_all(text.as_bytes()))?;
    Ok(())
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = fs::read_to_string(path).ok()?;
    serde_yaml_ng::from_str(&text).ok()
}

/// A file store rooted at an absolute path.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(|e| TrackingError::io("creating", root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| TrackingError::io("resolving", root, e))?;
        let store = Self { root };
        store.ensure_experiment_dir("0", "Default")?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ensure_experiment_dir(&self, id: &str, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(id);
        let meta = dir.join("meta.yaml");
        if !meta.exists() {
            let now = crate::record::now_ms();
            let m = ExperimentMeta {
                artifact_location: uri(&dir),
                experiment_id: id.to_owned(),
                lifecycle_stage: "active".to_owned(),
                name: name.to_owned(),
                creation_time: Some(now),
                last_update_time: Some(now),
            };
            write_text(&meta, &yaml(&m)?)?;
        }
        Ok(dir)
    }

    /// The experiment directory named `name`, created with the next free numeric id.
    fn experiment(&self, name: &str) -> Result<PathBuf> {
        let mut max_id = 0u64;
        for entry in self.entries(&self.root)? {
            if let Some(m) = read_yaml::<ExperimentMeta>(&entry.join("meta.yaml")) {
                if m.name == name && m.lifecycle_stage == "active" {
                    return Ok(entry);
                }
                max_id = max_id.max(m.experiment_id.parse().unwrap_or(0));
            }
        }
        self.ensure_experiment_dir(&(max_id + 1).to_string(), name)
    }

    fn entries(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| TrackingError::io("listing", dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Writes `record` into the store; returns the run directory.
    pub fn log(&self, record: &RunRecord) -> Result<PathBuf> {
        record.validate()?;
        let exp_dir = self.experiment(&record.experiment)?;
        let exp_id = exp_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let run_dir = self
            .entries(&exp_dir)?
            .into_iter()
            .find(|d| {
                fs::read_to_string(d.join("tags").join(RUN_KEY_TAG))
                    .ok()
                    .as_deref()
                    == Some(record.key.as_str())
            })
            .unwrap_or_else(|| exp_dir.join(&record.key));
        let run_id = run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta_path = run_dir.join("meta.yaml");
        let mut meta = read_yaml::<RunMeta>(&meta_path).unwrap_or_else(|| RunMeta {
            artifact_uri: uri(&run_dir.join("artifacts")),
            end_time: None,
            entry_point_name: String::new(),
            experiment_id: exp_id.clone(),
            lifecycle_stage: "active".to_owned(),
            run_id: run_id.clone(),
            run_name: record.run_name.clone(),
            run_uuid: run_id.clone(),
            source_name: String::new(),
            source_type: 4,
            source_version: String::new(),
            start_time: record.start_time,
            status: 1,
            tags: Vec::new(),
            user_id: record.user.clone(),
        });
        for (k, v) in &record.params {
            write_text(&run_dir.join("params").join(k), v)?;
        }
        for (k, v) in &record.tags {
            write_text(&run_dir.join("tags").join(k), v)?;
        }
        // Metric files hold the whole history, one "<timestamp> <value> <step>" line per point.
        let mut by_key: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for m in &record.metrics {
            by_key.entry(&m.key).or_default().push(format!(
                "{} {} {}",
                m.timestamp,
                values::to_text(m.value),
                m.step
            ));
        }
        for (k, lines) in by_key {
            let path = run_dir.join("metrics").join(k);
            let mut text = fs::read_to_string(&path).unwrap_or_default();
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
            write_text(&path, &text)?;
        }
        let artifacts = run_dir.join("artifacts");
        for a in &record.artifacts {
            copy(&a.local, &artifacts.join(&a.path))?;
        }
        if let Some(spec) = &record.model {
            let created = record.end.map(|e| e.0).unwrap_or(record.start_time);
            for f in &spec.files {
                copy(&f.local, &artifacts.join(&spec.name).join(&f.path))?;
            }
            for (name, text) in mlmodel::generated_files(spec, &run_id, None, created) {
                write_text(&artifacts.join(&spec.name).join(name), &text)?;
            }
            let history = serde_json::json!([mlmodel::history_entry(spec, &run_id, created)]);
            write_text(
                &run_dir.join("tags").join("mlflow.log-model.history"),
                &history.to_string(),
            )?;
        }
        if let Some((end, status)) = record.end {
            meta.end_time = Some(end);
            meta.status = status.file_store_code();
        }
        write_text(&meta_path, &yaml(&meta)?)?;
        Ok(run_dir)
    }
}

fn yaml<T: Serialize>(v: &T) -> Result<String> {
    serde_yaml_ng::to_string(v).map_err(|e| TrackingError::InvalidRecord(e.to_string()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    let mut src = fs::File::open(from).map_err(|e| TrackingError::io("reading", from, e))?;
    write_atomic(to, |w| std::io::copy(&mut src, w).map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)]
    use super::*;
    use crate::record::{RunStatus, new_key};

    #[test]
    fn a_run_lands_in_the_file_store_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(&dir.path().join("mlruns")).expect("store");
        let file = dir.path().join("model.bin");
        fs::write(&file, b"bytes").expect("write");
        let mut r = RunRecord::new(new_key(), "salescast", "train-rf");
        r.param("n_trees", 10)
            .metric("val/rmse", 2.0, 0)
            .metric("val/rmse", 1.0, 1)
            .metric("mape", f64::NAN, 0)
            .artifact(&file, "models/model.bin")
            .finish(RunStatus::Finished);
        let run = store.log(&r).expect("logged");
        assert_eq!(
            fs::read_to_string(run.join("params/n_trees")).expect("param"),
            "10"
        );
        let history = fs::read_to_string(run.join("metrics/val/rmse")).expect("metric");
        assert_eq!(history.lines().count(), 2);
        assert!(
            fs::read_to_string(run.join("metrics/mape"))
                .expect("m")
                .contains(" nan 0")
        );
        assert_eq!(
            fs::read(run.join("artifacts/models/model.bin")).expect("a"),
            b"bytes"
        );
        let meta: RunMeta = read_yaml(&run.join("meta.yaml")).expect("meta");
        assert_eq!(meta.status, 3);
        assert_eq!(meta.experiment_id, "1");
        // A second record with the same key adds to the same run.
        let mut more = RunRecord::new(r.key.clone(), "salescast", "train-rf");
        more.metric("mase", 0.5, 0);
        assert_eq!(store.log(&more).expect("logged"), run);
        assert!(run.join("metrics/mase").exists());
        // Meta of the finished run is kept.
        let meta: RunMeta = read_yaml(&run.join("meta.yaml")).expect("meta");
        assert_eq!(meta.status, 3);
    }
}
