//! Agreement with Evidently 0.7.21 and scipy on committed fixtures
//! (`tools/monitor_fixtures.py` writes them and records the versions).

use std::collections::BTreeMap;

use salescast_monitor::data::{ColumnData, Frame, Role, Values};
use salescast_monitor::drift::{column_drift, compare};
use salescast_monitor::stats::{self, ColumnType, Sample};
use serde_json::Value;

fn fixtures() -> Value {
    let text = include_str!("fixtures/evidently.json");
    serde_json::from_str(text).expect("fixture parses")
}

fn kind_of(v: &Value) -> ColumnType {
    match v.as_str() {
        Some("numerical") => ColumnType::Numerical,
        _ => ColumnType::Categorical,
    }
}

fn column(name: &str, kind: ColumnType, values: &Value) -> ColumnData {
    let arr = values.as_array().expect("values");
    let values = match kind {
        ColumnType::Numerical => {
            Values::Num(arr.iter().map(|v| v.as_f64().expect("number")).collect())
        }
        ColumnType::Categorical => Values::encode(arr.iter().map(|v| v.as_str())),
    };
    ColumnData {
        name: name.into(),
        kind,
        role: Role::Feature,
        values,
    }
}

fn sorted(v: &Value) -> Vec<f64> {
    let mut s: Vec<f64> = v
        .as_array()
        .expect("values")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect();
    s.sort_by(f64::total_cmp);
    s
}

/// Counts per label over the union of both sides (the order does not change the sums).
fn counts(r: &Value, c: &Value) -> (Vec<u64>, Vec<u64>) {
    let mut m: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for v in r.as_array().expect("values") {
        m.entry(v.as_str().expect("label")).or_default().0 += 1;
    }
    for v in c.as_array().expect("values") {
        m.entry(v.as_str().expect("label")).or_default().1 += 1;
    }
    m.values().map(|&(a, b)| (a, b)).unzip()
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: ours {got:.15}, reference {want:.15} (tolerance {tol:e})"
    );
}

fn tolerance(test_name: &str) -> f64 {
    if test_name.contains("p_value") {
        1e-6
    } else {
        1e-9
    }
}

#[test]
fn fixtures_record_the_tool_versions() {
    let f = fixtures();
    assert_eq!(f["versions"]["evidently"], "0.7.21");
    assert!(f["versions"]["scipy"].as_str().is_some());
}

#[test]
fn default_tests_scores_and_decisions_match_evidently() {
    let f = fixtures();
    for case in f["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or("?");
        let kind = kind_of(&case["type"]);
        let r = column("x", kind, &case["reference"]);
        let c = column("x", kind, &case["current"]);
        let d = column_drift(&r, &c);
        let want = &case["default"];
        let test_name = want["test_name"].as_str().unwrap_or("");
        assert_eq!(d.test_name.as_deref(), Some(test_name), "{name}: test");
        close(
            &format!("{name}: score"),
            d.score.unwrap_or(f64::NAN),
            want["score"].as_f64().unwrap_or(f64::NAN),
            tolerance(test_name),
        );
        assert_eq!(
            d.drifted,
            want["drifted"].as_bool().unwrap_or(false),
            "{name}: drift"
        );
        assert_eq!(d.threshold, want["threshold"].as_f64(), "{name}: threshold");
        // PSI is reported on every column with the same binning.
        close(
            &format!("{name}: psi"),
            d.psi.unwrap_or(f64::NAN),
            case["psi"]["score"].as_f64().unwrap_or(f64::NAN),
            1e-9,
        );
    }
}

