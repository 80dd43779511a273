//! The features stage on files, with polars: cleaned Parquet in; transaction features split by
//! date, the daily series and the fitted transform out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use salescast_core::artifact::{save_plain_json, save_timings, write_atomic};
use salescast_core::schema::date_to_days;
use salescast_core::{Part, Transaction};
use salescast_preprocess::CleaningStats;
use salescast_preprocess::frame::{CLEAN_FILE, STATS_FILE, load_stats, read_clean, write_parquet};
use serde::{Deserialize, Serialize};

use crate::daily::{self, DailyOptions, DailyRow};
use crate::error::{FeaturesError, Result};
use crate::transform::{FeatureMatrix, FeatureTransform, TransformOptions};

pub const TRAIN_FILE: &str = "train.parquet";
pub const TEST_FILE: &str = "test.parquet";
pub const DAILY_FILE: &str = "daily.parquet";
pub const DAILY_CSV: &str = "daily.csv";
pub const TRANSFORM_FILE: &str = salescast_core::models_dir::TRANSFORM;
pub const REPORT_FILE: &str = "features_report.json";
/// The subdirectory of the refit's features: every day is training, with the transform and
/// the cleaning fitted on all of them.
pub const REFIT_DIR: &str = "refit";
/// The target column in the feature files.
pub const TARGET: &str = "revenue";

/// Settings of the features stage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageOptions {
    pub transform: TransformOptions,
    pub daily: DailyOptions,
}

/// What the features stage produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturesReport {
    pub train_rows: usize,
    pub test_rows: usize,
    pub features: Vec<String>,
    pub scaled: bool,
    pub train_end: chrono::NaiveDate,
    pub test_start: chrono::NaiveDate,
    pub daily_series: usize,
    pub days: usize,
    /// Rows of the refit's features (`refit/train.parquet`), when they were built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refit_rows: Option<usize>,
    /// Wall-clock time, written to `timings.json`, never into the report file.
    #[serde(skip)]
    pub seconds: f64,
}

