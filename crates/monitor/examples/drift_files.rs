//! Drift between two Parquet files with the monitor's statistics, for `bench/monitor_vs_evidently.py`:
//! `drift_files REFERENCE.parquet CURRENT.parquet` prints the dataset drift, each column's
//! test and score, and the seconds the comparison took (reading excluded) as JSON.
//!
//! Columns of type float are numerical, string and boolean ones categorical (Evidently's
//! inference for such columns).

use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use salescast_monitor::data::{ColumnData, Frame, Role, Values};
use salescast_monitor::drift::compare;
use salescast_monitor::stats::ColumnType;

fn read(path: &Path) -> Result<Frame, Box<dyn std::error::Error>> {
    let df = ParquetReader::new(std::fs::File::open(path)?).finish()?;
    let mut columns = Vec::new();
    for c in df.columns() {
        let name = c.name().to_string();
        let (kind, values) = match c.dtype() {
            DataType::Float64 | DataType::Float32 => {
                let ca = c.cast(&DataType::Float64)?;
                let v = ca.f64()?.iter().map(|x| x.unwrap_or(f64::NAN)).collect();
                (ColumnType::Numerical, Values::Num(v))
            }
            _ => {
                let ca = c.cast(&DataType::String)?;
                let s = ca.str()?;
                (ColumnType::Categorical, Values::encode(s.iter()))
            }
        };
        columns.push(ColumnData {
            name,
            kind,
            role: Role::Feature,
            values,
        });
    }
    Ok(Frame { columns })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, current] = args.as_slice() else {
        return Err("usage: drift_files REFERENCE.parquet CURRENT.parquet".into());
    };
    let reference = read(Path::new(reference))?;
    let current = read(Path::new(current))?;
    let t = Instant::now();
    let report = compare(&reference, &current, 0.5);
    let seconds = t.elapsed().as_secs_f64();
    let columns: Vec<serde_json::Value> = report
        .columns
        .iter()
        .map(|c| {
            serde_json::json!({"column": c.column, "test": c.test_name, "score": c.score, "drifted": c.drifted})
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "dataset": report.dataset, "columns": columns})
    );
    Ok(())
}
