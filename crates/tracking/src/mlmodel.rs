//! The `MLmodel` file that makes a folder an MLflow model.
//!
//! MLflow's UI offers "Register model" for a folder holding a file named exactly `MLmodel`, and
//! its model view needs `flavors` to be a mapping; the Python client loads the same file through
//! `models:/name@alias`. A custom flavor names our artifact format.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::ModelSpec;

#[derive(Debug, Serialize)]
struct MlModel<'a> {
    artifact_path: &'a str,
    flavors: BTreeMap<&'a str, BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_id: Option<&'a str>,
    run_id: &'a str,
    utc_time_created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<Signature<'a>>,
}

#[derive(Debug, Serialize)]
struct Signature<'a> {
    inputs: &'a str,
    outputs: &'a str,
}

/// The YAML text of `MLmodel` for `spec`, logged by `run_id` (and, on MLflow 3, as `model_id`).
pub fn render(spec: &ModelSpec, run_id: &str, model_id: Option<&str>, created_ms: i64) -> String {
    let created = chrono::DateTime::from_timestamp_millis(created_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let mut flavors = BTreeMap::from([(spec.flavor.as_str(), spec.flavor_settings.clone())]);
    if let Some(p) = &spec.pyfunc {
        // No `data`: the loader gets the model folder itself. No `env` either: a string there
        // would be read as a conda file; the requirements are in `requirements.txt`.
        flavors.insert(
            "python_function",
            BTreeMap::from([("loader_module".to_owned(), p.loader_module.clone())]),
        );
    }
    let model = MlModel {
        artifact_path: &spec.name,
        flavors,
        model_id,
        run_id,
        utc_time_created: created,
        signature: match (&spec.signature_inputs, &spec.signature_outputs) {
            (Some(i), Some(o)) => Some(Signature {
                inputs: i,
                outputs: o,
            }),
            _ => None,
        },
    };
    serde_yaml_ng::to_string(&model).unwrap_or_default()
}

/// The pip requirements file of a model with the `python_function` flavor.
pub const REQUIREMENTS: &str = "requirements.txt";

/// The files written beside the model's own: `MLmodel`, and `requirements.txt` with the
/// `python_function` flavor.
pub fn generated_files(
    spec: &ModelSpec,
    run_id: &str,
    model_id: Option<&str>,
    created_ms: i64,
) -> Vec<(&'static str, String)> {
    let mut out = vec![("MLmodel", render(spec, run_id, model_id, created_ms))];
    if let Some(p) = &spec.pyfunc {
        out.push((REQUIREMENTS, format!("{}\n", p.requirement)));
    }
    out
}

/// The JSON entry of the 2.x `mlflow.log-model.history` tag for the same model.
pub fn history_entry(spec: &ModelSpec, run_id: &str, created_ms: i64) -> serde_json::Value {
    let created = chrono::DateTime::from_timestamp_millis(created_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    serde_json::json!({
        "artifact_path": spec.name,
        "flavors": {spec.flavor.clone(): spec.flavor_settings},
        "run_id": run_id,
        "utc_time_created": created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlmodel_has_a_flavor_mapping_and_signature() {
        let spec = ModelSpec {
            name: "model".into(),
            model_type: "random_forest".into(),
            files: vec![],
            flavor: "salescast".into(),
            flavor_settings: BTreeMap::from([("artifact".into(), "random_forest.bin".into())]),
            signature_inputs: Some("[]".into()),
            signature_outputs: Some("[]".into()),
            registered_name: None,
            champion: false,
            pyfunc: None,
        };
        let text = render(&spec, "abc", Some("m-1"), 0);
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
        assert_eq!(
            v["flavors"]["salescast"]["artifact"].as_str(),
            Some("random_forest.bin")
        );
        assert_eq!(v["model_id"].as_str(), Some("m-1"));
        assert_eq!(v["run_id"].as_str(), Some("abc"));
        assert!(v["signature"]["inputs"].is_string());
        assert_eq!(
            v["utc_time_created"].as_str(),
            Some("1970-01-01 00:00:00.000000")
        );
        assert!(v["flavors"]["python_function"].is_null());
        assert_eq!(generated_files(&spec, "abc", None, 0).len(), 1);

        // With the python_function flavor: its loader, and the requirement beside MLmodel.
        let spec = ModelSpec {
            pyfunc: Some(crate::record::PyFunc {
                loader_module: "salescast.mlflow_model".into(),
                requirement: "salescast==1.2.3".into(),
            }),
            ..spec
        };
        let files = generated_files(&spec, "abc", None, 0);
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&files[0].1).expect("yaml");
        assert_eq!(
            v["flavors"]["python_function"]["loader_module"].as_str(),
            Some("salescast.mlflow_model")
        );
        assert_eq!(
            v["flavors"]["salescast"]["artifact"].as_str(),
            Some("random_forest.bin")
        );
        assert_eq!(files[1], (REQUIREMENTS, "salescast==1.2.3\n".to_owned()));
    }
}
