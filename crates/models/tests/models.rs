#![allow(clippy::unwrap_used)] // a test may unwrap
//! Both model families on data whose answer is known.

use salescast_models::metrics::{mae, r2};
use salescast_models::{Dataset, GradientBoostingParams, Model, ModelError, RandomForestParams};

/// y = step(x0) + 0.5·x1 with x2 pure noise, deterministic pseudo-random inputs.
fn data(n: usize, seed: u64) -> Dataset {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Vec::with_capacity(n * 3);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b, c) = (next() * 10.0, next() * 10.0, next());
        x.extend([a, b, c]);
        y.push(if a < 5.0 { 2.0 } else { 8.0 } + 0.5 * b);
    }
    Dataset::new(x, y, vec!["a".into(), "b".into(), "noise".into()]).unwrap()
}

fn rf() -> RandomForestParams {
    RandomForestParams {
        n_trees: 30,
        min_samples_leaf: 3,
        max_features: 1.0,
        ..Default::default()
    }
}

#[test]
fn forest_learns_step_plus_linear() {
    let (train, test) = (data(4000, 1), data(1000, 2));
    let m = rf().fit(&train, &|_| {}).unwrap();
    let p: Vec<f64> = (0..test.n_rows)
        .map(|i| m.predict_row(test.row(i)))
        .collect();
    assert!(r2(&test.y, &p) > 0.98, "r2 {}", r2(&test.y, &p));
    assert!(m.oob_r2.unwrap() > 0.97);
    // the step feature matters most, the noise least
    assert!(m.importance[0] > m.importance[1] && m.importance[1] > m.importance[2]);
}

#[test]
fn boosting_learns_step_plus_linear() {
    let (train, test) = (data(4000, 1), data(1000, 2));
    let m = GradientBoostingParams {
        n_rounds: 200,
        early_stopping_rounds: 0,
        ..Default::default()
    }
    .fit(&train, None, &|_| {})
    .unwrap();
    let p: Vec<f64> = (0..test.n_rows)
        .map(|i| m.predict_row(test.row(i)))
        .collect();
    assert!(mae(&test.y, &p) < 0.1, "mae {}", mae(&test.y, &p));
    assert!(m.importance[0] > m.importance[2]);
    assert_eq!(m.trees.len(), 200);
}

#[test]
fn same_seed_same_model_other_seed_other_model() {
    let train = data(2000, 3);
    let a = rf().fit(&train, &|_| {}).unwrap();
    let b = rf().fit(&train, &|_| {}).unwrap();
    assert_eq!(a, b);
    let c = RandomForestParams { seed: 9, ..rf() }
        .fit(&train, &|_| {})
        .unwrap();
    assert_ne!(a.trees, c.trees);
    let g = GradientBoostingParams {
        n_rounds: 20,
        subsample: 0.7,
        colsample: 0.7,
        ..Default::default()
    };
    assert_eq!(
        g.fit(&train, None, &|_| {}).unwrap(),
        g.fit(&train, None, &|_| {}).unwrap()
    );
}

/// Boosting grows each tree's branches in parallel, however the threads happen to take them up:
/// the model must not depend on it. Enough rows that histograms and partitions are also split
/// across threads.
#[test]
fn boosting_does_not_depend_on_the_number_of_threads() {
    let train = data(40_000, 5);
    let g = GradientBoostingParams {
        n_rounds: 8,
        colsample: 0.7,
        early_stopping_rounds: 0,
        ..Default::default()
    };
    let fit = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| g.fit(&train, None, &|_| {}).unwrap())
    };
    let one = fit(1);
    assert_eq!(one, fit(2));
    assert_eq!(one, fit(3));
}

#[test]
fn early_stopping_stops_and_keeps_the_best_round() {
    // A pure-noise target: validation loss stops improving almost at once.
    let mut train = data(3000, 4);
    let mut s = 7u64;
    for y in &mut train.y {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *y = (s >> 11) as f64 / (1u64 << 53) as f64;
    }
    let valid = train.slice(2500..3000);
    let fit = train.slice(0..2500);
    let p = GradientBoostingParams {
        n_rounds: 1000,
        max_depth: 8,
        learning_rate: 0.3,
        early_stopping_rounds: 10,
        ..Default::default()
    };
    let m = p.fit(&fit, Some(&valid), &|_| {}).unwrap();
    assert!(m.stopped_early);
    let best = m.best_round.unwrap();
    assert_eq!(m.trees.len(), best + 1);
    assert!(m.history.len() <= best + 11 && m.history.len() < 1000);
}

