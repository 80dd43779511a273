//! The monitor's reference profile: any bytes as `reference.json` (beside the real sample when
//! `SALESCAST_FUZZ_MODELS` names a trained directory) either load or are refused with an error;
//! nothing panics, and no accepted profile names a file outside its directory.
#![no_main]

mod scratch;

use libfuzzer_sys::fuzz_target;
use salescast_monitor::profile::{PROFILE_FILE, load};

fuzz_target!(|data: &[u8]| {
    let dir = scratch::dir(PROFILE_FILE);
    std::fs::write(dir.join(PROFILE_FILE), data).expect("a write");
    if let Ok((profile, _sample)) = load(dir) {
        assert!(scratch::inside(&profile.sample_file), "{}", profile.sample_file);
    }
});
