//! Scored uploads waiting for their download.
//!
//! An upload is spooled to a file in the UI's own temporary directory (never to a path a
//! request names), sent to the API as a stream, and the API's streamed CSV answer is written to
//! disk as it arrives: neither the upload nor the scored file is ever held in memory whole. The
//! scored file is what the download serves, byte for byte. Each file is written under a
//! temporary name and renamed when complete, and files older than an hour are swept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::{Result, UiError};

/// How long a scored file stays downloadable.
pub const KEEP_FOR: Duration = Duration::from_secs(3600);
/// Most jobs kept at once; the oldest go first.
pub const MAX_JOBS: usize = 64;
/// Rows shown on the page.
pub const PREVIEW_ROWS: usize = 50;

/// Where the jobs live.
#[derive(Debug)]
pub struct Jobs {
    dir: PathBuf,
    /// Removes the directory when the UI stops, when the UI made it.
    _owned: Option<tempfile::TempDir>,
}

/// What the page shows of a scored upload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub filename: String,
    pub rows: usize,
    pub errors: usize,
    pub header: Vec<String>,
    /// The first rows, as the API returned them.
    pub preview: Vec<Vec<String>>,
    /// The index of the `error` column in `header`, if any.
    pub error_column: Option<usize>,
    pub bytes: u64,
}

impl Jobs {
    /// Uses `dir` (created if needed), or a fresh temporary directory.
    pub fn new(dir: Option<PathBuf>) -> Result<Self> {
        match dir {
            Some(d) => {
                std::fs::create_dir_all(&d).map_err(|e| UiError::Config {
                    name: "jobs-dir",
                    reason: format!("{}: {e}", d.display()),
                })?;
                Ok(Self {
                    dir: d,
                    _owned: None,
                })
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("salescast-ui-")
                    .tempdir()
                    .map_err(|e| UiError::Config {
                        name: "jobs-dir",
                        reason: format!("no temporary directory: {e}"),
                    })?;
                Ok(Self {
                    dir: t.path().to_path_buf(),
                    _owned: Some(t),
                })
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new job id: 128 random bits in hex, so ids cannot be guessed or walked.
    pub fn new_id() -> Result<String> {
        let mut b = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .map_err(|e| UiError::io("random job id", e))?;
        Ok(b.iter().map(|x| format!("{x:02x}")).collect())
    }

    /// Whether `id` has the form [`Jobs::new_id`] makes; nothing else reaches a path.
    pub fn valid_id(id: &str) -> bool {
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }

    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.upload"))
    }
    pub fn scored_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.csv"))
    }
    pub fn summary_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
    /// A file being written, not yet to be read.
    pub fn partial(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".part");
        PathBuf::from(p)
    }

    /// The summary of a finished job.
    pub fn summary(&self, id: &str) -> Result<Summary> {
        if !Self::valid_id(id) {
            return Err(UiError::bad_input("job", "not a job id"));
        }
        let bytes = std::fs::read(self.summary_path(id)).map_err(|_| {
            UiError::bad_input(
                "job",
                "no such scored upload (results are kept for an hour): upload the file again",
            )
        })?;
        serde_json::from_slice(&bytes).map_err(|e| UiError::io("job summary", e))
    }

