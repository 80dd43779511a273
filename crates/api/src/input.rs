//! Request rows into the data contract's cells, with the same rules for JSON and CSV.
//!
//! JSON values are turned into the text a CSV cell would hold (numbers by their shortest
//! round-trip form), and both go through `Predictor::score_fields`, so a row scores identically
//! whichever way it arrives, and identically to `salescast predict`.

use salescast_core::schema::FieldErrorKind;
use salescast_core::{Column, FieldError};
use salescast_models::Kind;
use salescast_models::serving::{Predictor, ScoreError};
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode};

/// What a column accepts in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Text,
    Number,
    Flag,
}

fn json_type(c: Column) -> JsonType {
    match c {
        Column::UnitPrice | Column::Quantity | Column::Discount | Column::Revenue => {
            JsonType::Number
        }
        Column::Promotion => JsonType::Flag,
        _ => JsonType::Text,
    }
}

/// The contract's columns a request must name (`quantity` and `revenue` are never needed, and
/// ignored when sent).
const REQUIRED: [Column; 3] = [Column::Date, Column::StoreId, Column::ProductId];

/// The longest field value accepted, in characters (JSON strings and CSV cells alike). The longest
/// real identifiers are a few dozen characters; anything this long is a mistake or an attack,
/// and would otherwise be carried into every answer and log line that names it.
pub const MAX_FIELD_CHARS: usize = 1024;

/// The most columns a CSV upload may have (the contract has 12; extra ones are passed through).
pub const MAX_COLUMNS: usize = 256;

/// One JSON object as cells, indexed by `Column as usize`. `at` prefixes field names in errors
/// (`[3].unit_price`).
/// A field outside the contract is refused (422 `unknown_field` naming it) unless
/// `ignore_extra`.
pub fn cells_of(
    obj: &Value,
    at: &str,
    ignore_extra: bool,
) -> Result<Vec<Option<String>>, ApiError> {
    let Value::Object(map) = obj else {
        return Err(ApiError::unprocessable(
            ErrorCode::WrongType,
            format!(
                "{}expected a JSON object with the transaction's fields",
                where_(at)
            ),
        )
        .field(at.trim_end_matches('.').to_owned()));
    };
    if !ignore_extra && let Some(name) = map.keys().find(|k| Column::from_header(k).is_none()) {
        return Err(ApiError::unprocessable(
            ErrorCode::UnknownField,
            format!(
                "{}{}; send it under its contract name, or add ?extra_fields=ignore to skip such fields",
                where_(at),
                Column::unknown_message(name)
            ),
        )
        .field(format!("{at}{name}")));
    }
    cells_of_map(map, at)
}

/// The model inputs a row leaves blank, which scoring imputes (the identifiers and the
/// targets are not model inputs).
pub fn imputed(cells: &[Option<String>]) -> Vec<String> {
    Column::ALL
        .into_iter()
        .filter(|c| {
            !matches!(
                c,
                Column::TransactionId | Column::Quantity | Column::Revenue
            ) && !c.required(salescast_core::Mode::Scoring)
        })
        .filter(|&c| {
            cells[c as usize]
                .as_deref()
                .is_none_or(|v| v.trim().is_empty())
        })
        .map(|c| c.name().to_owned())
        .collect()
}

fn where_(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("{}: ", at.trim_end_matches('.'))
    }
}

