//! Criterion benchmarks: the AutoETS search (15 models) and one ETS(M,Ad,M) fit on the first
//! 300 days of bike_sharing_daily (the statsforecast fixture), and a 90-day forecast with
//! simulated intervals. `bench/ets_vs_statsforecast.py` times statsforecast on the same series.

use criterion::{Criterion, criterion_group, criterion_main};
use salescast_ets::{AutoEts, Component, Spec};

fn series() -> Vec<f64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/statsforecast.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    v["series"][0]["y"]
        .as_array()
        .expect("y")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let y = series();
    let mam = Spec::new(
        Component::Multiplicative,
        Component::Additive,
        true,
        Component::Multiplicative,
        7,
    );
    let fit = mam.fit(&y).expect("fit");
    let mut g = c.benchmark_group("ets_bike_sharing_300");
    g.sample_size(10);
    g.bench_function("autoets_search", |b| {
        b.iter(|| AutoEts::new(7).fit(&y).expect("fit"))
    });
    g.bench_function("fit_m_ad_m", |b| b.iter(|| mam.fit(&y).expect("fit")));
    g.bench_function("forecast_90_simulated", |b| {
        b.iter(|| fit.forecast(90, Some(0.95)).expect("forecast"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