    /// Removes expired jobs and the oldest beyond [`MAX_JOBS`]; leftovers of interrupted work
    /// (`.part`, `.upload`) go once expired.
    pub fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut summaries: Vec<(SystemTime, String)> = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.split('.').next().filter(|id| Self::valid_id(id)) else {
                continue;
            };
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if now.duration_since(modified).unwrap_or_default() > KEEP_FOR {
                let _ = std::fs::remove_file(e.path());
            } else if name.ends_with(".json") {
                summaries.push((modified, id.to_owned()));
            }
        }
        if summaries.len() > MAX_JOBS {
            summaries.sort();
            for (_, id) in &summaries[..summaries.len() - MAX_JOBS] {
                self.remove(id);
            }
        }
    }

    /// Removes a job's files.
    pub fn remove(&self, id: &str) {
        for p in [
            self.upload_path(id),
            self.scored_path(id),
            self.summary_path(id),
        ] {
            let _ = std::fs::remove_file(Self::partial(&p));
            let _ = std::fs::remove_file(p);
        }
    }

    /// Reads a scored CSV (finished) for its row and error counts and its first rows, and
    /// writes the summary atomically.
    pub fn summarise(&self, id: &str, filename: &str) -> Result<Summary> {
        let path = self.scored_path(id);
        let io = |e: std::io::Error| UiError::io("scored file", e);
        let file = std::fs::File::open(&path).map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(std::io::BufReader::new(file));
        let header: Vec<String> = r
            .headers()
            .map_err(|e| UiError::BadAnswer {
                url: "/predict_batch_csv".into(),
                reason: format!("the scored CSV has no header ({})", csv_text(&e)),
            })?
            .iter()
            .map(str::to_owned)
            .collect();
        let error_column = header.iter().position(|h| h == "error");
        let mut s = Summary {
            filename: filename.to_owned(),
            header,
            error_column,
            bytes,
            ..Default::default()
        };
        let mut rec = csv::StringRecord::new();
        loop {
            match r.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Err(UiError::BadAnswer {
                        url: "/predict_batch_csv".into(),
                        reason: format!("the scored CSV does not parse ({})", csv_text(&e)),
                    });
                }
            }
            s.rows += 1;
            if error_column.is_some_and(|i| rec.get(i).is_some_and(|v| !v.is_empty())) {
                s.errors += 1;
            }
            if s.preview.len() < PREVIEW_ROWS {
                s.preview.push(rec.iter().map(str::to_owned).collect());
            }
        }
        let json = serde_json::to_vec(&s).map_err(|e| UiError::io("job summary", e))?;
        salescast_core::artifact::write_atomic(&self.summary_path(id), |w| w.write_all(&json))
            .map_err(|e| UiError::io("job summary", e))?;
        Ok(s)
    }
}

/// Where a CSV record failed, in our words.
fn csv_text(e: &csv::Error) -> String {
    match e.position() {
        Some(p) => format!("at line {}", p.line()),
        None => "unreadable".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are written directly
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_hex_and_checked() {
        let a = Jobs::new_id().unwrap_or_default();
        let b = Jobs::new_id().unwrap_or_default();
        assert!(Jobs::valid_id(&a) && Jobs::valid_id(&b) && a != b);
        for bad in [
            "",
            "../etc/passwd",
            "ABCDEF0123456789ABCDEF0123456789",
            "x".repeat(32).as_str(),
        ] {
            assert!(!Jobs::valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn summarises_counts_errors_and_previews() {
        let jobs = Jobs::new(None).unwrap_or_else(|e| panic!("{e}"));
        let id = Jobs::new_id().unwrap_or_default();
        let mut csv = String::from("a,b,predicted_revenue,error\n");
        for i in 0..60 {
            if i % 7 == 0 {
                csv.push_str(&format!(
                    "{i},\"<script>alert(1)</script>\",,bad unit_price\n"
                ));
            } else {
                csv.push_str(&format!("{i},x,1.5,\n"));
            }
        }
        std::fs::write(jobs.scored_path(&id), &csv).unwrap_or_default();
        let s = jobs.summarise(&id, "in.csv").unwrap_or_default();
        assert_eq!(s.rows, 60);
        assert_eq!(s.errors, 9);
        assert_eq!(s.preview.len(), PREVIEW_ROWS);
        assert_eq!(s.error_column, Some(3));
        assert_eq!(jobs.summary(&id).ok(), Some(s));
        assert!(jobs.summary("../../etc/passwd").is_err());
        jobs.remove(&id);
        assert!(!jobs.scored_path(&id).exists());
    }
}
