//! The file side of cleaning, with polars: reading CSV or Parquet as text cells, writing the
//! cleaned Parquet, the rejected rows and the report.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use salescast_core::artifact::{save_json, save_plain_json, save_timings, write_atomic};
use salescast_core::schema::{date_to_days, days_to_date};
use salescast_core::{Column as Col, Transaction};

use crate::clean::{Cleaned, Options, RawRows, clean};
use crate::error::{PreprocessError, Result};
use crate::report::PreprocessReport;
use crate::stats::{self, CleaningStats, Clipped, Imputed};

/// The cleaned data's file name inside the output directory.
pub const CLEAN_FILE: &str = "clean.parquet";
/// The report's file name.
pub const REPORT_FILE: &str = "report.json";
/// The fitted cleaning statistics' file name.
pub const STATS_FILE: &str = "cleaning.json";
/// The subdirectory holding the refit's cleaned data and statistics (fitted on every day).
pub const REFIT_DIR: &str = "refit";

/// The formats a raw file may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

/// A file read entirely as text cells.
#[derive(Debug)]
pub struct StringTable {
    headers: Vec<String>,
    columns: Vec<StringChunked>,
    height: usize,
    pub format: Format,
}

impl RawRows for StringTable {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn len(&self) -> usize {
        self.height
    }
    fn cell(&self, row: usize, col: usize) -> Option<&str> {
        self.columns.get(col)?.get(row)
    }
}

fn unreadable(
    path: &Path,
    format: &'static str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> PreprocessError {
    PreprocessError::Unreadable {
        path: path.to_path_buf(),
        format,
        source: e.into(),
    }
}

