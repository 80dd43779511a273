//! The HTTP handlers. Each one validates its input into the data contract, scores with the
//! current models snapshot and answers JSON (or CSV for batch scoring by default).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use salescast_models::Kind;
use salescast_models::metrics::Scores;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::batch::{self, ScoredCsv};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::input;
use crate::state::{AppState, LoadAttempt, Loaded};

pub type Shared = Arc<AppState>;

/// The query of `/predict` and `/invocations`: every parameter optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScoreQuery {
    /// `random_forest` or `gradient_boosting`; default (or empty): the champion.
    #[param(pattern = "^(random_forest|gradient_boosting)?$")]
    pub model: Option<String>,
    /// `true`: each prediction carries its TreeSHAP explanation.
    #[param(inline)]
    pub explain: Option<Flag>,
    /// `refuse` (default): a field outside the data contract is a 422 naming it; `ignore`:
    /// such fields are skipped.
    #[param(inline)]
    pub extra_fields: Option<ExtraFields>,
}

/// What to do with a field (JSON) or column (CSV) outside the data contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExtraFields {
    /// Refuse the request with a 422 naming the field (and the contract field it was most
    /// likely meant to be): a misspelled optional field would otherwise be imputed silently.
    #[default]
    Refuse,
    /// Skip such fields (CSV: pass such columns through to the output).
    Ignore,
}

impl ExtraFields {
    pub fn ignore(v: Option<Self>) -> bool {
        v == Some(Self::Ignore)
    }
}

/// The query of `/predict_batch_csv`: every parameter optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// `random_forest` or `gradient_boosting`; default (or empty): the champion.
    #[param(pattern = "^(random_forest|gradient_boosting)?$")]
    pub model: Option<String>,
    /// Output: `csv` (default) or `json`.
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
    /// Only `false`: batch scoring does not explain (`true` is refused with 422
    /// `explain_not_offered`; use `/predict` or `salescast predict --explain`).
    #[param(inline)]
    pub explain: Option<Flag>,
    /// `refuse` (default): a column outside the data contract is a 422 naming it; `ignore`:
    /// such columns are passed through to the output unscored.
    #[param(inline)]
    pub extra_fields: Option<ExtraFields>,
}

/// A yes/no query parameter, spelled `true` or `false`. An enum of those two words rather than
/// a boolean, so the document says exactly what the query string accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    True,
    False,
}

impl Flag {
    pub fn is_true(flag: Option<Self>) -> bool {
        flag == Some(Self::True)
    }
}

/// One transaction's context fields, as in the data contract (`revenue` and `quantity` are
/// ignored when sent). Any other field is refused unless `extra_fields=ignore`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionInput {
    /// Text fields are at most 1024 characters (`limits.max_field_chars` in `/status`).
    #[schema(max_length = 1024)]
    pub transaction_id: Option<String>,
    /// `YYYY-MM-DD`
    #[schema(format = Date, example = "2025-12-31")]
    pub date: String,
    /// Required; blank or `null` means `Unknown` (the data contract).
    #[schema(nullable, example = "S01", max_length = 1024)]
    pub store_id: String,
    /// Required; blank or `null` means `Unknown` (the data contract).
    #[schema(nullable, example = "P0001", max_length = 1024)]
    pub product_id: String,
    #[schema(max_length = 1024)]
    pub category: Option<String>,
    #[schema(minimum = 0.0)]
    pub unit_price: Option<f64>,
    /// In [0, 1).
    #[schema(minimum = 0.0, exclusive_maximum = 1.0)]
    pub discount: Option<f64>,
    /// 0/1 or true/false.
    #[schema(schema_with = flag_schema)]
    pub promotion: Option<bool>,
    #[schema(max_length = 1024)]
    pub customer_segment: Option<String>,
    #[schema(max_length = 1024)]
    pub payment_method: Option<String>,
}

/// The promotion flag as JSON takes it: `true`/`false`, `0`/`1`, or `null` (blank, read as 0).
fn flag_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    let one_of = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([0, 1])),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("0/1 or true/false; null or absent means 0"))
        .build();
    utoipa::openapi::RefOr::T(Schema::OneOf(one_of))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Prediction {
    pub predicted_revenue: f64,
    pub model: String,
    pub model_version: String,
    /// The model inputs the request left out or sent as `null`, which the model imputed as
    /// the data contract says (absent when none were).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imputed: Vec<String>,
    /// With `?explain=true` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// Why the model predicted what it did: exact TreeSHAP values (Lundberg et al.,
/// path-dependent), so `expected_value` plus the contributions of either list is
/// `predicted_revenue`, up to rounding.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    /// The model's mean prediction over its training data, where every explanation starts.
    pub expected_value: f64,
    /// One per data-contract field, largest magnitude first: the calendar features count under
    /// `date`; `net_price` and `price_ratio` under `unit_price`.
    pub contributions: Vec<Contribution>,
    /// One per model feature, largest magnitude first.
    pub feature_contributions: Vec<Contribution>,
}

