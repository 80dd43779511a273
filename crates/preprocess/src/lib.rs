//! Validation, cleaning, imputation and outlier treatment of raw transactions.
//!
//! Rows are parsed by the data contract's rules (`salescast_core::schema`); a bad row is never
//! dropped silently but goes to a rejected file with its reason; a repeated transaction id keeps
//! its first row; blanks are imputed and outliers clipped with statistics learned on the
//! training days only ([`stats::CleaningStats`]), which are saved so that serving treats a row
//! exactly as training did.
//!
//! The polars-based file side is behind the default `polars` feature; the per-row part is plain
//! Rust so that the API can use it without the training dependencies.
//!
//! ```
//! use salescast_preprocess::{clean::{clean, MemTable, Options}};
//! let headers = ["date", "store_id", "product_id", "quantity", "revenue"];
//! let mut t = MemTable { headers: headers.iter().map(|s| s.to_string()).collect(), rows: vec![] };
//! for day in 1..=28 {
//!     let date = format!("2024-02-{day:02}");
//!     t.rows.push(vec![Some(date), Some("S1".into()), Some("P1".into()), Some("2".into()), Some("9.5".into())]);
//! }
//! t.rows.push(vec![Some("2024-02-30".into()), None, None, Some("1".into()), Some("1".into())]);
//! let out = clean(&t, "example.csv".as_ref(), &Options { test_days: 7, ..Default::default() }).unwrap();
//! assert_eq!(out.report.rows_out, 28);
//! assert_eq!(out.report.rejected_by_reason["date: bad_date"], 1);
//! ```

pub mod clean;
pub mod error;
#[cfg(feature = "polars")]
pub mod frame;
pub mod report;
pub mod stats;

pub use clean::{Options, RawRows};
pub use error::{PreprocessError, Result};
pub use report::PreprocessReport;
pub use stats::{CleaningStats, OutlierRule};
