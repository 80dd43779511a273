//! Versioned artifacts and atomic writes.
//!
//! Every fitted object is stored as `{"kind", "version", "payload"}` so that a reader can refuse
//! an artifact from another kind or format version instead of mis-reading it. No wall-clock time
//! is written: the same inputs give the same bytes, which is what lets DVC tell a real change
//! from a re-run (when a file was written is its modification time).
//! Files are written to a temporary sibling and renamed, so a reader never sees half a file.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// The envelope around every serialized artifact.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub kind: String,
    pub version: u32,
    /// Written by earlier versions; read and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    pub payload: T,
}

/// Writes `path` atomically: the content goes to a temporary file in the same directory, which
/// is renamed over `path` only once `write` succeeded and the data reached the disk.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| CoreError::io("creating directory", &dir, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact".to_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CoreError::io("writing", path, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CoreError::io("renaming into place", path, e)
    })
}

/// A model artifact's version: the first 12 hex digits of the SHA-256 of its bytes. The manifest
/// records it, and loading checks it, so a models directory whose files come from two different
/// trainings (a write interrupted between two renames) is refused instead of served.
pub fn content_version(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Saves `payload` as a versioned JSON artifact.
pub fn save_json<T: Serialize>(path: &Path, kind: &str, version: u32, payload: &T) -> Result<()> {
    let envelope = Envelope {
        kind: kind.to_owned(),
        version,
        created_at: None,
        payload,
    };
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &envelope).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Loads a versioned JSON artifact, checking its kind and version.
pub fn load_json<T: DeserializeOwned>(path: &Path, kind: &str, version: u32) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| CoreError::io("reading", path, e))?;
    let envelope: Envelope<serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|e| CoreError::BadArtifact {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
    if envelope.kind != kind || envelope.version != version {
        return Err(CoreError::ArtifactVersion {
            path: path.to_path_buf(),
            kind: kind.to_owned(),
            version,
            found_kind: envelope.kind,
            found_version: envelope.version,
        });
    }
    serde_json::from_value(envelope.payload).map_err(|e| CoreError::BadArtifact {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// Saves any serializable value as plain pretty JSON (reports, metrics), atomically.
pub fn save_plain_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// The file of wall-clock figures (seconds, throughputs, when) a stage writes beside its outputs.
/// Timings differ on every run, so they stay out of the outputs themselves: `.dvcignore` keeps
/// this file out of DVC's hashes and `.gitignore` out of git, and the same figures go to MLflow.
pub const TIMINGS_FILE: &str = "timings.json";

/// Writes `value` as `dir/timings.json` (see [`TIMINGS_FILE`]).
pub fn save_timings<T: Serialize>(dir: &Path, value: &T) -> Result<()> {
    save_plain_json(&dir.join(TIMINGS_FILE), value)
}

/// `dir/timings.json` as an object; empty when absent or unreadable, because it is informative
/// only and never decides anything.
pub fn load_timings(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    fs::read(dir.join(TIMINGS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Checks that a file name read from an artifact (a manifest's model file, a profile's sample)
/// names a file inside the artifact's own directory: a relative path of plain names (the
/// evaluation fit sits in a subdirectory), never `..`, a root or a drive. A damaged or
/// hand-edited artifact must not make a reader open, or a tracker upload, a file of its choosing
/// elsewhere on the disk.
pub fn check_listed_name(name: &str) -> std::result::Result<(), String> {
    use std::path::Component;
    let plain = !name.is_empty()
        && !name.contains(['\\', '\0'])
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(format!(
            "names the file {name:?}, which is not inside its own directory"
        ))
    }
}

/// The SHA-256 of a file, hex encoded: recorded with models to tie them to their data.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| CoreError::io("opening", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| CoreError::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Thing {
        a: u32,
    }

    /// A damaged artifact's error keeps the parser's error as its source (so callers and logs
    /// can walk the chain), and its message still names the file and the reason.
    #[test]
    fn a_damaged_artifact_keeps_the_parse_error_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thing.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let err = load_json::<Thing>(&path, "thing", 1).unwrap_err();
        assert!(err.to_string().contains("thing.json"), "{err}");
        let source = std::error::Error::source(&err).expect("a source");
        assert!(
            source.downcast_ref::<serde_json::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn listed_names_must_be_plain_file_names() {
        for ok in [
            "rf.bin",
            "..bin",
            "reference.parquet",
            "evaluation/transform.json",
        ] {
            assert!(check_listed_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../rf.bin",
            "/etc/passwd",
            "sub/../../rf.bin",
            "./rf.bin",
            "a\\b",
            "a\0b",
        ] {
            let e = check_listed_name(bad).unwrap_err();
            assert!(e.contains("not inside its own directory"), "{bad}: {e}");
        }
    }

    #[test]
    fn round_trip_checks_kind_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/thing.json");
        save_json(&p, "thing", 2, &Thing { a: 7 }).unwrap();
        assert_eq!(load_json::<Thing>(&p, "thing", 2).unwrap(), Thing { a: 7 });
        assert!(matches!(
            load_json::<Thing>(&p, "thing", 3),
            Err(CoreError::ArtifactVersion { .. })
        ));
        assert!(matches!(
            load_json::<Thing>(&p, "other", 2),
            Err(CoreError::ArtifactVersion { .. })
        ));
        // no temporary file is left behind
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        let err = write_atomic(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