/// One field's or feature's share of a prediction, in revenue units.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contribution {
    pub name: String,
    pub contribution: f64,
}

impl From<salescast_models::serving::Explained> for Explanation {
    fn from(e: salescast_models::serving::Explained) -> Self {
        let list = |v: Vec<salescast_models::serving::Contribution>| {
            v.into_iter()
                .map(|c| Contribution {
                    name: c.name,
                    contribution: c.value,
                })
                .collect()
        };
        Self {
            expected_value: e.expected_value,
            contributions: list(e.by_field),
            feature_contributions: list(e.by_feature),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Predictions {
    pub predictions: Vec<Prediction>,
}

pub(crate) fn loaded(state: &AppState) -> ApiResult<Arc<Loaded>> {
    state.current().ok_or_else(|| {
        let why = state
            .last_attempt()
            .and_then(|a| a.error)
            .unwrap_or_else(|| "no models loaded yet".into());
        ApiError::unavailable(ErrorCode::ModelsNotLoaded, why)
    })
}

fn pick(l: &Loaded, name: Option<&str>) -> ApiResult<(Kind, String)> {
    let p = &l.predictor;
    let kind = match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => p.champion,
        Some(n) => Kind::parse(n)
            .filter(|k| p.models.contains_key(k))
            .ok_or_else(|| {
                let known: Vec<&str> = p.models.keys().map(|k| k.name()).collect();
                ApiError::bad_request(
                    ErrorCode::UnknownModel,
                    format!("unknown model {n:?}: expected one of {}", known.join(", ")),
                )
                .field("model")
            })?,
    };
    let version = p
        .manifest
        .models
        .get(kind.name())
        .map(|e| e.version.clone())
        .unwrap_or_default();
    Ok((kind, version))
}

fn parse_json(body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            ErrorCode::EmptyBody,
            "the request body is empty",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Eof => "it ends too early",
            Category::Syntax => "a syntax error",
            Category::Data | Category::Io => "unreadable data",
        };
        ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!(
                "the body is not valid JSON: {what} at line {}, column {}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Scores JSON rows; errors name the field, prefixed by the row's index when `indexed`.
fn score_rows(
    state: &AppState,
    l: &Loaded,
    rows: &[Value],
    q: &ScoreQuery,
    indexed: bool,
) -> ApiResult<Vec<Prediction>> {
    // The model is checked before the rows, as every answer has done.
    pick(l, q.model.as_deref())?;
    let extra = q.extra_fields;
    row_count(state, rows.len())?;
    score_cells(
        state,
        l,
        rows.iter().enumerate().map(|(i, row)| {
            let at = if indexed {
                format!("[{i}].")
            } else {
                String::new()
            };
            let cells = input::cells_of(row, &at, ExtraFields::ignore(extra))?;
            Ok((at, cells))
        }),
        q,
    )
}

/// A request's number of rows: at least one, at most the limit.
fn row_count(state: &AppState, n: usize) -> ApiResult<()> {
    if n == 0 {
        return Err(ApiError::unprocessable(
            ErrorCode::EmptyBatch,
            "no rows to score",
        ));
    }
    if n > state.limits.max_batch_rows {
        return Err(ApiError::too_large(format!(
            "{n} rows in one request; the limit is {} (SALESCAST_MAX_BATCH_ROWS)",
            state.limits.max_batch_rows
        )));
    }
    Ok(())
}

/// Scores rows given as contract cells (each with the prefix its errors carry), in order;
/// the first row at fault fails the whole request.
fn score_cells(
    state: &AppState,
    l: &Loaded,
    rows: impl ExactSizeIterator<Item = ApiResult<(String, Vec<Option<String>>)>>,
    q: &ScoreQuery,
) -> ApiResult<Vec<Prediction>> {
    let (kind, version) = pick(l, q.model.as_deref())?;
    let explain = Flag::is_true(q.explain);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (at, cells) = row?;
        let imputed = input::imputed(&cells);
        let (v, explanation) = if explain {
            let e = input::explain(&l.predictor, &cells, kind, &at)?;
            (e.prediction, Some(Explanation::from(e)))
        } else {
            (input::score(&l.predictor, &cells, kind, &at)?, None)
        };
        out.push(Prediction {
            predicted_revenue: v,
            model: kind.name().to_owned(),
            model_version: version.clone(),
            imputed,
            explanation,
        });
    }
    state.metrics.predicted(kind.name(), out.len() as u64);
    Ok(out)
}

/// Predict the revenue of one transaction, or of an array of them.
#[utoipa::path(post, path = "/predict", params(ScoreQuery),
    request_body(content = TransactionInput, description = "One transaction, or an array of them"),
    responses(
        (status = 200, description = "One prediction, or `{\"predictions\": [...]}` for an array; with `?explain=true` each carries `explanation`", body = Prediction),
        (status = 400, description = "Malformed JSON or unknown model", body = ErrorBody),
        (status = 413, description = "Body or batch too large", body = ErrorBody),
        (status = 422, description = "A field breaks the data contract or is not one of its fields (`unknown_field`, unless `extra_fields=ignore`; `field` names it), or `explain=true` on a model saved before explanations (`cannot_explain`)", body = ErrorBody),
        (status = 503, description = "No models loaded", body = ErrorBody)))]
