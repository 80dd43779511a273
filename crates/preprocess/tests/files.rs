//! The preprocess stage on real files: good rows kept, every bad one rejected with its reason,
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap
//! unusable files refused with a clear error.

use std::fs;
use std::path::{Path, PathBuf};

use salescast_preprocess::clean::Options;
use salescast_preprocess::frame::{self, read_clean};
use salescast_preprocess::{OutlierRule, PreprocessError};

const HEADER: &str = "transaction_id,date,store_id,product_id,category,unit_price,quantity,discount,promotion,customer_segment,payment_method,revenue";

fn opts() -> Options {
    Options {
        test_days: 3,
        rule: OutlierRule::default(),
    }
}

/// Fourteen good rows over fourteen days.
fn good_rows() -> Vec<String> {
    (1..=14)
        .map(|d| {
            format!(
                "T{d},2024-03-{d:02},S1,P{},Toys,10.00,2,0.1,0,Regular,Card,18.00",
                d % 3
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, content).unwrap();
    p
}

fn rejected(out: &Path, stem: &str) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(out.join(format!("{stem}.rejected.csv"))).unwrap();
    r.records().map(Result::unwrap).collect()
}

#[test]
fn bad_rows_are_rejected_with_reasons_and_good_rows_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![HEADER.to_owned()];
    lines.extend(good_rows());
    lines.push("B1,2024-13-45,S1,P1,Toys,10,2,0,0,Regular,Card,20".into());
    lines.push("B2,2024-03-05,S1,P1,Toys,-10,2,0,0,Regular,Card,20".into());
    lines.push("B3,2024-03-05,S1,P1,Toys,10,ten,0,0,Regular,Card,20".into());
    lines.push("B4,2024-03-05,S1,P1,Toys,10,2,1.0,0,Regular,Card,20".into());
    lines.push("T3,2024-03-03,S1,P1,Toys,10,2,0,0,Regular,Card,20".into()); // repeated id
    let input = write(dir.path(), "sales.csv", lines.join("\n").as_bytes());
    let out = dir.path().join("out");
    let report = frame::run(&input, &out, &opts()).unwrap().report;

    assert_eq!(report.rows_in, 19);
    assert_eq!(report.rows_out, 14);
    assert_eq!(report.rows_rejected, 4);
    assert_eq!(report.duplicates_dropped, 1);
    for code in [
        "date: bad_date",
        "unit_price: negative",
        "quantity: not_a_number",
        "discount: out_of_range",
        "transaction_id: duplicate",
    ] {
        assert_eq!(
            report.rejected_by_reason.get(code),
            Some(&1),
            "{code}: {:?}",
            report.rejected_by_reason
        );
    }
    let rej = rejected(&out, "sales");
    assert_eq!(rej.len(), 5);
    let reason = |id: &str| {
        rej.iter()
            .find(|r| &r[0] == id)
            .map(|r| r[12].to_owned())
            .unwrap()
    };
    assert!(
        reason("B1").contains("date \"2024-13-45\" is not a date"),
        "{}",
        reason("B1")
    );
    assert!(reason("B2").contains("unit_price \"-10\" is negative"));
    assert!(reason("B3").contains("quantity \"ten\" is not a number"));
    assert!(reason("B4").contains("discount \"1.0\" is out of range"));
    assert!(reason("T3").contains("repeats an earlier row"));
    // the original cells are kept as they were
    assert_eq!(&rej.iter().find(|r| &r[0] == "B3").unwrap()[6], "ten");

    let clean = read_clean(&out.join(frame::CLEAN_FILE)).unwrap();
    assert_eq!(clean.len(), 14);
    assert!(
        clean
            .iter()
            .all(|t| t.transaction_id.as_deref().unwrap().starts_with('T'))
    );
    let report_json: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join(frame::REPORT_FILE)).unwrap()).unwrap();
    assert_eq!(report_json["rows_in"], 19);
}

#[test]
fn missing_required_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "x.csv",
        b"date,store_id,product_id,quantity\n2024-01-01,S1,P1,2\n",
    );
    let err = frame::run(&input, &dir.path().join("o"), &opts()).unwrap_err();
    assert!(matches!(err, PreprocessError::MissingColumns { .. }));
    assert!(err.is_bad_input());
    assert!(
        err.to_string()
            .contains("missing required column(s): revenue"),
        "{err}"
    );
}

