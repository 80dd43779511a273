//! Single-row scoring on the serving path: parse nothing, transform one transaction with the
//! saved transform, run one model. Set-up trains both models with default settings on 60,000
//! generated rows. Also one explained prediction per model, and the batch path on 10,000 raw
//! rows.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use salescast_core::Mode;
use salescast_core::schema::ColumnMap;
use salescast_models::Kind;
use salescast_models::serving::Predictor;
use salescast_pipeline::train::{TrainOptions, train};

fn setup() -> (tempfile::TempDir, Predictor, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = salescast_testing::generated_csv(dir.path(), 60_000, 365);
    let processed = dir.path().join("processed");
    salescast_preprocess::frame::run(&raw, &processed, &Default::default()).expect("preprocess");
    let features = dir.path().join("features");
    salescast_features::frame::run(&processed, &features, &Default::default()).expect("features");
    let models = dir.path().join("models");
    train(&features, &models, &TrainOptions::default(), &|_| {}).expect("train");
    let p = Predictor::load(&models).expect("load");
    (dir, p, raw)
}

fn bench(c: &mut Criterion) {
    let (_dir, p, raw) = setup();
    let t = salescast_core::Transaction {
        transaction_id: None,
        date: chrono::NaiveDate::from_ymd_opt(2023, 12, 1).expect("date"),
        store_id: "S03".into(),
        product_id: "P0042".into(),
        category: None,
        unit_price: Some(19.99),
        quantity: None,
        discount: 0.1,
        promotion: true,
        customer_segment: "Premium".into(),
        payment_method: "Card".into(),
        revenue: None,
    };
    for kind in Kind::ALL {
        c.bench_function(&format!("predict one row: {}", kind.name()), |b| {
            b.iter(|| p.predict(black_box(&t), Some(kind)).expect("predict"))
        });
    }
    // One explained prediction (exact TreeSHAP over every tree), beside the plain one above.
    for kind in Kind::ALL {
        let mut g = c.benchmark_group("explain one row");
        if kind == Kind::RandomForest {
            g.sample_size(10);
        }
        g.bench_function(kind.name(), |b| {
            b.iter(|| p.explain(black_box(&t), Some(kind)).expect("explain"))
        });
        g.finish();
    }
    c.bench_function("transform one row", |b| {
        b.iter(|| p.transform.transform_one(black_box(&t)))
    });
    // The batch path (`/predict_batch_csv`, `salescast predict`): 10,000 raw rows, parsed,
    // encoded and scored together in parallel chunks.
    let mut reader = csv::Reader::from_path(&raw).expect("raw csv");
    let headers: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let map = ColumnMap::resolve(&headers, Mode::Scoring).expect("contract columns");
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .take(10_000)
        .collect::<Result<_, _>>()
        .expect("rows");
    for kind in Kind::ALL {
        c.bench_function(&format!("score 10,000 raw rows: {}", kind.name()), |b| {
            b.iter(|| {
                p.score_many(
                    black_box(&rows),
                    |r, c| map.get(c).and_then(|i| r.get(i)),
                    Some(kind),
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
