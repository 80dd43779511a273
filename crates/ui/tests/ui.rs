//! The UI's handlers against a real API serving trained models: every page, bad query strings,
//! a prediction equal to the API's, a batch upload and its download, escaping, the upload
//! limit, path-shaped job ids, the monitoring page before and after a run, and the banner once
//! the API is gone.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(app: &Router, uri: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    )
}

/// A multipart form as the page's form sends it: the `extra_fields` checkbox (when given)
/// before the file.
fn multipart_with(name: &str, content: &[u8], extra: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "salescast-test-boundary";
    let mut body = Vec::new();
    if let Some(v) = extra {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"extra_fields\"\r\n\r\n{v}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &Router, name: &str, content: &[u8]) -> (StatusCode, String, String) {
    upload_with(app, name, content, None).await
}

async fn upload_with(
    app: &Router,
    name: &str,
    content: &[u8],
    extra: Option<&str>,
) -> (StatusCode, String, String) {
    let (ctype, body) = multipart_with(name, content, extra);
    let resp = app
        .clone()
        .oneshot(
            Request::post("/batch")
                .header(header::CONTENT_TYPE, ctype)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn attr<'a>(html: &'a str, id: &str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..at + html[at..].find('>')?];
    let key = format!("{name}=\"");
    let v = tag.find(&key)? + key.len();
    Some(&tag[v..v + tag[v..].find('"')?])
}

/// The text right inside the element with `id`.
fn text_of<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    Some(&html[start..start + html[start..].find('<')?])
}