#[test]
fn leaf_wise_growth_keeps_its_leaf_budget_and_equals_level_wise_without_one() {
    let (train, test) = (data(4000, 1), data(1000, 2));
    let fit = |num_leaves: usize, min_data_in_leaf: u32| {
        GradientBoostingParams {
            n_rounds: 40,
            early_stopping_rounds: 0,
            num_leaves,
            min_data_in_leaf,
            ..Default::default()
        }
        .fit(&train, None, &|_| {})
        .unwrap()
    };
    // a budget the depth never reaches (2^6 = 64 leaves): the same trees as level by level
    let (level, leafy) = (fit(0, 1), fit(1000, 1));
    for i in 0..test.n_rows {
        assert_eq!(
            level.predict_row(test.row(i)),
            leafy.predict_row(test.row(i))
        );
    }
    // a budget of 5: every tree has at most 5 leaves, the first exactly 5, and it still learns
    let small = fit(5, 1);
    assert!(small.trees.iter().all(|t| t.n_leaves() <= 5));
    assert_eq!(small.trees[0].n_leaves(), 5);
    let p: Vec<f64> = (0..test.n_rows)
        .map(|i| small.predict_row(test.row(i)))
        .collect();
    assert!(mae(&test.y, &p) < 0.5, "mae {}", mae(&test.y, &p));
    // min_data_in_leaf: no leaf of the first tree holds fewer rows
    let big_leaves = fit(31, 400);
    assert!(big_leaves.trees[0].n_leaves() <= 4000 / 400);
    for bad in [
        GradientBoostingParams {
            num_leaves: 1,
            ..Default::default()
        },
        GradientBoostingParams {
            min_data_in_leaf: 0,
            ..Default::default()
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(
            e.contains("num_leaves") || e.contains("min_data_in_leaf"),
            "{e}"
        );
    }
}

#[test]
fn bad_hyperparameters_are_named() {
    let train = data(100, 5);
    let e = RandomForestParams { n_trees: 0, ..rf() }
        .fit(&train, &|_| {})
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::InvalidParam {
                name: "n_trees",
                ..
            }
        ),
        "{e}"
    );
    let e = GradientBoostingParams {
        learning_rate: -0.1,
        ..Default::default()
    }
    .fit(&train, None, &|_| {})
    .unwrap_err();
    assert!(e.to_string().contains("learning_rate"), "{e}");
    let e = GradientBoostingParams {
        subsample: 0.0,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("subsample"));
    let e = Dataset::new(vec![1.0, 2.0], vec![1.0, f64::NAN], vec!["a".into()]).unwrap_err();
    assert!(matches!(e, ModelError::NonFiniteTarget { row: 1 }));
}

#[test]
fn artifacts_round_trip_and_check_schema() {
    // not a multiple of the eight rows batch scoring walks together
    let train = data(1003, 6);
    for model in [
        Model::RandomForest(rf().fit(&train, &|_| {}).unwrap()),
        Model::GradientBoosting(
            GradientBoostingParams {
                n_rounds: 20,
                ..Default::default()
            }
            .fit(&train, None, &|_| {})
            .unwrap(),
        ),
    ] {
        let bytes = model.to_bytes().unwrap();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, model);
        // the batch path (tree-major blocks) gives exactly the row-by-row numbers
        let rows: Vec<f64> = (0..train.n_rows)
            .map(|i| model.predict_row(train.row(i)))
            .collect();
        assert_eq!(model.predict(&train.x).unwrap(), rows);
        assert_eq!(model.predict_seq(&train.x).unwrap(), rows);
        assert_eq!(
            back.predict(&train.x).unwrap(),
            model.predict(&train.x).unwrap()
        );
        assert!(Model::from_bytes(&bytes[..bytes.len() / 2]).is_err());
        assert!(Model::from_bytes(b"garbage").is_err());
        model.check_features(&train.feature_names).unwrap();
        let other = vec!["a".to_owned(), "b".to_owned()];
        assert!(matches!(
            model.check_features(&other),
            Err(ModelError::SchemaMismatch { .. })
        ));
    }
}

