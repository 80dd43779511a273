//! The cost of one explained prediction (exact TreeSHAP over every tree) beside the plain
//! prediction, for both models with the project's default settings, fitted on 60,000
//! generated rows of 19 features shaped like the transform's (calendar integers, codes, flags
//! and prices). Boosting twice: as the pipeline trains it, early stopping on the last 28 of
//! 1,095 days (the pipeline's `validation_days`), and with all 300 rounds, the most trees it
//! ever serves. With `SALESCAST_BENCH_MODELS=<models dir>` (e.g. `models` after `make repro`),
//! also the boosting model the pipeline served, on a generated row of its width.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salescast_models::{Dataset, GradientBoostingParams, Model, RandomForestParams};

fn data(n: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let day = (i * 1095 / n) as f64;
        let dow = day % 7.0;
        let month = (day / 30.4).floor() % 12.0 + 1.0;
        let cal = [
            dow,
            month,
            (month - 1.0).div_euclid(3.0) + 1.0,
            day % 30.0 + 1.0,
            (day / 7.0).floor() % 52.0 + 1.0,
            f64::from(u8::from(dow >= 5.0)),
            f64::from(u8::from(rng.random_bool(0.03))),
            f64::from(rng.random_range(0u8..60)),
            f64::from(rng.random_range(0u8..60)),
        ];
        let store = f64::from(rng.random_range(1u8..=10));
        let product = f64::from(rng.random_range(1u16..=200));
        let category = (product / 40.0).ceil();
        let segment = f64::from(rng.random_range(1u8..=3));
        let payment = f64::from(rng.random_range(1u8..=4));
        let price = (rng.random_range(2.0f64..300.0) * 100.0).round() / 100.0;
        let discount = f64::from(rng.random_range(0u8..5)) * 0.05;
        let promo = f64::from(u8::from(rng.random_bool(0.2)));
        let net = price * (1.0 - discount);
        let ratio = rng.random_range(0.8..1.2);
        let qty = 1.0 + (promo + f64::from(u8::from(dow >= 5.0))) * rng.random_range(0.0..3.0);
        y.push(net * qty * (1.0 + store / 20.0) + rng.random_range(-5.0..5.0));
        x.extend(cal);
        x.extend([
            store, product, category, segment, payment, price, discount, promo, net, ratio,
        ]);
    }
    Dataset::new(x, y, (0..19).map(|i| format!("f{i}")).collect()).expect("data")
}

fn bench(c: &mut Criterion) {
    let d = data(60_000);
    let cut = 60_000 * (1095 - 28) / 1095;
    let rows = |r: std::ops::Range<usize>| {
        Dataset::new(
            d.x[r.start * 19..r.end * 19].to_vec(),
            d.y[r.clone()].to_vec(),
            d.feature_names.clone(),
        )
        .expect("split")
    };
    let stopped = Model::GradientBoosting(
        GradientBoostingParams::default()
            .fit(&rows(0..cut), Some(&rows(cut..60_000)), &|_| {})
            .expect("fit boosting"),
    );
    let gb = Model::GradientBoosting(
        GradientBoostingParams::default()
            .fit(&d, None, &|_| {})
            .expect("fit boosting"),
    );
    let rf = Model::RandomForest(
        RandomForestParams::default()
            .fit(&d, &|_| {})
            .expect("fit forest"),
    );
    let row = &d.x[19 * 123..19 * 124];
    let served = std::env::var_os("SALESCAST_BENCH_MODELS").map(|dir| {
        let path = std::path::Path::new(&dir).join("gradient_boosting.bin");
        let m = Model::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let width = m.feature_names().len();
        let row: Vec<f64> = (0..width).map(|i| d.x[19 * 123 + i % 19]).collect();
        let name = format!("served gradient_boosting ({} trees)", m.trees().len());
        (name, m, row)
    });
    let stopped_name = format!(
        "gradient_boosting, early-stopped ({} trees)",
        stopped.trees().len()
    );
    for (name, model) in [
        (stopped_name.as_str(), &stopped),
        ("gradient_boosting, 300 trees", &gb),
        ("random_forest", &rf),
    ] {
        // What explaining needs is built once per model on first use, as in the service.
        model.explain_row(row).expect("explain");
        let mut g = c.benchmark_group(name);
        if name == "random_forest" {
            g.sample_size(20);
        }
        g.bench_function("predict one row", |b| {
            b.iter(|| model.predict_row(black_box(row)))
        });
        g.bench_function("explain one row", |b| {
            b.iter(|| model.explain_row(black_box(row)).expect("explain"))
        });
        g.finish();
    }
    if let Some((name, model, row)) = &served {
        model.explain_row(row).expect("explain");
        let mut g = c.benchmark_group(name.as_str());
        g.bench_function("predict one row", |b| {
            b.iter(|| model.predict_row(black_box(row)))
        });
        g.bench_function("explain one row", |b| {
            b.iter(|| model.explain_row(black_box(row)).expect("explain"))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