pub async fn predict(
    State(state): State<Shared>,
    Query(q): Query<ScoreQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let l = loaded(&state)?;
    let value = parse_json(&body)?;
    match value {
        Value::Array(rows) => {
            let predictions = score_rows(&state, &l, &rows, &q, true)?;
            Ok(Json(Predictions { predictions }).into_response())
        }
        obj @ Value::Object(_) => {
            let one = score_rows(&state, &l, &[obj], &q, false)?;
            let p = one.into_iter().next().ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "no prediction",
                )
            })?;
            Ok(Json(p).into_response())
        }
        _ => Err(ApiError::unprocessable(
            ErrorCode::WrongType,
            "expected a transaction object or an array of them",
        )),
    }
}

/// Multipart upload of a CSV file (field `file`) in the data contract.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CsvUpload {
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchRow {
    /// 1-based data row (the header is not counted).
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_revenue: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub model: String,
    pub model_version: String,
    pub rows: usize,
    pub errors: usize,
    pub predictions: Vec<BatchRow>,
}

/// Score a CSV upload row by row: bad rows get an `error` instead of failing the request.
#[utoipa::path(post, path = "/predict_batch_csv", params(BatchQuery),
    request_body(content = CsvUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The input rows plus `predicted_revenue` and `error` (CSV), or JSON with `?format=json` / `Accept: application/json`", body = BatchResult),
        (status = 400, description = "Not a multipart form with a `file` field, or unknown model", body = ErrorBody),
        (status = 413, description = "Upload or row count over the limit", body = ErrorBody),
        (status = 422, description = "Empty file, missing column, a column outside the data contract (`unknown_column`, unless `extra_fields=ignore`) or a header that is not UTF-8; or `explain=true`, which batch scoring does not offer (`explain_not_offered`: use `/predict` or `salescast predict --explain`)", body = ErrorBody)))]
