//! One series' fit and forecast: [`salescast_daily::many::forecast_series`], the function
//! `salescast forecast-many` runs on each series, so a group forecast from Python (or from
//! Spark, one group per call) equals the command's to the bit.

use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use salescast_daily::SelectSettings;
use salescast_daily::many::{SeriesFit, assemble, forecast_series, level_label};

use crate::arrow_in::{date32, dates, day, day_values, f64_values, floats};
use crate::error::{BindingError, Result};

/// The cross-validation settings `forecast-many` takes from its flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub folds: Option<usize>,
    pub fold_days: Option<usize>,
    pub holidays: bool,
    pub fill_missing_zero: bool,
}

impl Settings {
    fn select(&self, horizon: usize) -> SelectSettings {
        SelectSettings::for_horizon(horizon, self.folds, self.fold_days, self.holidays)
    }
}

/// A fitted series: its forecast table and what was chosen.
#[derive(Debug)]
pub(crate) struct Fitted {
    pub table: RecordBatch,
    pub fit: SeriesFit,
    pub filled: usize,
}

/// Checks the settings `forecast-many` checks, with the same messages.
fn check(horizon: usize, level: f64) -> Result<()> {
    if !(1..=366).contains(&horizon) {
        return Err(BindingError::Field {
            field: "horizon".into(),
            reason: format!("{horizon} must be between 1 and 366 days"),
        });
    }
    if !(level > 0.0 && level < 100.0) {
        return Err(BindingError::Field {
            field: "level".into(),
            reason: format!("{level} must be strictly between 0 and 100 (percent)"),
        });
    }
    Ok(())
}

/// Fits the series given by `dates` and `values` (rows in any order) and forecasts `horizon`
/// days after its last day at `level` percent.
pub(crate) fn fit(
    dates_in: &ArrayRef,
    values_in: &ArrayRef,
    horizon: usize,
    level: f64,
    settings: Settings,
) -> Result<Fitted> {
    check(horizon, level)?;
    let d = dates(dates_in, "date")?;
    let v = floats(values_in, "value")?;
    if d.len() != v.len() {
        return Err(BindingError::Field {
            field: "date".into(),
            reason: format!("has {} rows, value has {}", d.len(), v.len()),
        });
    }
    let days: Vec<NaiveDate> = day_values(&d).iter().map(|&x| day(x)).collect();
    let a = assemble(&days, f64_values(&v), settings.fill_missing_zero)?;
    let select = settings.select(horizon);
    select
        .validate()
        .map_err(|e| BindingError::Input(format!("cross-validation: {e}")))?;
    let (fit, fc) = forecast_series(a.start, &a.values, &select, horizon, Some(level / 100.0))?;
    let (lower, upper) = match fc.intervals {
        Some(iv) => (iv.lower, iv.upper),
        None => (fc.point.clone(), fc.point.clone()),
    };
    let first = date32(fit.first_forecast_day());
    let lab = level_label(level);
    let schema = Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("mean", DataType::Float64, false),
        Field::new(format!("lower_{lab}"), DataType::Float64, false),
        Field::new(format!("upper_{lab}"), DataType::Float64, false),
    ]));
    let name = fit.model_name();
    let h = fc.point.len();
    let table = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from_iter_values(
                (0..h as i32).map(|k| first + k),
            )),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                name.as_str(),
                h,
            ))),
            Arc::new(Float64Array::from(fc.point)),
            Arc::new(Float64Array::from(lower)),
            Arc::new(Float64Array::from(upper)),
        ],
    )?;
    Ok(Fitted {
        table,
        fit,
        filled: a.filled,
    })
}
