//! Writes the models and rows that `tools/shap_fixtures.py` hands to the `shap` package, for
//! the committed fixtures `tests/shap.rs` checks our TreeSHAP against. Run by that script:
//! `cargo run -p salescast-models --example shap_fixture -- DIR`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salescast_models::{Dataset, GradientBoostingParams, Model, RandomForestParams};

/// Rows the fixtures explain.
const ROWS: usize = 1000;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: shap_fixture DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    // Codes, flags, a cyclic day and prices: the kinds of feature the real transform makes.
    let names = [
        "store", "product", "weekday", "promo", "price", "discount", "net", "ratio",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let n = 4000;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let store = f64::from(rng.random_range(1u8..=6));
        let product = f64::from(rng.random_range(1u8..=40));
        let weekday = f64::from(rng.random_range(0u8..7));
        let promo = f64::from(u8::from(rng.random_bool(0.3)));
        let price = (rng.random_range(2.0f64..200.0) * 100.0).round() / 100.0;
        let discount = f64::from(rng.random_range(0u8..5)) * 0.05;
        let net = price * (1.0 - discount);
        let ratio = rng.random_range(0.8..1.2);
        let noise: f64 = rng.random_range(-5.0..5.0);
        y.push(
            net * (1.0 + promo) * if weekday >= 5.0 { 1.4 } else { 1.0 } + store * 3.0
                - ratio * 10.0
                + noise,
        );
        x.extend([store, product, weekday, promo, price, discount, net, ratio]);
    }
    let data = Dataset::new(x, y, names.iter().map(|s| (*s).to_owned()).collect()).unwrap();
    let gb = GradientBoostingParams {
        n_rounds: 60,
        subsample: 0.8,
        ..Default::default()
    }
    .fit(&data, None, &|_| {})
    .unwrap();
    let rf = RandomForestParams {
        n_trees: 10,
        max_depth: 10,
        min_samples_leaf: 5,
        ..Default::default()
    }
    .fit(&data, &|_| {})
    .unwrap();
    for (name, model) in [
        ("gradient_boosting", Model::GradientBoosting(gb)),
        ("random_forest", Model::RandomForest(rf)),
    ] {
        std::fs::write(dir.join(format!("{name}.bin")), model.to_bytes().unwrap()).unwrap();
        let trees = salescast_models::explain::shap_trees(&model).unwrap();
        std::fs::write(dir.join(format!("{name}.trees.json")), trees.to_string()).unwrap();
    }
    let rows: Vec<&[f64]> = data.x.chunks(names.len()).take(ROWS).collect();
    std::fs::write(dir.join("rows.json"), serde_json::to_string(&rows).unwrap()).unwrap();
}
