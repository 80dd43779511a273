//! The monitor's output directory, read for the monitoring page: `latest.json` (the last run's
//! report), `history.jsonl` (one line per run) and `alerts.jsonl` (one line per alert).
//!
//! Only the fields the page shows are read, each with a default, so a report from a newer
//! monitor still shows. The JSON-lines files are read from their end (the newest lines), and a
//! line that does not parse (a run killed mid-write) is counted and skipped, never fatal.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The most of a JSON-lines file read (its newest part).
pub const TAIL_BYTES: u64 = 1 << 20;
/// The latest report is refused above this size.
pub const MAX_REPORT_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewData {
    pub path: String,
    pub rows: usize,
    pub valid_rows: usize,
    pub invalid_rows: usize,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Check {
    pub metric: String,
    pub source: String,
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    pub limit: Option<f64>,
    pub change: Option<f64>,
    pub alert: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Estimate {
    pub value: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Performance {
    pub model: String,
    pub rows: usize,
    pub labelled_rows: usize,
    pub checks: Vec<Check>,
    pub estimated_mae: Option<Estimate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Column {
    pub column: String,
    pub test_name: Option<String>,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub drifted: bool,
    pub psi: Option<f64>,
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Dataset {
    pub tested_columns: usize,
    pub drifted_columns: usize,
    pub share: f64,
    pub drift_share: f64,
    pub drift: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Drift {
    pub columns: Vec<Column>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Daily {
    pub model: String,
    pub days: usize,
    pub mae: Option<f64>,
    pub mase: Option<f64>,
    pub coverage: Option<f64>,
    pub level: Option<f64>,
    pub alert: bool,
    pub skipped: Option<String>,
}

/// One alert line (also what `alerts` in the report holds).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Alert {
    pub run_id: String,
    pub at: String,
    pub kind: String,
    pub message: String,
    pub model: Option<String>,
    pub features: Vec<String>,
}

/// `latest.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Latest {
    pub run_id: String,
    pub started_at: String,
    pub seconds: f64,
    pub status: String,
    pub exit_code: i32,
    pub new_data: NewData,
    pub performance: Vec<Performance>,
    pub daily: Option<Daily>,
    pub drift: Drift,
    pub alerts: Vec<Alert>,
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Run {
    pub run_id: String,
    pub at: String,
    pub status: String,
    pub rows: usize,
    pub alerts: usize,
    pub metrics: BTreeMap<String, f64>,
    pub drifted: Vec<String>,
}

/// What the monitoring page reads.
#[derive(Debug, Clone, Default)]
pub struct Monitoring {
    pub latest: Option<Latest>,
    /// Why `latest.json` exists but could not be read.
    pub latest_error: Option<String>,
    pub history: Vec<Run>,
    pub alerts: Vec<Alert>,
    /// Lines skipped because they did not parse.
    pub skipped_lines: usize,
    pub has_html: bool,
}

/// The newest lines of a JSON-lines file (up to [`TAIL_BYTES`]), parsed; returns the values
/// and how many lines did not parse. A missing file is empty.
pub fn read_tail<T: DeserializeOwned>(path: &Path) -> (Vec<T>, usize) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Vec::new(), 0);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL_BYTES);
    if f.seek(SeekFrom::Start(from)).is_err() {
        return (Vec::new(), 0);
    }
    let mut buf = Vec::new();
    if f.take(TAIL_BYTES).read_to_end(&mut buf).is_err() {
        return (Vec::new(), 0);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.lines();
    if from > 0 {
        lines.next(); // cut mid-line by the seek
    }
    let mut out = Vec::new();
    let mut bad = 0;
    for l in lines.filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(l) {
            Ok(v) => out.push(v),
            Err(_) => bad += 1,
        }
    }
    (out, bad)
}

/// Reads the monitor's directory; nothing there means no monitor has run yet.
pub fn read(dir: &Path) -> Monitoring {
    let mut m = Monitoring::default();
    let latest = dir.join("latest.json");
    match std::fs::metadata(&latest) {
        Ok(meta) if meta.len() > MAX_REPORT_BYTES => {
            m.latest_error = Some(format!(
                "latest.json is larger than {MAX_REPORT_BYTES} bytes"
            ));
        }
        Ok(_) => match std::fs::read(&latest) {
            Ok(b) => match serde_json::from_slice::<Latest>(&b) {
                Ok(l) => m.latest = Some(l),
                Err(e) => m.latest_error = Some(format!("latest.json does not parse ({e})")),
            },
            Err(e) => m.latest_error = Some(format!("latest.json cannot be read ({})", e.kind())),
        },
        Err(_) => {}
    }
    let (history, bad_h) = read_tail::<Run>(&dir.join("history.jsonl"));
    let (alerts, bad_a) = read_tail::<Alert>(&dir.join("alerts.jsonl"));
    m.history = history;
    m.alerts = alerts;
    m.skipped_lines = bad_h + bad_a;
    m.has_html = dir.join("latest.html").is_file();
    m
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are written directly
mod tests {
    use super::*;

    #[test]
    fn empty_directory_means_no_run() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let m = read(d.path());
        assert!(m.latest.is_none() && m.latest_error.is_none());
        assert!(m.history.is_empty() && m.alerts.is_empty() && !m.has_html);
        let m = read(&d.path().join("does-not-exist"));
        assert!(m.latest.is_none());
    }

    #[test]
    fn torn_lines_are_skipped_and_counted() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lines = "{\"run_id\":\"a\",\"at\":\"t\",\"kind\":\"drift\",\"message\":\"m\"}\n{\"run_id\":\"b\",\"at\n";
        std::fs::write(d.path().join("alerts.jsonl"), lines).unwrap_or_default();
        std::fs::write(d.path().join("latest.json"), "{not json").unwrap_or_default();
        let m = read(d.path());
        assert_eq!(m.alerts.len(), 1);
        assert_eq!(m.skipped_lines, 1);
        assert!(m.latest_error.is_some());
    }
}
