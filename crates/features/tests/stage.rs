//! The features stage end to end on generated data: one row through the serving path gives the
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap
//! frame path's vector, and nothing from test days reaches training features.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use polars::prelude::*;
use salescast_core::schema::{ColumnMap, parse_row};
use salescast_core::{Mode, Part};
use salescast_features::frame::{self, StageOptions};
use salescast_features::transform::FeatureTransform;
use salescast_preprocess::clean::Options;

fn run_all(input: &Path, work: &Path, opts: &StageOptions) {
    let processed = work.join("processed");
    salescast_preprocess::frame::run(
        input,
        &processed,
        &Options {
            test_days: 20,
            ..Default::default()
        },
    )
    .unwrap();
    frame::run(&processed, &work.join("features"), opts).unwrap();
}

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

/// Feature vectors of a feature file, by transaction id.
fn vectors(df: &DataFrame, names: &[String]) -> HashMap<String, Vec<f64>> {
    let ids = df.column("transaction_id").unwrap().str().unwrap().clone();
    let cols: Vec<Float64Chunked> = names
        .iter()
        .map(|n| df.column(n).unwrap().f64().unwrap().clone())
        .collect();
    (0..df.height())
        .map(|i| {
            (
                ids.get(i).unwrap().to_owned(),
                cols.iter().map(|c| c.get(i).unwrap()).collect(),
            )
        })
        .collect()
}

#[test]
fn one_row_through_the_serving_path_equals_the_frame_path() {
    for scale in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let input = salescast_testing::generated_csv(dir.path(), 8_000, 90);
        let mut opts = StageOptions::default();
        opts.transform.scale = scale;
        run_all(&input, dir.path(), &opts);
        let out = dir.path().join("features");
        let transform = FeatureTransform::load(&out.join(frame::TRANSFORM_FILE)).unwrap();
        let mut by_id = vectors(
            &read(&out.join(frame::TRAIN_FILE)),
            &transform.feature_names,
        );
        by_id.extend(vectors(
            &read(&out.join(frame::TEST_FILE)),
            &transform.feature_names,
        ));

        // Score the raw rows one at a time, blanks and all, as the API will.
        let mut reader = csv::Reader::from_path(&input).unwrap();
        let headers: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let map = ColumnMap::resolve(&headers, Mode::Scoring).unwrap();
        let (mut compared, mut with_blanks) = (0, 0);
        for rec in reader.records() {
            let rec = rec.unwrap();
            let t = parse_row(|c| map.get(c).and_then(|j| rec.get(j)), Mode::Scoring).unwrap();
            let id = t.transaction_id.clone().unwrap();
            let Some(expected) = by_id.get(&id) else {
                continue;
            }; // a dropped duplicate
            with_blanks += usize::from(t.unit_price.is_none() || t.category.is_none());
            let got = transform.transform_one(&t);
            assert_eq!(&got, expected, "row {id} (scale {scale})");
            compared += 1;
        }
        assert!(compared > 7_900, "{compared}");
        assert!(with_blanks > 50, "{with_blanks}");
    }
}

#[test]
fn test_days_do_not_leak_into_training_features() {
    let dir = tempfile::tempdir().unwrap();
    let input = salescast_testing::generated_csv(dir.path(), 6_000, 80);
    let text = fs::read_to_string(&input).unwrap();

    // A second file whose test days (the last 20) are rewritten beyond recognition: other
    // prices, quantities and revenue, new stores, products and categories.
    let first_test_day = "2023-03-02";
    let mut changed = String::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if i > 0 && f[1] >= first_test_day {
            changed.push_str(&format!(
                "{},{},NEW{},PNEW{},Gadgets,{}9.99,{}7,0.50,1,Vip,Crypto,{}99.50\n",
                f[0],
                f[1],
                i % 3,
                i % 7,
                i % 9,
                i % 5,
                i % 11
            ));
        } else {
            changed.push_str(line);
            changed.push('\n');
        }
    }
    let other = dir.path().join("other");
    fs::create_dir_all(&other).unwrap();
    let changed_input = other.join("raw.csv");
    fs::write(&changed_input, changed).unwrap();

    let opts = StageOptions::default();
    run_all(&input, &dir.path().join("a"), &opts);
    run_all(&changed_input, &dir.path().join("b"), &opts);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));

    let ta = FeatureTransform::load(&a.join("features").join(frame::TRANSFORM_FILE)).unwrap();
    let tb = FeatureTransform::load(&b.join("features").join(frame::TRANSFORM_FILE)).unwrap();
    assert_eq!(ta.split.test_start.to_string(), first_test_day);
    assert_eq!(
        ta, tb,
        "the fitted transform (vocabularies, imputation, fences, scaler) changed"
    );

    let train_a = read(&a.join("features").join(frame::TRAIN_FILE));
    let train_b = read(&b.join("features").join(frame::TRAIN_FILE));
    assert!(train_a.height() > 4_000);
    assert!(
        train_a.equals_missing(&train_b),
        "training features changed"
    );

    // Daily series: every training day's row is identical.
    let train_days = |p: &Path| {
        let df = read(&p.join("features").join(frame::DAILY_FILE));
        let split = df.column("split").unwrap().str().unwrap().clone();
        let mask: BooleanChunked = split
            .iter()
            .map(|s| Some(s == Some(Part::Train.name())))
            .collect();
        df.filter(&mask).unwrap()
    };
    let (da, db) = (train_days(&a), train_days(&b));
    assert!(da.height() > 0);
    assert!(
        da.equals_missing(&db),
        "training days of the daily series changed"
    );
    // while the test days did change
    let test_a = read(&a.join("features").join(frame::TEST_FILE));
    let test_b = read(&b.join("features").join(frame::TEST_FILE));
    assert!(!test_a.equals_missing(&test_b));
}
