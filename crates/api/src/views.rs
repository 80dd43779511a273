//! Read-only routes for the analysts' UI: the daily history by store and category, and the
//! catalog of what the models know (stores, categories, products, segments, payment methods)
//! with a typical row and value ranges for forms.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use chrono::NaiveDate;
use salescast_core::history::{Selection, Slice};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::routes::{Shared, TransactionInput};
use crate::state::Loaded;

/// `GET /history` filters. Every one is optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// First day, `YYYY-MM-DD` (default, or empty: the first day of the data).
    #[param(pattern = r"^(\d{4}-\d{2}-\d{2})?$")]
    pub start: Option<String>,
    /// Last day, `YYYY-MM-DD` (default, or empty: the last day of the data).
    #[param(pattern = r"^(\d{4}-\d{2}-\d{2})?$")]
    pub end: Option<String>,
    /// One store (default: all).
    pub store: Option<String>,
    /// One category (default: all).
    pub category: Option<String>,
}

/// The days of a selection and its breakdowns.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// The whole history's first and last day, whatever was selected.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `start`, `end`, `totals`, `daily` (every day, zeros included), `by_store` and
    /// `by_category` (largest revenue first; each within the other filter), `by_weekday`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub slice: Slice,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn date_param(value: Option<String>, field: &str) -> ApiResult<Option<NaiveDate>> {
    blank_to_none(value)
        .map(|v| {
            salescast_core::schema::parse_date(&v).map_err(|_| {
                ApiError::unprocessable(
                    ErrorCode::BadDate,
                    format!("{field}: `{v}` is not a YYYY-MM-DD date"),
                )
                .field(field)
            })
        })
        .transpose()
}

fn with_history(l: &Loaded) -> ApiResult<&salescast_core::history::DailyHistory> {
    l.history.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            ErrorCode::NoHistory,
            "the models directory has no history.json (train the models again to add it)",
        )
    })
}

/// Daily revenue, transactions and units for a date range, a store and a category, with the
/// breakdowns by store, by category and by weekday.
#[utoipa::path(get, path = "/history", params(HistoryQuery),
    responses(
        (status = 200, body = History),
        (status = 400, description = "A query parameter that is not one of these, or one given twice", body = ErrorBody),
        (status = 404, description = "No history saved with the models", body = ErrorBody),
        (status = 422, description = "A bad date, a range that ends before it starts, or an unknown store or category", body = ErrorBody),
        (status = 503, description = "No models loaded", body = ErrorBody)))]
pub async fn history(
    State(state): State<Shared>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<History>> {
    let l = crate::routes::loaded(&state)?;
    let h = with_history(&l)?;
    let start = date_param(q.start, "start")?;
    let end = date_param(q.end, "end")?;
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(ApiError::unprocessable(
            ErrorCode::BadRange,
            format!("end {e} is before start {s}"),
        )
        .field("end"));
    }
    let store = blank_to_none(q.store);
    let category = blank_to_none(q.category);
    let (store_ok, category_ok) = h.knows(store.as_deref(), category.as_deref());
    if !store_ok {
        return Err(ApiError::unprocessable(
            ErrorCode::UnknownStore,
            format!(
                "store `{}` is not in the history",
                store.unwrap_or_default()
            ),
        )
        .field("store"));
    }
    if !category_ok {
        return Err(ApiError::unprocessable(
            ErrorCode::UnknownCategory,
            format!(
                "category `{}` is not in the history",
                category.unwrap_or_default()
            ),
        )
        .field("category"));
    }
    if start.is_some_and(|s| s > h.last) || end.is_some_and(|e| e < h.first) {
        return Err(ApiError::unprocessable(
            ErrorCode::OutOfRange,
            format!("the history runs from {} to {}", h.first, h.last),
        )
        .field(if start.is_some_and(|s| s > h.last) {
            "start"
        } else {
            "end"
        }));
    }
    let slice = h.slice(&Selection {
        start,
        end,
        store: store.clone(),
        category: category.clone(),
    });
    Ok(Json(History {
        first_day: h.first,
        last_day: h.last,
        store,
        category,
        slice,
    }))
}

/// A product the models know, with its most frequent category and median list price on the
/// training days.
#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub product_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_price: Option<f64>,
}

