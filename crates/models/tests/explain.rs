//! TreeSHAP against its definition: exact Shapley values computed by brute force over every
//! subset of features, on small random trees (up to 5 and up to 9 features, so 4 and 8
//! quadrature points), additivity on deep random trees (16 and 32 points) and on fitted
//! forests and boosting models.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salescast_models::tree::{Node, Tree};
use salescast_models::{Dataset, GradientBoostingParams, Model, RandomForestParams};

/// A random tree over `d` features, `depth` deep at most, with thresholds on a coarse grid (so
/// that a feature often splits twice on a path) and covers that add up.
fn random_tree(seed: u64, d: u32, depth: usize) -> Tree {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut nodes = vec![Node {
        feature: 0,
        left: 0,
        value: 0.0,
    }];
    let mut covers = vec![f32::from(rng.random_range(50u16..2000))];
    let mut queue = std::collections::VecDeque::from([(0usize, 0usize)]);
    while let Some((at, level)) = queue.pop_front() {
        let cover = covers[at];
        if level >= depth || cover < 2.0 || (level > 0 && rng.random_bool(0.2)) {
            nodes[at].value = rng.random_range(-50.0..50.0);
            continue;
        }
        let left = nodes.len();
        let share = rng.random_range(1.0..cover).floor();
        nodes[at] = Node {
            feature: rng.random_range(0..d),
            left: left as u32,
            value: f64::from(rng.random_range(0u8..8)) / 2.0,
        };
        let blank = Node {
            feature: 0,
            left: 0,
            value: 0.0,
        };
        nodes.extend([blank; 2]);
        covers.extend([share, cover - share]);
        queue.extend([(left, level + 1), (left + 1, level + 1)]);
    }
    tree(nodes, covers)
}

fn tree(nodes: Vec<Node>, covers: Vec<f32>) -> Tree {
    Tree {
        bins: vec![0; nodes.len()],
        gains: vec![0.0; nodes.len()],
        nodes,
        covers,
        scoring: Default::default(),
        explaining: Default::default(),
    }
}

/// A spine `depth` splits long over `d` features, each split's other child a leaf: paths as
/// deep as a tree can hold, in few nodes. A leaf's value is scaled by the inverse of its
/// share of the root's cover, so that the deep leaves weigh as much as the shallow ones.
fn spine_tree(seed: u64, d: u32, depth: usize) -> Tree {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let blank = Node {
        feature: 0,
        left: 0,
        value: 0.0,
    };
    let (mut nodes, mut covers) = (vec![blank], vec![1e6f32]);
    let mut at = 0;
    for _ in 0..depth {
        let left = nodes.len();
        nodes[at] = Node {
            feature: rng.random_range(0..d),
            left: left as u32,
            value: f64::from(rng.random_range(0u8..8)) / 2.0,
        };
        nodes.extend([blank; 2]);
        let cover = covers[at];
        let stay = cover * rng.random_range(0.5f32..0.999);
        let spine_right = rng.random_bool(0.5);
        if spine_right {
            covers.extend([cover - stay, stay]);
        } else {
            covers.extend([stay, cover - stay]);
        }
        let (spine, leaf) = if spine_right {
            (left + 1, left)
        } else {
            (left, left + 1)
        };
        nodes[leaf].value = rng.random_range(-50.0..50.0) * f64::from(covers[0] / covers[leaf]);
        at = spine;
    }
    nodes[at].value = rng.random_range(-50.0..50.0) * f64::from(covers[0] / covers[at]);
    tree(nodes, covers)
}

/// The tree's value with only the features in `known` (a bit set) known: a split on a known
/// feature follows `x`, any other is averaged over its children by cover.
fn value_given(t: &Tree, at: usize, x: &[f64], known: u32) -> f64 {
    let n = t.nodes[at];
    if n.left == 0 {
        return n.value;
    }
    let (l, r) = (n.left as usize, n.left as usize + 1);
    if known & (1 << n.feature) != 0 {
        let next = if x[n.feature as usize] > n.value {
            r
        } else {
            l
        };
        value_given(t, next, x, known)
    } else {
        let c = f64::from(t.covers[at]);
        (f64::from(t.covers[l]) * value_given(t, l, x, known)
            + f64::from(t.covers[r]) * value_given(t, r, x, known))
            / c
    }
}

/// Shapley values from the definition: every subset of the other features, weighted.
fn brute_force(t: &Tree, x: &[f64]) -> Vec<f64> {
    let d = x.len();
    let fact = |n: usize| (1..=n).map(|v| v as f64).product::<f64>();
    (0..d)
        .map(|i| {
            (0u32..1 << d)
                .filter(|s| s & (1 << i) == 0)
                .map(|s| {
                    let size = s.count_ones() as usize;
                    let w = fact(size) * fact(d - size - 1) / fact(d);
                    w * (value_given(t, 0, x, s | (1 << i)) - value_given(t, 0, x, s))
                })
                .sum()
        })
        .collect()
}