fn write_err(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> FeaturesError {
    FeaturesError::Write {
        path: path.display().to_string(),
        source: e.into(),
    }
}

/// A frame of the rows `idx`: ids and raw keys for baselines, the features, the target.
fn feature_frame(
    rows: &[Transaction],
    m: &FeatureMatrix,
    names: &[String],
    idx: &[usize],
) -> PolarsResult<DataFrame> {
    let mut cols = vec![
        Column::new(
            "transaction_id".into(),
            idx.iter()
                .map(|&i| rows[i].transaction_id.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "date".into(),
            idx.iter()
                .map(|&i| date_to_days(rows[i].date))
                .collect::<Vec<i32>>(),
        )
        .cast(&DataType::Date)?,
        Column::new(
            "store_id".into(),
            idx.iter()
                .map(|&i| rows[i].store_id.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "category".into(),
            idx.iter()
                .map(|&i| rows[i].category.clone())
                .collect::<Vec<_>>(),
        ),
    ];
    for (j, name) in names.iter().enumerate() {
        cols.push(Column::new(
            name.as_str().into(),
            idx.iter().map(|&i| m.row(i)[j]).collect::<Vec<f64>>(),
        ));
    }
    cols.push(Column::new(
        TARGET.into(),
        idx.iter()
            .map(|&i| rows[i].revenue.unwrap_or(f64::NAN))
            .collect::<Vec<f64>>(),
    ));
    DataFrame::new(idx.len(), cols)
}

fn daily_frame(rows: &[DailyRow], opts: &DailyOptions) -> PolarsResult<DataFrame> {
    let mut cols = vec![
        Column::new(
            "series".into(),
            rows.iter().map(|r| r.series.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "date".into(),
            rows.iter()
                .map(|r| date_to_days(r.date))
                .collect::<Vec<i32>>(),
        )
        .cast(&DataType::Date)?,
        Column::new(
            "revenue".into(),
            rows.iter().map(|r| r.revenue).collect::<Vec<f64>>(),
        ),
        Column::new(
            "transactions".into(),
            rows.iter().map(|r| r.transactions).collect::<Vec<u32>>(),
        ),
        Column::new(
            "is_holiday".into(),
            rows.iter().map(|r| r.is_holiday).collect::<Vec<bool>>(),
        ),
        Column::new(
            "split".into(),
            rows.iter().map(|r| r.part.name()).collect::<Vec<&str>>(),
        ),
    ];
    for (k, lag) in opts.lags.iter().enumerate() {
        cols.push(Column::new(
            format!("lag_{lag}").into(),
            rows.iter().map(|r| r.lags[k]).collect::<Vec<_>>(),
        ));
    }
    for (k, w) in opts.windows.iter().enumerate() {
        cols.push(Column::new(
            format!("roll_mean_{w}").into(),
            rows.iter().map(|r| r.roll_mean[k]).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            format!("roll_std_{w}").into(),
            rows.iter().map(|r| r.roll_std[k]).collect::<Vec<_>>(),
        ));
    }
    DataFrame::new(rows.len(), cols)
}

/// The output paths of the stage.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub train: PathBuf,
    pub test: PathBuf,
    pub daily: PathBuf,
    pub daily_csv: PathBuf,
    pub transform: PathBuf,
    pub report: PathBuf,
}

impl Outputs {
    pub fn new(out_dir: &Path) -> Self {
        Self {
            train: out_dir.join(TRAIN_FILE),
            test: out_dir.join(TEST_FILE),
            daily: out_dir.join(DAILY_FILE),
            daily_csv: out_dir.join(DAILY_CSV),
            transform: out_dir.join(TRANSFORM_FILE),
            report: out_dir.join(REPORT_FILE),
        }
    }
}

/// The features stage: reads `in_dir/clean.parquet` and `in_dir/cleaning.json`, writes the
/// feature files, the daily series and the transform into `out_dir`; and the same for the
/// refit's cleaned data (`in_dir/refit/`) into `out_dir/refit/`, when the preprocess stage
/// wrote them.
pub fn run(
    in_dir: &Path,
    out_dir: &Path,
    opts: &StageOptions,
) -> Result<(FeaturesReport, Outputs)> {
    let started = Instant::now();
    opts.daily.validate()?;
    let rows = read_clean(&in_dir.join(CLEAN_FILE))?;
    let stats = load_stats(&in_dir.join(STATS_FILE))?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "read");
    let refit_in = in_dir.join(salescast_preprocess::frame::REFIT_DIR);
    let refit = if refit_in.join(CLEAN_FILE).is_file() {
        let rows = read_clean(&refit_in.join(CLEAN_FILE))?;
        let stats = load_stats(&refit_in.join(STATS_FILE))?;
        Some((rows, stats))
    } else {
        None
    };
    build_all(
        &rows,
        stats,
        refit.as_ref().map(|(r, s)| (r.as_slice(), s.clone())),
        out_dir,
        opts,
        started,
    )
}

/// [`build`] of the evaluation's rows into `out_dir` and, when given, of the refit's rows (cleaned
/// by statistics from every day) into `out_dir/refit`.
pub fn build_all(
    rows: &[Transaction],
    stats: CleaningStats,
    refit: Option<(&[Transaction], CleaningStats)>,
    out_dir: &Path,
    opts: &StageOptions,
    started: Instant,
) -> Result<(FeaturesReport, Outputs)> {
    let refit_report = match refit {
        Some((rows, stats)) => {
            let split = stats.split.refit();
            let stats = CleaningStats { split, ..stats };
            let (r, _) = build(rows, stats, &out_dir.join(REFIT_DIR), opts, Instant::now())?;
            Some(r)
        }
        None => None,
    };
    let (mut report, out) = build(rows, stats, out_dir, opts, started)?;
    report.refit_rows = refit_report.map(|r| r.train_rows);
    save_plain_json(&out.report, &report)?;
    Ok((report, out))
}

/// The features stage on cleaned rows already in memory (the pipeline hands them over from the
/// preprocess stage instead of reading its output back).
pub fn build(
    rows: &[Transaction],
    stats: CleaningStats,
    out_dir: &Path,
    opts: &StageOptions,
    started: Instant,
) -> Result<(FeaturesReport, Outputs)> {
    opts.daily.validate()?;
    let split = stats.split;
    let transform = FeatureTransform::fit(rows, stats, opts.transform)?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "fit");
    let matrix = transform.transform(rows);
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "transformed");
    let (train_idx, test_idx): (Vec<usize>, Vec<usize>) =
        (0..rows.len()).partition(|&i| split.part(rows[i].date) == Part::Train);

    let out = Outputs::new(out_dir);
    for (path, idx) in [(&out.train, &train_idx), (&out.test, &test_idx)] {
        let mut df = feature_frame(rows, &matrix, &transform.feature_names, idx)
            .map_err(|e| write_err(path, e))?;
        write_parquet(path, &mut df)?;
    }

    tracing::debug!(secs = started.elapsed().as_secs_f64(), "written");
    let series = daily::aggregate(rows, &split);
    let daily_rows: Vec<DailyRow> = series
        .iter()
        .flat_map(|s| daily::features(s, &split, &opts.daily))
        .collect();
    let mut df = daily_frame(&daily_rows, &opts.daily).map_err(|e| write_err(&out.daily, e))?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "daily built");
    write_parquet(&out.daily, &mut df)?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "daily parquet");
    let mut csv_err = None;
    write_atomic(&out.daily_csv, |w| {
        CsvWriter::new(w)
            .include_header(true)
            .finish(&mut df)
            .map_err(|e| {
                csv_err = Some(e.to_string());
                std::io::Error::other("csv")
            })
    })
    .map_err(|e| write_err(&out.daily_csv, csv_err.unwrap_or_else(|| e.to_string())))?;

    transform.save(&out.transform)?;
    let report = FeaturesReport {
        train_rows: train_idx.len(),
        test_rows: test_idx.len(),
        features: transform.feature_names.clone(),
        scaled: transform.options.scale,
        train_end: split.train_end(),
        test_start: split.test_start,
        daily_series: series.len(),
        days: series.first().map_or(0, |s| s.revenue.len()),
        refit_rows: None,
        seconds: started.elapsed().as_secs_f64(),
    };
    save_plain_json(&out.report, &report)?;
    save_timings(
        out_dir,
        &serde_json::json!({"stage": "features", "seconds": report.seconds}),
    )?;
    Ok((report, out))
}

