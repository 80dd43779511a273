//! The models directory's manifest: any bytes as `manifest.json` beside real model files (when
//! `SALESCAST_FUZZ_MODELS` names a trained directory, its other files are copied in) either load
//! or are refused with an error; nothing panics, and no accepted manifest names a file outside
//! its directory.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("salescast-fuzz-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        if let Some(src) = std::env::var_os("SALESCAST_FUZZ_MODELS") {
            for e in std::fs::read_dir(src).expect("the models directory").flatten() {
                if e.file_name() != "manifest.json" && e.path().is_file() {
                    std::fs::copy(e.path(), dir.join(e.file_name())).expect("a copy");
                }
            }
        }
        dir
    })
}

/// No `..`, root or drive: the file is inside the directory.
fn inside(name: &str) -> bool {
    std::path::Path::new(name)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    std::fs::write(dir.join("manifest.json"), data).expect("a write");
    if let Ok(p) = salescast_models::serving::Predictor::load(dir) {
        for e in p.manifest.models.values() {
            assert!(inside(&e.artifact), "{}", e.artifact);
        }
    }
});