fn cells_of_map(map: &Map<String, Value>, at: &str) -> Result<Vec<Option<String>>, ApiError> {
    let mut cells = vec![None; Column::ALL.len()];
    for c in Column::ALL {
        let name = c.name();
        let field = format!("{at}{name}");
        let v = match map.get(name) {
            None if REQUIRED.contains(&c) => {
                return Err(ApiError::unprocessable(
                    ErrorCode::MissingField,
                    format!("{field} is required"),
                )
                .field(field));
            }
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        if matches!(c, Column::Quantity | Column::Revenue) {
            continue;
        }
        let text = match (json_type(c), v) {
            (JsonType::Text, Value::String(s)) => s.clone(),
            (JsonType::Number, Value::Number(n)) => n.to_string(),
            (JsonType::Flag, Value::Bool(b)) => if *b { "1" } else { "0" }.to_owned(),
            (JsonType::Flag, Value::Number(n)) => n.to_string(),
            (t, other) => {
                let want = match t {
                    JsonType::Text => "a string",
                    JsonType::Number => "a number",
                    JsonType::Flag => "true/false or 0/1",
                };
                return Err(ApiError::unprocessable(
                    ErrorCode::WrongType,
                    format!("{field} must be {want}, got {}", kind_of(other)),
                )
                .field(field));
            }
        };
        if text.len() > MAX_FIELD_CHARS && text.chars().count() > MAX_FIELD_CHARS {
            return Err(ApiError::unprocessable(
                ErrorCode::FieldTooLong,
                format!("{field} is longer than {MAX_FIELD_CHARS} characters"),
            )
            .field(field));
        }
        cells[c as usize] = Some(text);
    }
    Ok(cells)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field_code(kind: FieldErrorKind) -> ErrorCode {
    match kind {
        FieldErrorKind::Missing => ErrorCode::MissingField,
        FieldErrorKind::BadDate => ErrorCode::BadDate,
        FieldErrorKind::NotANumber => ErrorCode::NotANumber,
        FieldErrorKind::NotFinite => ErrorCode::NotFinite,
        FieldErrorKind::Negative => ErrorCode::NegativeValue,
        FieldErrorKind::OutOfRange => ErrorCode::OutOfRange,
        FieldErrorKind::BadFlag => ErrorCode::BadFlag,
    }
}

/// A contract violation as a 422 naming the first field at fault (the message lists them all).
pub fn field_errors(errs: &[FieldError], at: &str) -> ApiError {
    let first = errs.first();
    let message = errs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let code = first
        .map(|e| field_code(e.kind))
        .unwrap_or(ErrorCode::InvalidRow);
    let mut e = ApiError::unprocessable(code, format!("{}{message}", where_(at)));
    if let Some(f) = first {
        e = e.field(format!("{at}{}", f.column.name()));
    }
    e
}

/// Scores cells; a contract violation is a 422 naming the field.
pub fn score(
    p: &Predictor,
    cells: &[Option<String>],
    kind: Kind,
    at: &str,
) -> Result<f64, ApiError> {
    p.score_fields(|c| cells[c as usize].as_deref(), Some(kind))
        .map_err(|e| match e {
            ScoreError::Fields(errs) => field_errors(&errs, at),
            ScoreError::Model(m) => ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ModelError,
                m,
            ),
        })
}

/// [`score`] with the prediction's TreeSHAP explanation.
pub fn explain(
    p: &Predictor,
    cells: &[Option<String>],
    kind: Kind,
    at: &str,
) -> Result<salescast_models::serving::Explained, ApiError> {
    p.explain_fields(|c| cells[c as usize].as_deref(), Some(kind))
        .map_err(|e| match e {
            ScoreError::Fields(errs) => field_errors(&errs, at),
            ScoreError::Model(m) => ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::CannotExplain,
                m,
            ),
        })
}

/// A CSV header's columns by contract name, for scoring: a missing required column is a 422
/// `missing_column` naming it (or `fallback` when none can be named), and a column outside the
/// contract a 422 `unknown_column` naming it unless `ignore_extra`.
pub fn column_map(
    headers: &[String],
    ignore_extra: bool,
    fallback: &str,
) -> Result<salescast_core::schema::ColumnMap, ApiError> {
    let map = salescast_core::schema::ColumnMap::resolve(headers, salescast_core::Mode::Scoring)
        .map_err(|m| {
            ApiError::unprocessable(ErrorCode::MissingColumn, m.to_string()).field(
                m.0.first()
                    .map_or_else(|| fallback.to_owned(), |c| c.name().to_owned()),
            )
        })?;
    if !ignore_extra && let Some((name, why)) = map.unknown() {
        return Err(ApiError::unprocessable(
            ErrorCode::UnknownColumn,
            format!(
                "{why}; rename the column, or add ?extra_fields=ignore to pass such columns through"
            ),
        )
        .field(name));
    }
    Ok(map)
}

