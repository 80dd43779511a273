//! `salescast forecast-many`: one forecast per series of a long file (one row per series and
//! day), each series with the daily champion's selection on its own
//! ([`salescast_daily::many::forecast_series`]).
//!
//! Memory stays bounded by the input: the three columns are read once into compact arrays
//! (series code, day, value), and the fits run over a window of series at a time on every core,
//! their forecasts written out before the next window starts, so only that window's fitted
//! models are ever alive.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;
use salescast_core::artifact::write_atomic;
use salescast_core::schema::date_to_days;
use salescast_daily::SelectSettings;
use salescast_daily::many::{SeriesFit, assemble, forecast_series, level_label};
use serde::Serialize;

use crate::{PipelineError, Result};

/// What to read and how to forecast.
#[derive(Debug, Clone)]
pub struct ManyOptions {
    pub id_col: String,
    pub date_col: String,
    pub value_col: String,
    /// Days to forecast after each series' last day.
    pub horizon: usize,
    /// Interval level in percent (0–100, exclusive).
    pub level: f64,
    /// The cross-validation each series' selection runs.
    pub settings: SelectSettings,
    /// Treat days missing inside a series as zero instead of refusing the file.
    pub fill_missing_zero: bool,
    /// Show a progress bar.
    pub progress: bool,
}

/// What the run did (printed with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct ManySummary {
    pub input_rows: usize,
    pub series: usize,
    /// Series whose model came from the selection.
    pub selected: usize,
    /// Series that got the seasonal-naive fallback.
    pub fallbacks: usize,
    /// Days filled with zero (`--fill-missing zero`).
    pub filled_days: usize,
    /// Mean cross-validated MASE over the series that have one.
    pub mean_cv_mase: Option<f64>,
    /// How many series chose each model family.
    pub models: BTreeMap<String, usize>,
    pub forecast_rows: usize,
    pub out: String,
    pub summary: String,
    pub seconds: f64,
}

/// The input read into series: ids in sorted order, each with its first day and values.
#[derive(Debug)]
pub struct LongSeries {
    pub ids: Vec<String>,
    pub series: Vec<(NaiveDate, Vec<f64>)>,
    pub input_rows: usize,
    pub filled_days: usize,
}

fn bad(msg: String) -> PipelineError {
    PipelineError::BadInput(msg)
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> PipelineError {
    bad(format!("{}: cannot read: {e}", path.display()))
}

/// Reads the three columns of a long CSV or Parquet file (CSV cells as text, so a bad value is
/// refused by its row rather than coerced).
fn read_columns(path: &Path, cols: [&str; 3]) -> Result<DataFrame> {
    let mut head = [0u8; 4];
    let is_parquet = fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| unreadable(path, e))?
        == 4
        && &head == b"PAR1";
    let df = if is_parquet {
        let file = fs::File::open(path).map_err(|e| unreadable(path, e))?;
        ParquetReader::new(file)
            .finish()
            .map_err(|e| unreadable(path, e))?
    } else {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_raise_if_empty(true)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(|e| unreadable(path, e))?
    };
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    for c in cols {
        if !names.iter().any(|n| n == c) {
            return Err(bad(format!(
                "{}: no column {c:?} (columns: {})",
                path.display(),
                names.join(", ")
            )));
        }
    }
    df.select(cols).map_err(|e| unreadable(path, e))
}

fn text_column(df: &DataFrame, name: &str) -> Result<StringChunked> {
    let c = df
        .column(name)
        .map_err(|e| bad(format!("column {name}: {e}")))?;
    let s = c
        .cast(&DataType::String)
        .map_err(|e| bad(format!("column {name}: {e}")))?;
    Ok(s.str()
        .map_err(|e| bad(format!("column {name}: {e}")))?
        .rechunk()
        .into_owned())
}

fn values_column(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let c = df
        .column(name)
        .map_err(|e| bad(format!("column {name}: {e}")))?;
    let missing = |row: usize| bad(format!("row {}: {name} is missing", row + 1));
    if c.dtype().is_primitive_numeric() {
        let f = c
            .cast(&DataType::Float64)
            .map_err(|e| bad(format!("column {name}: {e}")))?;
        let ca = f
            .f64()
            .map_err(|e| bad(format!("column {name}: {e}")))?
            .rechunk();
        let mut out = Vec::with_capacity(ca.len());
        for (row, v) in ca.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => out.push(v),
                Some(v) => {
                    return Err(bad(format!(
                        "row {}: {name} is {v}, not a finite number",
                        row + 1
                    )));
                }
                None => return Err(missing(row)),
            }
        }
        return Ok(out);
    }
    let text = text_column(df, name)?;
    let mut out = Vec::with_capacity(text.len());
    for (row, v) in text.iter().enumerate() {
        let cell = v.map(str::trim).filter(|s| !s.is_empty());
        let Some(cell) = cell else {
            return Err(missing(row));
        };
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(v),
            _ => {
                return Err(bad(format!(
                    "row {}: {name} is {cell:?}, not a finite number",
                    row + 1
                )));
            }
        }
    }
    Ok(out)
}

