//! A typed async client for MLflow's REST API (2.x endpoints, plus 3.x logged models).
//!
//! One `reqwest::Client` is shared by every call. Idle connections are not kept: MLflow 3's
//! default multi-worker server leaves Nagle's algorithm on for accepted sockets, which adds about
//! 40 ms to every request on a reused connection, while a fresh loopback connection costs about
//! 1 ms. Connection errors and 5xx answers are retried with exponential backoff; 4xx answers are
//! errors that name the call, the status, MLflow's `error_code` and its message.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Result, TrackingError};
use crate::record::Metric;

/// MLflow's per-request limits for `runs/log-batch`.
pub const BATCH_METRICS: usize = 1000;
pub const BATCH_PARAMS: usize = 100;
pub const BATCH_TAGS: usize = 100;
/// MLflow's limit on a request body; batches are cut well below it.
pub const BATCH_BYTES: usize = 1_000_000;

/// Retry policy for transient failures.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_delay: Duration::from_millis(250),
        }
    }
}

/// A connection to one MLflow server.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    http: reqwest::Client,
    base: String,
    retry: Retry,
    /// Sent with every call (reqwest marks the header sensitive, so it is never logged).
    credentials: Credentials,
    /// Experiments and registered models already resolved by this client: each costs a request
    /// per run otherwise.
    known: std::sync::Arc<std::sync::Mutex<Known>>,
}

#[derive(Debug, Default)]
struct Known {
    experiments: std::collections::HashMap<String, Experiment>,
    registered: std::collections::HashSet<String>,
}

/// An experiment as the server describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    #[serde(default)]
    pub artifact_location: String,
}

/// The parts of a run this crate reads back.
#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    #[serde(default)]
    pub run_name: String,
    pub status: String,
    #[serde(default)]
    pub artifact_uri: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunData {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl RunData {
    pub fn tag(&self, key: &str) -> Option<&str> {
        find(&self.tags, key)
    }
    pub fn param(&self, key: &str) -> Option<&str> {
        find(&self.params, key)
    }
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.key == key).map(|m| m.value)
    }
}

fn find<'a>(kv: &'a [KeyValue], key: &str) -> Option<&'a str> {
    kv.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// A model version in the registry.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// An artifact listing entry.
#[derive(Debug, Clone, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    #[serde(default)]
    pub file_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error_code: String,
    #[serde(default)]
    message: String,
}

