//! The UI's only way out: `salescast-api` over HTTP.
//!
//! Read-only answers (`/catalog`, `/history`, forecasts) depend only on the models the API has
//! loaded, so they are cached under the API's `loaded_at` and reused until a reload changes it.
//! Every page asks `/status` first: that one call tells whether the API is up and whether the
//! cache is still current. When the API is down, slow or answering garbage, pages get the last
//! good answer (marked stale) and a banner.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Result, UiError};

/// Scores as the API reports them (`null` where a metric is undefined).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Scores {
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
    pub r2: Option<f64>,
    #[serde(default)]
    pub mape: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct DayRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub rows: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeatureImportance {
    pub feature: String,
    pub importance: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelStatus {
    pub name: String,
    pub version: String,
    pub champion: bool,
    pub trained_at: Option<String>,
    #[serde(default)]
    pub refitted: bool,
    pub fitted_on: Option<DayRange>,
    pub evaluated_on: Option<DayRange>,
    #[serde(default)]
    pub test_metrics: Scores,
    #[serde(default)]
    pub feature_importance: Vec<FeatureImportance>,
    #[serde(default)]
    pub shap_importance: Option<ShapImportance>,
    pub mlflow_run_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrainingData {
    pub sha256: String,
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_end: NaiveDate,
    pub test_start: NaiveDate,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DailyStatus {
    pub champion: String,
    pub order: Option<String>,
    pub first_training_day: NaiveDate,
    pub last_training_day: NaiveDate,
    #[serde(default)]
    pub refitted: bool,
    #[serde(default)]
    pub stores: Vec<String>,
    pub test_metrics: Option<Value>,
    /// The selection's candidates and their backtest scores (absent from older APIs).
    #[serde(default)]
    pub backtest: Vec<BacktestScore>,
}

/// One candidate of the daily selection, as `/status` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct BacktestScore {
    pub candidate: String,
    pub mean_mase: Option<f64>,
    pub window_mase: Vec<Option<f64>>,
    pub error: Option<String>,
    pub interval_scale: Option<f64>,
}

/// The API's request limits, as `/status` reports them.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Limits {
    pub max_csv_bytes: u64,
    pub max_batch_rows: u64,
    pub max_horizon_days: u32,
}

/// `GET /status`.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub version: String,
    pub ready: bool,
    pub loaded_at: Option<String>,
    #[serde(default)]
    pub models: Vec<ModelStatus>,
    pub training_data: Option<TrainingData>,
    pub baseline: Option<Scores>,
    pub champion: Option<String>,
    pub daily: Option<DailyStatus>,
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub product_id: String,
    pub category: Option<String>,
    pub median_price: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// `GET /catalog`.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub stores: Vec<String>,
    pub categories: Vec<String>,
    pub customer_segments: Vec<String>,
    pub payment_methods: Vec<String>,
    pub products: Vec<Product>,
    /// A typical transaction (the data contract's context fields).
    pub typical: BTreeMap<String, Value>,
    pub ranges: BTreeMap<String, Range>,
    pub train_end: NaiveDate,
}

pub use salescast_core::history::{DayTotals, GroupTotals, Slice, Totals, WeekdayTotals};

