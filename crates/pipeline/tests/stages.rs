#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap
//! train → evaluate → predict on small generated data.

use std::fs;
use std::path::{Path, PathBuf};

use salescast_models::serving::{Manifest, Predictor};
use salescast_models::{GradientBoostingParams, Kind, RandomForestParams};
use salescast_pipeline::train::{TrainOptions, train};
use salescast_pipeline::{evaluate::evaluate, predict::predict};

fn prepare(dir: &Path) -> std::path::PathBuf {
    let raw = salescast_testing::generated_csv(dir, 12_000, 150);
    let processed = dir.join("processed");
    salescast_preprocess::frame::run(
        &raw,
        &processed,
        &salescast_preprocess::Options {
            test_days: 30,
            ..Default::default()
        },
    )
    .unwrap();
    salescast_features::frame::run(&processed, &dir.join("features"), &Default::default()).unwrap();
    raw
}

fn small() -> TrainOptions {
    TrainOptions {
        kinds: Kind::ALL.to_vec(),
        random_forest: RandomForestParams {
            n_trees: 15,
            ..Default::default()
        },
        gradient_boosting: GradientBoostingParams {
            n_rounds: 60,
            ..Default::default()
        },
        validation_days: 14,
        daily: None,
        refit_on_all_data: true,
    }
}

#[test]
fn train_evaluate_predict_agree() {
    let dir = tempfile::tempdir().unwrap();
    let raw = prepare(dir.path());
    let models = dir.path().join("models");
    // Every fit reports its progress, step by step, never past its total.
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<String, (u64, u64)>::new());
    let progress = |p: salescast_pipeline::stage::Progress<'_>| {
        let mut seen = seen.lock().unwrap();
        let e = seen.entry(p.step.to_owned()).or_default();
        *e = (e.0.max(p.done), p.total);
    };
    let outcome = train(&dir.path().join("features"), &models, &small(), &progress).unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "gradient boosting",
            "gradient boosting (all days)",
            "gradient boosting (training days)",
            "random forest",
            "random forest (all days)",
        ]
    );
    for (step, (done, total)) in &seen {
        assert!(*done > 0 && done <= total, "{step}: {done} of {total}");
    }
    assert_eq!(seen["random forest"], (15, 15));

    // both models beat the seasonal-naive baseline clearly
    for m in &outcome.models {
        assert!(
            m.test.mae < 0.8 * outcome.baseline.mae,
            "{:?} vs baseline {:?}",
            m.test,
            outcome.baseline
        );
    }
    let manifest = Manifest::load(&models).unwrap();
    assert_eq!(manifest.models.len(), 2);
    let best = outcome
        .models
        .iter()
        .min_by(|a, b| a.test.mae.total_cmp(&b.test.mae))
        .unwrap();
    assert_eq!(manifest.champion, best.kind.name());
    assert_eq!(manifest.training_data_sha256.len(), 64);

    // evaluate reproduces the manifest's test metrics and writes plot data
    let metrics = dir.path().join("metrics.json");
    let m = evaluate(
        dir.path(),
        &models,
        &metrics,
        Some(&dir.path().join("plots")),
    )
    .unwrap();
    for (name, entry) in &manifest.models {
        assert!((m[name].mae - entry.test_metrics.mae).abs() < 1e-9);
    }
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&metrics).unwrap()).unwrap();
    for k in ["random_forest", "gradient_boosting", "seasonal_naive"] {
        assert!(json[k]["mae"].is_f64(), "{k}");
    }
    // wall-clock figures stay out of the tracked metrics
    assert!(json["random_forest"].get("fit_seconds").is_none());
    for f in [
        "predictions.csv",
        "residuals_by_day.csv",
        "feature_importance.csv",
        "field_importance.csv",
    ] {
        assert!(dir.path().join("plots").join(f).is_file(), "{f}");
    }
    // Both importances per feature; the mean |SHAP| per field sums the fields' own features.
    let fi = fs::read_to_string(dir.path().join("plots/feature_importance.csv")).unwrap();
    assert!(
        fi.starts_with("model,feature,importance,mean_abs_shap\n"),
        "{fi}"
    );
    let shap: Vec<f64> = fi
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        shap.iter().all(|v| *v >= 0.0) && shap.iter().any(|v| *v > 0.0),
        "{fi}"
    );
    let fields = fs::read_to_string(dir.path().join("plots/field_importance.csv")).unwrap();
    assert!(fields.contains("gradient_boosting,date,"), "{fields}");
    assert!(fields.contains("random_forest,unit_price,"), "{fields}");

    // offline prediction on the raw file, with bad rows added at the end
    let mut text = fs::read_to_string(&raw).unwrap();
    text.push_str("X1,not-a-date,S01,P0001,Toys,10,1,0,0,Regular,Card,10\n");
    text.push_str("X2,2023-05-01,S01,P0001,Toys,-5,1,0,0,Regular,Card,10\n");
    let input = dir.path().join("score.csv");
    fs::write(&input, &text).unwrap();
    let out = dir.path().join("scored.csv");
    let s = predict(&models, &input, &out, None, false, false, false).unwrap();
    assert_eq!(s.rows, 12_002);
    assert_eq!(s.errors, 2);

    // a misspelled column is refused, naming it, unless extra columns are asked to pass
    let (header, body) = text.split_once('\n').unwrap();
    let typo = dir.path().join("typo.csv");
    fs::write(
        &typo,
        format!("{}\n{body}", header.replace("unit_price", "price")),
    )
    .unwrap();
    let typo_out = dir.path().join("typo-scored.csv");
    let e = predict(&models, &typo, &typo_out, None, false, false, false).unwrap_err();
    assert!(
        e.to_string()
            .contains("`price` is not a field of the data contract"),
        "{e}"
    );
    assert!(!typo_out.exists(), "a refused file leaves no output");
    let ignored = predict(&models, &typo, &typo_out, None, false, false, true).unwrap();
    assert_eq!(ignored.rows, 12_002);
    assert_eq!(s.model, manifest.champion);
    let mut r = csv::Reader::from_path(&out).unwrap();
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[12], "predicted_revenue");
    assert_eq!(&headers[13], "error");
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 12_002);
    assert!(rows[12_000][13].contains("date"), "{:?}", &rows[12_000]);
    assert!(
        rows[12_001][13].contains("unit_price"),
        "{:?}",
        &rows[12_001]
    );
    // --explain: the same predictions, plus TreeSHAP columns that add up to them; a bad row's
    // are blank.
    let few: String = fs::read_to_string(&input)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| *i <= 200 || *i > 12_000)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let few_in = dir.path().join("few.csv");
    fs::write(&few_in, few).unwrap();
    let explained_out = dir.path().join("explained.csv");
    let s = predict(&models, &few_in, &explained_out, None, true, false, false).unwrap();
    assert_eq!((s.rows, s.errors), (202, 2));
    let mut r = csv::Reader::from_path(&explained_out).unwrap();
    let h = r.headers().unwrap().clone();
    assert_eq!(&h[14], "shap_expected_value");
    let fields: Vec<usize> = (15..h.len())
        .filter(|&i| !h[i].starts_with("shap_feature_"))
        .collect();
    let features: Vec<usize> = (15..h.len())
        .filter(|&i| h[i].starts_with("shap_feature_"))
        .collect();
    assert!(fields.iter().any(|&i| &h[i] == "shap_date"), "{h:?}");
    assert_eq!(features.len(), 19, "{h:?}");
    for (i, rec) in r.records().map(Result::unwrap).enumerate() {
        if i >= 200 {
            assert!(rec[14].is_empty() && !rec[13].is_empty(), "{rec:?}");
            continue;
        }
        assert_eq!(
            &rec[12], &rows[i][12],
            "the same prediction, explained or not"
        );
        let p: f64 = rec[12].parse().unwrap();
        let e: f64 = rec[14].parse().unwrap();
        for group in [&fields, &features] {
            let sum: f64 = group.iter().map(|&j| rec[j].parse::<f64>().unwrap()).sum();
            assert!(
                (e + sum - p).abs() < 1e-6 * p.abs().max(1.0),
                "{e} + {sum} against {p}"
            );
        }
    }

    // the same rows through the serving predictor give the same numbers
    let predictor = Predictor::load(&models).unwrap();
    let map = salescast_core::schema::ColumnMap::resolve(
        &headers.iter().take(12).collect::<Vec<_>>(),
        salescast_core::Mode::Scoring,
    )
    .unwrap();
    for rec in rows.iter().take(500) {
        let t = salescast_core::schema::parse_row(
            |c| map.get(c).and_then(|j| rec.get(j)),
            salescast_core::Mode::Scoring,
        )
        .unwrap();
        let want = predictor.predict(&t, None).unwrap();
        let got: f64 = rec[12].parse().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
}