/// A feature file read back: keys for baselines and reports, the matrix and the target.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFile {
    pub transaction_id: Vec<String>,
    pub date: Vec<chrono::NaiveDate>,
    pub store_id: Vec<String>,
    pub category: Vec<String>,
    pub feature_names: Vec<String>,
    /// Row-major, `rows × feature_names.len()`.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl FeatureFile {
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }
}

/// Reads `train.parquet` or `test.parquet` as written by [`run`], with the features named by
/// `feature_names` (the transform's), in that order.
pub fn read_features(path: &Path, feature_names: &[String]) -> Result<FeatureFile> {
    fn read_err(
        path: &Path,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> FeaturesError {
        FeaturesError::Read {
            path: path.display().to_string(),
            source: e.into(),
        }
    }
    let file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| read_err(path, e))?;
    let strings = |name: &str| -> Result<Vec<String>> {
        let c = df.column(name).map_err(|e| read_err(path, e))?;
        let ca = c.str().map_err(|e| read_err(path, e))?;
        Ok(ca
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let floats = |name: &str| -> Result<Vec<f64>> {
        let c = df
            .column(name)
            .map_err(|e| read_err(path, format!("feature {name}: {e}")))?;
        let ca = c
            .f64()
            .map_err(|e| read_err(path, format!("feature {name}: {e}")))?;
        ca.iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| read_err(path, format!("feature {name}: null at row {i}")))
            })
            .collect()
    };
    let dates = df
        .column("date")
        .and_then(|c| c.cast(&DataType::Int32))
        .map_err(|e| read_err(path, e))?;
    let date = dates
        .i32()
        .map_err(|e| read_err(path, e))?
        .iter()
        .map(|d| salescast_core::schema::days_to_date(d.unwrap_or_default()))
        .collect();
    let columns: Vec<Vec<f64>> = feature_names
        .iter()
        .map(|n| floats(n))
        .collect::<Result<_>>()?;
    let n = df.height();
    let d = feature_names.len();
    let mut x = vec![0.0; n * d];
    for (j, col) in columns.iter().enumerate() {
        for (i, v) in col.iter().enumerate() {
            x[i * d + j] = *v;
        }
    }
    Ok(FeatureFile {
        transaction_id: strings("transaction_id")?,
        date,
        store_id: strings("store_id")?,
        category: strings("category")?,
        feature_names: feature_names.to_vec(),
        x,
        y: floats(TARGET)?,
    })
}
