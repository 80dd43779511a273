//! Arrow data coming from Python: tables read as the data contract's text cells, number and
//! date columns read as slices.
//!
//! The Arrow C data interface hands over the caller's buffers, so nothing is copied on the way
//! in. A `float64` column without nulls is then read in place as `&[f64]`, a `date32` column in
//! place as day numbers, and a string column (`utf8`, `large_utf8`, `utf8_view`) in place as
//! `&str` cells. Other types are converted once (numbers to `float64`, a number column to text
//! for the contract's parser, with the shortest text that reads back to the same value).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use chrono::NaiveDate;
use salescast_preprocess::RawRows;

use crate::error::{BindingError, Result};

/// One column of text cells.
#[derive(Debug)]
enum Cells {
    Utf8(arrow_array::StringArray),
    LargeUtf8(arrow_array::LargeStringArray),
    View(arrow_array::StringViewArray),
    /// A column of another type, formatted once.
    Owned(Vec<Option<String>>),
}

impl Cells {
    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Cells::Utf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            Cells::LargeUtf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            Cells::View(a) => (!a.is_null(row)).then(|| a.value(row)),
            Cells::Owned(v) => v[row].as_deref(),
        }
    }
}

/// A table seen as the contract's raw rows.
#[derive(Debug)]
pub(crate) struct ArrowRows {
    headers: Vec<String>,
    columns: Vec<Cells>,
    len: usize,
}

impl RawRows for ArrowRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn len(&self) -> usize {
        self.len
    }
    fn cell(&self, row: usize, col: usize) -> Option<&str> {
        self.columns.get(col)?.get(row)
    }
}

/// The shortest text of a float that reads back to the same value; integral values without a
/// fraction, as a CSV writer would put them.
fn float_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        ryu::Buffer::new().format(v).to_owned()
    }
}

fn text_cells(name: &str, array: &ArrayRef) -> Result<Cells> {
    let owned = |f: &dyn Fn(usize) -> String| {
        Cells::Owned(
            (0..array.len())
                .map(|i| (!array.is_null(i)).then(|| f(i)))
                .collect(),
        )
    };
    Ok(match array.data_type() {
        DataType::Utf8 => Cells::Utf8(array.as_string::<i32>().clone()),
        DataType::LargeUtf8 => Cells::LargeUtf8(array.as_string::<i64>().clone()),
        DataType::Utf8View => Cells::View(array.as_string_view().clone()),
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            owned(&|i| float_text(a.value(i)))
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            owned(&|i| a.value(i).to_string())
        }
        DataType::Date32 => {
            let a = array.as_primitive::<Date32Type>();
            owned(&|i| day(a.value(i)).to_string())
        }
        DataType::Null => Cells::Owned(vec![None; array.len()]),
        t if t.is_floating() => {
            let f = arrow_cast::cast(array, &DataType::Float64)
                .map_err(|e| BindingError::column(name, e))?;
            let a = f.as_primitive::<Float64Type>();
            owned(&|i| float_text(a.value(i)))
        }
        t if t.is_integer() => {
            let f = arrow_cast::cast(array, &DataType::Utf8)
                .map_err(|e| BindingError::column(name, e))?;
            Cells::Utf8(f.as_string::<i32>().clone())
        }
        DataType::Timestamp(_, _) | DataType::Date64 => {
            let f = arrow_cast::cast(array, &DataType::Date32)
                .map_err(|e| BindingError::column(name, e))?;
            let a = f.as_primitive::<Date32Type>();
            owned(&|i| day(a.value(i)).to_string())
        }
        DataType::Dictionary(_, _) => {
            let f = arrow_cast::cast(array, &DataType::Utf8)
                .map_err(|e| BindingError::column(name, e))?;
            Cells::Utf8(f.as_string::<i32>().clone())
        }
        other => {
            return Err(BindingError::Field {
                field: name.to_owned(),
                reason: format!(
                    "has Arrow type {other}, which is not text, a number, a boolean or a date"
                ),
            });
        }
    })
}

/// One batch from many (a table's batches joined; a single batch is used as it is).
pub(crate) fn one_batch(
    batches: Vec<RecordBatch>,
    schema: arrow_schema::SchemaRef,
) -> Result<RecordBatch> {
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches
            .into_iter()
            .next()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))),
        _ => arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| BindingError::Input(e.to_string())),
    }
}

