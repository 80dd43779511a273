//! Fixtures and tolerance asserts shared by Salescast tests.
//!
//! Tests use small generated data (fast on two cores); benchmarks use the full size.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = salescast_testing::generated_csv(dir.path(), 1_000, 40);
//! assert!(path.exists());
//! salescast_testing::assert_all_close(&[1.0, 2.0], &[1.0, 2.0 + 1e-12], 1e-9);
//! ```

#![allow(clippy::disallowed_methods)] // fixtures are written directly, not as artifacts

pub mod tools;

use std::fs;
use std::path::{Path, PathBuf};

/// Writes `rows` generated transactions over `days` days (default seed) to `dir/raw.csv`.
pub fn generated_csv(dir: &Path, rows: usize, days: u32) -> PathBuf {
    let cfg = salescast_synth::Config {
        rows,
        days,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    if let Err(e) = salescast_synth::generate(&cfg, &mut bytes, |_| {}) {
        panic!("generating test data: {e}");
    }
    let path = dir.join("raw.csv");
    if let Err(e) = fs::write(&path, bytes) {
        panic!("writing {}: {e}", path.display());
    }
    path
}

/// Asserts that `actual` and `expected` agree elementwise within a relative tolerance `rtol`
/// (with the same value as an absolute floor near zero).
#[track_caller]
pub fn assert_all_close(actual: &[f64], expected: &[f64], rtol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let tol = rtol * e.abs().max(1.0);
        assert!(
            (a - e).abs() <= tol || (a.is_nan() && e.is_nan()),
            "element {i}: {a} vs {e} (tolerance {tol})"
        );
    }
}