#[test]
fn psi_jensen_shannon_and_wasserstein_match_evidently_on_every_case() {
    let f = fixtures();
    for case in f["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or("?");
        let kind = kind_of(&case["type"]);
        let (psi, js, drifted_psi, drifted_js) = match kind {
            ColumnType::Numerical => {
                let (r, c) = (sorted(&case["reference"]), sorted(&case["current"]));
                let b = stats::binned(kind, Sample::Numbers(&r), Sample::Numbers(&c));
                let w = stats::wasserstein_normed(&r, &c);
                close(
                    &format!("{name}: wasserstein"),
                    w,
                    case["wasserstein"]["score"].as_f64().unwrap_or(f64::NAN),
                    1e-9,
                );
                assert_eq!(
                    stats::StatTest::Wasserstein.drifted(w, 0.1),
                    case["wasserstein"]["drifted"].as_bool().unwrap_or(false),
                    "{name}: wasserstein drift"
                );
                let (p, j) = (stats::psi(&b), stats::jensen_shannon(&b));
                (p, j, p >= 0.1, j >= 0.1)
            }
            ColumnType::Categorical => {
                let (r, c) = counts(&case["reference"], &case["current"]);
                let b = stats::binned(kind, Sample::Counts(&r), Sample::Counts(&c));
                let (p, j) = (stats::psi(&b), stats::jensen_shannon(&b));
                (p, j, p >= 0.1, j >= 0.1)
            }
        };
        close(
            &format!("{name}: psi"),
            psi,
            case["psi"]["score"].as_f64().unwrap_or(f64::NAN),
            1e-9,
        );
        close(
            &format!("{name}: jensen-shannon"),
            js,
            case["jensenshannon"]["score"].as_f64().unwrap_or(f64::NAN),
            1e-9,
        );
        assert_eq!(
            drifted_psi,
            case["psi"]["drifted"].as_bool().unwrap_or(false),
            "{name}"
        );
        assert_eq!(
            drifted_js,
            case["jensenshannon"]["drifted"].as_bool().unwrap_or(false),
            "{name}"
        );
    }
}

#[test]
fn ks_matches_scipy_and_evidentlys_forced_ks() {
    let f = fixtures();
    let mut checked = 0;
    for case in f["cases"].as_array().expect("cases") {
        let Some(want) = case.get("scipy_ks") else {
            continue;
        };
        let name = case["name"].as_str().unwrap_or("?");
        let (r, c) = (sorted(&case["reference"]), sorted(&case["current"]));
        let ks = stats::ks_2samp(&r, &c);
        close(
            &format!("{name}: KS statistic"),
            ks.statistic,
            want["statistic"].as_f64().unwrap_or(f64::NAN),
            1e-12,
        );
        close(
            &format!("{name}: KS p ({})", ks.method),
            ks.p_value,
            want["pvalue"].as_f64().unwrap_or(f64::NAN),
            1e-6,
        );
        close(
            &format!("{name}: Evidently KS"),
            ks.p_value,
            case["ks"]["score"].as_f64().unwrap_or(f64::NAN),
            1e-6,
        );
        assert_eq!(
            stats::StatTest::Ks.drifted(ks.p_value, 0.05),
            case["ks"]["drifted"].as_bool().unwrap_or(false),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked} KS cases");
}

#[test]
fn dataset_drift_matches_evidently() {
    let f = fixtures();
    let d = &f["dataset"];
    let mut reference = Frame::default();
    let mut current = Frame::default();
    for (name, col) in d["columns"].as_object().expect("columns") {
        let kind = kind_of(&col["type"]);
        reference
            .columns
            .push(column(name, kind, &col["reference"]));
        current.columns.push(column(name, kind, &col["current"]));
    }
    let report = compare(&reference, &current, 0.5);
    for c in &report.columns {
        let want = &d["per_column"][&c.column];
        assert_eq!(
            c.test_name.as_deref(),
            want["test_name"].as_str(),
            "{}",
            c.column
        );
        close(
            &c.column,
            c.score.unwrap_or(f64::NAN),
            want["score"].as_f64().unwrap_or(f64::NAN),
            1e-9,
        );
        assert_eq!(
            c.drifted,
            want["drifted"].as_bool().unwrap_or(false),
            "{}",
            c.column
        );
    }
    assert_eq!(
        report.dataset.tested_columns as u64,
        d["number_of_columns"].as_u64().unwrap_or(0)
    );
    assert_eq!(
        report.dataset.drifted_columns as u64,
        d["number_of_drifted_columns"].as_u64().unwrap_or(0)
    );
    close(
        "share",
        report.dataset.share,
        d["share_of_drifted_columns"].as_f64().unwrap_or(f64::NAN),
        1e-12,
    );
    assert_eq!(
        report.dataset.drift,
        d["dataset_drift"].as_bool().unwrap_or(false)
    );
}