/// The rows of a CSV body (`Content-Type: text/csv`, as MLflow's scoring server takes it): a
/// header naming contract columns, then one transaction a line, as cells. Blank cells are
/// missing fields; a column outside the contract is refused unless `ignore_extra`.
pub fn csv_cells(body: &[u8], ignore_extra: bool) -> Result<Vec<Vec<Option<String>>>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::MalformedCsv,
            format!(
                "the body is not UTF-8 text (byte {}): expected a UTF-8 CSV",
                e.valid_up_to()
            ),
        )
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::EmptyBody,
            "the request body is empty",
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::bad_request(ErrorCode::MalformedCsv, format!("the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if headers.len() > MAX_COLUMNS {
        return Err(ApiError::unprocessable(
            ErrorCode::TooManyColumns,
            format!("{} columns; the limit is {MAX_COLUMNS}", headers.len()),
        ));
    }
    let map = column_map(&headers, ignore_extra, "")?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| {
            ApiError::unprocessable(ErrorCode::MalformedCsv, format!("line {line}: {e}"))
        })?;
        let mut cells = vec![None; Column::ALL.len()];
        for c in Column::ALL {
            if matches!(c, Column::Quantity | Column::Revenue) {
                continue;
            }
            let Some(v) = map.get(c).and_then(|at| record.get(at)) else {
                continue;
            };
            if v.len() > MAX_FIELD_CHARS && v.chars().count() > MAX_FIELD_CHARS {
                return Err(ApiError::unprocessable(
                    ErrorCode::FieldTooLong,
                    format!(
                        "line {line}: {} is longer than {MAX_FIELD_CHARS} characters",
                        c.name()
                    ),
                )
                .field(format!("[{}].{}", i, c.name())));
            }
            if !v.trim().is_empty() {
                cells[c as usize] = Some(v.to_owned());
            }
        }
        rows.push(cells);
    }
    Ok(rows)
}

