//! Server render time per page with the API's answers cached, and each page's size.
//!
//! A real API serves models trained on generated data (two years, 60,000 transactions); each
//! page's data are fetched once through the UI's client (which caches them), then two things
//! are timed: `render` alone (the view to HTML), and the whole request through the router with
//! the cache warm (which still asks the API's `/status` on loopback, as every page does).
//! Criterion reports medians; the summary printed at the end adds the p99 of 2,000 renders
//! and the HTML size of each page.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use salescast_ui::pages::{batch, forecast, models, monitoring, overview, predict};
use salescast_ui::params::Params;
use tower::ServiceExt;

struct Pages {
    overview: overview::Data,
    predict: predict::Data,
    batch: batch::Data,
    forecast: forecast::Data,
    models: models::Data,
    monitoring: salescast_ui::reports::Monitoring,
    job: String,
}

type Render<'a> = Box<dyn Fn() -> String + 'a>;

fn render_all(p: &Pages) -> Vec<(&'static str, Render<'_>)> {
    vec![
        ("overview", Box::new(|| overview::render(&p.overview))),
        ("predict", Box::new(|| predict::render(&p.predict))),
        ("batch", Box::new(|| batch::render(&p.batch))),
        ("forecast", Box::new(|| forecast::render(&p.forecast))),
        ("models", Box::new(|| models::render(&p.models))),
        ("monitoring", Box::new(|| monitoring::render(&p.monitoring))),
    ]
}

fn bench(c: &mut Criterion) {
    let stack = common::Stack::start(60_000, 730);
    let cfg = stack.ui_config();
    let state = salescast_ui::state(&cfg).unwrap();
    let app = salescast_ui::router(state.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let raw = std::fs::read_to_string(&stack.raw).unwrap();
    let upload: String = raw.lines().take(201).collect::<Vec<_>>().join("\n") + "\n";
    let job = rt.block_on(async {
        let boundary = "b";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.csv\"\r\n\r\n{upload}\r\n--{boundary}--\r\n"
        );
        let resp = app
            .clone()
            .oneshot(
                Request::post("/batch")
                    .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        resp.headers()["location"].to_str().unwrap().trim_start_matches("/batch?job=").to_owned()
    });
    let predict_query = "go=1&whatif=unit_price&points=21";
    let pages = rt.block_on(async {
        Pages {
            overview: overview::load(&state, overview::Controls::default()).await,
            predict: predict::load(&state, &Params::parse(Some(predict_query)))
                .await
                .unwrap(),
            batch: batch::Data {
                job: Some((job.clone(), state.jobs.summary(&job).unwrap())),
                limit_bytes: cfg.max_upload_bytes,
                ..Default::default()
            },
            forecast: forecast::load(&state, forecast::Controls::default()).await,
            models: models::load(&state).await,
            monitoring: salescast_ui::reports::read(&stack.reports),
            job: job.clone(),
        }
    });

    let mut g = c.benchmark_group("render");
    for (name, f) in render_all(&pages) {
        g.bench_function(name, |b| b.iter(|| black_box(f())));
    }
    g.finish();

    let uris = [
        ("overview", "/".to_owned()),
        ("predict", format!("/predict?{predict_query}")),
        ("batch", format!("/batch?job={}", pages.job)),
        ("forecast", "/forecast".to_owned()),
        ("models", "/models".to_owned()),
        ("monitoring", "/monitoring".to_owned()),
    ];
    let mut g = c.benchmark_group("request_cached");
    for (name, uri) in &uris {
        g.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let resp = app
                    .clone()
                    .oneshot(Request::get(uri.as_str()).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                black_box(resp.into_body().collect().await.unwrap().to_bytes())
            });
        });
    }
    g.finish();

    println!("\npage        render median   render p99   HTML bytes");
    for (name, f) in render_all(&pages) {
        let mut t: Vec<f64> = (0..2_000)
            .map(|_| {
                let s = Instant::now();
                black_box(f());
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        println!(
            "{name:<11} {:>10.3} ms {:>10.3} ms {:>11}",
            t[t.len() / 2],
            t[t.len() * 99 / 100],
            f().len()
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
