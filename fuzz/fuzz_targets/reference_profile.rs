//! The monitor's reference profile: any bytes as `reference.json` (beside the real sample when
//! `SALESCAST_FUZZ_MODELS` names a trained directory) either load or are refused with an error;
//! nothing panics, and no accepted profile names a file outside its directory.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use salescast_monitor::profile::{PROFILE_FILE, load};

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("salescast-fuzz-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        if let Some(src) = std::env::var_os("SALESCAST_FUZZ_MODELS") {
            for e in std::fs::read_dir(src).expect("the models directory").flatten() {
                if e.file_name() != PROFILE_FILE && e.path().is_file() {
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
    std::fs::write(dir.join(PROFILE_FILE), data).expect("a write");
    if let Ok((profile, _sample)) = load(dir) {
        assert!(inside(&profile.sample_file), "{}", profile.sample_file);
    }
});