/// `GET /history`: the whole history's first and last day, and the selected slice.
#[derive(Debug, Clone, Deserialize)]
pub struct History {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    #[serde(flatten)]
    pub slice: Slice,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ForecastPoint {
    pub date: NaiveDate,
    pub mean: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// `POST /forecast_sarima`.
#[derive(Debug, Clone, Deserialize)]
pub struct Forecast {
    pub champion: String,
    pub order: Option<String>,
    pub level: f64,
    pub store: Option<String>,
    pub last_day_seen: NaiveDate,
    #[serde(default)]
    pub refitted: bool,
    pub forecast: Vec<ForecastPoint>,
}

/// One answer of `POST /predict`.
#[derive(Debug, Clone, Deserialize)]
pub struct Prediction {
    pub predicted_revenue: f64,
    pub model: String,
    pub model_version: String,
    /// With `explain` only.
    #[serde(default)]
    pub explanation: Option<Explanation>,
}

/// A prediction's TreeSHAP explanation, as `/predict?explain=true` gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct Explanation {
    pub expected_value: f64,
    pub contributions: Vec<Contribution>,
    pub feature_contributions: Vec<Contribution>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Contribution {
    pub name: String,
    pub contribution: f64,
}

/// A model's mean absolute TreeSHAP values on its held-out days (`/status`).
#[derive(Debug, Clone, Deserialize)]
pub struct ShapImportance {
    pub rows: usize,
    pub fields: Vec<MeanAbsShap>,
    pub features: Vec<MeanAbsShap>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MeanAbsShap {
    pub name: String,
    pub mean_abs_shap: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Predictions {
    pub predictions: Vec<Prediction>,
}

/// The API's error body.
#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    field: Option<String>,
}

type Shared = Arc<dyn Any + Send + Sync>;

/// Most answers kept per map.
pub const MAX_CACHED: usize = 256;

#[derive(Debug, Default)]
struct Cache {
    /// The `loaded_at` of the models the fresh entries came from.
    generation: Option<String>,
    fresh: HashMap<String, Shared>,
    /// The last good answer per key, whatever its generation.
    last_good: HashMap<String, Shared>,
    status: Option<Arc<Status>>,
}

/// An answer, fresh or the last good one from before a failure.
#[derive(Debug)]
pub struct Fetched<T> {
    pub value: Option<Arc<T>>,
    pub error: Option<UiError>,
}

impl<T> Fetched<T> {
    /// Whether the value is older than the failure that came with it.
    pub fn stale(&self) -> bool {
        self.value.is_some() && self.error.is_some()
    }
}

/// Client of one `salescast-api`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    cache: Arc<Mutex<Cache>>,
}

impl ApiClient {
    /// `base` is the API's address (`http://127.0.0.1:5001`); every call times out after
    /// `timeout`, which is what turns a slow API into a banner instead of a hung page.
    pub fn new(base: &str, timeout: Duration) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| UiError::Config {
            name: "api-url",
            reason: format!("`{base}` is not a URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(UiError::Config {
                name: "api-url",
                reason: format!("`{base}` must be an http(s) address with a host"),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .build()
            .map_err(|e| UiError::Config {
                name: "api-url",
                reason: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            base,
            http,
            cache: Arc::new(Mutex::new(Cache::default())),
        })
    }

    /// The API's address, as shown in the banner.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the maps half-written in a way that
        // matters (each insert is one call), so a poisoned lock is taken over.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `GET /status`, fresh. A change of `loaded_at` drops the cached answers of the old models.
    pub async fn status(&self) -> Fetched<Status> {
        match self.get_json::<Status>("/status").await {
            Ok(s) => {
                let s = Arc::new(s);
                let mut c = self.lock();
                if c.generation != s.loaded_at {
                    c.generation = s.loaded_at.clone();
                    c.fresh.clear();
                }
                c.status = Some(s.clone());
                Fetched {
                    value: Some(s),
                    error: None,
                }
            }
            Err(e) => Fetched {
                value: self.lock().status.clone(),
                error: Some(e),
            },
        }
    }

    /// A read-only answer: cached for the current models, fetched otherwise; after a failure,
    /// the last good answer with the error. `up` is false when `/status` already failed, so a
    /// page does not wait for a dead API once per section.
    pub async fn cached<T, F, Fut>(&self, key: &str, up: bool, fetch: F) -> Fetched<T>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let hit = {
            let c = self.lock();
            c.fresh.get(key).cloned()
        };
        if let Some(v) = hit.and_then(|v| v.downcast::<T>().ok()) {
            return Fetched {
                value: Some(v),
                error: None,
            };
        }
        let result = if up {
            fetch().await
        } else {
            Err(UiError::Unreachable {
                url: self.base.clone(),
                reason: "the API did not answer /status".into(),
            })
        };
        match result {
            Ok(v) => {
                let v = Arc::new(v);
                let mut c = self.lock();
                // Every range a user picks is a key: the cache is bounded, dropping everything
                // when full (the next pages refill it from the API).
                if c.fresh.len() >= MAX_CACHED {
                    c.fresh.clear();
                }
                if c.last_good.len() >= MAX_CACHED {
                    c.last_good.clear();
                }
                c.fresh.insert(key.to_owned(), v.clone());
                c.last_good.insert(key.to_owned(), v.clone());
                Fetched {
                    value: Some(v),
                    error: None,
                }
            }
            Err(e) => {
                let stale = {
                    let c = self.lock();
                    c.last_good.get(key).cloned()
                };
                Fetched {
                    value: stale.and_then(|v| v.downcast::<T>().ok()),
                    error: Some(e),
                }
            }
        }
    }

    /// `GET /catalog`.
    pub async fn catalog(&self, up: bool) -> Fetched<Catalog> {
        self.cached("catalog", up, || self.get_json("/catalog"))
            .await
    }

    /// `GET /history` for a range, store and category.
    pub async fn history(
        &self,
        up: bool,
        start: NaiveDate,
        end: NaiveDate,
        store: Option<&str>,
        category: Option<&str>,
    ) -> Fetched<History> {
        let mut url = reqwest::Url::parse("http://x/history").unwrap_or_else(|_| unreachable!());
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("start", &start.to_string());
            q.append_pair("end", &end.to_string());
            if let Some(s) = store {
                q.append_pair("store", s);
            }
            if let Some(c) = category {
                q.append_pair("category", c);
            }
        }
        let path = format!("/history?{}", url.query().unwrap_or_default());
        self.cached(&path.clone(), up, || self.get_json(&path))
            .await
    }

    /// `POST /forecast_sarima`.
    pub async fn forecast(
        &self,
        up: bool,
        store: Option<&str>,
        start: NaiveDate,
        end: NaiveDate,
        level: f64,
    ) -> Fetched<Forecast> {
        let body = serde_json::json!({
            "start_date": start.to_string(),
            "end_date": end.to_string(),
            "level": level,
            "store": store,
        });
        let key = format!("forecast {body}");
        self.cached(&key, up, || self.post_json("/forecast_sarima", &body))
            .await
    }

    /// `POST /predict` with an array of transactions (never cached).
    pub async fn predict(&self, rows: &[Value], model: Option<&str>) -> Result<Vec<Prediction>> {
        let path = match model {
            Some(m) => format!("/predict?model={m}"),
            None => "/predict".to_owned(),
        };
        let p: Predictions = self.post_json(&path, &Value::Array(rows.to_vec())).await?;
        Ok(p.predictions)
    }

    /// `POST /predict` with one transaction, explained (TreeSHAP) when `explain`.
    pub async fn predict_one(
        &self,
        row: &Value,
        model: Option<&str>,
        explain: bool,
    ) -> Result<Prediction> {
        let mut query: Vec<String> = Vec::new();
        if let Some(m) = model {
            query.push(format!("model={m}"));
        }
        if explain {
            query.push("explain=true".into());
        }
        let path = if query.is_empty() {
            "/predict".to_owned()
        } else {
            format!("/predict?{}", query.join("&"))
        };
        self.post_json(&path, row).await
    }

    /// `POST /predict_batch_csv` with a streamed body; the answer comes back as a stream too.
    /// `ignore_extra` asks the API to pass columns outside the data contract through
    /// (`extra_fields=ignore`) instead of refusing the file.
    pub async fn batch_csv(
        &self,
        file: tokio::fs::File,
        length: u64,
        filename: &str,
        ignore_extra: bool,
    ) -> Result<reqwest::Response> {
        let stream = tokio_util::io::ReaderStream::new(file);
        let part = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::wrap_stream(stream),
            length,
        )
        .file_name(filename.to_owned())
        .mime_str("text/csv")
        .map_err(|_| self.garbage("/predict_batch_csv", "the upload's type is refused".into()))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let resp = self
            .http
            .post(self.url(if ignore_extra {
                "/predict_batch_csv?extra_fields=ignore"
            } else {
                "/predict_batch_csv"
            }))
            .header(reqwest::header::ACCEPT, "text/csv")
            // A large file takes longer than a page's API call; the API bounds its own work.
            .timeout(Duration::from_secs(300))
            .multipart(form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.failure("/predict_batch_csv", resp).await)
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.decode(path, resp).await
    }

