//! Our side of `bench/explain_vs_shap.py`: explains the rows the script wrote with a saved
//! model, on every core and on one, and writes the model's trees in shap's custom-tree form and
//! our values, so that the script can time `shap.TreeExplainer` on the same trees and rows and
//! compare the values.
//!
//! `cargo run --release -p salescast-models --example explain_bench -- names MODEL` prints the
//! model's feature names (JSON); `... -- run MODEL ROWS DIR` reads ROWS (little-endian f64, the
//! features in that order, row after row) and writes `trees.json`, `values.f64` and
//! `timings.json` (median seconds of three runs each) into DIR.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::time::Instant;

use rayon::prelude::*;
use salescast_models::Model;
use salescast_models::explain::ExplainScratch;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = Model::load(std::path::Path::new(&args[1])).unwrap();
    if args[0] == "names" {
        println!("{}", serde_json::to_string(model.feature_names()).unwrap());
        return;
    }
    let d = model.feature_names().len();
    let bytes = std::fs::read(&args[2]).unwrap();
    let x: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let rows: Vec<&[f64]> = x.chunks_exact(d).collect();
    let dir = std::path::PathBuf::from(&args[3]);
    // The first explanation builds the trees' tables, as the service's first request does.
    let t = Instant::now();
    model.explain_row(rows[0]).unwrap();
    let prepare = t.elapsed().as_secs_f64();
    let parallel = |rows: &[&[f64]]| -> Vec<Vec<f64>> {
        rows.par_iter()
            .map_init(ExplainScratch::default, |s, r| {
                model.explain_row_with(r, s).unwrap().contributions
            })
            .collect()
    };
    let (mut all, mut one, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        values = parallel(&rows);
        all.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut s = ExplainScratch::default();
        for r in &rows {
            std::hint::black_box(model.explain_row_with(r, &mut s).unwrap());
        }
        one.push(t.elapsed().as_secs_f64());
    }
    let out: Vec<u8> = values
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(dir.join("values.f64"), out).unwrap();
    let trees = salescast_models::explain::shap_trees(&model).unwrap();
    std::fs::write(dir.join("trees.json"), trees.to_string()).unwrap();
    let timings = serde_json::json!({
        "rows": rows.len(),
        "threads": rayon::current_num_threads(),
        "first_row_seconds": prepare,
        "all_cores_seconds": median(all),
        "one_core_seconds": median(one),
        "expected_value": model.expected_value().unwrap(),
    });
    std::fs::write(dir.join("timings.json"), timings.to_string()).unwrap();
}
