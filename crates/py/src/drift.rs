//! The monitor's drift statistics between two frames: the same tests, defaults and thresholds
//! as `salescast-monitor` (Evidently's conventions, [`salescast_monitor::drift`]).

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use salescast_monitor::data::{ColumnData, Frame, Role, Values};
use salescast_monitor::drift::{DriftReport, compare};
use salescast_monitor::stats::ColumnType;
use salescast_preprocess::RawRows;

use crate::arrow_in::ArrowRows;
use crate::error::{BindingError, Result};

/// A frame's columns as the monitor's: numbers are numerical (nulls missing), text, booleans
/// and dates categorical, and any column named in `categorical` categorical whatever its type.
fn frame(batch: &RecordBatch, categorical: &[String]) -> Result<Frame> {
    let text = ArrowRows::new(batch)?;
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (j, (field, array)) in schema.fields().iter().zip(batch.columns()).enumerate() {
        let name = text.headers()[j].clone();
        let numeric = array.data_type().is_numeric() && !categorical.contains(&name);
        let (kind, values) = if numeric {
            let f = arrow_cast::cast(array, &DataType::Float64)
                .map_err(|e| BindingError::column(field.name(), e))?;
            let a = f.as_primitive::<Float64Type>();
            let v = (0..a.len())
                .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
                .collect();
            (ColumnType::Numerical, Values::Num(v))
        } else {
            (
                ColumnType::Categorical,
                Values::encode((0..text.len()).map(|i| text.cell(i, j))),
            )
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

/// Per-column drift of every column the two frames share, and dataset drift at `drift_share`.
pub(crate) fn drift(
    reference: &RecordBatch,
    current: &RecordBatch,
    drift_share: f64,
    categorical: &[String],
) -> Result<DriftReport> {
    if !(drift_share > 0.0 && drift_share <= 1.0) {
        return Err(BindingError::Field {
            field: "drift_share".into(),
            reason: format!("{drift_share} must be in (0, 1]"),
        });
    }
    for c in categorical {
        if reference.schema().index_of(c).is_err() {
            return Err(BindingError::Field {
                field: "categorical".into(),
                reason: format!("names {c:?}, which the reference frame does not have"),
            });
        }
    }
    let r = frame(reference, categorical)?;
    let c = frame(current, categorical)?;
    if !r.columns.iter().any(|x| c.get(&x.name).is_some()) {
        return Err(BindingError::Field {
            field: "current".into(),
            reason: "shares no column with the reference".into(),
        });
    }
    Ok(compare(&r, &c, drift_share))
}