#[test]
fn unusable_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let empty = write(dir.path(), "empty.csv", b"");
    let e = frame::run(&empty, &out, &opts()).unwrap_err();
    assert!(matches!(e, PreprocessError::EmptyFile { .. }), "{e}");
    assert!(e.to_string().contains("the file is empty"));

    let header_only = write(dir.path(), "header.csv", format!("{HEADER}\n").as_bytes());
    let e = frame::run(&header_only, &out, &opts()).unwrap_err();
    assert!(matches!(e, PreprocessError::NoDataRows { .. }), "{e}");

    let mut binary: Vec<u8> = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    binary.extend((0..2000u32).map(|i| (i * 37 % 256) as u8));
    let bin = write(dir.path(), "bin.csv", &binary);
    let e = frame::run(&bin, &out, &opts()).unwrap_err();
    assert!(matches!(e, PreprocessError::NotText { .. }), "{e}");
    assert!(e.is_bad_input());

    let latin1 = write(
        dir.path(),
        "latin1.csv",
        b"date,store_id\n2024-01-01,Caf\xe9 du Nord\n",
    );
    let e = frame::run(&latin1, &out, &opts()).unwrap_err();
    assert!(matches!(e, PreprocessError::NotText { .. }), "{e}");

    // nothing was written for any of them
    assert!(!out.exists());
}

#[test]
fn a_file_where_no_row_survives_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{HEADER}\nA,someday,S1,P1,Toys,1,1,0,0,R,C,1\nB,2024-01-01,S1,P1,Toys,1,-1,0,0,R,C,1\n"
    );
    let input = write(dir.path(), "bad.csv", body.as_bytes());
    let e = frame::run(&input, &dir.path().join("o"), &opts()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PreprocessError::NoRowSurvived { .. }));
    assert!(msg.contains("no row survived"), "{msg}");
    assert!(
        msg.contains("date: bad_date") && msg.contains("quantity: negative"),
        "{msg}"
    );
}

#[test]
fn bom_crlf_reordered_and_extra_columns_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("\u{feff}revenue,notes,date,store_id,product_id,quantity\r\n");
    for d in 1..=10 {
        body.push_str(&format!("5.5,hello,2024-05-{d:02}T09:30:00,S1,P1,1\r\n"));
    }
    let input = write(dir.path(), "bom.csv", body.as_bytes());
    let report = frame::run(&input, &dir.path().join("o"), &opts())
        .unwrap()
        .report;
    assert_eq!(report.rows_out, 10);
    assert_eq!(report.extra_columns, vec!["notes".to_owned()]);
    // blanks in absent optional columns were filled as the contract says
    assert_eq!(report.imputed["unit_price"], 10);
    assert_eq!(report.imputed["category"], 10);
}

#[test]
fn parquet_input_gives_the_same_result_as_csv() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![HEADER.to_owned()];
    lines.extend(good_rows());
    let csv_path = write(dir.path(), "s.csv", lines.join("\n").as_bytes());
    // a typed Parquet file, as another tool would write it
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(csv_path.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let pq = dir.path().join("s.parquet");
    ParquetWriter::new(fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let a = frame::run(&csv_path, &dir.path().join("a"), &opts())
        .unwrap()
        .report;
    let b = frame::run(&pq, &dir.path().join("b"), &opts())
        .unwrap()
        .report;
    assert_eq!(a.rows_out, b.rows_out);
    let ra = read_clean(&dir.path().join("a").join(frame::CLEAN_FILE)).unwrap();
    let rb = read_clean(&dir.path().join("b").join(frame::CLEAN_FILE)).unwrap();
    assert_eq!(ra, rb);
}

#[test]
fn generated_data_is_cleaned_and_outliers_clipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = salescast_synth::Config {
        rows: 20_000,
        days: 120,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    let s = salescast_synth::generate(&cfg, &mut bytes, |_| {}).unwrap();
    let input = write(dir.path(), "gen.csv", &bytes);
    assert_eq!(
        fs::read(salescast_testing::generated_csv(dir.path(), 20_000, 120)).unwrap(),
        bytes
    );
    let report = frame::run(
        &input,
        &dir.path().join("o"),
        &Options {
            test_days: 30,
            ..opts()
        },
    )
    .unwrap()
    .report;
    assert_eq!(report.rows_rejected, 0);
    assert_eq!(report.duplicates_dropped, s.duplicate_ids);
    assert_eq!(report.imputed["unit_price"], s.blank_prices);
    assert_eq!(report.imputed["category"], s.blank_categories);
    // the absurd quantities are caught, with few legitimate values touched
    let clipped = report.clipped["quantity"];
    assert!(
        clipped >= s.absurd_quantities * 9 / 10 && clipped <= s.absurd_quantities * 13 / 10,
        "clipped {clipped}, absurd {}",
        s.absurd_quantities
    );
    let rows = read_clean(&dir.path().join("o").join(frame::CLEAN_FILE)).unwrap();
    assert!(rows.iter().all(|t| t.quantity.unwrap() < 1000.0));
}
