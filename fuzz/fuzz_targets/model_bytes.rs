//! Model artifacts that are truncated, bit-flipped or from another version: decoding either
//! fails with an error or yields a model; it never panics or runs out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = salescast_models::Model::from_bytes(data);
});