pub async fn predict_batch_csv(
    State(state): State<Shared>,
    Query(q): Query<BatchQuery>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let l = loaded(&state)?;
    let (kind, version) = pick(&l, q.model.as_deref())?;
    let extra_fields = q.extra_fields;
    // A well-formed request this route cannot carry out (explanations cost 40 times a
    // prediction, which a million-row upload must not), hence 422 rather than 400.
    if Flag::is_true(q.explain) {
        return Err(ApiError::unprocessable(
            ErrorCode::ExplainNotOffered,
            "explain=true is offered on /predict and /invocations, not on batch CSV scoring",
        )
        .field("explain"));
    }
    let json = match q.format.as_deref() {
        Some("json") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::BadFormat,
                format!("format {other:?}: expected csv or json"),
            )
            .field("format"));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json")),
    };
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err(ApiError::bad_request(
                    ErrorCode::MissingFile,
                    "expected a multipart form with a `file` field holding the CSV",
                )
                .field("file"));
            }
            Err(e) => return Err(multipart_error(&e)),
        }
    };
    // The upload is parsed while it arrives: chunks go through a bounded channel to a blocking
    // CSV reader, so memory holds a few chunks of input, not the whole file.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let max_rows = state.limits.max_batch_rows;
    let predictor_l = l.clone();
    let parse = tokio::task::spawn_blocking(move || {
        let scored = batch::score_csv(
            ChannelReader::new(rx),
            &predictor_l.predictor,
            kind,
            max_rows,
            ExtraFields::ignore(extra_fields),
        )?;
        let csv = if json {
            None
        } else {
            Some(scored.to_csv_parts())
        };
        Ok::<_, ApiError>((scored, csv))
    });
    let mut upload_error = None;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(chunk).await.is_err() {
                    break; // the parser stopped early (an error it reports itself)
                }
            }
            Ok(None) => break,
            Err(e) => {
                upload_error = Some(multipart_error(&e));
                break;
            }
        }
    }
    drop(tx);
    let scored = parse
        .await
        .map_err(|e| ApiError::internal(format!("the CSV task failed: {e}")))?;
    if let Some(e) = upload_error {
        return Err(e);
    }
    let (scored, csv) = scored?;
    let ok = scored.results().filter(|r| r.is_ok()).count();
    state.metrics.predicted(kind.name(), ok as u64);
    match csv {
        None => Ok(Json(batch_json(&scored, kind, version)).into_response()),
        Some(parts) => {
            let length = parts.iter().map(Vec::len).sum::<usize>();
            let body = axum::body::Body::from_stream(futures_util::stream::iter(
                parts
                    .into_iter()
                    .map(|p| Ok::<_, std::convert::Infallible>(Bytes::from(p))),
            ));
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_LENGTH, length.to_string()),
                ],
                body,
            )
                .into_response())
        }
    }
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(
            "the upload is larger than the limit (SALESCAST_MAX_CSV_BYTES, shown in GET /status)",
        )
        .field("file")
    } else {
        // The parser's own text names its internals; the client gets what to fix.
        tracing::debug!(reason = %e.body_text(), "unreadable multipart upload");
        ApiError::bad_request(
            ErrorCode::BadMultipart,
            "the upload is not a readable multipart/form-data body: send the CSV as one part \
             named `file`, with the boundary given in Content-Type and a closing boundary",
        )
        .field("file")
    }
}

fn batch_json(s: &ScoredCsv, kind: Kind, version: String) -> BatchResult {
    let predictions: Vec<BatchRow> = s
        .results()
        .enumerate()
        .map(|(i, r)| BatchRow {
            row: i + 1,
            predicted_revenue: r.as_ref().ok().copied(),
            error: r.as_ref().err().cloned(),
        })
        .collect();
    BatchResult {
        model: kind.name().to_owned(),
        model_version: version,
        rows: predictions.len(),
        errors: predictions.iter().filter(|r| r.error.is_some()).count(),
        predictions,
    }
}

/// A `Read` over chunks arriving on a channel, for the blocking CSV parser.
#[derive(Debug)]
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// `POST /forecast_sarima` request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastRequest {
    /// `YYYY-MM-DD`, after the last training day.
    #[schema(format = Date, example = "2026-01-01")]
    pub start_date: String,
    /// `YYYY-MM-DD`, on or after `start_date`; at most `SALESCAST_MAX_HORIZON_DAYS` days out.
    #[schema(format = Date, example = "2026-01-14")]
    pub end_date: String,
    /// Interval level in percent, in (0, 100); default 95.
    #[schema(exclusive_minimum = 0.0, exclusive_maximum = 100.0, example = 95.0)]
    pub level: Option<f64>,
    /// A store's series instead of all stores (optional).
    pub store: Option<String>,
}

impl ForecastRequest {
    /// Reads the request, naming the field at fault in our own words (serde's would name Rust
    /// types).
    fn from_json(value: Value) -> ApiResult<Self> {
        const FIELDS: [&str; 4] = ["start_date", "end_date", "level", "store"];
        let bad = |field: &str, msg: String| {
            ApiError::unprocessable(ErrorCode::BadRequestBody, msg).field(field)
        };
        let Value::Object(map) = value else {
            return Err(ApiError::unprocessable(
                ErrorCode::BadRequestBody,
                "expected a JSON object with start_date, end_date and optional level and store",
            ));
        };
        if let Some(k) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            let shown: String = k.chars().take(40).collect();
            return Err(bad(
                k,
                format!("unknown field {shown:?}: expected start_date, end_date, level, store"),
            ));
        }
        let text = |k: &str, required: bool| -> ApiResult<Option<String>> {
            match map.get(k) {
                Some(Value::String(s)) => Ok(Some(s.clone())),
                None | Some(Value::Null) if !required => Ok(None),
                None | Some(Value::Null) => Err(ApiError::unprocessable(
                    ErrorCode::MissingField,
                    format!("{k} is required (YYYY-MM-DD)"),
                )
                .field(k)),
                Some(_) => Err(bad(k, format!("{k} must be a string"))),
            }
        };
        let level = match map.get("level") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => return Err(bad("level", "level must be a number in (0, 100)".into())),
        };
        Ok(Self {
            start_date: text("start_date", true)?.unwrap_or_default(),
            end_date: text("end_date", true)?.unwrap_or_default(),
            level,
            store: text("store", false)?,
        })
    }
}

