//! What the file-loader targets share: a scratch directory holding a trained models
//! directory's files (from `SALESCAST_FUZZ_MODELS`, when set) except the one being fuzzed, and
//! the check that an accepted artifact names only files inside its directory.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The scratch directory for this process, created on first use.
pub fn dir(fuzzed: &str) -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("salescast-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        if let Some(src) = std::env::var_os("SALESCAST_FUZZ_MODELS") {
            for e in std::fs::read_dir(src).expect("the models directory").flatten() {
                if e.file_name() != fuzzed && e.path().is_file() {
                    std::fs::copy(e.path(), dir.join(e.file_name())).expect("a copy");
                }
            }
        }
        dir
    })
}

/// No `..`, root or drive: the file is inside the directory.
pub fn inside(name: &str) -> bool {
    Path::new(name)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
}
