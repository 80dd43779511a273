//! Reading the golden fixtures (`tests/golden/*.json`), shared by the integration tests.

use serde_json::Value;

/// The fixture of one series.
pub(crate) fn load(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
}

/// A JSON array of numbers.
pub(crate) fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}