#[test]
fn boosting_train_loss_is_the_loss_of_its_own_predictions() {
    // Training keeps residuals rather than predictions, updated leaf by leaf (and by traversal
    // for rows left out of a round's sample): the loss it records must be the fitted model's.
    let train = data(3000, 4);
    for subsample in [1.0, 0.6] {
        let m = GradientBoostingParams {
            n_rounds: 25,
            subsample,
            ..Default::default()
        }
        .fit(&train, None, &|_| {})
        .unwrap();
        let sse: f64 = (0..train.n_rows)
            .map(|i| (train.y[i] - m.predict_row(train.row(i))).powi(2))
            .sum();
        let rmse = (sse / train.n_rows as f64).sqrt();
        let recorded = m.history.last().unwrap().train_rmse;
        assert!(
            (rmse - recorded).abs() <= 1e-9 * rmse,
            "subsample {subsample}: recorded {recorded}, predictions {rmse}"
        );
    }
}

/// `data` with heavy-tailed noise: one row in ten gets a large positive spike (a big order),
/// so the mean sits well above the median and squared error chases the spikes.
fn spiked(n: usize, seed: u64) -> Dataset {
    let mut d = data(n, seed);
    let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
    for y in &mut d.y {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        if u < 0.1 {
            *y += 40.0 * (1.0 + 10.0 * u);
        }
    }
    d
}

#[test]
fn robust_losses_beat_squared_error_on_spiky_targets_and_auto_takes_the_best() {
    use salescast_models::Objective;
    let (train, valid, test) = (spiked(4000, 1), spiked(1000, 3), spiked(2000, 2));
    let base = GradientBoostingParams {
        n_rounds: 100,
        ..Default::default()
    };
    let fit = |objective| {
        GradientBoostingParams {
            objective,
            ..base.clone()
        }
        .fit(&train, Some(&valid), &|_| {})
        .unwrap()
    };
    let mae_on = |m: &salescast_models::GradientBoosting, d: &Dataset| {
        let p: Vec<f64> = (0..d.n_rows).map(|i| m.predict_row(d.row(i))).collect();
        mae(&d.y, &p)
    };
    let fitted: Vec<_> = Objective::CONCRETE.iter().map(|&o| fit(o)).collect();
    let test_mae: Vec<f64> = fitted.iter().map(|m| mae_on(m, &test)).collect();
    // The step plus linear signal is the spikes-free median: absolute error recovers it, and
    // so beats squared error, which adds the spikes' mean everywhere.
    assert!(
        test_mae[1] < 0.7 * test_mae[0],
        "absolute {} against squared {}",
        test_mae[1],
        test_mae[0]
    );
    assert!(test_mae[2] < test_mae[0], "huber {test_mae:?}");
    // Absolute error starts from the median, not the mean.
    let mut y = train.y.clone();
    y.sort_by(f64::total_cmp);
    let median = (y[1999] + y[2000]) / 2.0;
    assert_eq!(fitted[1].base, median);
    assert!(fitted[0].base > median + 3.0);
    // `auto` keeps the one with the lowest validation MAE, whole and recorded as fitted.
    let valid_mae: Vec<f64> = fitted.iter().map(|m| mae_on(m, &valid)).collect();
    let best = (0..3)
        .min_by(|&a, &b| valid_mae[a].total_cmp(&valid_mae[b]))
        .unwrap();
    let auto = fit(Objective::Auto);
    assert_eq!(auto.params.objective, Objective::CONCRETE[best]);
    assert_eq!(auto.trees, fitted[best].trees);
    // Without validation days there is nothing to choose on: squared error.
    let plain = base.fit(&train, None, &|_| {}).unwrap();
    assert_eq!(plain.params.objective, Objective::SquaredError);
    // The names a settings file uses.
    let p: GradientBoostingParams =
        serde_json::from_str(r#"{"objective": "absolute_error"}"#).unwrap();
    assert_eq!(p.objective, Objective::AbsoluteError);
    assert!(serde_json::from_str::<GradientBoostingParams>(r#"{"objective": "l1"}"#).is_err());
}

/// A small boosting model's artifact and a small forest's, made once.
fn small_artifacts() -> &'static [Vec<u8>; 2] {
    static BYTES: std::sync::OnceLock<[Vec<u8>; 2]> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let gbm = GradientBoostingParams {
            n_rounds: 5,
            max_depth: 3,
            early_stopping_rounds: 0,
            ..Default::default()
        }
        .fit(&data(300, 3), None, &|_| {})
        .unwrap();
        let forest = RandomForestParams {
            n_trees: 3,
            max_depth: 4,
            ..rf()
        }
        .fit(&data(200, 4), &|_| {})
        .unwrap();
        [
            Model::GradientBoosting(gbm).to_bytes().unwrap(),
            Model::RandomForest(forest).to_bytes().unwrap(),
        ]
    })
}

