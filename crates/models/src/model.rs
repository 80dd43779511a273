//! A fitted per-transaction model of either family, its artifact, and batch prediction.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::forest::RandomForest;
use crate::gbm::GradientBoosting;

/// The artifact's magic bytes and format version: a file from anything else, or from an
/// incompatible version, is refused rather than mis-read. Version 2 appends each tree's node
/// covers after the model (TreeSHAP needs them); version 1 files still load and score, and say
/// they must be retrained when asked for an explanation. Version 3 adds boosting's leaf-wise
/// growth settings (`num_leaves`, `min_data_in_leaf`) to its parameters; older files load with
/// the growth they were fitted with (level by level, one row a leaf at least). Version 4 adds
/// boosting's `objective`; older files were fitted with squared error and say so.
const MAGIC: &[u8; 8] = b"SCMODEL\0";
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format this build reads.
const OLDEST_FORMAT: u32 = 1;

/// Rows per block of batch prediction.
const BLOCK: usize = 256;

/// Model families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    RandomForest,
    GradientBoosting,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::RandomForest, Kind::GradientBoosting];

    pub fn name(self) -> &'static str {
        match self {
            Kind::RandomForest => "random_forest",
            Kind::GradientBoosting => "gradient_boosting",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    RandomForest(RandomForest),
    GradientBoosting(GradientBoosting),
}

/// The hyperparameters of either model: one fit for both, so callers (training, tuning) do not
/// repeat the match on the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelParams {
    GradientBoosting(crate::gbm::GradientBoostingParams),
    RandomForest(crate::forest::RandomForestParams),
}

