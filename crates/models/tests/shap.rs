//! Our TreeSHAP against the `shap` package: the committed fixtures (made by
//! `tools/shap_fixtures.py`) hold a fitted boosting model and forest from our learner, 1,000
//! rows, and the values `shap.TreeExplainer` computed for them from our exported trees.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::path::PathBuf;

use salescast_models::Model;

#[derive(serde::Deserialize)]
struct Expected {
    shap_version: String,
    expected_value: f64,
    values: Vec<Vec<f64>>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shap")
}

fn check(name: &str) {
    let dir = fixtures();
    let model = Model::load(&dir.join(format!("{name}.bin"))).unwrap();
    let rows: Vec<Vec<f64>> =
        serde_json::from_slice(&std::fs::read(dir.join("rows.json")).unwrap()).unwrap();
    let want: Expected =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.shap.json"))).unwrap())
            .unwrap();
    assert_eq!(rows.len(), 1000);
    assert_eq!(want.values.len(), rows.len());
    let mut worst = 0.0f64;
    for (i, (row, want_row)) in rows.iter().zip(&want.values).enumerate() {
        let got = model.explain_row(row).unwrap();
        assert!(
            (got.expected - want.expected_value).abs() < 1e-9,
            "{name}: expected value {} against shap {}'s {}",
            got.expected,
            want.shap_version,
            want.expected_value
        );
        for (f, (g, w)) in got.contributions.iter().zip(want_row).enumerate() {
            assert!(
                (g - w).abs() < 1e-9,
                "{name}, row {i}, feature {f}: {g} against shap {}'s {w}",
                want.shap_version
            );
            worst = worst.max((g - w).abs());
        }
    }
    eprintln!(
        "{name}: largest difference from shap {}: {worst:e}",
        want.shap_version
    );
}

#[test]
fn boosting_contributions_equal_the_shap_packages_on_1000_rows() {
    check("gradient_boosting");
}

#[test]
fn forest_contributions_equal_the_shap_packages_on_1000_rows() {
    check("random_forest");
}
