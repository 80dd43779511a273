//! `salescast forecast-many` on a small long file: every series forecast with intervals, the
//! chosen model and its cross-validated MASE per series, fallbacks with reasons for the short
//! and the constant series, the same result from CSV and Parquet and from rows in any order,
//! and bad input refused by row or series with no output left behind.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use chrono::{Duration, NaiveDate};
use serde_json::Value;

mod common;

use common::{ok, salescast};

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
}

/// A weekly pattern, a trend and deterministic noise.
fn series(seed: u64, days: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let level = 50.0 + (seed % 7) as f64 * 30.0;
    (0..days)
        .map(|t| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state % 1000) as f64 / 1000.0 - 0.5;
            let week = [0.0, 5.0, 8.0, 3.0, -2.0, 20.0, 25.0][t % 7] * level / 50.0;
            ((level + 0.03 * t as f64 + week + 8.0 * noise) * 100.0).round() / 100.0
        })
        .collect()
}

/// Rows `id,date,value` for three regular series, a short one and a constant one, in the
/// order given by `reverse` (so the reader's sorting is exercised).
fn long_csv(reverse: bool) -> String {
    let mut rows = Vec::new();
    for (id, y) in [
        ("a", series(1, 200)),
        ("b", series(2, 190)),
        ("c", series(3, 210)),
        ("short", series(4, 30)),
        ("flat", vec![7.5; 200]),
    ] {
        for (t, v) in y.iter().enumerate() {
            rows.push(format!("{id},{},{v}", day0() + Duration::days(t as i64)));
        }
    }
    if reverse {
        rows.reverse();
    }
    format!("id,date,value\n{}\n", rows.join("\n"))
}

fn run(dir: &Path, input: &str, out: &str, extra: &[&str]) -> std::process::Output {
    fs::write(dir.join("params.yaml"), common::PARAMS).unwrap();
    let mut args = vec![
        "--json",
        "forecast-many",
        "--input",
        input,
        "--horizon",
        "14",
        "--folds",
        "2",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    salescast(dir, None, &args)
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn every_series_is_forecast_with_its_model_and_fallbacks_carry_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("long.csv"), long_csv(false)).unwrap();
    let o = run(dir.path(), "long.csv", "fc.csv", &["--level", "90"]);
    ok(&o);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["series"], 5);
    assert_eq!(s["fallbacks"], 2);
    assert_eq!(s["forecast_rows"], 5 * 14);

    let fc = read_csv(&dir.path().join("fc.csv"));
    assert_eq!(fc.len(), 70);
    let cols: Vec<&String> = fc[0].keys().collect();
    for c in ["id", "date", "model", "mean", "lower_90", "upper_90"] {
        assert!(cols.iter().any(|k| *k == c), "{c} missing from {cols:?}");
    }
    for r in &fc {
        let (lo, m, hi): (f64, f64, f64) = (
            r["lower_90"].parse().unwrap(),
            r["mean"].parse().unwrap(),
            r["upper_90"].parse().unwrap(),
        );
        assert!(lo <= m && m <= hi, "{r:?}");
    }
    // the forecast starts the day after each series' last
    let first_a = fc.iter().find(|r| r["id"] == "a").unwrap();
    assert_eq!(first_a["date"], (day0() + Duration::days(200)).to_string());

    let table = read_csv(&dir.path().join("fc.series.csv"));
    let by_id: BTreeMap<&str, &BTreeMap<String, String>> =
        table.iter().map(|r| (r["id"].as_str(), r)).collect();
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        ["a", "b", "c", "flat", "short"]
    );
    for id in ["a", "b", "c"] {
        let r = by_id[id];
        assert_eq!(r["fallback_reason"], "", "{r:?}");
        assert!(r["cv_mase"].parse::<f64>().unwrap() > 0.0);
        assert_ne!(r["model"], "seasonal_naive(7)");
    }
    assert!(by_id["short"]["fallback_reason"].starts_with("too short: 30 days"));
    assert_eq!(by_id["short"]["model"], "seasonal_naive(7)");
    assert!(by_id["flat"]["fallback_reason"].starts_with("constant"));
    let flat: Vec<_> = fc.iter().filter(|r| r["id"] == "flat").collect();
    assert!(
        flat.iter()
            .all(|r| r["mean"] == "7.5" && r["lower_90"] == "7.5")
    );

    // The same rows in reverse order, and as Parquet, give the same forecasts.
    fs::write(dir.path().join("rev.csv"), long_csv(true)).unwrap();
    ok(&run(
        dir.path(),
        "rev.csv",
        "rev.csv.out.csv",
        &["--level", "90"],
    ));
    assert_eq!(
        fs::read(dir.path().join("fc.csv")).unwrap(),
        fs::read(dir.path().join("rev.csv.out.csv")).unwrap()
    );
    let o = run(dir.path(), "long.csv", "fc.parquet", &["--level", "90"]);
    ok(&o);
    assert!(dir.path().join("fc.series.parquet").is_file());
    // nothing but our own log lines on stderr (no library notice)
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("Deprecation"), "{err}");
    // Parquet in, with a typed date column: the forecasts' own file read back as a long file.
    let o = run(
        dir.path(),
        "fc.parquet",
        "again.csv",
        &["--value-col", "mean"],
    );
    ok(&o);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["input_rows"], 70);
    assert_eq!(s["series"], 5);
}

#[test]
fn bad_input_is_refused_by_row_or_series_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 8] = [
        (
            "id,date,value\na,2024-01-01,1\na,2024-01-02,x\n",
            &[],
            "row 2: value is \"x\"",
        ),
        (
            "id,date,value\na,2024-01-01,1\na,01/02/2024,2\n",
            &[],
            "row 2: date",
        ),
        (
            "id,date,value\na,2024-01-01,1\na,2024-01-01,2\n",
            &[],
            "series \"a\": date: has 2024-01-01 twice",
        ),
        (
            "id,date,value\na,2024-01-01,1\na,2024-01-03,2\n",
            &[],
            "date: has no row for 2024-01-02",
        ),
        ("id,day,value\na,2024-01-01,1\n", &[], "no column \"date\""),
        (
            "id,date,value\na,2024-01-01,1\n,2024-01-02,2\n",
            &[],
            "row 2: id is missing",
        ),
        (
            "id,date,value\na,2024-01-01,1\n",
            &["--level", "100"],
            "--level",
        ),
        (
            "id,date,value\na,2024-01-01,1\n",
            &["--summary", "out.csv"],
            "three different files",
        ),
    ];
    for (i, (text, extra, want)) in cases.iter().enumerate() {
        let input = format!("in{i}.csv");
        fs::write(dir.path().join(&input), text).unwrap();
        let o = run(dir.path(), &input, "out.csv", extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(err.contains(want), "case {i}: wanted {want:?} in {err}");
        assert!(!dir.path().join("out.csv").exists(), "case {i}");
        assert!(!dir.path().join("out.series.csv").exists(), "case {i}");
    }
    // a gap filled with zero on request
    fs::write(
        dir.path().join("gap.csv"),
        "id,date,value\na,2024-01-01,1\na,2024-01-03,2\n",
    )
    .unwrap();
    let o = run(
        dir.path(),
        "gap.csv",
        "out.csv",
        &["--fill-missing", "zero"],
    );
    ok(&o);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["filled_days"], 1);
    assert_eq!(s["fallbacks"], 1);
}
