//! Cleaning and features on a frame: the pipeline's `preprocess` rules
//! ([`salescast_preprocess::clean::clean`]) and its feature transform, on Arrow data instead of
//! files.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{Field, Schema};
use salescast_core::schema::parse_row;
use salescast_core::{Column as Col, Mode, Transaction};
use salescast_features::transform::{FeatureTransform, TransformOptions};
use salescast_preprocess::clean::{Cleaned, Options, clean};
use salescast_preprocess::stats::{Clipped, Imputed};
use salescast_preprocess::{CleaningStats, OutlierRule, RawRows};

use crate::arrow_in::{ArrowRows, date32};
use crate::error::{BindingError, Result};

/// What cleaning a frame gives back.
#[derive(Debug)]
pub(crate) struct CleanOutput {
    pub rows: RecordBatch,
    pub rejected: RecordBatch,
    pub report: String,
    pub stats: String,
}

/// The cleaned rows, typed, with what cleaning did to each (the columns of
/// `data/processed/clean.parquet`).
fn rows_batch(
    rows: &[Transaction],
    imputed: &[Imputed],
    clipped: &[Clipped],
) -> Result<RecordBatch> {
    let text = |f: &dyn Fn(&Transaction) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(f)))
    };
    let num = |f: &dyn Fn(&Transaction) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(f)))
    };
    let flag = |v: Vec<bool>| -> ArrayRef { Arc::new(BooleanArray::from(v)) };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            Col::TransactionId.name(),
            text(&|t| t.transaction_id.as_deref()),
        ),
        (
            Col::Date.name(),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|t| date32(t.date)),
            )),
        ),
        (Col::StoreId.name(), text(&|t| Some(t.store_id.as_str()))),
        (
            Col::ProductId.name(),
            text(&|t| Some(t.product_id.as_str())),
        ),
        (Col::Category.name(), text(&|t| t.category.as_deref())),
        (Col::UnitPrice.name(), num(&|t| t.unit_price)),
        (Col::Quantity.name(), num(&|t| t.quantity)),
        (Col::Discount.name(), num(&|t| Some(t.discount))),
        (
            Col::Promotion.name(),
            flag(rows.iter().map(|t| t.promotion).collect()),
        ),
        (
            Col::CustomerSegment.name(),
            text(&|t| Some(t.customer_segment.as_str())),
        ),
        (
            Col::PaymentMethod.name(),
            text(&|t| Some(t.payment_method.as_str())),
        ),
        (Col::Revenue.name(), num(&|t| t.revenue)),
        (
            "category_imputed",
            flag(imputed.iter().map(|i| i.category).collect()),
        ),
        (
            "unit_price_imputed",
            flag(imputed.iter().map(|i| i.unit_price).collect()),
        ),
        (
            "quantity_clipped",
            flag(clipped.iter().map(|c| c.quantity).collect()),
        ),
        (
            "revenue_clipped",
            flag(clipped.iter().map(|c| c.revenue).collect()),
        ),
    ];
    batch(columns)
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )?)
}

/// Cleans a frame of raw contract rows with the pipeline's rules and settings.
pub(crate) fn clean_frame(
    input: &RecordBatch,
    test_days: u32,
    outlier_k: f64,
) -> Result<CleanOutput> {
    let rows = ArrowRows::new(input)?;
    let opts = Options {
        test_days,
        rule: OutlierRule { k: outlier_k },
    };
    let c: Cleaned = clean(&rows, Path::new("frame"), &opts)?;
    let rejected = batch(vec![
        (
            "row",
            Arc::new(UInt64Array::from_iter_values(
                c.rejections.iter().map(|r| r.row as u64),
            )),
        ),
        (
            "code",
            Arc::new(StringArray::from_iter_values(
                c.rejections.iter().map(|r| r.code.as_str()),
            )),
        ),
        (
            "reason",
            Arc::new(StringArray::from_iter_values(
                c.rejections.iter().map(|r| r.reason.as_str()),
            )),
        ),
    ])?;
    Ok(CleanOutput {
        rows: rows_batch(&c.rows, &c.imputed, &c.clipped)?,
        rejected,
        report: serde_json::to_string(&c.report)?,
        stats: serde_json::to_string(&c.stats)?,
    })
}

/// The contract rows of a frame (cleaned or raw), every field checked: a row that breaks the
/// contract is refused by its position and fields.
fn transactions(input: &RecordBatch) -> Result<(Vec<Transaction>, bool)> {
    let rows = ArrowRows::new(input)?;
    let map = rows.contract_map()?;
    let has_target = map.get(Col::Revenue).is_some();
    let mut out = Vec::with_capacity(rows.len());
    for r in 0..rows.len() {
        let t = parse_row(|c| map.get(c).and_then(|j| rows.cell(r, j)), Mode::Scoring).map_err(
            |errors| BindingError::Field {
                field: format!("row {r}:"),
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            },
        )?;
        out.push(t);
    }
    Ok((out, has_target))
}

/// The model features of a frame's rows: with a saved transform (`models_dir/transform.json`,
/// what the served models read), or one fitted on the frame's training days with the statistics
/// cleaning returned. Columns: `date`, one per feature, and `revenue` when the frame has it.
pub(crate) fn features(
    input: &RecordBatch,
    models_dir: Option<&Path>,
    stats: Option<&str>,
    scale: bool,
) -> Result<RecordBatch> {
    let (rows, has_target) = transactions(input)?;
    let transform = match (models_dir, stats) {
        (Some(dir), None) => {
            FeatureTransform::load(&dir.join(salescast_models::serving::TRANSFORM_FILE))?
        }
        (None, Some(stats)) => {
            let stats: CleaningStats =
                serde_json::from_str(stats).map_err(|e| BindingError::Field {
                    field: "cleaning".into(),
                    reason: format!("is not the statistics clean() returned: {e}"),
                })?;
            FeatureTransform::fit(&rows, stats, TransformOptions { scale })?
        }
        _ => {
            return Err(BindingError::Input(
                "give either models_dir (the saved transform) or cleaning (fit a new one), not both or neither".into(),
            ));
        }
    };
    let m = transform.transform(&rows);
    let mut columns: Vec<(&str, ArrayRef)> = vec![(
        Col::Date.name(),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|t| date32(t.date)),
        )),
    )];
    for (j, name) in transform.feature_names.iter().enumerate() {
        let col: Vec<f64> = (0..m.n_rows).map(|i| m.data[i * m.n_cols + j]).collect();
        columns.push((name.as_str(), Arc::new(Float64Array::from(col))));
    }
    if has_target {
        columns.push((
            Col::Revenue.name(),
            Arc::new(Float64Array::from_iter(rows.iter().map(|t| t.revenue))),
        ));
    }
    batch(columns)
}
