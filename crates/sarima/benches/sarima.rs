//! Criterion benchmarks: one exact likelihood evaluation, one full fit of
//! SARIMA(1,1,1)(1,1,1,7) on three years of daily revenue, and a 90-day forecast.
//! The series is the golden fixture's daily revenue, so the numbers compare with the
//! statsmodels figures in `bench/sarima_vs_python.py`.

use criterion::{Criterion, criterion_group, criterion_main};
use salescast_sarima::{FittedSarima, Order, Regressors, Sarima};

fn daily() -> Vec<f64> {
    let path = format!("{}/tests/golden/daily.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["y"]
        .as_array()
        .expect("y")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let y = daily();
    let order = Order::sarima(1, 1, 1, 1, 1, 1, 7);
    let fit = Sarima::new(order)
        .fit_exog(&y, &Regressors::none())
        .expect("fit");
    let mut g = c.benchmark_group("sarima_daily_1065");
    g.sample_size(10);
    g.bench_function("likelihood_evaluation", |b| {
        b.iter(|| {
            FittedSarima::from_params(order, fit.params.clone(), &y, &Regressors::none(), 0)
                .expect("filter")
        })
    });
    g.bench_function("fit_111_111_7", |b| {
        b.iter(|| {
            Sarima::new(order)
                .fit_exog(&y, &Regressors::none())
                .expect("fit")
        })
    });
    g.bench_function("forecast_90_days_with_intervals", |b| {
        b.iter(|| {
            fit.forecast_exog(90, &Regressors::none(), Some(0.95))
                .expect("forecast")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