/// Prepared data in `dir` and a small boosting model trained on it; returns the models dir.
fn boosting_only(dir: &Path) -> PathBuf {
    prepare(dir);
    let models = dir.join("models");
    let opts = TrainOptions {
        kinds: vec![Kind::GradientBoosting],
        ..small()
    };
    train(&dir.join("features"), &models, &opts, &|_| {}).unwrap();
    models
}

#[test]
fn a_model_whose_schema_differs_from_the_transform_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = boosting_only(dir.path());
    Predictor::load(&models).unwrap();
    // drop one feature from the saved transform
    let path = models.join("transform.json");
    let mut t: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    t["payload"]["feature_names"].as_array_mut().unwrap().pop();
    fs::write(&path, serde_json::to_vec(&t).unwrap()).unwrap();
    let e = Predictor::load(&models).unwrap_err();
    assert!(e.to_string().contains("lists 18 features"), "{e}");
}

#[test]
fn a_manifest_naming_a_file_outside_its_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = boosting_only(dir.path());
    let path = models.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let entry = m["payload"]["models"]["gradient_boosting"]
        .as_object_mut()
        .unwrap();
    let file = entry["artifact"].as_str().unwrap().to_owned();
    // The same bytes one directory up: only the name's shape can refuse it.
    fs::copy(models.join(&file), dir.path().join(&file)).unwrap();
    entry.insert("artifact".into(), format!("../{file}").into());
    fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let e = Predictor::load(&models).unwrap_err().to_string();
    assert!(e.contains("not inside its own directory"), "{e}");
    assert!(e.contains(&format!("../{file}")), "{e}");
}

#[test]
fn bad_hyperparameters_fail_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let opts = TrainOptions {
        random_forest: RandomForestParams {
            n_trees: 0,
            ..Default::default()
        },
        ..small()
    };
    let e = train(dir.path(), &dir.path().join("m"), &opts, &|_| {}).unwrap_err();
    assert!(e.is_bad_input());
    assert!(e.to_string().contains("n_trees"), "{e}");
    assert!(!dir.path().join("m").exists());
}
