//! Drift of 1,000,000 current rows against a 50,000-row reference across every watched column
//! (eight contract fields, the target and two predictions), as `salescast-monitor` computes it.
//! `bench/monitor_vs_evidently.py` runs Evidently on the same shape of data for the ratio.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salescast_monitor::data::{ColumnData, Frame, Role, Values};
use salescast_monitor::drift::compare;
use salescast_monitor::stats::ColumnType;

fn frame(n: usize, seed: u64, shift: f64) -> Frame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cat = |rng: &mut ChaCha8Rng, k: u32, name: &str| {
        let labels: Vec<String> = (0..k).map(|i| format!("{name}{i:03}")).collect();
        let codes: Vec<u32> = (0..n).map(|_| rng.random_range(0..k)).collect();
        ColumnData {
            name: name.into(),
            kind: ColumnType::Categorical,
            role: Role::Feature,
            values: Values::Cat { codes, labels },
        }
    };
    let num = |rng: &mut ChaCha8Rng, name: &str, role: Role, scale: f64| ColumnData {
        name: name.into(),
        kind: ColumnType::Numerical,
        role,
        values: Values::Num(
            (0..n)
                .map(|_| {
                    ((rng.random::<f64>() * 2.0).exp() * scale * (1.0 + shift) * 100.0).round()
                        / 100.0
                })
                .collect(),
        ),
    };
    let columns = vec![
        cat(&mut rng, 10, "store_id"),
        cat(&mut rng, 300, "product_id"),
        cat(&mut rng, 8, "category"),
        num(&mut rng, "unit_price", Role::Feature, 20.0),
        ColumnData {
            name: "discount".into(),
            kind: ColumnType::Numerical,
            role: Role::Feature,
            values: Values::Num(
                (0..n)
                    .map(|_| [0.0, 0.05, 0.1, 0.2][rng.random_range(0..4)])
                    .collect(),
            ),
        },
        cat(&mut rng, 2, "promotion"),
        cat(&mut rng, 3, "customer_segment"),
        cat(&mut rng, 3, "payment_method"),
        num(&mut rng, "revenue", Role::Target, 60.0),
        num(&mut rng, "prediction_random_forest", Role::Prediction, 60.0),
        num(
            &mut rng,
            "prediction_gradient_boosting",
            Role::Prediction,
            60.0,
        ),
    ];
    Frame { columns }
}

fn bench(c: &mut Criterion) {
    let reference = frame(50_000, 1, 0.0);
    let current = frame(1_000_000, 2, 0.02);
    let mut g = c.benchmark_group("drift");
    g.sample_size(10);
    g.bench_function("1M rows x 11 columns vs 50k reference", |b| {
        b.iter(|| compare(&reference, &current, 0.5))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
