//! Runs kept on disk while the tracking server is unreachable, and their replay.
//!
//! A spooled run is a directory holding `record.json` and copies of its artifact files (the
//! originals may be overwritten by the next training before the server is back). `record.json`
//! is written last and atomically, so a half-written entry is never taken for a whole one.
//! Entries replay in the order they were spooled, so a stage that adds to a run (evaluate) comes
//! after the stage that created it (train).

use std::fs;
use std::path::{Path, PathBuf};

use salescast_core::artifact::write_atomic;
use serde::Serialize;

use crate::client::MlflowClient;
use crate::error::{Result, TrackingError};
use crate::record::{Artifact, RunRecord};
use crate::server;

const RECORD: &str = "record.json";

/// The spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Runs uploaded, with their MLflow run ids.
    pub sent: Vec<String>,
    /// Entries still spooled because the server is unreachable.
    pub pending: usize,
    /// Entries the server refused, with the reason; they stay spooled.
    pub refused: Vec<String>,
}

impl Spool {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores `record` with copies of its files; returns the entry's directory.
    pub fn put(&self, record: &RunRecord) -> Result<PathBuf> {
        let name = format!(
            "{}-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
            record.key,
            crate::record::new_key().get(..8).unwrap_or("0")
        );
        let entry = self.dir.join(name);
        let files = entry.join("files");
        fs::create_dir_all(&files).map_err(|e| TrackingError::io("creating", &files, e))?;
        let mut copy = record.clone();
        copy.fresh = false;
        let mut n = 0usize;
        let mut keep = |a: &mut Artifact| -> Result<()> {
            let to = files.join(n.to_string());
            n += 1;
            fs::copy(&a.local, &to).map_err(|e| TrackingError::io("copying", &a.local, e))?;
            a.local = to;
            Ok(())
        };
        for a in &mut copy.artifacts {
            keep(a)?;
        }
        if let Some(m) = &mut copy.model {
            for a in &mut m.files {
                keep(a)?;
            }
        }
        let json = serde_json::to_vec_pretty(&copy)
            .map_err(|e| TrackingError::InvalidRecord(e.to_string()))?;
        write_atomic(&entry.join(RECORD), |w| w.write_all(&json))?;
        Ok(entry)
    }

    /// Complete entries, oldest first.
    pub fn entries(&self) -> Result<Vec<PathBuf>> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut out: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(|e| TrackingError::io("listing", &self.dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(RECORD).is_file())
            .collect();
        out.sort();
        Ok(out)
    }

    pub fn load(entry: &Path) -> Result<RunRecord> {
        let path = entry.join(RECORD);
        let bytes = fs::read(&path).map_err(|e| TrackingError::io("reading", &path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| TrackingError::InvalidRecord(format!("{}: {e}", path.display())))
    }

    /// Replays every entry to `client`, removing each once the server has all of it. Stops at
    /// the first entry that fails because the server is unreachable; the rest stay for later.
    pub async fn sync(&self, client: &MlflowClient) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let entries = self.entries()?;
        for (i, entry) in entries.iter().enumerate() {
            let record = Self::load(entry)?;
            match server::send(client, &record).await {
                Ok(run_id) => {
                    fs::remove_dir_all(entry)
                        .map_err(|e| TrackingError::io("removing", entry, e))?;
                    tracing::info!(run = %record.run_name, run_id, "spooled run uploaded");
                    report.sent.push(run_id);
                }
                Err(e) if e.is_transient() => {
                    report.pending = entries.len() - i;
                    tracing::warn!(error = %e, pending = report.pending, "tracking server unreachable; runs stay spooled");
                    break;
                }
                Err(e) => {
                    tracing::error!(entry = %entry.display(), error = %e, "the server refused a spooled run");
                    report.refused.push(format!("{}: {e}", entry.display()));
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)]
    use super::*;
    use crate::record::new_key;

    #[test]
    fn an_entry_keeps_copies_of_its_files_and_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("m.bin");
        fs::write(&file, b"v1").expect("write");
        let mut r = RunRecord::new(new_key(), "e", "run");
        r.artifact(&file, "m.bin").metric("x", f64::INFINITY, 0);
        let spool = Spool::new(dir.path().join("spool"));
        let entry = spool.put(&r).expect("spooled");
        fs::write(&file, b"v2").expect("overwrite");
        let back = Spool::load(&entry).expect("loads");
        assert_eq!(fs::read(&back.artifacts[0].local).expect("copy"), b"v1");
        assert_eq!(back.metrics[0].value, f64::INFINITY);
        assert_eq!(spool.entries().expect("list"), vec![entry.clone()]);
        // An entry without record.json (a crash while spooling) is not listed.
        fs::remove_file(entry.join(RECORD)).expect("rm");
        assert!(spool.entries().expect("list").is_empty());
    }
}
