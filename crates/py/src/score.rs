//! Batch scoring of contract rows with a models directory: the same parser, transform and
//! model as `salescast predict` and the API ([`Predictor::score_many`]), so the numbers agree
//! to the bit.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use salescast_models::Kind;
use salescast_models::serving::Predictor;
use salescast_preprocess::RawRows;

use crate::arrow_in::ArrowRows;
use crate::error::{BindingError, Result};

/// The model asked for by name (`None`: the champion).
pub(crate) fn kind(model: Option<&str>) -> Result<Option<Kind>> {
    model
        .map(|m| {
            Kind::parse(m).ok_or_else(|| BindingError::Field {
                field: "model".into(),
                reason: format!("{m:?} is not a model: random_forest or gradient_boosting"),
            })
        })
        .transpose()
}

/// Scores every row of `batch`: a table of `predicted_revenue` (null where the row could not
/// be scored) and `error` (why, naming the fields; null where scored), in the rows' order.
pub(crate) fn score(
    p: &Predictor,
    batch: &RecordBatch,
    model: Option<Kind>,
) -> Result<RecordBatch> {
    let rows = ArrowRows::new(batch)?;
    let map = rows.contract_map()?;
    p.model(model)?;
    let index: Vec<usize> = (0..rows.len()).collect();
    let results = p.score_many(
        &index,
        |&r, c| map.get(c).and_then(|j| rows.cell(r, j)),
        model,
    );
    let mut values = Vec::with_capacity(results.len());
    let mut errors = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(v) => {
                values.push(Some(v));
                errors.push(None);
            }
            Err(e) => {
                values.push(None);
                errors.push(Some(e.to_string()));
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("predicted_revenue", DataType::Float64, true),
        Field::new("error", DataType::Utf8, true),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(values)),
            Arc::new(StringArray::from(errors)),
        ],
    )?)
}