/// Daily revenue forecast with prediction intervals from the daily model.
#[utoipa::path(post, path = "/forecast_sarima",
    request_body = ForecastRequest,
    responses(
        (status = 200, description = "`{\"model\": \"sarima\", \"champion\", \"order\" (or null), \"level\", \"store\" (or null), \"last_day_seen\", \"refitted\", \"forecast\": [{\"date\", \"mean\", \"lower\", \"upper\"}]}`: one entry per day from start_date to end_date", body = Object),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "Bad date, end before start, level out of range, horizon beyond the limit", body = ErrorBody),
        (status = 503, description = "No daily model is loaded", body = ErrorBody)))]
pub async fn forecast_sarima(State(state): State<Shared>, body: Bytes) -> ApiResult<Response> {
    let value = parse_json(&body)?;
    let req = ForecastRequest::from_json(value)?;
    let date = |field: &str, s: &str| {
        salescast_core::schema::parse_date(s).map_err(|_| {
            ApiError::unprocessable(
                ErrorCode::BadDate,
                format!("{field} {s:?} is not a date (YYYY-MM-DD)"),
            )
            .field(field)
        })
    };
    let start = date("start_date", &req.start_date)?;
    let end = date("end_date", &req.end_date)?;
    if end < start {
        return Err(ApiError::unprocessable(
            ErrorCode::EndBeforeStart,
            format!("end_date {end} is before start_date {start}"),
        )
        .field("end_date"));
    }
    let level = req.level.unwrap_or(95.0);
    if !(level > 0.0 && level < 100.0) {
        return Err(ApiError::unprocessable(
            ErrorCode::OutOfRange,
            format!("level {level} must be in (0, 100)"),
        )
        .field("level"));
    }
    let l = loaded(&state)?;
    let Some(daily) = l.daily.as_ref().map(|_| l.clone()) else {
        return Err(ApiError::unavailable(
            ErrorCode::NoDailyModel,
            format!(
                "{} has no daily revenue model: train one with `salescast train --model sarima`",
                state.models_dir.display()
            ),
        ));
    };
    let daily_last = daily.daily.as_ref().map(|d| d.last_day).unwrap_or(end);
    let horizon = (end - daily_last).num_days();
    if horizon > i64::from(state.limits.max_horizon_days) {
        return Err(ApiError::unprocessable(
            ErrorCode::HorizonTooLong,
            format!(
                "end_date {end} is {horizon} days after the last training day {}; the limit is {} (SALESCAST_MAX_HORIZON_DAYS)",
                daily_last, state.limits.max_horizon_days
            ),
        )
        .field("end_date"));
    }
    // An MSTL champion refits on each request (milliseconds of CPU): off the async workers.
    let store = req.store.clone();
    let result = tokio::task::spawn_blocking(move || match daily.daily.as_ref() {
        Some(d) => d.respond(store.as_deref(), start, end, level),
        None => Err(salescast_daily::DailyError::Mstl(
            "daily model vanished".into(),
        )),
    })
    .await
    .map_err(|e| ApiError::internal(format!("forecast task failed: {e}")))?;
    let body = result.map_err(|e| match e {
        salescast_daily::DailyError::Request { field, reason } => {
            let code = match field {
                "start_date" => ErrorCode::StartInTrainingPeriod,
                "end_date" => ErrorCode::HorizonTooLong,
                "store" => ErrorCode::UnknownStore,
                _ => ErrorCode::OutOfRange,
            };
            ApiError::unprocessable(code, format!("{field}: {reason}")).field(field)
        }
        other => ApiError::internal(format!("forecast failed: {other}")),
    })?;
    Ok(Json(body).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatus {
    pub name: String,
    pub version: String,
    pub champion: bool,
    /// When the training ran (from the untracked `timings.json`; absent when that file is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trained_at: Option<String>,
    /// Seconds of the evaluation fit (from `timings.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit_seconds: Option<f64>,
    /// Whether the served model was refitted on every day after its evaluation.
    pub refitted: bool,
    /// The days and rows the served model was fitted on; `last` is the last day it saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fitted_on: Option<salescast_core::DayRange>,
    /// The last day the served model saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_day_seen: Option<chrono::NaiveDate>,
    /// The held-out window `test_metrics` come from (scores of the evaluation fit).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub evaluated_on: Option<salescast_core::DayRange>,
    #[schema(value_type = Object)]
    pub test_metrics: Scores,
    /// Split-gain importance per feature, normalised to sum to 1, largest first.
    pub feature_importance: Vec<FeatureImportance>,
    /// Mean absolute TreeSHAP value of the evaluation fit on the held-out days, per
    /// data-contract field and per feature, in revenue units (absent for models trained
    /// before explanations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shap_importance: Option<ShapImportance>,
    /// The MLflow run that logged this model version, when it went to a server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_run_id: Option<String>,
}

/// One feature's share of a model's split gain.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureImportance {
    pub feature: String,
    pub importance: f64,
}

/// Global importance as the mean absolute TreeSHAP value, largest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShapImportance {
    /// Held-out rows explained (at most 2,000, evenly spaced over the days).
    pub rows: usize,
    pub fields: Vec<MeanAbsShap>,
    pub features: Vec<MeanAbsShap>,
}