fn dates_column(df: &DataFrame, name: &str) -> Result<Vec<NaiveDate>> {
    let text = text_column(df, name)?;
    let mut out = Vec::with_capacity(text.len());
    for (row, v) in text.iter().enumerate() {
        let Some(cell) = v.map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(bad(format!("row {}: {name} is missing", row + 1)));
        };
        let day = NaiveDate::parse_from_str(cell, "%Y-%m-%d").map_err(|_| {
            bad(format!(
                "row {}: {name} is {cell:?}, not a date (YYYY-MM-DD)",
                row + 1
            ))
        })?;
        out.push(day);
    }
    Ok(out)
}

/// Reads a long file into one series per id: rows may come in any order; a repeated (id, day)
/// is refused, and so is a day missing inside a series unless `fill_missing_zero`.
pub fn read_long(path: &Path, opts: &ManyOptions) -> Result<LongSeries> {
    let cols = [
        opts.id_col.as_str(),
        opts.date_col.as_str(),
        opts.value_col.as_str(),
    ];
    if cols[0] == cols[1] || cols[0] == cols[2] || cols[1] == cols[2] {
        return Err(bad(format!(
            "--id-col, --date-col and --value-col must name three different columns (got {}, {}, {})",
            cols[0], cols[1], cols[2]
        )));
    }
    let df = read_columns(path, cols)?;
    let ids = text_column(&df, cols[0])?;
    let days = dates_column(&df, cols[1])?;
    let values = values_column(&df, cols[2])?;
    drop(df);
    let rows = values.len();
    let mut code_of: HashMap<&str, u32> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut codes = Vec::with_capacity(rows);
    for (row, id) in ids.iter().enumerate() {
        let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(bad(format!("row {}: {} is missing", row + 1, cols[0])));
        };
        let next = names.len() as u32;
        let code = *code_of.entry(id).or_insert_with(|| {
            names.push(id);
            next
        });
        codes.push(code);
    }
    if rows == 0 {
        return Err(bad(format!("{}: no rows", path.display())));
    }
    // Series in id order (text order), days ascending within each.
    let mut rank = vec![0u32; names.len()];
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_by(|a, b| names[*a as usize].cmp(names[*b as usize]));
    for (r, c) in by_name.iter().enumerate() {
        rank[*c as usize] = r as u32;
    }
    let mut order: Vec<u32> = (0..rows as u32).collect();
    order.sort_unstable_by_key(|&i| (rank[codes[i as usize] as usize], days[i as usize]));
    let mut series = Vec::with_capacity(names.len());
    let mut filled_days = 0;
    let mut i = 0;
    while i < rows {
        let code = codes[order[i] as usize];
        let mut j = i;
        while j < rows && codes[order[j] as usize] == code {
            j += 1;
        }
        let group = &order[i..j];
        let d: Vec<NaiveDate> = group.iter().map(|&r| days[r as usize]).collect();
        let v: Vec<f64> = group.iter().map(|&r| values[r as usize]).collect();
        let a = assemble(&d, &v, opts.fill_missing_zero)
            .map_err(|e| bad(format!("series {:?}: {e}", names[code as usize])))?;
        filled_days += a.filled;
        series.push((a.start, a.values));
        i = j;
    }
    let ids = by_name
        .iter()
        .map(|c| names[*c as usize].to_owned())
        .collect();
    Ok(LongSeries {
        ids,
        series,
        input_rows: rows,
        filled_days,
    })
}

/// One series' result.
struct Done {
    fit: SeriesFit,
    point: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

fn family(name: &str) -> String {
    name.split(['(', '[']).next().unwrap_or(name).to_owned()
}

/// Checks the options that do not depend on the data.
pub fn validate(opts: &ManyOptions) -> Result<()> {
    if !(1..=366).contains(&opts.horizon) {
        return Err(bad(format!(
            "--horizon {} must be between 1 and 366 days",
            opts.horizon
        )));
    }
    if !(opts.level > 0.0 && opts.level < 100.0) {
        return Err(bad(format!(
            "--level {} must be strictly between 0 and 100 (percent)",
            opts.level
        )));
    }
    opts.settings
        .validate()
        .map_err(|e| bad(format!("cross-validation: {e}")))
}

/// The output's format, from its extension.
fn is_parquet(path: &Path) -> Result<bool> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => Ok(false),
        Some("parquet") => Ok(true),
        _ => Err(bad(format!(
            "{}: the output must end in .csv or .parquet",
            path.display()
        ))),
    }
}

