//! The multipart upload of `POST /predict_batch_csv`, through the whole router: any body under
//! a fixed boundary is answered, never with a 5xx and never with a panic. A refusal is a JSON
//! body with an `error`.
//!
//! Needs a trained models directory: `SALESCAST_FUZZ_MODELS=DIR cargo +nightly fuzz run
//! batch_multipart` (tools/small-models.sh makes one in a few seconds).
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Service {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

fn service() -> &'static Service {
    static S: OnceLock<Service> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::var_os("SALESCAST_FUZZ_MODELS")
            .expect("set SALESCAST_FUZZ_MODELS to a trained models directory");
        let mut cfg = salescast_api::Config::new(dir.into());
        cfg.limits.max_csv_bytes = 1 << 20;
        cfg.limits.max_batch_rows = 10_000;
        let (app, state) = salescast_api::build(&cfg);
        state.reload().expect("the models directory loads");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        Service { rt, app }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = service();
    let req = Request::post("/predict_batch_csv")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    let (status, body) = s.rt.block_on(async {
        let resp = s.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (status, body)
    });
    assert!(!status.is_server_error(), "{status}: {}", String::from_utf8_lossy(&body));
    if status.is_client_error() && status != StatusCode::PAYLOAD_TOO_LARGE {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON refusal");
        assert!(v.get("error").is_some(), "{v}");
    }
});
