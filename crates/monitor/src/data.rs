//! The columns the monitor watches, as typed columns of a reference sample or a new batch, and
//! reading a new batch of contract rows.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;
use salescast_core::schema::{
    Column as Field, ColumnMap, Mode, Transaction, non_blank, parse_non_negative, parse_row_into,
};
use salescast_preprocess::clean::RawRows;
use salescast_preprocess::frame::read_raw;
use serde::{Deserialize, Serialize};

use crate::stats::ColumnType;
use crate::{MonitorError, Result};

/// The code of a missing category.
pub const MISSING: u32 = u32::MAX;

/// What a column is to the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A model input from the data contract.
    Feature,
    /// The label, `revenue`.
    Target,
    /// A served model's prediction.
    Prediction,
}

/// The contract fields the models read, with the type Evidently infers for them (floats are
/// numerical; strings with few values and booleans categorical).
pub const FEATURES: [(&str, ColumnType); 8] = [
    ("store_id", ColumnType::Categorical),
    ("product_id", ColumnType::Categorical),
    ("category", ColumnType::Categorical),
    ("unit_price", ColumnType::Numerical),
    ("discount", ColumnType::Numerical),
    ("promotion", ColumnType::Categorical),
    ("customer_segment", ColumnType::Categorical),
    ("payment_method", ColumnType::Categorical),
];

/// The target column's name.
pub const TARGET: &str = "revenue";

/// A prediction column's name.
pub fn prediction_column(model: &str) -> String {
    format!("prediction_{model}")
}

/// A column's values: numbers (NaN for missing), or dictionary codes ([`MISSING`] for missing).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Num(Vec<f64>),
    Cat {
        codes: Vec<u32>,
        labels: Vec<String>,
    },
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Num(v) => v.len(),
            Values::Cat { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Share of missing values.
    pub fn missing_rate(&self) -> f64 {
        let n = self.len();
        if n == 0 {
            return 0.0;
        }
        let missing = match self {
            Values::Num(v) => v.iter().filter(|x| !x.is_finite()).count(),
            Values::Cat { codes, .. } => codes.iter().filter(|&&c| c == MISSING).count(),
        };
        missing as f64 / n as f64
    }

    /// Dictionary-encodes strings (`None` is missing), codes in order of first appearance.
    pub fn encode<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Self {
        let mut index: HashMap<&'a str, u32> = HashMap::new();
        let mut labels = Vec::new();
        let codes = values
            .map(|v| match v {
                None => MISSING,
                Some(s) => *index.entry(s).or_insert_with(|| {
                    labels.push(s.to_owned());
                    (labels.len() - 1) as u32
                }),
            })
            .collect();
        Values::Cat { codes, labels }
    }
}

/// One watched column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnData {
    pub name: String,
    pub kind: ColumnType,
    pub role: Role,
    pub values: Values,
}

/// Columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    pub columns: Vec<ColumnData>,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, name: &str) -> Option<&ColumnData> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The feature columns of `rows`, and `revenue` when `with_target`.
    pub fn of_transactions(rows: &[Transaction], with_target: bool) -> Self {
        let cat = |f: &dyn Fn(&Transaction) -> Option<&str>| Values::encode(rows.iter().map(f));
        let num = |f: &dyn Fn(&Transaction) -> f64| Values::Num(rows.iter().map(f).collect());
        let mut columns = Vec::new();
        for (name, kind) in FEATURES {
            let values = match name {
                "store_id" => cat(&|t| Some(t.store_id.as_str())),
                "product_id" => cat(&|t| Some(t.product_id.as_str())),
                "category" => cat(&|t| t.category.as_deref()),
                "unit_price" => num(&|t| t.unit_price.unwrap_or(f64::NAN)),
                "discount" => num(&|t| t.discount),
                "promotion" => cat(&|t| Some(if t.promotion { "true" } else { "false" })),
                "customer_segment" => cat(&|t| Some(t.customer_segment.as_str())),
                _ => cat(&|t| Some(t.payment_method.as_str())),
            };
            columns.push(ColumnData {
                name: name.to_owned(),
                kind,
                role: Role::Feature,
                values,
            });
        }
        if with_target {
            columns.push(ColumnData {
                name: TARGET.to_owned(),
                kind: ColumnType::Numerical,
                role: Role::Target,
                values: num(&|t| t.revenue.unwrap_or(f64::NAN)),
            });
        }
        Self { columns }
    }

    /// Adds a numerical prediction column.
    pub fn push_prediction(&mut self, model: &str, values: Vec<f64>) {
        self.columns.push(ColumnData {
            name: prediction_column(model),
            kind: ColumnType::Numerical,
            role: Role::Prediction,
            values: Values::Num(values),
        });
    }

    /// The frame as a polars DataFrame (missing values as nulls), for Parquet.
    pub fn to_polars(&self) -> Result<DataFrame> {
        let cols: Vec<Column> = self
            .columns
            .iter()
            .map(|c| match &c.values {
                Values::Num(v) => Column::new(
                    c.name.as_str().into(),
                    v.iter()
                        .map(|x| x.is_finite().then_some(*x))
                        .collect::<Vec<Option<f64>>>(),
                ),
                Values::Cat { codes, labels } => Column::new(
                    c.name.as_str().into(),
                    codes
                        .iter()
                        .map(|&k| (k != MISSING).then(|| labels[k as usize].as_str()))
                        .collect::<Vec<Option<&str>>>(),
                ),
            })
            .collect();
        DataFrame::new(self.len(), cols)
            .map_err(|e| MonitorError::BadInput(format!("reference frame: {e}")))
    }

    /// Reads a frame written by [`Frame::to_polars`]; `kinds` gives each column's role and type
    /// (a column of the file not named there is ignored).
    pub fn read_parquet(path: &Path, kinds: &[(String, ColumnType, Role)]) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| MonitorError::Artifact {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
        let df = ParquetReader::new(file).finish().map_err(|e| bad(&e))?;
        let mut columns = Vec::new();
        for (name, kind, role) in kinds {
            let col = df
                .column(name)
                .map_err(|e| bad(&format!("column {name}: {e}")))?;
            let values = match kind {
                ColumnType::Numerical => {
                    let ca = col.f64().map_err(|e| bad(&format!("column {name}: {e}")))?;
                    Values::Num(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
                }
                ColumnType::Categorical => {
                    let ca = col.str().map_err(|e| bad(&format!("column {name}: {e}")))?;
                    Values::encode(ca.iter())
                }
            };
            columns.push(ColumnData {
                name: name.clone(),
                kind: *kind,
                role: *role,
                values,
            });
        }
        Ok(Self { columns })
    }

    /// Each column's name, type and role (what [`Frame::read_parquet`] needs back).
    pub fn schema(&self) -> Vec<(String, ColumnType, Role)> {
        self.columns
            .iter()
            .map(|c| (c.name.clone(), c.kind, c.role))
            .collect()
    }
}