/// One field's or feature's mean absolute contribution.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeanAbsShap {
    pub name: String,
    pub mean_abs_shap: f64,
}

impl From<&salescast_models::serving::ShapImportance> for ShapImportance {
    fn from(s: &salescast_models::serving::ShapImportance) -> Self {
        let list = |v: &[salescast_models::serving::Contribution]| {
            v.iter()
                .map(|c| MeanAbsShap {
                    name: c.name.clone(),
                    mean_abs_shap: c.value,
                })
                .collect()
        };
        Self {
            rows: s.rows,
            fields: list(&s.by_field),
            features: list(&s.by_feature),
        }
    }
}

/// The training data behind the served models.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingData {
    pub sha256: String,
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_end: chrono::NaiveDate,
    pub test_start: chrono::NaiveDate,
}

/// The request limits in force, so that clients (the UI) can check an upload before sending it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusLimits {
    pub max_csv_bytes: usize,
    pub max_json_bytes: usize,
    pub max_batch_rows: usize,
    pub max_horizon_days: u32,
    pub timeout_seconds: f64,
    /// The longest field value, in characters.
    pub max_field_chars: usize,
    /// The most columns in a CSV upload.
    pub max_columns: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    pub service: String,
    pub version: String,
    pub uptime_seconds: f64,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub models_dir: String,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last load or reload attempt; when it failed, the models above keep serving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_load: Option<LoadAttempt>,
    /// The registered model followed, when the service serves from the MLflow registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<crate::registry::RegistryStatus>,
    pub models: Vec<ModelStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training_data_sha256: Option<String>,
    /// The training data's hash, sizes and split dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training_data: Option<TrainingData>,
    /// The seasonal-naive baseline's scores on the same held-out rows as `test_metrics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub baseline: Option<Scores>,
    /// The champion among the transaction models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion: Option<String>,
    /// The daily revenue model behind `/forecast_sarima`, when one is loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailyStatus>,
    pub limits: StatusLimits,
}

/// The daily champion: what it is, when it was trained, and how it scored on the test window.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyStatus {
    pub champion: String,
    pub order: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trained_at: Option<String>,
    pub first_training_day: chrono::NaiveDate,
    /// The last day the served champion saw; its forecasts start the day after.
    pub last_training_day: chrono::NaiveDate,
    /// Whether the served champion was re-estimated on every day after its evaluation.
    pub refitted: bool,
    /// The held-out window `test_metrics` come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub evaluated_on: Option<salescast_core::DayRange>,
    pub stores: Vec<String>,
    /// MAE, RMSE, MAPE and MASE on the test window.
    #[schema(value_type = Object)]
    pub test_metrics: Option<serde_json::Value>,
    /// Every candidate of the selection with its backtest scores, as `sarima.json` keeps them.
    pub backtest: Vec<BacktestScore>,
}

/// One candidate's backtest: mean MASE over the windows (`null` when a window failed), MASE
/// per window (`null` for a failed one), the reason it failed, and its interval calibration.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacktestScore {
    pub candidate: String,
    pub mean_mase: Option<f64>,
    pub window_mase: Vec<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_scale: Option<f64>,
}