#[test]
fn pages_against_a_real_api() {
    let mut stack = common::Stack::start(8_000, 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = stack.ui_config();
    let jobs = stack.path().join("jobs");
    cfg.jobs_dir = Some(jobs.clone());
    let app = salescast_ui::app(&cfg).unwrap();
    let http = reqwest::Client::new();
    let api = stack.api_url.clone();

    rt.block_on(async {
        // Every page renders, within the layout, with no external asset.
        for (path, h1) in [
            ("/", "Overview"),
            ("/predict", "Predict one transaction"),
            ("/batch", "Batch scoring"),
            ("/forecast", "Forecast"),
            ("/models", "Models"),
            ("/monitoring", "Monitoring"),
        ] {
            let (status, html, headers) = get(&app, path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {html}");
            assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
            assert!(html.contains(&format!("<h1>{h1}</h1>")), "{path}");
            assert!(
                !html.contains("api-banner"),
                "{path}: banner with the API up"
            );
            assert!(
                !html.contains("src=\"http") && !html.contains("href=\"//"),
                "{path}"
            );
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        }
        let (_, overview, _) = get(&app, "/").await;
        assert!(overview.contains("id=\"kpi-revenue\""));
        assert!(
            overview.contains("class=\"fc-pt\""),
            "the forecast is on the overview"
        );
        let (_, models, _) = get(&app, "/models").await;
        assert!(models.contains("seasonal naive (baseline)"));
        assert!(models.contains("id=\"data-sha\""));
        // Global importance as mean |SHAP| per field, for every model.
        assert!(models.contains("id=\"shap-fields-gradient_boosting\""), "{models}");
        assert!(models.contains("id=\"shap-fields-random_forest\""));
        let (_, monitoring, _) = get(&app, "/monitoring").await;
        assert!(monitoring.contains("id=\"monitor-status\""));
        assert!(monitoring.contains("id=\"full-report\""));
        let (status, report, _) = get(&app, "/monitoring/report").await;
        assert_eq!(status, StatusCode::OK);
        assert!(report.contains("Salescast monitor"));

        // The forecast download names its bounds with their level, as the CLI's tables do.
        let (status, text, _) = get(&app, "/forecast.csv?level=90").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            text.starts_with("date,store,mean,lower_90,upper_90,model\n"),
            "{text}"
        );
        // Bad query strings: 400 inside the layout, naming the field.
        for (uri, field) in [
            ("/?start=2025-13-45", "start:"),
            ("/?start=2025-02-01&end=2025-01-01", "end:"),
            ("/forecast?level=150", "level:"),
            ("/predict?points=99999", "points:"),
            ("/predict?whatif=quantity", "whatif:"),
        ] {
            let (status, html, _) = get(&app, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(html.contains(field), "{uri}: {html}");
        }
        // A store the models do not know: the API's 422, shown beside the control.
        let (status, html, _) = get(&app, "/?store=%3Cb%3EX%3C%2Fb%3E").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("&lt;b&gt;X&lt;/b&gt;") && !html.contains("<b>X</b>"));
        let (status, _, _) = get(&app, "/no/such/page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The prediction equals the API's for the same fields (the catalog's typical row).
        let catalog: serde_json::Value = http
            .get(format!("{api}/catalog"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = &catalog["typical"];
        let q = salescast_ui::params::query(&[
            ("go", "1".into()),
            ("date", t["date"].as_str().unwrap().into()),
            ("store_id", t["store_id"].as_str().unwrap().into()),
            ("product_id", t["product_id"].as_str().unwrap().into()),
            ("category", t["category"].as_str().unwrap().into()),
            ("unit_price", t["unit_price"].to_string()),
            ("discount", "0.1".into()),
            ("promotion", "true".into()),
            (
                "customer_segment",
                t["customer_segment"].as_str().unwrap().into(),
            ),
            (
                "payment_method",
                t["payment_method"].as_str().unwrap().into(),
            ),
            ("whatif", "discount".into()),
            ("points", "9".into()),
        ]);
        let (status, html, _) = get(&app, &format!("/predict?{q}")).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let shown: f64 = attr(&html, "prediction", "data-value")
            .unwrap()
            .parse()
            .unwrap();
        let mut body = t.clone();
        body["discount"] = serde_json::json!(0.1);
        body["promotion"] = serde_json::json!(true);
        let direct: serde_json::Value = http
            .post(format!("{api}/predict"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown, direct["predicted_revenue"].as_f64().unwrap());
        assert_eq!(html.matches("class=\"whatif-pt\"").count(), 9);
        // "Why this number": the API's explanation, from its expected value, field by field.
        let explained: serde_json::Value = http
            .post(format!("{api}/predict?explain=true"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let e = &explained["explanation"];
        let expected: f64 = attr(&html, "explanation", "data-expected")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(expected, e["expected_value"].as_f64().unwrap());
        let fields = e["contributions"].as_array().unwrap();
        assert!(fields.len() >= 5, "{e}");
        let chart = html.split("id=\"explain-chart\"").nth(1).unwrap();
        for c in fields {
            assert!(
                chart.contains(&format!(">{}<", c["name"].as_str().unwrap())),
                "{c} is drawn"
            );
        }

        // Batch: counts, highlighted failures, escaping, and a download equal to the API's.
        let raw = std::fs::read_to_string(&stack.raw).unwrap();
        let mut lines: Vec<String> = raw.lines().take(21).map(str::to_owned).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let price = header.iter().position(|h| *h == "unit_price").unwrap();
        let product = header.iter().position(|h| *h == "product_id").unwrap();
        let mut cells: Vec<String> = lines[2].split(',').map(str::to_owned).collect();
        cells[price] = "abc".into();
        lines[2] = cells.join(",");
        let mut cells: Vec<String> = lines[4].split(',').map(str::to_owned).collect();
        cells[product] = "\"<script>alert(1)</script>\"".into();
        lines[4] = cells.join(",");
        let csv = lines.join("\n") + "\n";
        let (status, location, _) = upload(&app, "mine.csv", csv.as_bytes()).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.starts_with("/batch?job="), "{location}");
        let (status, html, _) = get(&app, &location).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text_of(&html, "batch-rows"), Some("20"), "{html}");
        assert_eq!(text_of(&html, "batch-errors"), Some("1"));
        assert_eq!(html.matches("class=\"row-error\"").count(), 1);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>alert"));
        let id = location.trim_start_matches("/batch?job=");
        let resp = app
            .clone()
            .oneshot(
                Request::get(format!("/batch/{id}/scored.csv"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let downloaded = resp.into_body().collect().await.unwrap().to_bytes();
        let part = reqwest::multipart::Part::bytes(csv.clone().into_bytes()).file_name("mine.csv");
        let direct = http
            .post(format!("{api}/predict_batch_csv"))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            downloaded, direct,
            "the download is the API's answer, byte for byte"
        );
        // A column outside the data contract: refused, naming it, unless the form's checkbox
        // asks to pass such columns through.
        let renamed = csv.replacen("unit_price", "price", 1);
        let (status, _, html) = upload(&app, "renamed.csv", renamed.as_bytes()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("id=\"batch-error\"") && html.contains("price"), "{html}");
        let (status, location, html) =
            upload_with(&app, "renamed.csv", renamed.as_bytes(), Some("ignore")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        let (_, html, _) = get(&app, &location).await;
        assert_eq!(text_of(&html, "batch-rows"), Some("20"), "{html}");
        let ignored_id = location.trim_start_matches("/batch?job=").to_owned();
        let (status, _, html) =
            upload_with(&app, "renamed.csv", renamed.as_bytes(), Some("yes")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(html.contains("extra_fields:"), "{html}");
        let (_, html, _) = get(&app, "/batch").await;
        assert!(html.contains("name=\"extra_fields\""), "the form offers the choice");
        // Job ids are never paths.
        for bad in ["..%2F..%2Fetc%2Fpasswd", "00000000000000000000000000000000"] {
            let (status, _, _) = get(&app, &format!("/batch/{bad}/scored.csv")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        }
        // The API's refusal of a whole file (no columns it knows) is shown, not a 5xx.
        let (status, _, html) = upload(&app, "bad.csv", b"just,some\n1,2\n").await;
        assert!(status.is_client_error(), "{status}: {html}");
        assert!(html.contains("id=\"batch-error\""));
        let (status, _, html) = upload(&app, "empty.csv", b"").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("file: the file is empty"));
        // No answer to bad input echoes internals: paths, panics, or the texts of the parsers
        // and HTTP stack behind the UI and the API.
        let internals = [
            "/tmp/", "/root", "/work/", "/home/", ".rs:", "panicked", "multer", "serde",
            "hyper", "reqwest", "axum", "Failed to deserialize", "invalid type:",
            "os error", "at line 1 column", "error sending request",
        ];
        let post = |ctype: &str, body: &[u8]| {
            Request::post("/batch")
                .header(header::CONTENT_TYPE, ctype.to_owned())
                .body(Body::from(body.to_vec()))
                .unwrap()
        };
        let bad_requests = vec![
            Request::get("/?start=yesterday&end=%ff").body(Body::empty()).unwrap(),
            Request::get("/?store=a&store=b&category=%00").body(Body::empty()).unwrap(),
            Request::get("/predict?unit_price=abc&discount=2&date=2024-02-30").body(Body::empty()).unwrap(),
            Request::get("/predict?whatif=../../etc/passwd").body(Body::empty()).unwrap(),
            Request::get("/forecast?level=500&start=x&end=y&store=%2e%2e").body(Body::empty()).unwrap(),
            Request::get("/forecast.csv?level=-1").body(Body::empty()).unwrap(),
            Request::get("/batch?job=../../etc/passwd").body(Body::empty()).unwrap(),
            Request::get("/no/such/page").body(Body::empty()).unwrap(),
            post("multipart/form-data; boundary=B", b"--B\r\nnot a header\r\n\r\nx\r\n--B--\r\n"),
            post("multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\ndate\n"),
            post("multipart/form-data", b"--B\r\n"),
            post("text/plain", b"hello"),
            post("multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x.csv\"\r\n\r\n\xff\xfe\x00\r\n--B--\r\n"),
        ];
        for req in bad_requests {
            let what = format!("{} {}", req.method(), req.uri());
            let resp = app.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!status.is_server_error(), "{what}: {status}");
            for m in internals.iter().copied().chain([stack.path().to_str().unwrap()]) {
                if let Some(at) = text.find(m) {
                    let around: String = text[at.saturating_sub(200)..].chars().take(400).collect();
                    panic!("{what} echoes {m:?}: …{around}…");
                }
            }
        }
        // Nothing of the uploads is left behind but the finished job's result and summary.
        let mut left: Vec<String> = std::fs::read_dir(&jobs)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut kept = vec![
            format!("{id}.csv"),
            format!("{id}.json"),
            format!("{ignored_id}.csv"),
            format!("{ignored_id}.json"),
        ];
        kept.sort();
        assert_eq!(left, kept);
    });

    // The upload limit: a UI whose limit is 1 KiB refuses a larger file, naming it.
    let mut small = stack.ui_config();
    small.max_upload_bytes = 1024;
    let small_app = salescast_ui::app(&small).unwrap();
    rt.block_on(async {
        let big = vec![b'a'; 4096];
        let (status, _, html) = upload(&small_app, "big.csv", &big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{html}");
        assert!(html.contains("file: the file is larger than the limit of 1,024 bytes"));
    });

    // Before any monitor run, the monitoring page says so.
    let mut fresh = stack.ui_config();
    fresh.reports_dir = stack.path().join("no-reports-yet");
    let fresh_app = salescast_ui::app(&fresh).unwrap();
    rt.block_on(async {
        let (status, html, _) = get(&fresh_app, "/monitoring").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("No monitor has run yet."));
    });

    // The API stops: every page shows the banner with its address, never a 5xx, and the
    // overview keeps its last good data.
    stack.stop_api();
    rt.block_on(async {
        let (status, _, _) = get(&app, "/forecast.csv").await;
        assert!(!status.is_server_error(), "/forecast.csv: {status}");
        for path in ["/", "/predict", "/batch", "/forecast", "/models"] {
            let (status, html, _) = get(&app, path).await;
            assert!(!status.is_server_error(), "{path}: {status}");
            assert!(html.contains(&api), "{path}: the banner names the API");
        }
        let (_, html, _) = get(&app, "/").await;
        assert!(html.contains("id=\"api-banner\""));
        assert!(html.contains("Showing the last data received from it."));
        assert!(html.contains("id=\"kpi-revenue\""), "last good data");
    });
}

/// A loopback server that accepts connections and then either never answers (`garbage` off) or
/// answers every request with 200 and a body that is not JSON.
fn fake_api(garbage: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten() {
            if garbage {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let body = "<html>surprise</html>";
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            } else {
                held.push(conn); // never answered
            }
        }
    });
    url
}

#[test]
fn a_slow_or_garbled_api_brings_the_banner_not_an_error_page() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for garbage in [false, true] {
        let url = fake_api(garbage);
        let mut cfg = salescast_ui::Config::new(&url);
        cfg.api_timeout = std::time::Duration::from_millis(500);
        cfg.reports_dir = std::path::PathBuf::from("/nonexistent-reports");
        let app = salescast_ui::app(&cfg).unwrap();
        rt.block_on(async {
            for path in [
                "/",
                "/predict",
                "/batch",
                "/forecast",
                "/models",
                "/monitoring",
            ] {
                let started = std::time::Instant::now();
                let (status, html, _) = get(&app, path).await;
                assert!(!status.is_server_error(), "{path}: {status}");
                if path != "/monitoring" {
                    assert!(
                        html.contains("id=\"api-banner\""),
                        "{path} (garbage {garbage})"
                    );
                    assert!(html.contains(&url), "{path}: the banner names the API");
                    assert!(!html.contains("surprise"), "{path}: no raw answer echoed");
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(10),
                    "{path}: the page waited on a dead API once per call"
                );
            }
        });
    }
}
