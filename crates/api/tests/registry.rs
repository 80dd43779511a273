//! Serving from the MLflow registry against a real `mlflow server`: a training logged and
//! registered with the `champion` alias; a service following `models:/salescast-revenue@champion`
//! downloads, verifies and serves it (forecasts included), with no access to the training's
//! directory; a new champion is picked up by the next check; a broken version is refused while
//! the old one keeps serving.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use salescast_models::serving::Predictor;
use salescast_pipeline::stage::fixture;
use salescast_testing::tools::MlflowServer;
use salescast_tracking::Credentials;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Data prepared once per test (cleaned and featured as the train stage's fixture does).
fn prepare(dir: &Path) -> PathBuf {
    let raw = salescast_testing::generated_csv(dir, 6_000, 120);
    fixture::prepared(&raw, dir, &fixture::Spec::default())
        .unwrap()
        .1
}

/// Trains into `models` (the train stage, the daily model included) and logs the runs to
/// `uri`, registering the champion.
/// Trains, logs the runs and registers their models; gives the version the `champion` alias
/// points at (the versions are numbered in the order the runs are logged).
fn train_and_register(
    features: &Path,
    models: &Path,
    project: &Path,
    uri: &str,
    rounds: usize,
) -> u32 {
    train_and_register_as(features, models, project, uri, rounds, &Credentials::None)
}

fn train_and_register_as(
    features: &Path,
    models: &Path,
    project: &Path,
    uri: &str,
    rounds: usize,
    credentials: &Credentials,
) -> u32 {
    let spec = fixture::Spec {
        trees: 6,
        rounds,
        ..Default::default()
    };
    let (opts, report) = fixture::train_into(features, models, &spec).unwrap();
    let outcome = report.outcome.unwrap();
    let ctx = salescast_pipeline::tracking::RunContext {
        experiment: "salescast".into(),
        ..Default::default()
    };
    let records =
        salescast_pipeline::tracking::train_records(&outcome, &opts, features, models, &ctx);
    let tracker = salescast_tracking::Tracker::with_credentials(
        Some(uri),
        "salescast",
        project,
        Some(credentials),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for r in &records {
        let logged = rt.block_on(tracker.log(r)).unwrap();
        assert!(
            matches!(logged, salescast_tracking::Logged::Server { .. }),
            "{logged:?}"
        );
    }
    let registered: Vec<bool> = records
        .iter()
        .filter_map(|r| r.model.as_ref())
        .filter(|m| m.registered_name.is_some())
        .map(|m| m.champion)
        .collect();
    let at = registered.iter().position(|&c| c).expect("a champion");
    u32::try_from(at + 1).unwrap()
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn row() -> Value {
    json!({"date": "2023-04-20", "store_id": "S01", "product_id": "P0001",
           "category": "Electronics", "unit_price": 120.5, "discount": 0.1, "promotion": 1})
}

fn predict() -> Request<Body> {
    Request::post("/predict")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(row().to_string()))
        .unwrap()
}

fn status() -> Request<Body> {
    Request::get("/status").body(Body::empty()).unwrap()
}

/// What the models in `dir` predict for [`row`].
fn local_prediction(dir: &Path) -> f64 {
    let p = Predictor::load(dir).unwrap();
    let cells: Vec<(String, String)> = row()
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let headers: Vec<String> = cells.iter().map(|c| c.0.clone()).collect();
    let map = salescast_core::schema::ColumnMap::resolve(&headers, salescast_core::Mode::Scoring)
        .unwrap();
    let t = salescast_core::schema::parse_row(
        |c| map.get(c).map(|i| cells[i].1.as_str()),
        salescast_core::Mode::Scoring,
    )
    .unwrap();
    p.predict(&t, None).unwrap()
}

#[test]
fn replicas_serve_the_registered_champion_and_follow_its_alias() {
    let work = tempfile::tempdir().unwrap();
    let features = prepare(work.path());
    let server = MlflowServer::start(&work.path().join("mlflow"));
    let uri = server.uri();
    let first = work.path().join("models-1");
    let champion = train_and_register(&features, &first, work.path(), &uri, 20).to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Two replicas, each with its own cache and nothing of the training's directory.
    let replica = |name: &str| {
        let r = salescast_api::registry::Registry::new(
            &uri,
            "models:/salescast-revenue@champion",
            &work.path().join(name),
            Duration::ZERO,
        )
        .unwrap();
        salescast_api::build(&salescast_api::Config::from_registry(r))
    };
    let (app_a, state_a) = replica("cache-a");
    let (app_b, state_b) = replica("cache-b");
    rt.block_on(async {
        for state in [&state_a, &state_b] {
            let v = state.registry.as_ref().unwrap().check(state).await.unwrap();
            assert_eq!(
                v.as_deref(),
                Some(champion.as_str()),
                "the champion of the first training"
            );
        }
        let want = local_prediction(&first);
        for app in [&app_a, &app_b] {
            let (s, v) = call(app, predict()).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            assert_eq!(v["predicted_revenue"].as_f64().unwrap(), want);
            let (_, st) = call(app, status()).await;
            assert_eq!(st["registry"]["version"], champion.as_str(), "{st}");
            assert_eq!(st["registry"]["uri"], "models:/salescast-revenue@champion");
        }
        // Forecasts too: the daily champion travels with the registered version.
        let (_, st) = call(&app_a, status()).await;
        let last = st["daily"]["last_training_day"]
            .as_str()
            .unwrap()
            .to_owned();
        let start = chrono::NaiveDate::parse_from_str(&last, "%Y-%m-%d").unwrap()
            + chrono::Duration::days(1);
        let end = start + chrono::Duration::days(6);
        let (s, v) = call(
            &app_a,
            Request::post("/forecast_sarima")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"start_date": start.to_string(), "end_date": end.to_string()})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["forecast"].as_array().unwrap().len(), 7, "{v}");

        // A check with nothing new changes nothing.
        let r = state_a.registry.as_ref().unwrap();
        assert_eq!(r.check(&state_a).await.unwrap(), None);
    });

    // A new training registers a new champion; each replica's next check serves it.
    let second = work.path().join("models-2");
    train_and_register(&features, &second, work.path(), &uri, 45);
    rt.block_on(async {
        let want = local_prediction(&second);
        for (app, state) in [(&app_a, &state_a), (&app_b, &state_b)] {
            let r = state.registry.as_ref().unwrap();
            let v = r.check(state).await.unwrap().expect("a new version");
            assert_ne!(v, champion);
            let (_, p) = call(app, predict()).await;
            assert_eq!(p["predicted_revenue"].as_f64().unwrap(), want);
        }
        // Only the served version and the one before stay in a cache.
        let mut kept: Vec<String> = std::fs::read_dir(work.path().join("cache-a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('v'))
            .collect();
        kept.sort();
        assert_eq!(kept.len(), 2, "{kept:?}");
    });

    // An alias moved to a version whose files do not load: refused, the old one keeps serving,
    // and /status says why.
    let client = salescast_tracking::MlflowClient::new(&uri).unwrap();
    rt.block_on(async {
        let (_, before) = call(&app_a, status()).await;
        let served = before["registry"]["version"].as_str().unwrap().to_owned();
        // A new version of the champion's files, one of them overwritten in the store.
        let champion = client
            .alias("salescast-revenue", "champion")
            .await
            .unwrap()
            .unwrap();
        let v = client
            .create_model_version("salescast-revenue", &champion.source, &champion.run_id)
            .await
            .unwrap();
        let root = client
            .download_uri("salescast-revenue", &v.version)
            .await
            .unwrap();
        let prefix = root
            .trim_start_matches("mlflow-artifacts:/")
            .trim_matches('/');
        let files = client.list_proxied(prefix).await.unwrap();
        let bin = files
            .iter()
            .map(|f| f.path.rsplit('/').next().unwrap().to_owned())
            .find(|n| n.ends_with(".bin"))
            .expect("a model file in the version");
        client
            .put_artifact(&root, &bin, b"not a model".to_vec())
            .await
            .unwrap();
        client
            .set_alias("salescast-revenue", "champion", &v.version)
            .await
            .unwrap();
        let r = state_a.registry.as_ref().unwrap();
        let e = r.check(&state_a).await.unwrap_err();
        assert!(e.contains(&format!("version {}", v.version)), "{e}");
        let (s, _) = call(&app_a, predict()).await;
        assert_eq!(s, StatusCode::OK);
        let (_, after) = call(&app_a, status()).await;
        assert_eq!(after["registry"]["version"], served.as_str());
        assert!(after["registry"]["error"].is_string(), "{after}");
    });
}

#[test]
fn a_replica_with_a_wrong_password_keeps_serving_and_says_why() {
    let work = tempfile::tempdir().unwrap();
    let features = prepare(work.path());
    let admin_password = "admin-password-1";
    let server = MlflowServer::start_with_auth(&work.path().join("mlflow"), admin_password);
    let uri = server.uri();
    let admin = Credentials::Basic {
        username: "admin".into(),
        password: admin_password.into(),
    };
    let first = work.path().join("models-1");
    let champion = train_and_register_as(&features, &first, work.path(), &uri, 20, &admin);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A replica that started with the right password, then is given a wrong one (a rotated
    // secret), as a second registry over the same cache.
    let cache = work.path().join("cache");
    let registry = |credentials: &Credentials| {
        salescast_api::registry::Registry::with_credentials(
            &uri,
            "models:/salescast-revenue@champion",
            &cache,
            Duration::ZERO,
            credentials,
        )
        .unwrap()
    };
    let (_, good) = salescast_api::build(&salescast_api::Config::from_registry(registry(&admin)));
    let v = rt
        .block_on(good.registry.as_ref().unwrap().check(&good))
        .unwrap();
    assert_eq!(v.as_deref(), Some(champion.to_string().as_str()));
    let wrong = Credentials::Basic {
        username: "admin".into(),
        password: "wrong-password-1".into(),
    };
    let (app, state) =
        salescast_api::build(&salescast_api::Config::from_registry(registry(&wrong)));
    // It serves the version in its cache at start, as the service does after a restart.
    state.reload().unwrap();
    rt.block_on(async {
        let (s, v) = call(&app, predict()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            v["predicted_revenue"].as_f64().unwrap(),
            local_prediction(&first)
        );
        let e = state
            .registry
            .as_ref()
            .unwrap()
            .check(&state)
            .await
            .unwrap_err();
        assert!(e.contains("401"), "{e}");
        let (s, v) = call(&app, predict()).await;
        assert_eq!(s, StatusCode::OK, "still serving after the refusal: {v}");
        let (_, st) = call(&app, status()).await;
        let error = st["registry"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("401") && error.contains("MLFLOW_TRACKING_USERNAME"),
            "{st}"
        );
    });
}