/// Decides the format from the content (Parquet's magic bytes), refusing empty and binary files.
fn sniff(path: &Path) -> Result<Format> {
    let mut file = fs::File::open(path).map_err(|e| unreadable(path, "a file", e))?;
    let mut head = vec![0u8; 64 * 1024];
    let mut n = 0;
    while n < head.len() {
        let k = file
            .read(&mut head[n..])
            .map_err(|e| unreadable(path, "a file", e))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    head.truncate(n);
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(PreprocessError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if head.contains(&0) {
        return Err(PreprocessError::NotText {
            path: path.to_path_buf(),
            reason: "it contains NUL bytes".into(),
        });
    }
    if let Err(e) = std::str::from_utf8(&head) {
        // A multi-byte character cut by the sample's end is fine; anything else is not UTF-8.
        if e.error_len().is_some() {
            return Err(PreprocessError::NotText {
                path: path.to_path_buf(),
                reason: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            });
        }
    }
    Ok(Format::Csv)
}

/// Reads a raw CSV or Parquet file with every cell as text, so that validation sees exactly what
/// the file holds and can reject (rather than coerce) a bad value.
pub fn read_raw(path: &Path) -> Result<StringTable> {
    let format = sniff(path)?;
    let df = match format {
        Format::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_raise_if_empty(true)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(|e| unreadable(path, "CSV", e))?,
        Format::Parquet => {
            let file = fs::File::open(path).map_err(|e| unreadable(path, "Parquet", e))?;
            ParquetReader::new(file)
                .finish()
                .map_err(|e| unreadable(path, "Parquet", e))?
        }
    };
    let height = df.height();
    let mut headers = Vec::with_capacity(df.width());
    let mut columns = Vec::with_capacity(df.width());
    for c in df.columns() {
        let name = c.name().trim_start_matches('\u{feff}').to_owned();
        let text = c
            .cast(&DataType::String)
            .map_err(|e| unreadable(path, "text", format!("column {name}: {e}")))?
            .rechunk();
        let ca = text
            .str()
            .map_err(|e| unreadable(path, "text", format!("column {name}: {e}")))?
            .clone();
        headers.push(name);
        columns.push(ca);
    }
    Ok(StringTable {
        headers,
        columns,
        height,
        format,
    })
}

fn write_err(
    path: &Path,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> PreprocessError {
    PreprocessError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

fn str_col(name: &str, values: impl Iterator<Item = Option<String>>) -> Column {
    let v: Vec<Option<String>> = values.collect();
    Column::new(name.into(), v)
}

/// Builds the cleaned frame: the contract's columns, typed, plus what cleaning did to each row.
pub fn to_frame(c: &Cleaned) -> Result<DataFrame> {
    frame_of(&c.rows, &c.imputed, &c.clipped)
}

/// [`to_frame`] of any cleaned rows and what cleaning did to them.
fn frame_of(rows: &[Transaction], imputed: &[Imputed], clipped: &[Clipped]) -> Result<DataFrame> {
    let f64_col = |name: &str, f: &dyn Fn(&Transaction) -> f64| -> Column {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<f64>>())
    };
    let date = Column::new(
        Col::Date.name().into(),
        rows.iter()
            .map(|t| date_to_days(t.date))
            .collect::<Vec<i32>>(),
    )
    .cast(&DataType::Date)
    .map_err(|e| write_err(Path::new(CLEAN_FILE), e))?;
    let bool_col = |name: &str, v: Vec<bool>| Column::new(name.into(), v);
    let cols = vec![
        str_col(
            Col::TransactionId.name(),
            rows.iter().map(|t| t.transaction_id.clone()),
        ),
        date,
        str_col(
            Col::StoreId.name(),
            rows.iter().map(|t| Some(t.store_id.clone())),
        ),
        str_col(
            Col::ProductId.name(),
            rows.iter().map(|t| Some(t.product_id.clone())),
        ),
        str_col(
            Col::Category.name(),
            rows.iter().map(|t| t.category.clone()),
        ),
        f64_col(Col::UnitPrice.name(), &|t| t.unit_price.unwrap_or(f64::NAN)),
        f64_col(Col::Quantity.name(), &|t| t.quantity.unwrap_or(f64::NAN)),
        f64_col(Col::Discount.name(), &|t| t.discount),
        bool_col(
            Col::Promotion.name(),
            rows.iter().map(|t| t.promotion).collect(),
        ),
        str_col(
            Col::CustomerSegment.name(),
            rows.iter().map(|t| Some(t.customer_segment.clone())),
        ),
        str_col(
            Col::PaymentMethod.name(),
            rows.iter().map(|t| Some(t.payment_method.clone())),
        ),
        f64_col(Col::Revenue.name(), &|t| t.revenue.unwrap_or(f64::NAN)),
        bool_col(
            "category_imputed",
            imputed.iter().map(|i| i.category).collect(),
        ),
        bool_col(
            "unit_price_imputed",
            imputed.iter().map(|i| i.unit_price).collect(),
        ),
        bool_col(
            "quantity_clipped",
            clipped.iter().map(|i| i.quantity).collect(),
        ),
        bool_col(
            "revenue_clipped",
            clipped.iter().map(|i| i.revenue).collect(),
        ),
    ];
    DataFrame::new(rows.len(), cols).map_err(|e| write_err(Path::new(CLEAN_FILE), e))
}

/// Writes a frame as Parquet (Snappy: fast, and read by every Parquet reader), atomically.
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    let mut err = None;
    write_atomic(path, |w| {
        ParquetWriter::new(w)
            .with_compression(ParquetCompression::Snappy)
            .finish(df)
            .map(|_| ())
            .map_err(|e| {
                let msg = e.to_string();
                err = Some(msg.clone());
                std::io::Error::other(msg)
            })
    })
    .map_err(|e| write_err(path, err.unwrap_or_else(|| e.to_string())))
}

/// Reads the cleaned data written by [`run`] back into transactions.
pub fn read_clean(path: &Path) -> Result<Vec<Transaction>> {
    let file = fs::File::open(path).map_err(|e| unreadable(path, "Parquet", e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| unreadable(path, "Parquet", e))?;
    let bad = |e: PolarsError| unreadable(path, "cleaned data", e);
    let s = |c: Col| -> Result<StringChunked> {
        Ok(df
            .column(c.name())
            .map_err(bad)?
            .str()
            .map_err(bad)?
            .clone())
    };
    let f = |c: Col| -> Result<Float64Chunked> {
        Ok(df
            .column(c.name())
            .map_err(bad)?
            .f64()
            .map_err(bad)?
            .clone())
    };
    let ids = s(Col::TransactionId)?;
    let dates = df
        .column(Col::Date.name())
        .map_err(bad)?
        .cast(&DataType::Int32)
        .map_err(bad)?;
    let dates = dates.i32().map_err(bad)?;
    let (stores, products, cats, segs, pays) = (
        s(Col::StoreId)?,
        s(Col::ProductId)?,
        s(Col::Category)?,
        s(Col::CustomerSegment)?,
        s(Col::PaymentMethod)?,
    );
    let (price, qty, disc, rev) = (
        f(Col::UnitPrice)?,
        f(Col::Quantity)?,
        f(Col::Discount)?,
        f(Col::Revenue)?,
    );
    let promo = df
        .column(Col::Promotion.name())
        .map_err(bad)?
        .bool()
        .map_err(bad)?
        .clone();
    let text = |ca: &StringChunked, i| ca.get(i).unwrap_or_default().to_owned();
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    (0..df.height())
        .map(|i| {
            Ok(Transaction {
                transaction_id: ids.get(i).map(str::to_owned),
                date: days_to_date(dates.get(i).ok_or_else(|| {
                    unreadable(path, "cleaned data", format!("row {i}: null date"))
                })?),
                store_id: text(&stores, i),
                product_id: text(&products, i),
                category: cats.get(i).map(str::to_owned),
                unit_price: finite(price.get(i)),
                quantity: finite(qty.get(i)),
                discount: disc.get(i).unwrap_or(0.0),
                promotion: promo.get(i).unwrap_or(false),
                customer_segment: text(&segs, i),
                payment_method: text(&pays, i),
                revenue: finite(rev.get(i)),
            })
        })
        .collect()
}

/// Reads the cleaned data back with the imputed values set back to missing (the
/// `*_imputed` flags), i.e. the rows as they arrived after validation: what a monitor compares
/// new, raw data with.
pub fn read_clean_as_received(path: &Path) -> Result<Vec<Transaction>> {
    let mut rows = read_clean(path)?;
    let file = fs::File::open(path).map_err(|e| unreadable(path, "Parquet", e))?;
    let df = ParquetReader::new(file)
        .with_columns(Some(vec![
            "category_imputed".into(),
            "unit_price_imputed".into(),
        ]))
        .finish()
        .map_err(|e| unreadable(path, "Parquet", e))?;
    let bad = |e: PolarsError| unreadable(path, "cleaned data", e);
    let flag = |name: &str| -> Result<BooleanChunked> {
        Ok(df.column(name).map_err(bad)?.bool().map_err(bad)?.clone())
    };
    let (cat, price) = (flag("category_imputed")?, flag("unit_price_imputed")?);
    for (i, t) in rows.iter_mut().enumerate() {
        if cat.get(i) == Some(true) {
            t.category = None;
        }
        if price.get(i) == Some(true) {
            t.unit_price = None;
        }
    }
    Ok(rows)
}

/// Writes the rejected rows: every original cell, plus `reason`.
fn write_rejected(path: &Path, table: &StringTable, c: &Cleaned) -> Result<()> {
    write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        let mut header = table.headers().to_vec();
        header.push("reason".into());
        out.write_record(&header).map_err(std::io::Error::other)?;
        for r in &c.rejections {
            let mut rec: Vec<&str> = (0..table.headers().len())
                .map(|j| table.cell(r.row, j).unwrap_or(""))
                .collect();
            rec.push(&r.reason);
            out.write_record(&rec).map_err(std::io::Error::other)?;
        }
        out.flush()
    })
    .map_err(|e| write_err(path, e))
}

/// The paths a cleaning run writes.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub clean: PathBuf,
    pub rejected: PathBuf,
    pub report: PathBuf,
    pub stats: PathBuf,
    /// `refit/clean.parquet` and `refit/cleaning.json`: the same rows cleaned by statistics from
    /// every day.
    pub refit_clean: PathBuf,
    pub refit_stats: PathBuf,
}

