//! The service end to end: handlers without a socket (one per bad-input class, each followed by
//! a normal request), agreement with `salescast predict`, reloads, and one real socket.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // fixtures are written directly; a test may unwrap

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use salescast_models::Kind;
use salescast_pipeline::stage::fixture;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    raw: PathBuf,
    models: PathBuf,
    /// The latest date in the raw file.
    last_day: chrono::NaiveDate,
}

/// The latest `date` of a contract CSV, read as text so the test does not lean on our parser.
fn last_date(raw: &Path) -> chrono::NaiveDate {
    fs::read_to_string(raw)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .filter_map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .max()
        .unwrap()
}

/// Small models trained once for the whole test binary.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let raw = salescast_testing::generated_csv(dir.path(), 6_000, 120);
        let t = fixture::trained(&raw, dir.path(), &fixture::Spec::default()).unwrap();
        Fixture {
            last_day: last_date(&raw),
            raw,
            models: t.models,
            _dir: dir,
        }
    })
}

fn app_with(
    models: &Path,
    f: impl FnOnce(&mut salescast_api::Config),
) -> (Router, std::sync::Arc<salescast_api::AppState>) {
    let mut cfg = salescast_api::Config::new(models.to_path_buf());
    f(&mut cfg);
    let (app, state) = salescast_api::build(&cfg);
    state.reload().unwrap();
    (app, state)
}

fn app() -> Router {
    app_with(&fixture().models, |_| {}).0
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = if ctype.starts_with("application/json") {
        serde_json::from_slice(&bytes).unwrap()
    } else {
        Value::Null
    };
    (status, json, text)
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

const BOUNDARY: &str = "salescast-test-boundary";

fn upload(uri: &str, file: &[u8]) -> Request<Body> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Request::post(uri)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap()
}

fn good() -> Value {
    json!({"transaction_id": "T1", "date": "2023-04-20", "store_id": "S01", "product_id": "P0001",
           "category": "Electronics", "unit_price": 120.5, "discount": 0.1, "promotion": 1,
           "customer_segment": "Regular", "payment_method": "Card"})
}

async fn still_serves(app: &Router) {
    let (s, v, _) = send(app, post("/predict", good().to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["predicted_revenue"].as_f64().unwrap().is_finite());
}

#[track_caller]
fn assert_error(
    status: StatusCode,
    body: &Value,
    want: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "{body}");
    }
}

/// The explanation's lists add up, from the expected value, to the prediction.
#[track_caller]
fn assert_adds_up(e: &Value, prediction: f64) {
    let expected = e["expected_value"].as_f64().unwrap();
    for list in ["contributions", "feature_contributions"] {
        let items = e[list].as_array().unwrap();
        let sum: f64 = items
            .iter()
            .map(|c| c["contribution"].as_f64().unwrap())
            .sum();
        assert!(
            (expected + sum - prediction).abs() < 1e-6 * prediction.abs().max(1.0),
            "{list}: {expected} + {sum} against {prediction}"
        );
        // Largest magnitude first.
        let mags: Vec<f64> = items
            .iter()
            .map(|c| c["contribution"].as_f64().unwrap().abs())
            .collect();
        assert!(mags.windows(2).all(|w| w[0] >= w[1]), "{list}: {mags:?}");
    }
}