/// A random tree over `xs.len()` features explained at the row `xs` (on the thresholds' grid):
/// its contributions against [`brute_force`]'s, to 1e-9. Returns the tree, the row and ours.
fn check_brute_force(
    seed: u64,
    depth: usize,
    xs: &[u8],
) -> Result<(Tree, Vec<f64>, Vec<f64>), TestCaseError> {
    let t = random_tree(seed, xs.len() as u32, depth);
    let x: Vec<f64> = xs.iter().map(|&v| f64::from(v) / 2.0 - 0.25).collect();
    let mut phi = vec![0.0; xs.len()];
    t.add_shap(&x, 1.0, &mut phi).unwrap();
    let want = brute_force(&t, &x);
    for (got, want) in phi.iter().zip(&want) {
        prop_assert!((got - want).abs() < 1e-9, "{phi:?} against {want:?}");
    }
    Ok((t, x, phi))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn treeshap_equals_brute_force_shapley_values(
        seed in any::<u64>(),
        depth in 1usize..9,
        xs in proptest::collection::vec(0u8..9, 5),
    ) {
        let (t, x, phi) = check_brute_force(seed, depth, &xs)?;
        // Additivity, and the expected value is the value with nothing known.
        let e = t.expected_value().unwrap();
        prop_assert!((e - value_given(&t, 0, &x, 0)).abs() < 1e-9);
        prop_assert!((e + phi.iter().sum::<f64>() - t.predict(&x)).abs() < 1e-9);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn treeshap_equals_brute_force_on_nine_features(
        seed in any::<u64>(),
        depth in 5usize..11,
        xs in proptest::collection::vec(0u8..9, 9),
    ) {
        check_brute_force(seed, depth, &xs)?;
    }

    /// Paths of up to 61 distinct features: the contributions add up to the prediction only
    /// when the quadrature has enough points for the path's degree.
    #[test]
    fn deep_trees_stay_additive(
        seed in any::<u64>(),
        depth in 12usize..62,
        xs in proptest::collection::vec(0u8..9, 64),
    ) {
        let t = spine_tree(seed, 64, depth);
        let x: Vec<f64> = xs.iter().map(|&v| f64::from(v) / 2.0 - 0.25).collect();
        let mut phi = vec![0.0; 64];
        t.add_shap(&x, 1.0, &mut phi).unwrap();
        let e = t.expected_value().unwrap();
        let p = t.predict(&x);
        let scale = e.abs() + p.abs() + phi.iter().map(|v| v.abs()).sum::<f64>();
        prop_assert!((e + phi.iter().sum::<f64>() - p).abs() < 1e-11 * scale, "{e} {p} {phi:?}");
    }
}

fn dataset(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = 6;
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|_| rng.random_range(0.0..10.0)).collect();
        y.push(3.0 * row[0] + row[1] * row[2] + if row[3] > 5.0 { 20.0 } else { 0.0 });
        x.extend(row);
    }
    Dataset::new(x, y, (0..d).map(|i| format!("f{i}")).collect()).unwrap()
}

fn check_additive(model: &Model, data: &Dataset) {
    let d = data.n_features;
    for row in data.x.chunks(d).take(200) {
        let e = model.explain_row(row).unwrap();
        let sum = e.expected + e.contributions.iter().sum::<f64>();
        let p = model.predict_row(row);
        assert!(
            (sum - p).abs() < 1e-6 * p.abs().max(1.0),
            "{sum} against {p}"
        );
    }
}

#[test]
fn fitted_models_explanations_add_up_to_their_predictions_and_survive_a_save() {
    let data = dataset(3000, 7);
    let gb = GradientBoostingParams {
        n_rounds: 40,
        ..Default::default()
    }
    .fit(&data, None, &|_| {})
    .unwrap();
    let rf = RandomForestParams {
        n_trees: 8,
        max_depth: 12,
        min_samples_leaf: 3,
        ..Default::default()
    }
    .fit(&data, &|_| {})
    .unwrap();
    for model in [Model::GradientBoosting(gb), Model::RandomForest(rf)] {
        check_additive(&model, &data);
        let back = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
        let row = &data.x[..data.n_features];
        assert_eq!(
            back.explain_row(row).unwrap(),
            model.explain_row(row).unwrap()
        );
        // The expected value is the training mean the covers weigh (exact for boosting's
        // base plus trees; the forest's bootstrap makes it close, not equal).
        let mean = data.y.iter().sum::<f64>() / data.y.len() as f64;
        let e = model.expected_value().unwrap();
        assert!((e - mean).abs() < 0.05 * mean.abs(), "{e} against {mean}");
    }
}