impl Outputs {
    /// Where a run on `input` writes into `out_dir`.
    pub fn new(input: &Path, out_dir: &Path) -> Self {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".into());
        Self {
            clean: out_dir.join(CLEAN_FILE),
            rejected: out_dir.join(format!("{stem}.rejected.csv")),
            report: out_dir.join(REPORT_FILE),
            stats: out_dir.join(STATS_FILE),
            refit_clean: out_dir.join(REFIT_DIR).join(CLEAN_FILE),
            refit_stats: out_dir.join(REFIT_DIR).join(STATS_FILE),
        }
    }
}

/// What a preprocess run produced: the report, where it wrote, and the cleaned rows with their
/// fitted statistics (so that the pipeline can hand them on without reading the file back).
#[derive(Debug)]
pub struct Run {
    pub report: PreprocessReport,
    pub outputs: Outputs,
    pub cleaned: Cleaned,
}

/// The preprocess stage: reads `input`, cleans it and writes cleaned Parquet, the rejected rows,
/// the report and the fitted statistics into `out_dir`.
pub fn run(input: &Path, out_dir: &Path, opts: &Options) -> Result<Run> {
    let started = Instant::now();
    let table = read_raw(input)?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "read");
    let cleaned = clean(&table, input, opts)?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "cleaned");
    if !cleaned.report.extra_columns.is_empty() {
        tracing::warn!(columns = ?cleaned.report.extra_columns, "ignoring columns outside the data contract");
    }
    let outputs = Outputs::new(input, out_dir);
    let mut df = to_frame(&cleaned)?;
    write_parquet(&outputs.clean, &mut df)?;
    drop(df);
    write_rejected(&outputs.rejected, &table, &cleaned)?;
    save_json(&outputs.stats, stats::KIND, stats::VERSION, &cleaned.stats)?;
    let r = &cleaned.refit;
    let mut df = frame_of(&r.rows, &r.imputed, &r.clipped)?;
    write_parquet(&outputs.refit_clean, &mut df)?;
    drop(df);
    save_json(&outputs.refit_stats, stats::KIND, stats::VERSION, &r.stats)?;
    let mut report = cleaned.report.clone();
    report.seconds = started.elapsed().as_secs_f64();
    save_plain_json(&outputs.report, &report)?;
    save_timings(
        out_dir,
        &serde_json::json!({"stage": "preprocess", "seconds": report.seconds}),
    )?;
    for (reason, n) in &report.rejected_by_reason {
        tracing::info!(reason = %reason, rows = n, "rejected");
    }
    Ok(Run {
        report,
        outputs,
        cleaned,
    })
}

/// Loads the statistics a cleaning run saved.
pub fn load_stats(path: &Path) -> Result<CleaningStats> {
    Ok(salescast_core::artifact::load_json(
        path,
        stats::KIND,
        stats::VERSION,
    )?)
}
