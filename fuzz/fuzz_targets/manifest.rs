//! The models directory's manifest: any bytes as `manifest.json` beside real model files (when
//! `SALESCAST_FUZZ_MODELS` names a trained directory, its other files are copied in) either load
//! or are refused with an error; nothing panics, and no accepted manifest names a file outside
//! its directory.
#![no_main]

mod scratch;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = scratch::dir("manifest.json");
    std::fs::write(dir.join("manifest.json"), data).expect("a write");
    if let Ok(p) = salescast_models::serving::Predictor::load(dir) {
        for e in p.manifest.models.values() {
            assert!(scratch::inside(&e.artifact), "{}", e.artifact);
        }
    }
});