/// Whatever decodes is walked: one row, a batch and an explanation, each of which must end
/// without a panic.
fn use_decoded(bytes: &[u8]) {
    if let Ok(m) = Model::from_bytes(bytes) {
        let d = m.feature_names().len();
        let rows: Vec<f64> = (0..9 * d).map(|i| (i % 11) as f64 - 2.0).collect();
        let _ = m.predict_row(&rows[..d]);
        let _ = m.predict(&rows);
        let _ = m.explain_row(&rows[..d]);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// A truncated or bit-flipped artifact decodes to an error or to a model, never a panic
    /// (the same property `fuzz/fuzz_targets/model_bytes.rs` explores with libFuzzer).
    #[test]
    fn damaged_artifacts_never_panic(cut in 0.0f64..1.0, flip in 0usize..usize::MAX, bit in 0u8..8) {
        for bytes in small_artifacts() {
            let len = (bytes.len() as f64 * cut) as usize;
            use_decoded(&bytes[..len]);
            let mut flipped = bytes.clone();
            let at = flip % flipped.len();
            flipped[at] ^= 1 << bit;
            use_decoded(&flipped);
        }
    }

    /// A few random bytes changed anywhere (node indices, features, thresholds): the model is
    /// refused or, when still valid, predicts and explains without a panic or an endless walk.
    #[test]
    fn models_with_changed_bytes_are_refused_or_safe(
        changes in proptest::collection::vec((0usize..usize::MAX, 0u8..=255), 1..6),
    ) {
        for bytes in small_artifacts() {
            let mut changed = bytes.clone();
            for (at, v) in &changes {
                let i = at % changed.len();
                changed[i] = *v;
            }
            use_decoded(&changed);
        }
    }
}

/// A node that points at itself, or a child past the end, or a feature past the width: each is
/// refused when the file is read, naming the tree and node.
#[test]
fn decoded_trees_are_checked() {
    let good = Model::from_bytes(&small_artifacts()[0]).unwrap();
    let Model::GradientBoosting(m) = good else {
        unreachable!()
    };
    // A split below the root (the root pointing at itself would read as a leaf).
    let split = (1..m.trees[0].nodes.len())
        .find(|&i| m.trees[0].nodes[i].left != 0)
        .unwrap();
    let n = m.trees[0].nodes.len() as u32;
    for (what, edit) in [
        (
            "are not after it",
            Box::new(move |t: &mut salescast_models::tree::Tree| t.nodes[split].left = split as u32)
                as Box<dyn Fn(&mut _)>,
        ),
        (
            "are not after it",
            Box::new(move |t: &mut salescast_models::tree::Tree| t.nodes[split].left = n - 1),
        ),
        (
            "is not below the model's 3 features",
            Box::new(move |t: &mut salescast_models::tree::Tree| t.nodes[split].feature = 3),
        ),
        (
            "is not finite",
            Box::new(move |t: &mut salescast_models::tree::Tree| t.nodes[split].value = f64::NAN),
        ),
    ] {
        let mut bad = m.clone();
        edit(&mut bad.trees[0]);
        let bytes = Model::GradientBoosting(bad).to_bytes().unwrap();
        let err = Model::from_bytes(&bytes).unwrap_err().to_string();
        assert!(err.contains("tree 0: node") && err.contains(what), "{err}");
    }
}
