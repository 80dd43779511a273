//! The JSON bodies of the scoring routes: any bytes that parse as JSON go through the API's
//! request readers (one transaction, an array, MLflow's four envelopes). Nothing may panic;
//! every refusal names what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = salescast_api::input::cells_of(&v, "");
    if let Ok(rows) = salescast_api::input::envelope_rows(&v) {
        for (i, r) in rows.iter().enumerate() {
            let _ = salescast_api::input::cells_of(r, &format!("[{i}]."));
        }
    }
});