impl ArrowRows {
    /// Where the data contract's columns are (scoring mode: the targets may be absent); a
    /// missing or repeated column is refused by name.
    pub(crate) fn contract_map(&self) -> Result<salescast_core::schema::ColumnMap> {
        salescast_core::schema::ColumnMap::resolve(&self.headers, salescast_core::Mode::Scoring)
            .map_err(|m| BindingError::Field {
                field: "columns".into(),
                reason: format!("do not match the data contract: {m}"),
            })
    }

    /// The batch's columns as text cells.
    pub(crate) fn new(batch: &RecordBatch) -> Result<Self> {
        let schema = batch.schema();
        let mut headers = Vec::with_capacity(batch.num_columns());
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            headers.push(field.name().trim_start_matches('\u{feff}').to_owned());
            columns.push(text_cells(field.name(), array)?);
        }
        Ok(Self {
            headers,
            columns,
            len: batch.num_rows(),
        })
    }
}

/// The calendar day of an Arrow `date32` value (days since 1970-01-01).
pub(crate) fn day(days: i32) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(i64::from(days))
}

/// The Arrow `date32` value of a day.
pub(crate) fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// Concatenates an array's chunks (a single chunk is used as it is).
pub(crate) fn one_array(chunks: &[ArrayRef], field: &str) -> Result<ArrayRef> {
    match chunks {
        [] => Err(BindingError::Field {
            field: field.to_owned(),
            reason: "is empty".into(),
        }),
        [one] => Ok(Arc::clone(one)),
        many => {
            let refs: Vec<&dyn Array> = many.iter().map(AsRef::as_ref).collect();
            arrow_select::concat::concat(&refs).map_err(|e| BindingError::column(field, e))
        }
    }
}

/// A number column as `float64` (in place when it already is); a null is refused by position.
pub(crate) fn floats(array: &ArrayRef, field: &str) -> Result<ArrayRef> {
    let a = if *array.data_type() == DataType::Float64 {
        Arc::clone(array)
    } else if array.data_type().is_numeric() {
        arrow_cast::cast(array, &DataType::Float64).map_err(|e| BindingError::column(field, e))?
    } else {
        return Err(BindingError::Field {
            field: field.to_owned(),
            reason: format!("must be numbers, not Arrow type {}", array.data_type()),
        });
    };
    if let Some(i) = (0..a.len()).find(|&i| a.is_null(i)) {
        return Err(BindingError::Field {
            field: field.to_owned(),
            reason: format!("is missing at position {i}"),
        });
    }
    Ok(a)
}

/// A date column as `date32` day numbers (in place when it already is); text must be
/// `YYYY-MM-DD`; a null is refused by position.
pub(crate) fn dates(array: &ArrayRef, field: &str) -> Result<ArrayRef> {
    let a = match array.data_type() {
        DataType::Date32 => Arc::clone(array),
        DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => {
            arrow_cast::cast(array, &DataType::Date32).map_err(|e| BindingError::Field {
                field: field.to_owned(),
                reason: format!("must hold dates (YYYY-MM-DD): {e}"),
            })?
        }
        other => {
            return Err(BindingError::Field {
                field: field.to_owned(),
                reason: format!("must hold dates, not Arrow type {other}"),
            });
        }
    };
    if let Some(i) = (0..a.len()).find(|&i| a.is_null(i)) {
        // A cell the conversion could not read comes out null: say which and what it held.
        let reason = if array.is_null(i) {
            format!("is missing at position {i}")
        } else {
            let shown =
                arrow_cast::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
                    .map(|f| f.value(i).to_string())
                    .unwrap_or_default();
            format!("at position {i} is {shown:?}, not a date (YYYY-MM-DD)")
        };
        return Err(BindingError::Field {
            field: field.to_owned(),
            reason,
        });
    }
    Ok(a)
}

/// The `f64` values of a `float64` array returned by [`floats`].
pub(crate) fn f64_values(a: &ArrayRef) -> &[f64] {
    a.as_primitive::<Float64Type>().values()
}

/// The day numbers of a `date32` array returned by [`dates`].
pub(crate) fn day_values(a: &ArrayRef) -> &[i32] {
    a.as_primitive::<Date32Type>().values()
}