fn status_of(state: &AppState) -> Status {
    let l = state.current();
    let models = l
        .as_ref()
        .map(|l| {
            let m = &l.predictor.manifest;
            let timing =
                |name: &str, key: &str| l.timings.get("models")?.get(name)?.get(key).cloned();
            let trained_at = l
                .timings
                .get("trained_at")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            // The train stage's sidecar tying each model version to its tracking run.
            let runs: serde_json::Map<String, Value> =
                std::fs::read(state.models_dir.join(salescast_core::models_dir::RUN_KEYS))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
            m.models
                .iter()
                .map(|(name, e)| ModelStatus {
                    name: name.clone(),
                    version: e.version.clone(),
                    champion: *name == m.champion,
                    trained_at: trained_at.clone(),
                    fit_seconds: timing(name, "fit_seconds").and_then(|v| v.as_f64()),
                    refitted: e.refitted,
                    fitted_on: e.fitted_on,
                    last_day_seen: e.fitted_on.map(|f| f.last),
                    evaluated_on: e.evaluated_on,
                    test_metrics: e.test_metrics,
                    feature_importance: importance(l, e.kind),
                    shap_importance: e.shap_importance.as_ref().map(ShapImportance::from),
                    mlflow_run_id: runs
                        .get(name)
                        .filter(|r| r.get("version").and_then(Value::as_str) == Some(&e.version))
                        .and_then(|r| r.get("run_id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default();
    Status {
        service: "salescast-api".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        started_at: state.started_at,
        models_dir: state.models_dir.display().to_string(),
        limits: StatusLimits {
            max_field_chars: input::MAX_FIELD_CHARS,
            max_columns: input::MAX_COLUMNS,
            max_csv_bytes: state.limits.max_csv_bytes,
            max_json_bytes: state.limits.max_json_bytes,
            max_batch_rows: state.limits.max_batch_rows,
            max_horizon_days: state.limits.max_horizon_days,
            timeout_seconds: state.limits.timeout.as_secs_f64(),
        },
        ready: l.is_some(),
        loaded_at: l.as_ref().map(|l| l.loaded_at),
        last_load: state.last_attempt(),
        registry: state.registry.as_ref().map(|r| r.status()),
        models,
        daily: l.as_ref().and_then(|l| {
            l.daily.as_ref().map(|d| DailyStatus {
                champion: d.model_name(),
                order: d.champion.order().map(|o| o.to_string()),
                trained_at: l
                    .timings
                    .get("sarima")
                    .and_then(|s| s.get("trained_at"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                first_training_day: d.start,
                last_training_day: d.last_day,
                refitted: d.refitted,
                evaluated_on: d.evaluated_on,
                stores: d.stores.keys().cloned().collect(),
                test_metrics: d.test.and_then(|t| serde_json::to_value(t).ok()),
                backtest: d
                    .candidates
                    .iter()
                    .map(|c| BacktestScore {
                        candidate: c.name.clone(),
                        mean_mase: c.mean_mase,
                        window_mase: c
                            .fold_mase
                            .iter()
                            .map(|v| v.is_finite().then_some(*v))
                            .collect(),
                        error: c.error.clone(),
                        interval_scale: c.interval_scale,
                    })
                    .collect(),
            })
        }),
        training_data_sha256: l
            .as_ref()
            .map(|l| l.predictor.manifest.training_data_sha256.clone()),
        training_data: l.as_ref().map(|l| {
            let m = &l.predictor.manifest;
            TrainingData {
                sha256: m.training_data_sha256.clone(),
                train_rows: m.train_rows,
                test_rows: m.test_rows,
                train_end: m.train_end,
                test_start: m.test_start,
            }
        }),
        baseline: l.as_ref().and_then(|l| l.predictor.manifest.baseline),
        champion: l.as_ref().map(|l| l.predictor.manifest.champion.clone()),
    }
}

/// A model's importance, normalised, with the transform's feature names, largest first.
fn importance(l: &Loaded, kind: Kind) -> Vec<FeatureImportance> {
    let Some(model) = l.predictor.models.get(&kind) else {
        return Vec::new();
    };
    let raw = model.importance();
    let total: f64 = raw.iter().filter(|v| v.is_finite()).sum();
    let mut out: Vec<FeatureImportance> = l
        .predictor
        .transform
        .feature_names
        .iter()
        .zip(raw)
        .map(|(f, v)| FeatureImportance {
            feature: f.clone(),
            importance: if total > 0.0 && v.is_finite() {
                v / total
            } else {
                0.0
            },
        })
        .collect();
    out.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    out
}

/// Service version, uptime and the loaded models with their test metrics.
#[utoipa::path(get, path = "/status", responses((status = 200, body = Status)))]
pub async fn status(State(state): State<Shared>) -> Json<Status> {
    Json(status_of(&state))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub async fn health() -> Json<Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: models are loaded.
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, description = "Models loaded"),
    (status = 503, description = "Not ready; the reason", body = ErrorBody)))]
pub async fn ready(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    let l = loaded(&state)?;
    let models: BTreeMap<&str, &str> = l
        .predictor
        .manifest
        .models
        .iter()
        .map(|(k, e)| (k.as_str(), e.version.as_str()))
        .collect();
    Ok(Json(
        serde_json::json!({"status": "ready", "models": models}),
    ))
}

/// Prometheus metrics: OpenMetrics text when the `Accept` header asks for
/// `application/openmetrics-text` (as Prometheus itself does), else Prometheus text 0.0.4.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format 0.0.4 (text/plain), or OpenMetrics 1.0 (application/openmetrics-text) when Accept asks for it", content_type = "text/plain")))]
pub async fn metrics(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/openmetrics-text")
        });
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            state.metrics.render(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            state.metrics.render_prometheus(),
        )
            .into_response()
    }
}

/// MLflow's scoring protocol: a JSON envelope (`dataframe_split`, `dataframe_records`,
/// `instances` or `inputs`), or a CSV body (`Content-Type: text/csv`: a header of contract
/// columns, one transaction a line), as MLflow's scoring server takes them.
#[utoipa::path(post, path = "/invocations", params(ScoreQuery),
    request_body(content = Object, description = "An MLflow scoring envelope (application/json), or a CSV with a header (text/csv)"),
    responses(
        (status = 200, description = "`{\"predictions\": [f64, ...]}`; with `?explain=true` also `explanations`, one `Explanation` per row", body = InvocationsResponse),
        (status = 400, description = "Malformed JSON, or a CSV body that is not UTF-8 (`malformed_csv`)", body = ErrorBody),
        (status = 422, description = "Bad envelope, a CSV line that cannot be read, or a field that breaks the data contract", body = ErrorBody)))]