impl ModelParams {
    pub fn kind(&self) -> Kind {
        match self {
            Self::GradientBoosting(_) => Kind::GradientBoosting,
            Self::RandomForest(_) => Kind::RandomForest,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match self {
            Self::GradientBoosting(p) => p.validate(),
            Self::RandomForest(p) => p.validate(),
        }
    }

    /// Fits on `train`; boosting stops early on `valid` when given (the forest has no use for
    /// it). `progress` is called with the trees or rounds done.
    pub fn fit(
        &self,
        train: &crate::Dataset,
        valid: Option<&crate::Dataset>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Model> {
        Ok(match self {
            Self::GradientBoosting(p) => Model::GradientBoosting(p.fit(train, valid, progress)?),
            Self::RandomForest(p) => Model::RandomForest(p.fit(train, progress)?),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    kind: Kind,
}

impl Model {
    pub fn kind(&self) -> Kind {
        match self {
            Model::RandomForest(_) => Kind::RandomForest,
            Model::GradientBoosting(_) => Kind::GradientBoosting,
        }
    }

    pub fn feature_names(&self) -> &[String] {
        match self {
            Model::RandomForest(m) => &m.feature_names,
            Model::GradientBoosting(m) => &m.feature_names,
        }
    }

    pub fn importance(&self) -> &[f64] {
        match self {
            Model::RandomForest(m) => &m.importance,
            Model::GradientBoosting(m) => &m.importance,
        }
    }

    /// Checks that the input's features are the ones the model was trained on, in order:
    /// a model never scores a vector it does not understand.
    pub fn check_features(&self, names: &[String]) -> Result<()> {
        let mine = self.feature_names();
        if mine == names {
            Ok(())
        } else {
            Err(ModelError::SchemaMismatch {
                expected: mine.len(),
                got: names.len(),
                names: mine.join(","),
            })
        }
    }

    /// Predicts one feature vector.
    #[inline]
    pub fn predict_row(&self, x: &[f64]) -> f64 {
        match self {
            Model::RandomForest(m) => m.predict_row(x),
            Model::GradientBoosting(m) => m.predict_row(x),
        }
    }

    pub fn trees(&self) -> &[crate::tree::Tree] {
        match self {
            Model::RandomForest(m) => &m.trees,
            Model::GradientBoosting(m) => &m.trees,
        }
    }

    fn trees_mut(&mut self) -> &mut [crate::tree::Tree] {
        match self {
            Model::RandomForest(m) => &mut m.trees,
            Model::GradientBoosting(m) => &mut m.trees,
        }
    }

    /// The model's output in terms of its trees: `offset + scale · Σ tree(x)`.
    fn tree_sum(&self) -> (f64, f64) {
        match self {
            Model::RandomForest(m) => (0.0, 1.0 / m.trees.len().max(1) as f64),
            Model::GradientBoosting(m) => (m.base, 1.0),
        }
    }

    /// The expected value TreeSHAP starts from: the cover-weighted mean prediction.
    pub fn expected_value(&self) -> Result<f64> {
        let (offset, scale) = self.tree_sum();
        let mut sum = 0.0;
        for t in self.trees() {
            sum += t.expected_value()?;
        }
        Ok(offset + scale * sum)
    }

    /// Exact TreeSHAP values of one feature vector ([`crate::explain`]): `expected` plus the
    /// contributions is [`Self::predict_row`] up to rounding.
    pub fn explain_row(&self, x: &[f64]) -> Result<crate::explain::Explanation> {
        self.explain_row_with(x, &mut crate::explain::ExplainScratch::default())
    }

    /// [`Self::explain_row`] with scratch space reused from row to row (a forest's is about a
    /// megabyte, which a fresh allocation per row would fault in page by page).
    pub fn explain_row_with(
        &self,
        x: &[f64],
        scratch: &mut crate::explain::ExplainScratch,
    ) -> Result<crate::explain::Explanation> {
        let d = self.feature_names().len();
        if x.len() != d {
            return Err(ModelError::Shape {
                what: "feature vector",
                expected: d,
                got: x.len(),
            });
        }
        let (_, scale) = self.tree_sum();
        let mut contributions = vec![0.0; d];
        for t in self.trees() {
            t.add_shap_with(x, scale, &mut contributions, scratch)?;
        }
        Ok(crate::explain::Explanation {
            expected: self.expected_value()?,
            contributions,
        })
    }

    /// Predicts a row-major matrix, in parallel.
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        let d = self.check_matrix(x)?;
        let blocks: Vec<Vec<f64>> = x
            .par_chunks(d * BLOCK)
            .map(|block| self.predict_block(block, d))
            .collect();
        Ok(blocks.concat())
    }

    /// Predicts a row-major matrix on the calling thread (callers that already parallelise).
    pub fn predict_seq(&self, x: &[f64]) -> Result<Vec<f64>> {
        let d = self.check_matrix(x)?;
        let mut out = Vec::with_capacity(x.len() / d);
        for block in x.chunks(d * BLOCK) {
            out.extend(self.predict_block(block, d));
        }
        Ok(out)
    }

    fn check_matrix(&self, x: &[f64]) -> Result<usize> {
        let d = self.feature_names().len();
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ModelError::Shape {
                what: "feature matrix",
                expected: d,
                got: x.len() % d.max(1),
            });
        }
        Ok(d)
    }

    /// Tree-major over a block of rows: one tree's nodes stay in cache while it scores the
    /// whole block, and [`Tree::predict_many`] walks several rows at once. Trees are summed in
    /// the same order as `predict_row`, so the numbers are identical to scoring row by row.
    fn predict_block(&self, block: &[f64], d: usize) -> Vec<f64> {
        let trees = self.trees();
        let n = block.len() / d;
        let mut acc = vec![0.0; n];
        for t in trees {
            t.predict_many(block, d, &mut acc);
        }
        match self {
            Model::RandomForest(_) => acc.iter_mut().for_each(|a| *a /= trees.len() as f64),
            Model::GradientBoosting(m) => acc.iter_mut().for_each(|a| *a += m.base),
        }
        acc
    }

    /// Serializes into the compact binary artifact.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        let header = Header {
            version: FORMAT_VERSION,
            kind: self.kind(),
        };
        postcard::to_io(&header, &mut out).map_err(|e| ModelError::Artifact(e.to_string()))?;
        postcard::to_io(self, &mut out).map_err(|e| ModelError::Artifact(e.to_string()))?;
        let covers: Vec<&[f32]> = self.trees().iter().map(|t| t.covers.as_slice()).collect();
        postcard::to_io(&covers, &mut out).map_err(|e| ModelError::Artifact(e.to_string()))?;
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| ModelError::Artifact("not a Salescast model file".into()))?;
        let (header, rest): (Header, _) = postcard::take_from_bytes(rest)
            .map_err(|e| ModelError::Artifact(format!("bad header: {e}")))?;
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&header.version) {
            return Err(ModelError::Artifact(format!(
                "format version {} is not supported (this build reads {OLDEST_FORMAT} to {FORMAT_VERSION})",
                header.version
            )));
        }
        let artifact = |e: postcard::Error| ModelError::Artifact(e.to_string());
        let (mut model, rest): (Model, _) = match header.version {
            4.. => postcard::take_from_bytes(rest).map_err(artifact)?,
            3 => {
                let (legacy, rest): (legacy::Model<legacy::ParamsV3>, _) =
                    postcard::take_from_bytes(rest).map_err(artifact)?;
                (legacy.into(), rest)
            }
            _ => {
                let (legacy, rest): (legacy::Model<legacy::ParamsV1>, _) =
                    postcard::take_from_bytes(rest).map_err(artifact)?;
                (legacy.into(), rest)
            }
        };
        if header.version >= 2 {
            let (covers, rest): (Vec<Vec<f32>>, _) = postcard::take_from_bytes(rest)
                .map_err(|e| ModelError::Artifact(format!("bad covers: {e}")))?;
            if !rest.is_empty() {
                return Err(ModelError::Artifact(format!(
                    "{} unexpected bytes after the model",
                    rest.len()
                )));
            }
            let trees = model.trees_mut();
            if covers.len() != trees.len() {
                return Err(ModelError::Artifact(format!(
                    "covers for {} trees, the model has {}",
                    covers.len(),
                    trees.len()
                )));
            }
            for (i, (t, c)) in trees.iter_mut().zip(covers).enumerate() {
                if c.len() != t.nodes.len() {
                    return Err(ModelError::Artifact(format!(
                        "tree {i}: covers for {} nodes, the tree has {}",
                        c.len(),
                        t.nodes.len()
                    )));
                }
                t.covers = c;
            }
        }
        if model.kind() != header.kind {
            return Err(ModelError::Artifact(
                "header and body disagree on the model kind".into(),
            ));
        }
        model.validate()?;
        Ok(model)
    }

    /// Checks what a decoded model holds before it serves (see [`crate::tree::Tree::validate`]):
    /// bytes that decode are not yet a model, whether they come from disk or from the registry.
    fn validate(&self) -> Result<()> {
        let width = self.feature_names().len();
        let bad = |what: String| Err(ModelError::Artifact(what));
        let (importance, base) = match self {
            Model::RandomForest(m) => (&m.importance, 0.0),
            Model::GradientBoosting(m) => (&m.importance, m.base),
        };
        if !base.is_finite() {
            return bad(format!("base value {base} is not finite"));
        }
        if importance.len() != width {
            return bad(format!(
                "{} importances for {width} features",
                importance.len()
            ));
        }
        for (i, t) in self.trees().iter().enumerate() {
            t.validate(width)
                .map_err(|e| ModelError::Artifact(format!("tree {i}: {e}")))?;
        }
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
    }
}