#[tokio::test]
async fn predictions_explained_on_request_add_up_and_change_nothing_else() {
    let app = app();
    let (_, plain, _) = send(&app, post("/predict", good().to_string())).await;
    assert!(plain.get("explanation").is_none(), "{plain}");
    for model in ["random_forest", "gradient_boosting"] {
        let (s, v, _) = send(
            &app,
            post(
                &format!("/predict?model={model}&explain=true"),
                good().to_string(),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let p = v["predicted_revenue"].as_f64().unwrap();
        let (_, same, _) = send(
            &app,
            post(&format!("/predict?model={model}"), good().to_string()),
        )
        .await;
        assert_eq!(same["predicted_revenue"].as_f64().unwrap(), p);
        let e = &v["explanation"];
        assert_adds_up(e, p);
        let fields: Vec<&str> = e["contributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        // Contract fields, with the calendar under date.
        for f in [
            "date",
            "store_id",
            "product_id",
            "unit_price",
            "discount",
            "promotion",
        ] {
            assert!(fields.contains(&f), "{fields:?}");
        }
        assert!(!fields.contains(&"day_of_week"), "{fields:?}");
        assert_eq!(e["feature_contributions"].as_array().unwrap().len(), 19);
    }
    // An array, and MLflow's envelope.
    let (s, v, _) = send(
        &app,
        post("/predict?explain=true", json!([good(), good()]).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for p in v["predictions"].as_array().unwrap() {
        assert_adds_up(&p["explanation"], p["predicted_revenue"].as_f64().unwrap());
    }
    let envelope = json!({"dataframe_records": [good(), good()]});
    let (s, v, _) = send(
        &app,
        post("/invocations?explain=true", envelope.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let preds = v["predictions"].as_array().unwrap();
    let explanations = v["explanations"].as_array().unwrap();
    assert_eq!(explanations.len(), preds.len());
    assert_adds_up(&explanations[0], preds[0].as_f64().unwrap());
    let (_, v, _) = send(&app, post("/invocations", envelope.to_string())).await;
    assert!(v.get("explanations").is_none(), "{v}");
    // Bad flag values and batch CSV scoring are refused, naming the parameter.
    let (s, v, _) = send(&app, post("/predict?explain=maybe", good().to_string())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v, _) = send(
        &app,
        upload("/predict_batch_csv?explain=true", b"a,b\n1,2\n"),
    )
    .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "explain_not_offered",
        Some("explain"),
    );
    // A field error is still the field's.
    let mut bad = good();
    bad["discount"] = json!(3);
    let (s, v, _) = send(&app, post("/predict?explain=true", bad.to_string())).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "out_of_range",
        Some("discount"),
    );
}

#[tokio::test]
async fn predict_one_and_many_with_model_choice() {
    let app = app();
    let (s, v, _) = send(&app, post("/predict", good().to_string())).await;
    assert_eq!(s, StatusCode::OK);
    let manifest = salescast_models::serving::Manifest::load(&fixture().models).unwrap();
    assert_eq!(v["model"], manifest.champion.as_str());
    assert_eq!(
        v["model_version"],
        manifest.models[&manifest.champion].version.as_str()
    );
    let (s, v, _) = send(
        &app,
        post(
            "/predict?model=random_forest",
            json!([good(), good()]).to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["predictions"].as_array().unwrap().len(), 2);
    assert_eq!(v["predictions"][0]["model"], "random_forest");
    // An unseen category is fine; quantity and revenue are ignored.
    let mut unseen = good();
    unseen["category"] = json!("Spaceships");
    unseen["revenue"] = json!(1e9);
    let (s, _, _) = send(&app, post("/predict", unseen.to_string())).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn forecast_sarima_serves_the_daily_champion_with_intervals() {
    let app = app();
    let artifact =
        salescast_daily::DailyArtifact::load(&fixture().models.join("sarima.json")).unwrap();
    let first = artifact.last_day + chrono::Duration::days(3);
    let last = first + chrono::Duration::days(9);
    let req = json!({"start_date": first.to_string(), "end_date": last.to_string(), "level": 80});
    let (s, v, _) = send(&app, post("/forecast_sarima", req.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["model"], "sarima");
    assert_eq!(v["champion"], artifact.model_name().as_str());
    let days = v["forecast"].as_array().unwrap();
    assert_eq!(days.len(), 10);
    assert_eq!(days[0]["date"], first.to_string());
    for d in days {
        let (lo, m, hi) = (
            d["lower"].as_f64().unwrap(),
            d["mean"].as_f64().unwrap(),
            d["upper"].as_f64().unwrap(),
        );
        assert!(lo < m && m < hi, "{d}");
    }
    // The same days as the artifact forecasts them directly, and a wider 95% interval.
    let direct = artifact.forecast(None, first, last, 80.0).unwrap();
    assert!((direct[4].mean - days[4]["mean"].as_f64().unwrap()).abs() < 1e-9);
    let req95 = json!({"start_date": first.to_string(), "end_date": last.to_string()});
    let (_, v95, _) = send(&app, post("/forecast_sarima", req95.to_string())).await;
    assert!(v95["forecast"][9]["upper"].as_f64().unwrap() > days[9]["upper"].as_f64().unwrap());
    // A store's own series.
    let store = artifact.stores.keys().next().unwrap().clone();
    let req =
        json!({"start_date": first.to_string(), "end_date": first.to_string(), "store": store});
    let (s, v, _) = send(&app, post("/forecast_sarima", req.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["store"], store.as_str());
}

#[tokio::test]
async fn served_models_have_seen_the_last_day_of_the_data() {
    let app = app();
    let last = fixture().last_day;
    let (s, st, _) = send(&app, get("/status")).await;
    assert_eq!(s, StatusCode::OK);
    let models = st["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for m in models {
        assert_eq!(m["refitted"], true, "{m}");
        assert_eq!(m["last_day_seen"], last.to_string(), "{m}");
        assert_eq!(m["fitted_on"]["last"], last.to_string(), "{m}");
        // the metrics come from the held-out window, which ends on the same day
        assert_eq!(m["evaluated_on"]["last"], last.to_string(), "{m}");
        assert_eq!(
            m["evaluated_on"]["first"],
            (last - chrono::Duration::days(19)).to_string()
        );
    }
    assert_eq!(st["daily"]["last_training_day"], last.to_string(), "{st}");
    assert_eq!(st["daily"]["refitted"], true);
    // every candidate's backtest, the champion among them
    let backtest = st["daily"]["backtest"].as_array().expect("backtest");
    assert!(backtest.len() >= 3, "{st}");
    assert!(
        backtest
            .iter()
            .any(|c| c["candidate"] == st["daily"]["champion"] && c["mean_mase"].is_number()),
        "{st}"
    );

    // 14 days from the day after the last one: allowed, and made by that model
    let from = last + chrono::Duration::days(1);
    let to = last + chrono::Duration::days(14);
    let req = json!({"start_date": from.to_string(), "end_date": to.to_string()});
    let (s, v, _) = send(&app, post("/forecast_sarima", req.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["last_day_seen"], last.to_string());
    assert_eq!(v["forecast"].as_array().unwrap().len(), 14);
    assert_eq!(v["forecast"][0]["date"], from.to_string());
    // the last observed day itself is history, not a forecast
    let req = json!({"start_date": last.to_string(), "end_date": to.to_string()});
    let (s, v, _) = send(&app, post("/forecast_sarima", req.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn every_bad_input_class_gets_its_documented_error() {
    let (app, _) = app_with(&fixture().models, |c| {
        c.limits.max_json_bytes = 4096;
        c.limits.max_csv_bytes = 8192;
        c.limits.max_horizon_days = 30;
    });
    let with = |k: &str, v: Value| {
        let mut g = good();
        g[k] = v;
        g.to_string()
    };
    let without = |k: &str| {
        let mut g = good();
        g.as_object_mut().unwrap().remove(k);
        g.to_string()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str, Option<&str>)> = vec![
        (
            post("/predict", "{\"date\": "),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            post("/predict", with("unit_price", json!("cheap"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_type",
            Some("unit_price"),
        ),
        (
            post("/predict", without("date")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
            Some("date"),
        ),
        (
            post("/predict", with("unit_price", json!(-3.0))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "negative_value",
            Some("unit_price"),
        ),
        (
            post("/predict", with("date", json!("2023-02-30"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_date",
            Some("date"),
        ),
        (
            post("/predict", with("discount", json!(1.5))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            Some("discount"),
        ),
        (
            post("/predict", json!([good(), {"date": "x"}]).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
            Some("[1].store_id"),
        ),
        (
            post("/predict?model=linear", good().to_string()),
            StatusCode::BAD_REQUEST,
            "unknown_model",
            Some("model"),
        ),
        (
            post(
                "/predict",
                format!("[{}]", vec![good().to_string(); 40].join(",")),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
        (
            post(
                "/forecast_sarima",
                json!({"start_date": "2023-05-10", "end_date": "2023-05-01"}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "end_before_start",
            Some("end_date"),
        ),
        (
            post(
                "/forecast_sarima",
                json!({"start_date": "2023-05-10", "end_date": "2025-05-01"}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "horizon_too_long",
            Some("end_date"),
        ),
        (
            post(
                "/forecast_sarima",
                json!({"start_date": "2023-02-01", "end_date": "2023-04-20"}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "start_in_training_period",
            Some("start_date"),
        ),
        (
            post(
                "/forecast_sarima",
                json!({"start_date": "2023-05-01", "end_date": "2023-05-02", "store": "S99"})
                    .to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_store",
            Some("store"),
        ),
        (
            post(
                "/forecast_sarima",
                json!({"start_date": "10/05/2023", "end_date": "2023-05-11"}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_date",
            Some("start_date"),
        ),
        (
            post(
                "/forecast_sarima",
                json!({"start_date": "2023-05-10", "end_date": "2023-05-11", "level": 120})
                    .to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            Some("level"),
        ),
        (
            upload("/predict_batch_csv", b""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_csv",
            Some("file"),
        ),
        (
            upload("/predict_batch_csv", b"date,store_id,product_id\n"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_csv",
            Some("file"),
        ),
        (
            upload("/predict_batch_csv", b"date,store_id\n2023-04-01,S01\n"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_column",
            Some("product_id"),
        ),
        (
            upload("/predict_batch_csv", b"\xff\xfe\x00d\x00a\x00t\x00e\n"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_utf8",
            Some("file"),
        ),
        (
            upload("/predict_batch_csv", &vec![b'a'; 20_000]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
        (
            upload(
                "/predict_batch_csv?model=nope",
                b"date,store_id,product_id\n2023-04-01,S01,P1\n",
            ),
            StatusCode::BAD_REQUEST,
            "unknown_model",
            Some("model"),
        ),
        (
            get("/no/such/route"),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            post("/predict", with("product_id", json!("P".repeat(1025)))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "field_too_long",
            Some("product_id"),
        ),
        (
            upload(
                "/predict_batch_csv",
                format!("date,store_id,product_id,{}\n", vec!["x"; 300].join(",")).as_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_columns",
            Some("file"),
        ),
    ];
    for (req, status, code, field) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, v, text) = send(&app, req).await;
        assert!(!v.is_null(), "{what}: not JSON: {text}");
        assert_error(s, &v, status, code, field);
        still_serves(&app).await;
    }
}

/// Markers of internals: server paths, source files, panics, and the texts of the libraries
/// behind the service (JSON, query string, multipart and CSV parsers, the HTTP stack).
const INTERNALS: &[&str] = &[
    "/tmp/",
    "/root",
    "/home/",
    "/work/",
    "/usr/",
    ".rs:",
    "panicked",
    "backtrace",
    "RUST_",
    "multer",
    "serde",
    "hyper",
    "axum",
    "tokio",
    "csv::",
    "Error {",
    "Error(",
    "invalid type:",
    "invalid value:",
    "failed to read",
    "Failed to deserialize",
    "Failed to parse",
    "os error",
    "expected f64",
    "expected u32",
    "expected usize",
    "unknown variant",
    "at line 1 column",
];

fn multipart(parts: &str, boundary: &str) -> Request<Body> {
    Request::post("/predict_batch_csv")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(parts.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn no_answer_to_bad_input_echoes_internals() {
    let token = "a-long-enough-admin-token";
    let (app, _) = app_with(&fixture().models, |c| {
        c.limits.max_json_bytes = 4096;
        c.limits.max_csv_bytes = 8192;
        c.admin_token = Some(token.into());
    });
    let models = fixture().models.to_str().unwrap().to_owned();
    let raw = |method: &str, uri: &str, ctype: Option<&str>, body: &[u8]| {
        let mut r = Request::builder().method(method).uri(uri);
        if let Some(c) = ctype {
            r = r.header(header::CONTENT_TYPE, c);
        }
        r.body(Body::from(body.to_vec())).unwrap()
    };
    let json = Some("application/json");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let part = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n";
    let cases: Vec<Request<Body>> = vec![
        // JSON bodies
        raw("POST", "/predict", json, b"{\"date\": "),
        raw("POST", "/predict", json, b"\xff\xfe{}"),
        raw("POST", "/predict", json, deep.as_bytes()),
        raw("POST", "/predict", json, b"{\"unit_price\": 1e400}"),
        raw("POST", "/predict", json, b"\"a string\""),
        raw("POST", "/predict", json, b"[1, 2, 3]"),
        raw(
            "POST",
            "/predict",
            json,
            br#"{"date": ["2024-01-01"], "store_id": {}}"#,
        ),
        raw("POST", "/predict", json, &vec![b' '; 10_000]),
        raw("POST", "/predict", Some("text/plain"), b"hello"),
        raw(
            "POST",
            "/invocations",
            json,
            br#"{"dataframe_split": {"columns": 3}}"#,
        ),
        raw(
            "POST",
            "/invocations",
            json,
            br#"{"inputs": "x", "instances": []}"#,
        ),
        raw(
            "POST",
            "/forecast_sarima",
            json,
            br#"{"start_date": 20240101}"#,
        ),
        raw(
            "POST",
            "/forecast_sarima",
            json,
            br#"{"start_date": "2024-01-01", "end_date": "2024-01-02", "level": "high"}"#,
        ),
        raw(
            "POST",
            "/forecast_sarima",
            json,
            br#"{"start_date": "2024-01-01", "end_date": "2024-01-02", "extra": 1}"#,
        ),
        raw("POST", "/forecast_sarima", json, b"[]"),
        raw(
            "POST",
            "/forecast_sarima",
            json,
            br#"{"start_date": "2024-13-45", "end_date": "2024-01-02"}"#,
        ),
        // Query strings
        raw(
            "POST",
            "/predict?model=%ff%fe",
            json,
            good().to_string().as_bytes(),
        ),
        raw(
            "POST",
            "/predict?model=a&model=b",
            json,
            good().to_string().as_bytes(),
        ),
        raw(
            "POST",
            "/predict?model=../../etc/passwd",
            json,
            good().to_string().as_bytes(),
        ),
        raw("GET", "/history?start=yesterday", None, b""),
        raw(
            "GET",
            "/history?start=2024-01-01&start=2024-02-01",
            None,
            b"",
        ),
        raw("GET", "/history?store=%00", None, b""),
        raw("GET", "/history?limit=-1&start=%zz", None, b""),
        // Multipart uploads
        multipart(&format!("{part}date,store_id\n2024-01-01,S01\n"), "B"),
        multipart("--B\r\nthis is not a header\r\n\r\nx\r\n--B--\r\n", "B"),
        multipart(&format!("{part}date\n"), "Other"),
        multipart(
            "--B\r\nContent-Disposition: form-data; name=\"notfile\"\r\n\r\nx\r\n--B--\r\n",
            "B",
        ),
        multipart("", "B"),
        raw(
            "POST",
            "/predict_batch_csv",
            Some("multipart/form-data"),
            b"--B\r\n",
        ),
        raw(
            "POST",
            "/predict_batch_csv",
            Some("text/csv"),
            b"date\n2024-01-01\n",
        ),
        multipart(
            &format!(
                "{part}transaction_id,date,store_id,product_id\n\"T1,2024-01-01,S01,P1\nT2,2024-01-01\n\r\n--B--\r\n"
            ),
            "B",
        ),
        multipart(&format!("{part}{}\r\n--B--\r\n", "x".repeat(9000)), "B"),
        // Methods, routes, admin
        raw("DELETE", "/predict", None, b""),
        raw("GET", "/../../etc/passwd", None, b""),
        raw("GET", "/static/..%2f..%2fCargo.toml", None, b""),
        raw("POST", "/admin/reload", None, b""),
        Request::post("/admin/reload")
            .header(header::AUTHORIZATION, "Bearer wrong-token-of-some-length")
            .body(Body::empty())
            .unwrap(),
    ];
    let mut seen = Vec::new();
    for req in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, v, text) = send(&app, req).await;
        // A refusal with a JSON error body, or the scored CSV of an upload whose rows carry
        // their own errors.
        let scored_csv = s == StatusCode::OK && text.starts_with("transaction_id");
        assert!(s.is_client_error() || scored_csv, "{what}: {s} {text}");
        if !scored_csv {
            assert!(!v.is_null(), "{what}: not JSON: {text}");
            assert!(v["error"]["code"].is_string(), "{what}: {text}");
        }
        for m in INTERNALS.iter().copied().chain([models.as_str()]) {
            assert!(!text.contains(m), "{what} echoes {m:?}: {text}");
        }
        seen.push(format!("{what} -> {s} {text}"));
        still_serves(&app).await;
    }
    assert!(seen.len() >= 35, "{seen:#?}");
}

#[tokio::test]
async fn fields_outside_the_contract_are_refused_unless_ignored() {
    let app = app();
    // `unitprice` for `unit_price`: refused, naming the field and what it was meant to be,
    // instead of a 200 with unit_price imputed
    let mut typo = good();
    typo.as_object_mut().unwrap().remove("unit_price");
    typo["unitprice"] = json!(120.5);
    let (s, v, _) = send(&app, post("/predict", typo.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "unknown_field");
    assert_eq!(v["error"]["field"], "unitprice");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `unit_price`"),
        "{v}"
    );
    let (s, v, _) = send(&app, post("/predict", json!([good(), typo]).to_string())).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("[1].unitprice"))
    );
    let envelope = json!({"dataframe_records": [typo]});
    let (s, v, _) = send(&app, post("/invocations", envelope.to_string())).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_field"))
    );
    // asked to ignore it: scored, and the answer says unit_price was imputed
    let (s, v, _) = send(&app, post("/predict?extra_fields=ignore", typo.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imputed"], json!(["unit_price"]));
    let (_, v, _) = send(&app, post("/predict", good().to_string())).await;
    assert!(v.get("imputed").is_none(), "nothing imputed: {v}");
    // a CSV header with `price`
    let csv: &[u8] = b"date,store_id,product_id,price
2023-04-01,S01,P0001,10
";
    let (s, v, _) = send(&app, upload("/predict_batch_csv", csv)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (Some("unknown_column"), Some("price"))
    );
    let (s, _, text) = send(&app, upload("/predict_batch_csv?extra_fields=ignore", csv)).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(
        text.starts_with("date,store_id,product_id,price,predicted_revenue,error\n"),
        "{text}"
    );
    let (s, _, _) = send(
        &app,
        post("/predict?extra_fields=maybe", good().to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // a raw CSV body instead of an upload: told to send a multipart `file` part
    let raw_csv = Request::post("/predict_batch_csv")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(
            "date,store_id,product_id\n2023-04-01,S01,P0001\n",
        ))
        .unwrap();
    let (s, v, _) = send(&app, raw_csv).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "multipart_expected");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("`file`"),
        "{v}"
    );
    // a semicolon-separated upload is named as such
    let semi: &[u8] = b"date;store_id;product_id\n2023-04-01;S01;P0001\n";
    let (s, v, _) = send(&app, upload("/predict_batch_csv", semi)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("semicolon-separated"),
        "{v}"
    );
}

#[tokio::test]
async fn a_csv_with_some_bad_rows_scores_the_rest() {
    let app = app();
    let csv: &[u8] = b"transaction_id,date,store_id,product_id,unit_price,discount\n\
               a,2023-04-01,S01,P0001,10,0\n\
               b,2023-04-31,S01,P0001,10,0\n\
               c,2023-04-02,S02,P0002,-4,0\n\
               d,2023-04-02,S02,P0002,\xff\xfe,0\n\
               e,2023-04-03,S03,P0003,12.5,0.2\n";
    let long = format!("f,2023-04-03,S03,{},12.5,0.2\n", "P".repeat(1100));
    let csv = [csv, long.as_bytes()].concat();
    let csv = csv.as_slice();
    let (s, _, text) = send(&app, upload("/predict_batch_csv", csv)).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "transaction_id,date,store_id,product_id,unit_price,discount,predicted_revenue,error"
    );
    assert_eq!(lines.len(), 7);
    assert!(lines[2].contains("not a date"), "{}", lines[2]);
    assert!(
        lines[6].ends_with(",product_id is longer than 1024 characters"),
        "{}",
        &lines[6][1100..]
    );
    assert!(lines[3].contains("negative"), "{}", lines[3]);
    assert!(lines[4].contains("not UTF-8"), "{}", lines[4]);
    let (s, v, _) = send(&app, upload("/predict_batch_csv?format=json", csv)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["rows"], 6);
    assert_eq!(v["errors"], 4);
    assert!(v["predictions"][4]["predicted_revenue"].as_f64().is_some());
}

/// The raw rows of a CSV as JSON objects the way a client would send them.
fn as_json_rows(raw: &Path, n: usize) -> (Vec<Value>, String) {
    let mut rdr = csv::Reader::from_path(raw).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let mut rows = Vec::new();
    let mut text = headers.iter().collect::<Vec<_>>().join(",") + "\n";
    for rec in rdr.records().take(n) {
        let rec = rec.unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&rec).unwrap();
        text.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
        let mut obj = serde_json::Map::new();
        for (h, v) in headers.iter().zip(rec.iter()) {
            let value = match h {
                "unit_price" | "discount" if !v.trim().is_empty() => {
                    match v.trim().parse::<f64>() {
                        Ok(x) => json!(x),
                        Err(_) => json!(v),
                    }
                }
                "unit_price" | "discount" | "promotion" | "quantity" | "revenue"
                    if v.trim().is_empty() =>
                {
                    continue;
                }
                "promotion" => json!(v.trim().parse::<i64>().unwrap_or(0)),
                _ => json!(v),
            };
            obj.insert(h.to_owned(), value);
        }
        rows.push(Value::Object(obj));
    }
    (rows, text)
}

#[tokio::test]
async fn api_predictions_equal_the_offline_command() {
    let f = fixture();
    let app = app();
    let (rows, csv_text) = as_json_rows(&f.raw, 400);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rows.csv");
    fs::write(&input, &csv_text).unwrap();
    for kind in Kind::ALL {
        let out = dir.path().join(format!("{}.csv", kind.name()));
        salescast_pipeline::predict::predict(
            &f.models,
            &input,
            &out,
            Some(kind),
            false,
            false,
            false,
        )
        .unwrap();
        let mut rdr = csv::Reader::from_path(&out).unwrap();
        let offline: Vec<Option<f64>> = rdr
            .records()
            .map(|r| r.unwrap().get(rdr_col(&out)).and_then(|v| v.parse().ok()))
            .collect();
        let uri = format!("/predict_batch_csv?format=json&model={}", kind.name());
        let (s, v, _) = send(&app, upload(&uri, csv_text.as_bytes())).await;
        assert_eq!(s, StatusCode::OK);
        // The CSV answer: the input rows as they were, then the same predictions as text.
        let uri = format!("/predict_batch_csv?model={}", kind.name());
        let (s, _, text) = send(&app, upload(&uri, csv_text.as_bytes())).await;
        assert_eq!(s, StatusCode::OK);
        let mut answer = csv::Reader::from_reader(text.as_bytes());
        let mut input = csv::Reader::from_reader(csv_text.as_bytes());
        let width = input.headers().unwrap().len();
        let from_csv: Vec<csv::StringRecord> = answer.records().map(Result::unwrap).collect();
        assert_eq!(from_csv.len(), offline.len());
        for ((i, (rec, given)), o) in from_csv
            .iter()
            .zip(input.records())
            .enumerate()
            .zip(&offline)
        {
            let given = given.unwrap();
            assert_eq!(
                rec.iter().take(width).collect::<Vec<_>>(),
                given.iter().collect::<Vec<_>>(),
                "row {i}"
            );
            let b: Option<f64> = rec.get(width).and_then(|v| v.parse().ok());
            assert_eq!(b.is_some(), o.is_some(), "row {i}");
            if let (Some(b), Some(o)) = (b, o) {
                assert!(
                    (b - o).abs() <= 1e-9 * o.abs().max(1.0),
                    "row {i}: csv {b} vs {o}"
                );
            }
        }
        let scorable: Vec<Value> = rows
            .iter()
            .zip(&offline)
            .filter(|(_, o)| o.is_some())
            .map(|(r, _)| r.clone())
            .collect();
        let (s, arr, _) = send(
            &app,
            post(
                &format!("/predict?model={}", kind.name()),
                Value::Array(scorable).to_string(),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{arr}");
        let mut from_json = arr["predictions"].as_array().unwrap().iter();
        for (i, o) in offline.iter().enumerate() {
            let batch = v["predictions"][i]["predicted_revenue"].as_f64();
            assert_eq!(batch.is_some(), o.is_some(), "row {i}");
            if let (Some(b), Some(o)) = (batch, o) {
                assert!(
                    (b - o).abs() <= 1e-9 * o.abs().max(1.0),
                    "row {i}: {b} vs {o}"
                );
                let j = from_json.next().unwrap()["predicted_revenue"]
                    .as_f64()
                    .unwrap();
                assert!(
                    (j - o).abs() <= 1e-9 * o.abs().max(1.0),
                    "row {i}: json {j} vs {o}"
                );
            }
        }
    }
}

fn rdr_col(out: &Path) -> usize {
    let mut rdr = csv::Reader::from_path(out).unwrap();
    rdr.headers()
        .unwrap()
        .iter()
        .position(|h| h == "predicted_revenue")
        .unwrap()
}

#[tokio::test]
async fn invocations_accept_mlflow_envelopes() {
    let app = app();
    let g = good();
    let cols: Vec<String> = g.as_object().unwrap().keys().cloned().collect();
    let row: Vec<Value> = cols.iter().map(|c| g[c].clone()).collect();
    let (_, single, _) = send(&app, post("/predict", g.to_string())).await;
    let want = single["predicted_revenue"].as_f64().unwrap();
    for body in [
        json!({"dataframe_split": {"columns": cols, "data": [row]}}),
        json!({"dataframe_records": [g]}),
        json!({"instances": [g]}),
        json!({"inputs": [g]}),
    ] {
        let (s, v, _) = send(&app, post("/invocations", body.to_string())).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["predictions"][0].as_f64().unwrap(), want);
    }
    let (s, v, _) = send(&app, post("/invocations", json!({"rows": []}).to_string())).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_envelope",
        None,
    );
    // A CSV body, as MLflow's scoring server takes it: the same prediction, row for row.
    let csv_post = |body: String| {
        Request::post("/invocations")
            .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .body(Body::from(body))
            .unwrap()
    };
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    let line: Vec<String> = cols.iter().map(|c| cell(&g[c])).collect();
    let csv = format!(
        "{}\n{}\n{}\n",
        cols.join(","),
        line.join(","),
        line.join(",")
    );
    let (s, v, _) = send(&app, csv_post(csv)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["predictions"], json!([want, want]), "{v}");
    // Its faults are named like the JSON's: a column outside the contract, a bad field.
    let renamed = format!(
        "{}\n{}\n",
        cols.join(",").replace("unit_price", "price"),
        line.join(",")
    );
    let (s, v, _) = send(&app, csv_post(renamed)).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_column",
        Some("price"),
    );
    let price = cols.iter().position(|c| c == "unit_price").unwrap();
    let mut bad = line.clone();
    bad[price] = "abc".into();
    let (s, v, _) = send(
        &app,
        csv_post(format!(
            "{}\n{}\n{}\n",
            cols.join(","),
            line.join(","),
            bad.join(",")
        )),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "[1].unit_price", "{v}");
    let (s, v, _) = send(&app, csv_post(cols.join(",") + "\n")).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "empty_batch", None);
}

#[tokio::test]
async fn reload_swaps_only_valid_models() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    fs::create_dir_all(&models).unwrap();
    for e in fs::read_dir(&fixture().models).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), models.join(e.file_name())).unwrap();
        }
    }
    let token = "a-long-enough-admin-token";
    let (app, _) = app_with(&models, |c| c.admin_token = Some(token.into()));
    let reload = |auth: Option<&str>| {
        let mut r = Request::post("/admin/reload");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, format!("Bearer {a}"));
        }
        r.body(Body::empty()).unwrap()
    };
    let (s, v, _) = send(&app, reload(None)).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let (s, v, _) = send(&app, reload(Some("wrong-token-of-some-length"))).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthorized", None);

    // A broken artifact: refused, the old models keep serving, /status says why.
    fs::write(models.join("random_forest.bin"), b"not a model").unwrap();
    let (s, v, _) = send(&app, reload(Some(token))).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reload_failed",
        None,
    );
    still_serves(&app).await;
    let (_, st, _) = send(&app, get("/status")).await;
    assert_eq!(st["ready"], true);
    assert_eq!(st["last_load"]["ok"], false);
    let err = st["last_load"]["error"].as_str().unwrap();
    assert!(err.contains("random_forest.bin"), "{err}");
    assert!(
        !err.contains(models.to_str().unwrap()),
        "no server path in /status: {err}"
    );

    fs::copy(
        fixture().models.join("random_forest.bin"),
        models.join("random_forest.bin"),
    )
    .unwrap();
    let (s, v, _) = send(&app, reload(Some(token))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["last_load"]["ok"], true);
    assert_eq!(v["models"].as_array().unwrap().len(), 2);

    let (plain, _) = app_with(&models, |_| {});
    let (s, v, _) = send(&plain, reload(Some(token))).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "admin_disabled", None);
}

#[tokio::test]
async fn not_ready_without_models_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = salescast_api::build(&salescast_api::Config::new(dir.path().join("none")));
    assert!(state.reload().is_err());
    let (s, v, _) = send(&app, get("/ready")).await;
    assert_error(
        s,
        &v,
        StatusCode::SERVICE_UNAVAILABLE,
        "models_not_loaded",
        None,
    );
    let (s, v, _) = send(&app, post("/predict", good().to_string())).await;
    assert_error(
        s,
        &v,
        StatusCode::SERVICE_UNAVAILABLE,
        "models_not_loaded",
        None,
    );
    let (s, _, _) = send(&app, get("/health")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let app = app();
    let (s, v, _) = send(&app, get("/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/predict",
        "/predict_batch_csv",
        "/forecast_sarima",
        "/status",
        "/health",
        "/ready",
        "/metrics",
        "/invocations",
        "/admin/reload",
    ] {
        assert!(v["paths"][path].is_object(), "{path} missing");
    }
    let (s, _, text) = send(&app, get("/docs/")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("swagger"), "docs page");
}

#[tokio::test]
async fn a_real_socket_serves_and_counts() {
    let (app, _) = app_with(&fixture().models, |_| {});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    for _ in 0..3 {
        let r = client
            .post(format!("{base}/predict"))
            .json(&good())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-request-id"));
    }
    let m = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.lines()
            .any(|l| l.starts_with("salescast_http_requests_total{")
                && l.contains("route=\"/predict\"")
                && l.contains("status=\"200\"")
                && l.ends_with(" 3")),
        "{m}"
    );
    assert!(m.contains("salescast_http_request_duration_seconds_bucket"));
    assert!(m.contains("salescast_predictions_total"));
    assert!(m.contains("salescast_model_info{"));
    // Prometheus text 0.0.4 by default: counters' HELP and TYPE name their samples, no EOF;
    // OpenMetrics when asked for, under its own content type.
    assert!(
        m.contains("# TYPE salescast_http_requests_total counter"),
        "{m}"
    );
    assert!(!m.contains("# EOF"), "{m}");
    let r = client
        .get(format!("{base}/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let om = r.text().await.unwrap();
    assert!(
        om.contains("# TYPE salescast_http_requests counter") && om.ends_with("# EOF\n"),
        "{om}"
    );
    // promtool, Prometheus' own checker (of the 0.0.4 text format), finds nothing to say about
    // it (`make test` installs Debian's prometheus package for it).
    if let Some(promtool) = promtool() {
        let mut child = std::process::Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), m.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.status.success() && said.trim().is_empty(),
            "promtool: {said}\n{m}"
        );
    }
    server.abort();
}

/// A running `salescast-api` process on a free port, killed on drop.
struct Service {
    child: std::process::Child,
    addr: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_service(models: &Path, tmp: &Path) -> Service {
    let port = salescast_testing::tools::free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_salescast-api"))
        .args(["--addr", &addr, "--max-csv-bytes", "200000000"])
        .arg("--models-dir")
        .arg(models)
        .env("TMPDIR", tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the service did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Service { child, addr }
}

/// Reads an HTTP/1.1 answer's head, then `want` bytes of its body (or less at EOF).
fn read_head_and_some(r: &mut impl std::io::BufRead, want: usize) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match r.read(&mut body[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    body.truncate(got);
    (head, body)
}

#[test]
fn sigkill_of_the_service_during_a_batch_leaves_no_answer_that_looks_whole() {
    use std::io::{BufReader, Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let raw = fs::read_to_string(&fixture().raw).unwrap();
    let mut lines = raw.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    // About 20 MB each way: more than the loopback socket buffers hold, so the answer cannot
    // have been sent whole before the kill.
    let mut csv = format!("{header}\n");
    while csv.len() < 20 << 20 {
        for r in &rows {
            csv.push_str(r);
            csv.push('\n');
        }
    }
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(csv.as_bytes());
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let request = |addr: &str| {
        format!(
            "POST /predict_batch_csv HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
    };

    // 1. Killed while the upload arrives: the client gets no answer at all.
    let mut svc = spawn_service(&fixture().models, tmp.path());
    let mut conn = std::net::TcpStream::connect(&svc.addr).unwrap();
    conn.write_all(request(&svc.addr).as_bytes()).unwrap();
    conn.write_all(&body[..body.len() / 3]).unwrap();
    svc.child.kill().unwrap();
    svc.child.wait().unwrap();
    let _ = conn.write_all(&body[body.len() / 3..]);
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "an answer after the kill: {}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
    drop(svc);

    // 2. Killed while the answer streams out: what arrived is visibly cut short.
    let mut svc = spawn_service(&fixture().models, tmp.path());
    let conn = std::net::TcpStream::connect(&svc.addr).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let (req, all) = (request(&svc.addr), body.clone());
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(req.as_bytes());
        let _ = writer.write_all(&all);
    });
    let mut reader = BufReader::new(conn);
    let (head, first) = read_head_and_some(&mut reader, 64 << 10);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("transfer-encoding: chunked") || lower.contains("content-length:"),
        "the answer says how to tell it is whole: {head}"
    );
    svc.child.kill().unwrap();
    svc.child.wait().unwrap();
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    sender.join().unwrap();
    let got = first.len() + rest.len();
    if let Some(len) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse::<usize>().unwrap())
    {
        assert!(got < len, "{got} of {len} bytes arrived");
    } else {
        let tail = [first.as_slice(), rest.as_slice()].concat();
        assert!(
            !tail.ends_with(b"\r\n0\r\n\r\n"),
            "a chunked answer ended with its last chunk after a kill"
        );
    }
    assert!(got < csv.len(), "{got} bytes: the whole answer");
    drop(svc);

    // No upload was spooled to disk, so none is left behind.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// Prometheus' `promtool`: required where `SALESCAST_REQUIRE_PROMTOOL` is set (`make test`
/// installs it and sets it), else used when on the PATH.
fn promtool() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    if std::env::var_os("SALESCAST_REQUIRE_PROMTOOL").is_some() {
        assert!(
            found.is_some(),
            "promtool is missing: install Debian's prometheus package (make test does)"
        );
    }
    found
}