/// The per-series table's default path beside the forecasts: `x.csv` -> `x.series.csv`.
pub fn default_summary_path(out: &Path) -> std::path::PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "forecasts".into());
    let ext = out
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".into());
    out.with_file_name(format!("{stem}.series.{ext}"))
}

/// Series fitted at once: enough to keep every core busy, few enough that the window's models
/// and forecasts stay small.
const WINDOW_PER_THREAD: usize = 16;

/// Forecasts every series of `input` and writes the forecasts to `out` and the per-series
/// table (chosen model, cross-validated MASE, fallback reason) to `summary`, each atomically.
pub fn forecast_many(
    input: &Path,
    out: &Path,
    summary: &Path,
    opts: &ManyOptions,
) -> Result<ManySummary> {
    let t0 = Instant::now();
    validate(opts)?;
    let parquet = is_parquet(out)?;
    if summary == out || summary == input || out == input {
        return Err(bad(format!(
            "--input, --out and --summary must be three different files (got {}, {}, {})",
            input.display(),
            out.display(),
            summary.display()
        )));
    }
    if is_parquet(summary)? != parquet {
        return Err(bad(format!(
            "{} and {} must have the same format",
            out.display(),
            summary.display()
        )));
    }
    let long = read_long(input, opts)?;
    let level = opts.level / 100.0;
    let header = forecast_columns(&opts.id_col, &opts.date_col, opts.level);
    let bar = crate::bar(opts.progress, long.series.len() as u64, "series");
    let window = WINDOW_PER_THREAD * rayon::current_num_threads().max(1);
    let mut fits: Vec<FitRow> = Vec::with_capacity(long.series.len());
    let mut forecast_rows = 0usize;
    // Parquet output gathers the forecast columns (small beside the input); CSV streams.
    let mut cols: [Vec<String>; 3] = Default::default();
    let mut nums: [Vec<f64>; 3] = Default::default();
    let mut run = |sink: &mut dyn FnMut(&str, &Done) -> std::io::Result<()>| -> Result<()> {
        for (w, chunk) in long.series.chunks(window).enumerate() {
            let done: Vec<Done> = chunk
                .par_iter()
                .map(|(start, y)| {
                    let (fit, fc) =
                        forecast_series(*start, y, &opts.settings, opts.horizon, Some(level))?;
                    let (lower, upper) = match fc.intervals {
                        Some(iv) => (iv.lower, iv.upper),
                        None => (fc.point.clone(), fc.point.clone()),
                    };
                    bar.inc(1);
                    Ok(Done {
                        fit,
                        point: fc.point,
                        lower,
                        upper,
                    })
                })
                .collect::<std::result::Result<_, salescast_daily::DailyError>>()
                .map_err(|e| bad(format!("{e}")))?;
            for (k, d) in done.iter().enumerate() {
                let id = &long.ids[w * window + k];
                sink(id, d).map_err(|e| PipelineError::Io {
                    path: out.to_path_buf(),
                    source: e.into(),
                })?;
                forecast_rows += d.point.len();
                fits.push((
                    d.fit.model_name(),
                    d.fit.n_days,
                    d.fit.start,
                    d.fit.cv_mase,
                    d.fit.fallback.clone(),
                ));
            }
        }
        Ok(())
    };
    if parquet {
        run(&mut |id, d| {
            let first = d.fit.first_forecast_day();
            for h in 0..d.point.len() {
                cols[0].push(id.to_owned());
                cols[1].push((first + Duration::days(h as i64)).to_string());
                cols[2].push(d.fit.model_name());
            }
            nums[0].extend(&d.point);
            nums[1].extend(&d.lower);
            nums[2].extend(&d.upper);
            Ok(())
        })?;
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(header[0].as_str().into(), std::mem::take(&mut cols[0])),
            // Days since the epoch cast to Date (a cast from text is deprecated in polars,
            // and prints so on stderr).
            Column::new(
                header[1].as_str().into(),
                std::mem::take(&mut cols[1])
                    .iter()
                    .map(|d| {
                        NaiveDate::parse_from_str(d, "%Y-%m-%d")
                            .map(date_to_days)
                            .map_err(|e| bad(format!("{d}: {e}")))
                    })
                    .collect::<Result<Vec<i32>>>()?,
            )
            .cast(&DataType::Date)
            .map_err(|e| bad(e.to_string()))?,
            Column::new(header[2].as_str().into(), std::mem::take(&mut cols[2])),
            Column::new(header[3].as_str().into(), std::mem::take(&mut nums[0])),
            Column::new(header[4].as_str().into(), std::mem::take(&mut nums[1])),
            Column::new(header[5].as_str().into(), std::mem::take(&mut nums[2])),
        ])
        .map_err(|e| bad(e.to_string()))?;
        write_parquet(out, &mut df)?;
    } else {
        let mut result = Ok(());
        write_atomic(out, |w| {
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(&header)?;
            result = run(&mut |id, d| {
                let first = d.fit.first_forecast_day();
                let name = d.fit.model_name();
                for h in 0..d.point.len() {
                    csv.write_record([
                        id,
                        &(first + Duration::days(h as i64)).to_string(),
                        &name,
                        &ryu_text(d.point[h]),
                        &ryu_text(d.lower[h]),
                        &ryu_text(d.upper[h]),
                    ])?;
                }
                Ok(())
            });
            csv.flush()?;
            // A failed fit leaves no file behind: the error aborts the atomic write.
            match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            }
        })
        .map_err(|e| match result {
            Err(inner) => inner,
            Ok(()) => PipelineError::from(e),
        })?;
    }
    bar.finish_and_clear();
    write_series_table(summary, parquet, &opts.id_col, &long.ids, &fits)?;
    let with_mase: Vec<f64> = fits.iter().filter_map(|f| f.3).collect();
    let mut models = BTreeMap::new();
    for f in &fits {
        *models.entry(family(&f.0)).or_insert(0) += 1;
    }
    let fallbacks = fits.iter().filter(|f| f.4.is_some()).count();
    Ok(ManySummary {
        input_rows: long.input_rows,
        series: fits.len(),
        selected: fits.len() - fallbacks,
        fallbacks,
        filled_days: long.filled_days,
        mean_cv_mase: (!with_mase.is_empty())
            .then(|| with_mase.iter().sum::<f64>() / with_mase.len() as f64),
        models,
        forecast_rows,
        out: out.display().to_string(),
        summary: summary.display().to_string(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// A number as the shortest text that reads back to the same value.
fn ryu_text(v: f64) -> String {
    ryu::Buffer::new().format(v).to_owned()
}

type FitRow = (String, usize, NaiveDate, Option<f64>, Option<String>);

fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_atomic(path, |w| {
        ParquetWriter::new(w)
            .finish(df)
            .map(|_| ())
            .map_err(std::io::Error::other)
    })
    .map_err(PipelineError::from)
}

fn write_series_table(
    path: &Path,
    parquet: bool,
    id_col: &str,
    ids: &[String],
    fits: &[FitRow],
) -> Result<()> {
    if parquet {
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(id_col.into(), ids.to_vec()),
            Column::new(
                "model".into(),
                fits.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "cv_mase".into(),
                fits.iter().map(|f| f.3).collect::<Vec<_>>(),
            ),
            Column::new(
                "days".into(),
                fits.iter().map(|f| f.1 as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "first_date".into(),
                fits.iter().map(|f| date_to_days(f.2)).collect::<Vec<i32>>(),
            )
            .cast(&DataType::Date)
            .map_err(|e| bad(e.to_string()))?,
            Column::new(
                "fallback_reason".into(),
                fits.iter().map(|f| f.4.clone()).collect::<Vec<_>>(),
            ),
        ])
        .map_err(|e| bad(e.to_string()))?;
        return write_parquet(path, &mut df);
    }
    write_atomic(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            id_col,
            "model",
            "cv_mase",
            "days",
            "first_date",
            "fallback_reason",
        ])?;
        for (id, f) in ids.iter().zip(fits) {
            csv.write_record([
                id.as_str(),
                &f.0,
                &f.3.map(ryu_text).unwrap_or_default(),
                &f.1.to_string(),
                &f.2.to_string(),
                f.4.as_deref().unwrap_or(""),
            ])?;
        }
        csv.flush()
    })
    .map_err(PipelineError::from)
}

/// The forecast table's columns: the id and date columns as named in the input, the model,
/// the mean and the interval bounds at the level (`lower_95`, `upper_95`).
pub fn forecast_columns(id_col: &str, date_col: &str, level_percent: f64) -> [String; 6] {
    let lab = level_label(level_percent);
    [
        id_col.to_owned(),
        date_col.to_owned(),
        "model".to_owned(),
        "mean".to_owned(),
        format!("lower_{lab}"),
        format!("upper_{lab}"),
    ]
}