    async fn post_json<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        let resp = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.decode(path, resp).await
    }

    async fn decode<T: DeserializeOwned>(&self, path: &str, resp: reqwest::Response) -> Result<T> {
        if !resp.status().is_success() {
            return Err(self.failure(path, resp).await);
        }
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(path, error = %e, "the API's answer does not decode");
            self.garbage(
                path,
                "the answer is not the JSON its OpenAPI document describes".into(),
            )
        })
    }

    /// A non-2xx answer: the API's own error for a 4xx, a failure of the API for the rest.
    async fn failure(&self, path: &str, resp: reqwest::Response) -> UiError {
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        let parsed = serde_json::from_slice::<ErrorEnvelope>(&bytes).ok();
        match parsed {
            Some(e) if status.is_client_error() || status.as_u16() == 503 => UiError::Rejected {
                status: status.as_u16(),
                code: e.error.code,
                message: e.error.message,
                field: e.error.field,
            },
            _ => self.garbage(path, format!("HTTP {status}")),
        }
    }

    fn unreachable(&self, e: reqwest::Error) -> UiError {
        let reason = if e.is_timeout() {
            "no answer within the time limit".to_owned()
        } else if e.is_connect() {
            "connection refused or unreachable".to_owned()
        } else if e.is_decode() || e.is_body() {
            "the answer broke off".to_owned()
        } else {
            "the request failed".to_owned()
        };
        UiError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    fn garbage(&self, path: &str, reason: String) -> UiError {
        UiError::BadAnswer {
            url: self.url(path),
            reason,
        }
    }
}