/// A new batch of contract rows.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The valid rows, in file order.
    pub rows: Vec<Transaction>,
    /// Rows in the file.
    pub total: usize,
    /// Rows that break the data contract, with the first few reasons (file row numbers count
    /// the header as row 1).
    pub invalid: usize,
    pub invalid_examples: Vec<String>,
    /// Whether the file has a `revenue` column; rows with a blank revenue are unlabelled.
    pub has_revenue_column: bool,
    pub labelled_rows: usize,
}

/// Reads and validates a CSV or Parquet file in the data contract. A file that cannot be read,
/// lacks a required column or has no valid row is bad input; invalid rows are counted and
/// reported, never scored.
pub fn read_batch(path: &Path) -> Result<Batch> {
    let table = read_raw(path)?;
    let map = ColumnMap::resolve(table.headers(), Mode::Scoring)
        .map_err(|e| MonitorError::BadInput(format!("{}: {e}", path.display())))?;
    let has_revenue_column = map.get(Field::Revenue).is_some();
    let n = table.len();
    if n == 0 {
        return Err(MonitorError::BadInput(format!(
            "{}: no data rows",
            path.display()
        )));
    }
    const CHUNK: usize = 8192;
    let parsed: Vec<std::result::Result<Transaction, String>> = (0..n)
        .into_par_iter()
        .with_min_len(CHUNK)
        .map(|row| {
            let mut t = Transaction::default();
            let cell = |c| map.get(c).and_then(|i| table.cell(row, i));
            // Scoring rules for the inputs; the label, when present, by the contract's rule for
            // numbers (a bad revenue is an invalid row, a blank one an unlabelled row).
            parse_row_into(cell, Mode::Scoring, &mut t)
                .and_then(|()| {
                    // Quantity too: cleaning's outlier rule caps revenue through it.
                    let mut errs = Vec::new();
                    for (field, slot) in [
                        (Field::Revenue, &mut t.revenue),
                        (Field::Quantity, &mut t.quantity),
                    ] {
                        if let Some(s) = non_blank(cell(field)) {
                            match parse_non_negative(field, s) {
                                Ok(v) => *slot = Some(v),
                                Err(e) => errs.push(e),
                            }
                        }
                    }
                    if errs.is_empty() { Ok(()) } else { Err(errs) }
                })
                .map(|()| t)
                .map_err(|errs| {
                    let parts: Vec<String> = errs.iter().map(ToString::to_string).collect();
                    format!("row {}: {}", row + 2, parts.join("; "))
                })
        })
        .collect();
    let mut rows = Vec::with_capacity(n);
    let mut invalid = 0;
    let mut invalid_examples = Vec::new();
    for p in parsed {
        match p {
            Ok(t) => rows.push(t),
            Err(e) => {
                invalid += 1;
                if invalid_examples.len() < 10 {
                    invalid_examples.push(e);
                }
            }
        }
    }
    if rows.is_empty() {
        return Err(MonitorError::BadInput(format!(
            "{}: none of the {n} row(s) is valid; first problems: {}",
            path.display(),
            invalid_examples.join(" | ")
        )));
    }
    let labelled_rows = rows.iter().filter(|t| t.revenue.is_some()).count();
    Ok(Batch {
        rows,
        total: n,
        invalid,
        invalid_examples,
        has_revenue_column,
        labelled_rows,
    })
}
