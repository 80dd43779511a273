//! Metric values on the wire.
//!
//! serde_json writes NaN and ±Inf as `null`, which MLflow rejects, and a bare `NaN` token is
//! stored as 0.0 without an error. MLflow accepts the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"`, so non-finite values travel as those strings and finite ones as numbers.

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(*v)
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Number(f64),
        Text(String),
    }
    match Wire::deserialize(d)? {
        Wire::Number(v) => Ok(v),
        Wire::Text(t) => match t.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("not a metric value: {other:?}"))),
        },
    }
}

/// The text form MLflow's file store uses for a value.
pub(crate) fn to_text(v: f64) -> String {
    if v.is_nan() {
        "nan".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::record::Metric;

    #[test]
    fn non_finite_values_travel_as_mlflow_strings() {
        for (v, text) in [
            (f64::NAN, r#""NaN""#),
            (f64::INFINITY, r#""Infinity""#),
            (f64::NEG_INFINITY, r#""-Infinity""#),
            (1.5, "1.5"),
        ] {
            let m = Metric {
                key: "k".into(),
                value: v,
                timestamp: 1,
                step: 0,
            };
            let json = serde_json::to_string(&m).expect("serializes");
            assert!(json.contains(&format!(r#""value":{text}"#)), "{json}");
            let back: Metric = serde_json::from_str(&json).expect("parses");
            assert!(back.value == v || (v.is_nan() && back.value.is_nan()));
        }
    }
}