/// The rows of an MLflow scoring envelope (`dataframe_split`, `dataframe_records`, `instances`
/// or `inputs`) as JSON objects.
pub fn envelope_rows(body: &Value) -> Result<Vec<Value>, ApiError> {
    let bad = |m: &str| ApiError::unprocessable(ErrorCode::BadEnvelope, m.to_owned());
    let Value::Object(top) = body else {
        return Err(bad(
            "expected an object with dataframe_split, dataframe_records, instances or inputs",
        ));
    };
    if let Some(split) = top.get("dataframe_split") {
        let columns: Vec<&str> = split
            .get("columns")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("dataframe_split.columns must be an array of names"))?
            .iter()
            .map(|c| {
                c.as_str()
                    .ok_or_else(|| bad("dataframe_split.columns must be strings"))
            })
            .collect::<Result<_, _>>()?;
        let data = split
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("dataframe_split.data must be an array of rows"))?;
        return data
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let row = row
                    .as_array()
                    .filter(|r| r.len() == columns.len())
                    .ok_or_else(|| {
                        bad(&format!(
                            "dataframe_split.data[{i}] must be an array of {} values",
                            columns.len()
                        ))
                    })?;
                Ok(Value::Object(
                    columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| ((*c).to_owned(), v.clone()))
                        .collect(),
                ))
            })
            .collect();
    }
    for key in ["dataframe_records", "instances", "inputs"] {
        match top.get(key) {
            Some(Value::Array(rows)) => return Ok(rows.clone()),
            Some(Value::Object(cols)) if key == "inputs" => {
                // Column-oriented: {"inputs": {"date": [...], "store_id": [...]}}.
                let n = cols
                    .values()
                    .filter_map(Value::as_array)
                    .map(Vec::len)
                    .max();
                let n = n.ok_or_else(|| bad("inputs must map column names to arrays"))?;
                let mut rows = vec![Map::new(); n];
                for (name, values) in cols {
                    let values = values.as_array().filter(|v| v.len() == n).ok_or_else(|| {
                        bad(&format!("inputs.{name} must be an array of {n} values"))
                    })?;
                    for (row, v) in rows.iter_mut().zip(values) {
                        row.insert(name.clone(), v.clone());
                    }
                }
                return Ok(rows.into_iter().map(Value::Object).collect());
            }
            Some(_) => return Err(bad(&format!("{key} must be an array of records"))),
            None => {}
        }
    }
    Err(bad(
        "expected one of dataframe_split, dataframe_records, instances or inputs",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_types_are_checked_and_named() {
        let ok = json!({"date": "2024-01-02", "store_id": "S1", "product_id": "P1",
                        "unit_price": 12.5, "promotion": true, "revenue": 99});
        let cells = cells_of(&ok, "", false).expect("valid");
        assert_eq!(cells[Column::UnitPrice as usize].as_deref(), Some("12.5"));
        assert_eq!(cells[Column::Promotion as usize].as_deref(), Some("1"));
        assert_eq!(cells[Column::Revenue as usize], None, "revenue is ignored");
        let e = cells_of(&json!({"date": "2024-01-02", "store_id": "S1"}), "", false).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("missing_field", Some("product_id"))
        );
        let e = cells_of(
            &json!({"date": "2024-01-02", "store_id": "S1", "product_id": "P", "unit_price": "9"}),
            "[2].",
            false,
        )
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("wrong_type", Some("[2].unit_price"))
        );
        assert!(cells_of(&json!([1]), "", false).is_err());
    }

    #[test]
    fn unknown_fields_are_refused_unless_ignored_and_imputed_ones_are_named() {
        let typo = json!({"date": "2024-01-02", "store_id": "S1", "product_id": "P1",
                          "unitprice": 120.5});
        let e = cells_of(&typo, "[1].", false).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("unknown_field", Some("[1].unitprice"))
        );
        assert!(
            e.message.contains("did you mean `unit_price`"),
            "{}",
            e.message
        );
        let cells = cells_of(&typo, "", true).expect("ignored");
        assert_eq!(cells[Column::UnitPrice as usize], None);
        let imputed = imputed(&cells);
        assert!(imputed.contains(&"unit_price".to_owned()), "{imputed:?}");
        assert!(!imputed.contains(&"date".to_owned()));
        let full = json!({"date": "2024-01-02", "store_id": "S1", "product_id": "P1",
                          "category": "c", "unit_price": 1.0, "discount": 0.0, "promotion": 0,
                          "customer_segment": "s", "payment_method": "p"});
        assert!(imputed_of(&full).is_empty());
    }

    fn imputed_of(v: &Value) -> Vec<String> {
        imputed(&cells_of(v, "", false).expect("valid"))
    }

    #[test]
    fn envelopes_become_rows() {
        let split = json!({"dataframe_split": {"columns": ["date", "store_id"],
                                                "data": [["2024-01-01", "S1"], ["2024-01-02", "S2"]]}});
        let rows = envelope_rows(&split).expect("split");
        assert_eq!(rows[1]["store_id"], "S2");
        let cols = json!({"inputs": {"date": ["2024-01-01"], "store_id": ["S1"]}});
        assert_eq!(
            envelope_rows(&cols).expect("inputs")[0]["date"],
            "2024-01-01"
        );
        let recs = json!({"dataframe_records": [{"date": "2024-01-01"}]});
        assert_eq!(envelope_rows(&recs).expect("records").len(), 1);
        assert!(envelope_rows(&json!({"nope": 1})).is_err());
        assert!(
            envelope_rows(&json!({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}))
                .is_err()
        );
    }
}