/// The model bodies of older formats (postcard reads fields by position, so each old layout
/// needs its own types): versions 1 and 2, whose boosting parameters predate leaf-wise growth,
/// and version 3, which predates the objective.
mod legacy {
    use serde::Deserialize;

    use crate::forest::RandomForest;
    use crate::gbm::{GradientBoostingParams, Objective, Round};
    use crate::tree::Tree;

    #[derive(Deserialize)]
    pub(super) enum Model<P> {
        RandomForest(RandomForest),
        GradientBoosting(GradientBoosting<P>),
    }

    #[derive(Deserialize)]
    pub(super) struct GradientBoosting<P> {
        params: P,
        feature_names: Vec<String>,
        base: f64,
        trees: Vec<Tree>,
        history: Vec<Round>,
        best_round: Option<usize>,
        stopped_early: bool,
        importance: Vec<f64>,
    }

    #[derive(Deserialize)]
    pub(super) struct ParamsV1 {
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

    impl From<ParamsV1> for GradientBoostingParams {
        fn from(p: ParamsV1) -> Self {
            ParamsV3 {
                n_rounds: p.n_rounds,
                learning_rate: p.learning_rate,
                max_depth: p.max_depth,
                // level by level, as every model before version 3 was grown
                num_leaves: 0,
                min_data_in_leaf: 1,
                min_child_weight: p.min_child_weight,
                lambda: p.lambda,
                subsample: p.subsample,
                colsample: p.colsample,
                early_stopping_rounds: p.early_stopping_rounds,
                max_bins: p.max_bins,
                seed: p.seed,
            }
            .into()
        }
    }

    #[derive(Deserialize)]
    pub(super) struct ParamsV3 {
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

    impl From<ParamsV3> for GradientBoostingParams {
        fn from(p: ParamsV3) -> Self {
            GradientBoostingParams {
                n_rounds: p.n_rounds,
                learning_rate: p.learning_rate,
                max_depth: p.max_depth,
                num_leaves: p.num_leaves,
                min_data_in_leaf: p.min_data_in_leaf,
                min_child_weight: p.min_child_weight,
                lambda: p.lambda,
                subsample: p.subsample,
                colsample: p.colsample,
                early_stopping_rounds: p.early_stopping_rounds,
                max_bins: p.max_bins,
                seed: p.seed,
                // every model before version 4 descended squared error
                objective: Objective::SquaredError,
            }
        }
    }

    impl<P: Into<GradientBoostingParams>> From<Model<P>> for super::Model {
        fn from(m: Model<P>) -> Self {
            match m {
                Model::RandomForest(f) => super::Model::RandomForest(f),
                Model::GradientBoosting(g) => {
                    super::Model::GradientBoosting(crate::gbm::GradientBoosting {
                        params: g.params.into(),
                        feature_names: g.feature_names,
                        base: g.base,
                        trees: g.trees,
                        history: g.history,
                        best_round: g.best_round,
                        stopped_early: g.stopped_early,
                        importance: g.importance,
                    })
                }
            }
        }
    }
}