/// How requests authenticate, from MLflow's own variables, so that a server behind MLflow's
/// basic-auth app (or a proxy taking tokens) is reached the way MLflow's clients reach it.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    #[default]
    None,
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`.
    Basic { username: String, password: String },
    /// `MLFLOW_TRACKING_TOKEN`.
    Bearer(String),
}

/// Never prints a secret (the credentials reach logs through `Debug` of their holders).
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Credentials {
    /// From the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// From `get` (a variable's value, `None` when unset; an empty value counts as unset).
    /// A username without a password, or the reverse, is refused naming the missing one, so
    /// that a half-configured replica fails at start rather than at its first poll.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let (user, password, token) = (
            get("MLFLOW_TRACKING_USERNAME"),
            get("MLFLOW_TRACKING_PASSWORD"),
            get("MLFLOW_TRACKING_TOKEN"),
        );
        match (user, password, token) {
            (Some(username), Some(password), _) => Ok(Credentials::Basic { username, password }),
            (Some(_), None, _) => Err(TrackingError::Config(
                "MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not".into(),
            )),
            (None, Some(_), _) => Err(TrackingError::Config(
                "MLFLOW_TRACKING_PASSWORD is set but MLFLOW_TRACKING_USERNAME is not".into(),
            )),
            (None, None, Some(token)) => Ok(Credentials::Bearer(token)),
            (None, None, None) => Ok(Credentials::None),
        }
    }
}

impl MlflowClient {
    /// A client for the server at `base` (`http://host:port`, no trailing path), with the
    /// credentials of MLflow's environment variables.
    pub fn new(base: &str) -> Result<Self> {
        Self::with_retry(base, Retry::default())
    }

    pub fn with_retry(base: &str, retry: Retry) -> Result<Self> {
        Self::with_credentials(base, retry, &Credentials::from_env()?)
    }

    /// A client with the credentials given rather than the environment's.
    pub fn with_credentials(base: &str, retry: Retry, credentials: &Credentials) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base)
            .map_err(|e| TrackingError::Config(format!("MLFLOW_TRACKING_URI {base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TrackingError::Config(format!(
                "MLFLOW_TRACKING_URI {base:?}: expected http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(0)
            .user_agent(concat!("salescast/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TrackingError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            retry,
            credentials: credentials.clone(),
            known: Default::default(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request with retries; `call` names it in errors.
    async fn send(
        &self,
        call: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<Vec<u8>> {
        let url = format!("{}/{}", self.base, path);
        let mut delay = self.retry.first_delay;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            let mut req = self.http.request(method.clone(), &url).query(query);
            req = match &self.credentials {
                Credentials::None => req,
                Credentials::Basic { username, password } => {
                    req.basic_auth(username, Some(password))
                }
                Credentials::Bearer(token) => req.bearer_auth(token),
            };
            req = match &body {
                Body::None => req,
                Body::Json(v) => req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(v.to_string()),
                Body::Bytes(b) => req
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(b.clone()),
            };
            let sent = std::time::Instant::now();
            match req.send().await {
                Ok(resp) => {
                    tracing::debug!(
                        call,
                        status = resp.status().as_u16(),
                        ms = sent.elapsed().as_secs_f64() * 1e3,
                        "MLflow request"
                    );
                    let status = resp.status();
                    let bytes = resp.bytes().await.map_err(|e| TrackingError::Response {
                        call: call.to_owned(),
                        source: e.into(),
                    })?;
                    if status.is_success() {
                        return Ok(bytes.to_vec());
                    }
                    if !status.is_server_error() {
                        return Err(api_error(call, status, &bytes));
                    }
                    // A server that keeps failing is treated like one that is down: the caller
                    // spools the run and a later sync delivers it, instead of losing it.
                    last = match api_error(call, status, &bytes) {
                        TrackingError::Api { code, message, .. } => {
                            format!("HTTP {} {code}: {message}", status.as_u16())
                        }
                        other => other.to_string(),
                    };
                }
                Err(e) => last = error_chain(&e),
            }
            if attempt < self.retry.attempts {
                tracing::debug!(call, attempt, reason = %last, "MLflow call failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        Err(TrackingError::Unreachable {
            call: call.to_owned(),
            attempts: self.retry.attempts,
            reason: last,
        })
    }

    async fn post<T: DeserializeOwned>(&self, call: &str, body: Value) -> Result<T> {
        let bytes = self
            .send(
                call,
                Method::POST,
                &format!("api/2.0/mlflow/{call}"),
                &[],
                Body::Json(body),
            )
            .await?;
        parse(call, &bytes)
    }

    /// Any `GET api/2.0/mlflow/<call>` as JSON, for reading back what a run recorded.
    pub async fn get_json(&self, call: &str, query: &[(&str, &str)]) -> Result<Value> {
        self.get(call, query).await
    }

    async fn get<T: DeserializeOwned>(&self, call: &str, query: &[(&str, &str)]) -> Result<T> {
        let bytes = self
            .send(
                call,
                Method::GET,
                &format!("api/2.0/mlflow/{call}"),
                query,
                Body::None,
            )
            .await?;
        parse(call, &bytes)
    }

    /// `GET /health`: true when the server answers 200.
    pub async fn healthy(&self) -> bool {
        matches!(
            self.http.get(format!("{}/health", self.base)).send().await,
            Ok(r) if r.status() == StatusCode::OK
        )
    }

    /// The experiment named `name`, created if it does not exist (and looked up again if another
    /// client created it in between).
    pub async fn experiment(&self, name: &str) -> Result<Experiment> {
        if let Some(e) = self.known().experiments.get(name) {
            return Ok(e.clone());
        }
        let e = self.resolve_experiment(name).await?;
        self.known().experiments.insert(name.to_owned(), e.clone());
        Ok(e)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn resolve_experiment(&self, name: &str) -> Result<Experiment> {
        #[derive(Deserialize)]
        struct Got {
            experiment: Experiment,
        }
        match self
            .get::<Got>("experiments/get-by-name", &[("experiment_name", name)])
            .await
        {
            Ok(g) => return Ok(g.experiment),
            Err(TrackingError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        #[derive(Deserialize)]
        struct Created {
            experiment_id: String,
        }
        match self
            .post::<Created>("experiments/create", json!({ "name": name }))
            .await
        {
            Ok(c) => Ok(Experiment {
                experiment_id: c.experiment_id,
                name: name.to_owned(),
                artifact_location: String::new(),
            }),
            Err(TrackingError::Api { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => self
                .get::<Got>("experiments/get-by-name", &[("experiment_name", name)])
                .await
                .map(|g| g.experiment),
            Err(e) => Err(e),
        }
    }

    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        user: &str,
        start_time: i64,
        tags: &[(String, String)],
    ) -> Result<Run> {
        #[derive(Deserialize)]
        struct Created {
            run: Run,
        }
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let c: Created = self
            .post(
                "runs/create",
                json!({"experiment_id": experiment_id, "run_name": run_name, "user_id": user,
                       "start_time": start_time, "tags": tags}),
            )
            .await?;
        Ok(c.run)
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        #[derive(Deserialize)]
        struct Got {
            run: Run,
        }
        let g: Got = self.get("runs/get", &[("run_id", run_id)]).await?;
        Ok(g.run)
    }

    /// Runs of the experiments matching `filter` (MLflow's search syntax), all pages.
    pub async fn search_runs(&self, experiment_ids: &[&str], filter: &str) -> Result<Vec<Run>> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            runs: Vec<Run>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"experiment_ids": experiment_ids, "filter": filter,
                                   "max_results": 1000, "order_by": ["attributes.start_time ASC"]});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page: Page = self.post("runs/search", body).await?;
            out.extend(page.runs);
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// One `runs/log-batch` call; the caller keeps within the limits (see [`batches`]).
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<()> {
        let kv = |v: &[(String, String)]| -> Vec<Value> {
            v.iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect()
        };
        let body = json!({"run_id": run_id, "metrics": metrics,
                          "params": kv(params), "tags": kv(tags)});
        let _: Value = self.post("runs/log-batch", body).await?;
        Ok(())
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        let _: Value = self
            .post(
                "runs/set-tag",
                json!({"run_id": run_id, "key": key, "value": value}),
            )
            .await?;
        Ok(())
    }

    /// Ends a run; `status` must be one of MLflow's strings (an unknown one is silently ignored
    /// by the server, so callers pass [`crate::RunStatus::as_mlflow`]).
    pub async fn finish_run(&self, run_id: &str, status: &str, end_time: i64) -> Result<()> {
        let _: Value = self
            .post(
                "runs/update",
                json!({"run_id": run_id, "status": status, "end_time": end_time}),
            )
            .await?;
        Ok(())
    }

    pub async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        #[derive(Deserialize)]
        struct Got {
            #[serde(default)]
            metrics: Vec<Metric>,
        }
        let g: Got = self
            .get(
                "metrics/get-history",
                &[
                    ("run_id", run_id),
                    ("metric_key", key),
                    ("max_results", "25000"),
                ],
            )
            .await?;
        Ok(g.metrics)
    }

    /// Uploads `bytes` to `path` under an `mlflow-artifacts:/` root through the server's proxy.
    pub async fn put_artifact(&self, root: &str, path: &str, bytes: Vec<u8>) -> Result<()> {
        let prefix = root.strip_prefix("mlflow-artifacts:/").ok_or_else(|| {
            TrackingError::Config(format!(
                "artifact root {root:?} is not served by the tracking server \
                 (start it with --serve-artifacts, the default)"
            ))
        })?;
        let prefix = prefix.trim_start_matches('/');
        self.send(
            "mlflow-artifacts/artifacts (upload)",
            Method::PUT,
            &format!("api/2.0/mlflow-artifacts/artifacts/{prefix}/{path}"),
            &[],
            Body::Bytes(bytes),
        )
        .await?;
        Ok(())
    }

    pub async fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<FileInfo>> {
        #[derive(Deserialize)]
        struct Got {
            #[serde(default)]
            files: Vec<FileInfo>,
        }
        let g: Got = self
            .get("artifacts/list", &[("run_id", run_id), ("path", path)])
            .await?;
        Ok(g.files)
    }

    /// MLflow 3's logged-model creation. `Ok(None)` when the server predates it (404).
    pub async fn create_logged_model(
        &self,
        experiment_id: &str,
        name: &str,
        run_id: &str,
        model_type: &str,
    ) -> Result<Option<(String, String)>> {
        #[derive(Deserialize)]
        struct Created {
            model: LoggedModel,
        }
        #[derive(Deserialize)]
        struct LoggedModel {
            info: LoggedInfo,
        }
        #[derive(Deserialize)]
        struct LoggedInfo {
            model_id: String,
            artifact_uri: String,
        }
        let body = json!({"experiment_id": experiment_id, "name": name,
                          "source_run_id": run_id, "model_type": model_type});
        match self.post::<Created>("logged-models", body).await {
            Ok(c) => Ok(Some((c.model.info.model_id, c.model.info.artifact_uri))),
            Err(
                TrackingError::Api { status: 404, .. } | TrackingError::Http { status: 404, .. },
            ) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn link_model_output(&self, run_id: &str, model_id: &str) -> Result<()> {
        let _: Value = self
            .post(
                "runs/outputs",
                json!({"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}),
            )
            .await?;
        Ok(())
    }

    pub async fn finalize_logged_model(&self, model_id: &str) -> Result<()> {
        let call = "logged-models (finalize)";
        let bytes = self
            .send(
                call,
                Method::PATCH,
                &format!("api/2.0/mlflow/logged-models/{model_id}"),
                &[],
                Body::Json(json!({"model_id": model_id, "status": "LOGGED_MODEL_READY"})),
            )
            .await?;
        let _: Value = parse(call, &bytes)?;
        Ok(())
    }

    /// The 2.x convention: records the model folder in the run's `mlflow.log-model.history`.
    pub async fn log_model_history(&self, run_id: &str, model_json: &Value) -> Result<()> {
        let _: Value = self
            .post(
                "runs/log-model",
                json!({"run_id": run_id, "model_json": model_json.to_string()}),
            )
            .await?;
        Ok(())
    }

    /// Creates the registered model unless it exists.
    pub async fn ensure_registered_model(&self, name: &str) -> Result<()> {
        if self.known().registered.contains(name) {
            return Ok(());
        }
        // A look-up is much cheaper for the server than a refused duplicate create.
        match self
            .get::<Value>("registered-models/get", &[("name", name)])
            .await
        {
            Ok(_) => {
                self.known().registered.insert(name.to_owned());
                return Ok(());
            }
            Err(TrackingError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        let done = match self
            .post::<Value>(
                "registered-models/create",
                json!({"name": name, "description": "Salescast revenue models"}),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(TrackingError::Api { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            Err(e) => Err(e),
        };
        if done.is_ok() {
            self.known().registered.insert(name.to_owned());
        }
        done
    }

    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
    ) -> Result<ModelVersion> {
        #[derive(Deserialize)]
        struct Created {
            model_version: ModelVersion,
        }
        let mut body = json!({"name": name, "source": source, "run_id": run_id});
        // MLflow 3 requires the logged model's id beside a `models:/<id>` source.
        if let Some(id) = source.strip_prefix("models:/") {
            body["model_id"] = json!(id);
        }
        let c: Created = self.post("model-versions/create", body).await?;
        Ok(c.model_version)
    }

    pub async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        let _: Value = self
            .post(
                "registered-models/alias",
                json!({"name": name, "alias": alias, "version": version}),
            )
            .await?;
        Ok(())
    }

    /// Where a model version's files are (`mlflow-artifacts:/...`), as the server resolved it.
    pub async fn download_uri(&self, name: &str, version: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Got {
            artifact_uri: String,
        }
        let g: Got = self
            .get(
                "model-versions/get-download-uri",
                &[("name", name), ("version", version)],
            )
            .await?;
        Ok(g.artifact_uri)
    }

    /// The entries directly under `path` (relative to the proxy's root), through the artifact
    /// proxy; their `path` is relative to `path`.
    pub async fn list_proxied(&self, path: &str) -> Result<Vec<FileInfo>> {
        #[derive(Deserialize)]
        struct Got {
            #[serde(default)]
            files: Vec<FileInfo>,
        }
        let bytes = self
            .send(
                "mlflow-artifacts/artifacts (list)",
                Method::GET,
                "api/2.0/mlflow-artifacts/artifacts",
                &[("path", path)],
                Body::None,
            )
            .await?;
        Ok(parse::<Got>("mlflow-artifacts/artifacts (list)", &bytes)?.files)
    }

    /// The bytes of the file at `path` (relative to the proxy's root), through the artifact
    /// proxy.
    pub async fn get_proxied(&self, path: &str) -> Result<Vec<u8>> {
        self.send(
            "mlflow-artifacts/artifacts (download)",
            Method::GET,
            &format!(
                "api/2.0/mlflow-artifacts/artifacts/{}",
                path.trim_start_matches('/')
            ),
            &[],
            Body::None,
        )
        .await
    }

    /// The version an alias points to; `Ok(None)` when the alias does not exist (MLflow answers
    /// 400, not 404, for that).
    pub async fn alias(&self, name: &str, alias: &str) -> Result<Option<ModelVersion>> {
        #[derive(Deserialize)]
        struct Got {
            model_version: ModelVersion,
        }
        match self
            .get::<Got>(
                "registered-models/alias",
                &[("name", name), ("alias", alias)],
            )
            .await
        {
            Ok(g) => Ok(Some(g.model_version)),
            Err(TrackingError::Api { message, .. }) if message.contains("not found") => Ok(None),
            Err(TrackingError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug)]
enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

fn parse<T: DeserializeOwned>(call: &str, bytes: &[u8]) -> Result<T> {
    let bytes = if bytes.is_empty() { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| TrackingError::Response {
        call: call.to_owned(),
        source: e.into(),
    })
}

fn api_error(call: &str, status: StatusCode, body: &[u8]) -> TrackingError {
    // MLflow's basic-auth app answers these in plain text; say what to do about them.
    let reason = match status {
        StatusCode::UNAUTHORIZED => Some(
            "not authenticated: the server wants credentials (set MLFLOW_TRACKING_USERNAME and \
             MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN), or refused the ones given",
        ),
        StatusCode::FORBIDDEN => Some("permission denied: the user may not do this"),
        _ => None,
    };
    if let Some(reason) = reason {
        return TrackingError::Denied {
            call: call.to_owned(),
            status: status.as_u16(),
            reason: format!("{reason} ({})", snippet(body)),
        };
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => TrackingError::Api {
            call: call.to_owned(),
            status: status.as_u16(),
            code: e.error_code,
            message: e.message,
        },
        Err(_) => TrackingError::Http {
            call: call.to_owned(),
            status: status.as_u16(),
            snippet: snippet(body),
        },
    }
}

/// The readable text of an HTML or plain error page, shortened.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() > 200 {
        format!("{}…", joined.chars().take(200).collect::<String>())
    } else if joined.is_empty() {
        "(empty body)".to_owned()
    } else {
        joined
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// One `log-batch` request's metrics, params and tags.
pub type Batch = (Vec<Metric>, Vec<(String, String)>, Vec<(String, String)>);

/// Splits metrics, params and tags into `log-batch` requests within MLflow's limits.
pub fn batches(
    metrics: &[Metric],
    params: &[(String, String)],
    tags: &[(String, String)],
) -> Vec<Batch> {
    let mut out = Vec::new();
    let (mut m, mut p, mut t) = (metrics.iter(), params.iter(), tags.iter());
    loop {
        let mut bytes = 0usize;
        let mut take_m = Vec::new();
        let mut take_p = Vec::new();
        let mut take_t = Vec::new();
        // Params and tags can be up to 6000 characters, so the byte budget counts them too.
        while take_p.len() < BATCH_PARAMS && bytes < BATCH_BYTES / 2 {
            match p.next() {
                Some(kv) => {
                    bytes += kv.0.len() + kv.1.len() + 32;
                    take_p.push(kv.clone());
                }
                None => break,
            }
        }
        while take_t.len() < BATCH_TAGS && bytes < BATCH_BYTES / 2 {
            match t.next() {
                Some(kv) => {
                    bytes += kv.0.len() + kv.1.len() + 32;
                    take_t.push(kv.clone());
                }
                None => break,
            }
        }
        while take_m.len() < BATCH_METRICS {
            match m.next() {
                Some(x) => take_m.push(x.clone()),
                None => break,
            }
        }
        if take_m.is_empty() && take_p.is_empty() && take_t.is_empty() {
            return out;
        }
        out.push((take_m, take_p, take_t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_mlflows_variables_and_never_print() {
        let from = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Credentials::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        };
        assert_eq!(from(&[]).unwrap(), Credentials::None);
        let basic = from(&[
            ("MLFLOW_TRACKING_USERNAME", "trainer"),
            ("MLFLOW_TRACKING_PASSWORD", "pa55-word-xyz"),
            ("MLFLOW_TRACKING_TOKEN", "ignored-when-basic"),
        ])
        .unwrap();
        assert!(matches!(&basic, Credentials::Basic { username, .. } if username == "trainer"));
        let shown = format!("{basic:?}");
        assert!(
            !shown.contains("pa55") && shown.contains("trainer"),
            "{shown}"
        );
        let bearer = from(&[("MLFLOW_TRACKING_TOKEN", "tok-123")]).unwrap();
        assert_eq!(bearer, Credentials::Bearer("tok-123".into()));
        assert!(!format!("{bearer:?}").contains("tok-123"));
        // Half a pair is refused, naming what is missing; empty counts as unset.
        let e = from(&[("MLFLOW_TRACKING_USERNAME", "trainer")]).unwrap_err();
        assert!(e.to_string().contains("MLFLOW_TRACKING_PASSWORD"), "{e}");
        let e = from(&[
            ("MLFLOW_TRACKING_PASSWORD", "x"),
            ("MLFLOW_TRACKING_USERNAME", ""),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("MLFLOW_TRACKING_USERNAME"), "{e}");
    }

    #[test]
    fn batches_respect_mlflow_limits_and_keep_everything() {
        let metrics: Vec<Metric> = (0..2500)
            .map(|i| Metric {
                key: "m".into(),
                value: i as f64,
                timestamp: 1,
                step: i,
            })
            .collect();
        let params: Vec<(String, String)> =
            (0..250).map(|i| (format!("p{i}"), "v".into())).collect();
        let tags: Vec<(String, String)> = (0..5).map(|i| (format!("t{i}"), "v".into())).collect();
        let b = batches(&metrics, &params, &tags);
        assert!(
            b.iter()
                .all(|(m, p, t)| m.len() <= 1000 && p.len() <= 100 && t.len() <= 100)
        );
        assert_eq!(b.iter().map(|x| x.0.len()).sum::<usize>(), 2500);
        assert_eq!(b.iter().map(|x| x.1.len()).sum::<usize>(), 250);
        assert_eq!(b.iter().map(|x| x.2.len()).sum::<usize>(), 5);
        assert!(batches(&[], &[], &[]).is_empty());
    }

    #[test]
    fn html_error_pages_become_short_readable_text() {
        let e = api_error(
            "runs/log-batch",
            StatusCode::INTERNAL_SERVER_ERROR,
            b"<!doctype html><html><head><title>500 Internal Server Error</title></head>\
              <body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>",
        );
        let text = e.to_string();
        assert!(
            text.starts_with("MLflow runs/log-batch: HTTP 500: 500 Internal Server Error"),
            "{text}"
        );
        let e = api_error(
            "runs/create",
            StatusCode::BAD_REQUEST,
            br#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Missing value for required parameter 'run_id'"}"#,
        );
        assert_eq!(
            e.to_string(),
            "MLflow runs/create: HTTP 400 INVALID_PARAMETER_VALUE: Missing value for required parameter 'run_id'"
        );
    }

    #[test]
    fn only_http_uris_are_accepted() {
        assert!(MlflowClient::new("http://127.0.0.1:5000/").is_ok());
        assert!(MlflowClient::new("file:///tmp/mlruns").is_err());
        assert!(MlflowClient::new("not a uri").is_err());
    }
}