#[test]
fn a_model_saved_in_format_1_still_scores_and_says_it_cannot_explain() {
    use salescast_models::Objective;
    use salescast_models::gbm::Round;
    use serde::Serialize;

    // The body of formats 1 and 2: boosting parameters without the growth settings.
    #[derive(Serialize)]
    struct OldParams {
        n_rounds: usize,
        learning_rate: f64,
        max_depth: usize,
        min_child_weight: f64,
        lambda: f64,
        subsample: f64,
        colsample: f64,
        early_stopping_rounds: usize,
        max_bins: usize,
        seed: u64,
    }
    // Format 3's: with them, without the objective.
    #[derive(Serialize)]
    struct ParamsV3 {
        n_rounds: usize,
        learning_rate: f64,
        max_depth: usize,
        num_leaves: usize,
        min_data_in_leaf: u32,
        min_child_weight: f64,
        lambda: f64,
        subsample: f64,
        colsample: f64,
        early_stopping_rounds: usize,
        max_bins: usize,
        seed: u64,
    }
    #[derive(Serialize)]
    struct OldBoosting<'a, P> {
        params: P,
        feature_names: &'a [String],
        base: f64,
        trees: &'a [Tree],
        history: &'a [Round],
        best_round: Option<usize>,
        stopped_early: bool,
        importance: &'a [f64],
    }
    #[derive(Serialize)]
    enum OldModel<'a, P> {
        #[allow(dead_code)]
        RandomForest(()),
        GradientBoosting(OldBoosting<'a, P>),
    }

    let data = dataset(500, 3);
    let fitted = GradientBoostingParams {
        n_rounds: 5,
        ..Default::default()
    }
    .fit(&data, None, &|_| {})
    .unwrap();
    let p = &fitted.params;
    // A boosting body of an old format: its parameters, then the fitted model's fields.
    fn body_of<P>(params: P, fitted: &salescast_models::GradientBoosting) -> OldModel<'_, P> {
        OldModel::GradientBoosting(OldBoosting {
            params,
            feature_names: &fitted.feature_names,
            base: fitted.base,
            trees: &fitted.trees,
            history: &fitted.history,
            best_round: fitted.best_round,
            stopped_early: fitted.stopped_early,
            importance: &fitted.importance,
        })
    }
    let body = body_of(
        OldParams {
            n_rounds: p.n_rounds,
            learning_rate: p.learning_rate,
            max_depth: p.max_depth,
            min_child_weight: p.min_child_weight,
            lambda: p.lambda,
            subsample: p.subsample,
            colsample: p.colsample,
            early_stopping_rounds: p.early_stopping_rounds,
            max_bins: p.max_bins,
            seed: p.seed,
        },
        &fitted,
    );
    let body3 = body_of(
        ParamsV3 {
            n_rounds: p.n_rounds,
            learning_rate: p.learning_rate,
            max_depth: p.max_depth,
            num_leaves: 31,
            min_data_in_leaf: 20,
            min_child_weight: p.min_child_weight,
            lambda: p.lambda,
            subsample: p.subsample,
            colsample: p.colsample,
            early_stopping_rounds: p.early_stopping_rounds,
            max_bins: p.max_bins,
            seed: p.seed,
        },
        &fitted,
    );
    let model = Model::GradientBoosting(fitted.clone());
    let file = |version: u32, covers: bool| {
        let mut out = b"SCMODEL\0".to_vec();
        out.extend(
            postcard::to_stdvec(&(version, salescast_models::Kind::GradientBoosting)).unwrap(),
        );
        if version == 3 {
            out.extend(postcard::to_stdvec(&body3).unwrap());
        } else {
            out.extend(postcard::to_stdvec(&body).unwrap());
        }
        if covers {
            let c: Vec<&[f32]> = fitted.trees.iter().map(|t| t.covers.as_slice()).collect();
            out.extend(postcard::to_stdvec(&c).unwrap());
        }
        out
    };
    let row = &data.x[..data.n_features];
    // Format 1: scores, and says it must be trained again to explain.
    let old = Model::from_bytes(&file(1, false)).unwrap();
    assert_eq!(old.predict_row(row), model.predict_row(row));
    let e = old.explain_row(row).unwrap_err().to_string();
    assert!(e.contains("train it again"), "{e}");
    // Format 2: scores and explains as the model it was, grown level by level.
    let v2 = Model::from_bytes(&file(2, true)).unwrap();
    assert_eq!(v2.predict_row(row), model.predict_row(row));
    assert!(v2.explain_row(row).is_ok());
    let Model::GradientBoosting(g) = &v2 else {
        panic!("a boosting model")
    };
    assert_eq!((g.params.num_leaves, g.params.min_data_in_leaf), (0, 1));
    assert_eq!(g.params.objective, Objective::SquaredError);
    // Format 3: its growth settings kept, fitted with squared error as every model then was.
    let v3 = Model::from_bytes(&file(3, true)).unwrap();
    assert_eq!(v3.predict_row(row), model.predict_row(row));
    let Model::GradientBoosting(g) = &v3 else {
        panic!("a boosting model")
    };
    assert_eq!((g.params.num_leaves, g.params.min_data_in_leaf), (31, 20));
    assert_eq!(g.params.objective, Objective::SquaredError);
    // The current format round-trips; a file cut short is refused, not read without its covers.
    let v4 = model.to_bytes().unwrap();
    assert_eq!(v4[8], 4, "the version follows the magic");
    assert_eq!(Model::from_bytes(&v4).unwrap(), model);
    assert!(Model::from_bytes(&v4[..v4.len() - 3]).is_err());
    assert!(Model::from_bytes(&file(2, true)[..40]).is_err());
}
