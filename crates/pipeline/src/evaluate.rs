//! The evaluate stage: test-day metrics of every model and the baseline, and data for plots.

use std::collections::BTreeMap;

use salescast_daily::DailyArtifact;
use std::path::Path;

use salescast_core::artifact::{save_plain_json, write_atomic};
use salescast_features::frame::{TEST_FILE, TRAIN_FILE, read_features};
use salescast_models::metrics::Scores;
use salescast_models::serving::{Predictor, evaluation_dir};
use serde::Serialize;

use crate::train::baseline;
use crate::{Result, features_dir};

/// One model's line in `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsEntry {
    pub mae: f64,
    pub rmse: f64,
    pub r2: f64,
    /// Mean absolute percentage error, in percent.
    pub mape: f64,
}

/// Scores the evaluation fit of every model in `models_dir` (`models_dir/evaluation` when the
/// served models are refits on all days, which have seen the test days) on the test features; writes `metrics` and, with
/// `plots_dir`, `predictions.csv`, `residuals_by_day.csv`, `feature_importance.csv` (split gain
/// and mean absolute TreeSHAP value per feature) and `field_importance.csv` (the latter per
/// data-contract field).
pub fn evaluate(
    data_dir: &Path,
    models_dir: &Path,
    metrics: &Path,
    plots_dir: Option<&Path>,
) -> Result<BTreeMap<String, MetricsEntry>> {
    let eval_dir = evaluation_dir(models_dir);
    let predictor = Predictor::load(&eval_dir)?;
    let dir = features_dir(data_dir);
    let names = &predictor.transform.feature_names;
    let test = read_features(&dir.join(TEST_FILE), names)?;
    let train = read_features(&dir.join(TRAIN_FILE), names)?;
    let mut out = BTreeMap::new();
    let mut preds: Vec<(String, Vec<f64>)> = Vec::new();
    for (kind, model) in &predictor.models {
        let p = model.predict(&test.x)?;
        let s = Scores::of(&test.y, &p);
        out.insert(
            kind.name().to_owned(),
            MetricsEntry {
                mae: s.mae,
                rmse: s.rmse,
                r2: s.r2,
                mape: s.mape,
            },
        );
        preds.push((kind.name().to_owned(), p));
    }
    let b = baseline(&train, &test, predictor.transform.split.train_end());
    let s = Scores::of(&test.y, &b);
    out.insert(
        "seasonal_naive".into(),
        MetricsEntry {
            mae: s.mae,
            rmse: s.rmse,
            r2: s.r2,
            mape: s.mape,
        },
    );
    preds.push(("seasonal_naive".into(), b));
    let daily_path = eval_dir.join(crate::daily::DAILY_ARTIFACT);
    let daily = if daily_path.exists() {
        Some(DailyArtifact::load(&daily_path).map_err(|e| {
            crate::PipelineError::BadInput(format!("{}: {e}", daily_path.display()))
        })?)
    } else {
        None
    };
    let mut doc =
        serde_json::to_value(&out).map_err(|e| crate::PipelineError::BadInput(e.to_string()))?;
    if let (Some(d), Some(map)) = (&daily, doc.as_object_mut())
        && let Some(t) = &d.test
    {
        map.insert(
            "sarima".into(),
            serde_json::json!({
                "model": d.model_name(),
                "mae": t.mae,
                "rmse": t.rmse,
                "mape": t.mape,
                "mase": t.mase,
                "aic": d.champion.aic(),
                "order": d.champion.order().map(|o| o.to_string()),
            }),
        );
    }
    save_plain_json(metrics, &doc)?;

    if let Some(plots) = plots_dir {
        write_atomic(&plots.join("predictions.csv"), |w| {
            let mut c = csv::Writer::from_writer(w);
            let mut header = vec!["date", "transaction_id", "store_id", "actual"];
            header.extend(preds.iter().map(|(n, _)| n.as_str()));
            c.write_record(&header)?;
            for i in 0..test.n_rows() {
                let mut rec = vec![
                    test.date[i].to_string(),
                    test.transaction_id[i].clone(),
                    test.store_id[i].clone(),
                    test.y[i].to_string(),
                ];
                rec.extend(preds.iter().map(|(_, p)| p[i].to_string()));
                c.write_record(&rec)?;
            }
            c.flush()
        })?;
        write_atomic(&plots.join("residuals_by_day.csv"), |w| {
            writeln!(w, "date,model,actual,predicted,residual")?;
            for (name, p) in &preds {
                let mut days: BTreeMap<chrono::NaiveDate, (f64, f64)> = BTreeMap::new();
                for ((d, y), q) in test.date.iter().zip(&test.y).zip(p) {
                    let e = days.entry(*d).or_default();
                    e.0 += y;
                    e.1 += q;
                }
                for (d, (a, q)) in days {
                    writeln!(w, "{d},{name},{a},{q},{}", a - q)?;
                }
            }
            Ok(())
        })?;
        // Written even without a daily model (header only), so the plot output always exists.
        write_atomic(&plots.join("daily_forecast.csv"), |w| {
            writeln!(w, "date,actual,forecast,lower_95,upper_95")?;
            for t in daily.iter().flat_map(|d| &d.test_window) {
                writeln!(
                    w,
                    "{},{},{},{},{}",
                    t.date, t.actual, t.mean, t.lower, t.upper
                )?;
            }
            Ok(())
        })?;
        // Global importance two ways: the split gain the trees were grown by, and the mean
        // absolute TreeSHAP value on the test days (from the manifest, which training filled
        // on the same days; computed here for models trained before it did).
        let mut shap = BTreeMap::new();
        for (kind, model) in &predictor.models {
            let listed = predictor
                .manifest
                .models
                .get(kind.name())
                .and_then(|e| e.shap_importance.clone());
            let imp = match listed {
                Some(imp) => imp,
                None => salescast_models::serving::shap_importance(
                    model,
                    &test.x,
                    salescast_models::serving::SHAP_IMPORTANCE_ROWS,
                )?,
            };
            shap.insert(*kind, imp);
        }
        let value = |list: &[salescast_models::serving::Contribution], name: &str| {
            list.iter()
                .find(|c| c.name == name)
                .map_or(0.0, |c| c.value)
        };
        write_atomic(&plots.join("feature_importance.csv"), |w| {
            writeln!(w, "model,feature,importance,mean_abs_shap")?;
            for (kind, model) in &predictor.models {
                let total: f64 = model
                    .importance()
                    .iter()
                    .sum::<f64>()
                    .max(f64::MIN_POSITIVE);
                for (f, v) in names.iter().zip(model.importance()) {
                    let s = shap.get(kind).map_or(0.0, |i| value(&i.by_feature, f));
                    writeln!(w, "{},{f},{},{s}", kind.name(), v / total)?;
                }
            }
            Ok(())
        })?;
        write_atomic(&plots.join("field_importance.csv"), |w| {
            writeln!(w, "model,field,mean_abs_shap,rows")?;
            for (kind, imp) in &shap {
                for c in &imp.by_field {
                    writeln!(w, "{},{},{},{}", kind.name(), c.name, c.value, imp.rows)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}
