//! Whatever the rows, preprocessing never panics and accounts for every row.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::fs;

use proptest::prelude::*;
use salescast_preprocess::clean::Options;
use salescast_preprocess::frame;
use salescast_preprocess::{OutlierRule, PreprocessError};

const HEADER: [&str; 12] = [
    "transaction_id",
    "date",
    "store_id",
    "product_id",
    "category",
    "unit_price",
    "quantity",
    "discount",
    "promotion",
    "customer_segment",
    "payment_method",
    "revenue",
];

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[A-Z][0-9]{1,2}",
        (0u32..100_000).prop_map(|v| format!("{}", f64::from(v) / 100.0)),
        (-50i32..50).prop_map(|v| v.to_string()),
        Just("1.0".to_owned()),
        Just("NaN".to_owned()),
        Just("yes".to_owned()),
        ".{0,8}",
    ]
}

fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0i64..40).prop_map(|d| (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
            + chrono::Duration::days(d)).to_string()),
        1 => Just("2024-02-30".to_owned()),
        1 => ".{0,12}",
    ]
}

fn row() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![
            Just(String::new()),
            (0u32..30).prop_map(|i| format!("T{i}"))
        ],
        date(),
        proptest::collection::vec(cell(), 10),
    )
        .prop_map(|(id, d, rest)| {
            let mut v = vec![id, d];
            v.extend(rest);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn rows_in_equals_kept_plus_rejected_plus_duplicates(rows in proptest::collection::vec(row(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("p.csv");
        let mut w = csv::Writer::from_path(&input).unwrap();
        w.write_record(HEADER).unwrap();
        for r in &rows {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let out = dir.path().join("o");
        let opts = Options { test_days: 1, rule: OutlierRule::default() };
        match frame::run(&input, &out, &opts) {
            Ok(run) => {
                let (report, outputs) = (run.report, run.outputs);
                prop_assert_eq!(report.rows_in, rows.len());
                prop_assert_eq!(report.rows_in, report.rows_out + report.rows_rejected + report.duplicates_dropped);
                let kept = frame::read_clean(&outputs.clean).unwrap();
                prop_assert_eq!(kept.len(), report.rows_out);
                let rejected = csv::Reader::from_path(&outputs.rejected).unwrap().records().count();
                prop_assert_eq!(rejected, report.rows_rejected + report.duplicates_dropped);
                let by_reason: usize = report.rejected_by_reason.values().sum();
                prop_assert_eq!(by_reason, rejected);
            }
            Err(e) => {
                // the only acceptable failures are about the data, never a crash; a NUL byte
                // anywhere in the first 64 KiB marks a binary file
                let has_nul = rows.iter().flatten().any(|c| c.contains('\0'));
                prop_assert!(matches!(e, PreprocessError::NoRowSurvived { .. } | PreprocessError::Split(_))
                    || (has_nul && matches!(e, PreprocessError::NotText { .. })), "{}", e);
                prop_assert!(e.is_bad_input());
                prop_assert!(!out.join(frame::CLEAN_FILE).exists());
            }
        }
        fs::remove_dir_all(dir.path()).ok();
    }
}