/// A numeric field's usual range: the 1st and 99th percentiles of the training sample.
#[derive(Debug, Serialize, ToSchema)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// What the models know, for forms: the choices, a typical row and the usual ranges.
#[derive(Debug, Serialize, ToSchema)]
pub struct Catalog {
    pub stores: Vec<String>,
    pub categories: Vec<String>,
    pub customer_segments: Vec<String>,
    pub payment_methods: Vec<String>,
    pub products: Vec<Product>,
    /// The most frequent value of each categorical field and the median of each numeric one
    /// (from the monitor's reference sample when there is one), dated the day after training.
    pub typical: TransactionInput,
    /// `unit_price` and `discount`.
    pub ranges: BTreeMap<String, Range>,
    /// The last day the transaction models were trained on.
    pub train_end: NaiveDate,
}

/// The reference profile's column `name` (the payload of the versioned `reference.json`).
fn reference_column<'a>(reference: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    let columns = reference?.get("payload")?.get("columns")?.as_array()?;
    columns
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

fn mode(reference: Option<&Value>, name: &str) -> Option<String> {
    reference_column(reference, name)?
        .get("categories")?
        .as_array()?
        .first()?
        .get(0)?
        .as_str()
        .map(str::to_owned)
}

fn quantile(reference: Option<&Value>, name: &str, q: f64) -> Option<f64> {
    reference_column(reference, name)?
        .get("distribution")?
        .get("quantiles")?
        .as_array()?
        .iter()
        .find(|p| p.get(0).and_then(Value::as_f64) == Some(q))?
        .get(1)?
        .as_f64()
        .filter(|v| v.is_finite())
}

/// The stores, categories, products, segments and payment methods the models were trained on,
/// a typical row to start a form from, and the usual range of each numeric field.
#[utoipa::path(get, path = "/catalog",
    responses(
        (status = 200, body = Catalog),
        (status = 503, description = "No models loaded", body = ErrorBody)))]
pub async fn catalog(State(state): State<Shared>) -> ApiResult<Json<Catalog>> {
    let l = crate::routes::loaded(&state)?;
    let t = &l.predictor.transform;
    let c = &t.cleaning;
    let reference = l.reference.as_ref();
    let products: Vec<Product> = t
        .products
        .values()
        .iter()
        .map(|p| Product {
            product_id: p.clone(),
            category: c.product_category.get(p).cloned(),
            median_price: c.product_median_price.get(p).copied(),
        })
        .collect();
    let first = |v: &[String]| v.first().cloned().unwrap_or_else(|| "Unknown".into());
    let known = |field: &str, vocab: &[String]| {
        mode(reference, field)
            .filter(|m| vocab.contains(m))
            .unwrap_or_else(|| first(vocab))
    };
    let product_id = known("product_id", t.products.values());
    let category = c
        .product_category
        .get(&product_id)
        .cloned()
        .unwrap_or_else(|| known("category", t.categories.values()));
    let unit_price = c
        .product_median_price
        .get(&product_id)
        .copied()
        .unwrap_or(c.global_median_price);
    let train_end = l.predictor.manifest.train_end;
    let typical = TransactionInput {
        transaction_id: None,
        date: (train_end + chrono::Days::new(1)).to_string(),
        store_id: known("store_id", t.stores.values()),
        product_id,
        category: Some(category),
        unit_price: Some(unit_price),
        discount: Some(quantile(reference, "discount", 0.5).unwrap_or(0.0)),
        promotion: Some(mode(reference, "promotion").as_deref() == Some("true")),
        customer_segment: Some(known("customer_segment", t.segments.values())),
        payment_method: Some(known("payment_method", t.payments.values())),
    };
    let mut ranges = BTreeMap::new();
    let price_hi = c
        .product_median_price
        .values()
        .copied()
        .fold(c.global_median_price, f64::max);
    ranges.insert(
        "unit_price".to_owned(),
        Range {
            min: quantile(reference, "unit_price", 0.01).unwrap_or(0.0),
            max: quantile(reference, "unit_price", 0.99).unwrap_or(price_hi),
        },
    );
    ranges.insert(
        "discount".to_owned(),
        Range {
            min: 0.0,
            max: quantile(reference, "discount", 0.99)
                .filter(|v| *v > 0.0)
                .unwrap_or(0.5)
                .min(0.99),
        },
    );
    Ok(Json(Catalog {
        stores: t.stores.values().to_vec(),
        categories: t.categories.values().to_vec(),
        customer_segments: t.segments.values().to_vec(),
        payment_methods: t.payments.values().to_vec(),
        products,
        typical,
        ranges,
        train_end,
    }))
}