pub async fn invocations(
    State(state): State<Shared>,
    Query(q): Query<ScoreQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<InvocationsResponse>> {
    let l = loaded(&state)?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    let explain = Flag::is_true(q.explain);
    let p = if csv {
        // A CSV body, as MLflow's scoring server takes it: a header, then one row a line.
        pick(&l, q.model.as_deref())?;
        let rows = input::csv_cells(&body, ExtraFields::ignore(q.extra_fields))?;
        row_count(&state, rows.len())?;
        score_cells(
            &state,
            &l,
            rows.into_iter()
                .enumerate()
                .map(|(i, cells)| Ok((format!("[{i}]."), cells))),
            &q,
        )?
    } else {
        let rows = input::envelope_rows(&parse_json(&body)?)?;
        score_rows(&state, &l, &rows, &q, true)?
    };
    let predictions: Vec<f64> = p.iter().map(|p| p.predicted_revenue).collect();
    let explanations = explain.then(|| p.into_iter().filter_map(|p| p.explanation).collect());
    Ok(Json(InvocationsResponse {
        predictions,
        explanations,
    }))
}

/// `/invocations`' answer, as MLflow's scoring server gives it, plus explanations on request.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvocationsResponse {
    pub predictions: Vec<f64>,
    /// With `?explain=true` only: one per prediction, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanations: Option<Vec<Explanation>>,
}

/// Reload the models directory (bearer token from `SALESCAST_ADMIN_TOKEN`). The new models are
/// checked before they replace the old ones; on failure the old ones keep serving.
#[utoipa::path(post, path = "/admin/reload", responses(
    (status = 200, description = "Reloaded; the new status", body = Status),
    (status = 401, description = "Missing or wrong token", body = ErrorBody),
    (status = 404, description = "Admin routes are off (no SALESCAST_ADMIN_TOKEN)", body = ErrorBody),
    (status = 422, description = "The new models failed to load; the old ones keep serving", body = ErrorBody)))]
pub async fn admin_reload(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> ApiResult<Json<Status>> {
    let Some(token) = &state.admin_token else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::AdminDisabled,
            "admin routes are off: set SALESCAST_ADMIN_TOKEN to enable them",
        ));
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !sent.is_some_and(|s| constant_time_eq(s.as_bytes(), token.as_bytes())) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "send Authorization: Bearer <SALESCAST_ADMIN_TOKEN>",
        ));
    }
    match state.refresh().await {
        Ok(_) => {
            tracing::info!(dir = %state.models_dir.display(), "models reloaded");
            Ok(Json(status_of(&state)))
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; the previous models keep serving");
            Err(ApiError::unprocessable(ErrorCode::ReloadFailed, e))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
