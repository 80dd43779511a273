//! A fitted per-transaction model of either family, its artifact, and batch prediction.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::forest::RandomForest;
use crate::gbm::GradientBoosting;

/// The artifact's magic bytes and format version: a file from anything else, or from an
/// incompatible version, is refused rather than mis-read.
const MAGIC: &[u8; 8] = b"SCMODEL\0";
pub const FORMAT_VERSION: u32 = 1;

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
        let trees: &[crate::tree::Tree] = match self {
            Model::RandomForest(m) => &m.trees,
            Model::GradientBoosting(m) => &m.trees,
        };
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
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| ModelError::Artifact("not a Salescast model file".into()))?;
        let (header, rest): (Header, _) = postcard::take_from_bytes(rest)
            .map_err(|e| ModelError::Artifact(format!("bad header: {e}")))?;
        if header.version != FORMAT_VERSION {
            return Err(ModelError::Artifact(format!(
                "format version {} is not supported (this build reads {FORMAT_VERSION})",
                header.version
            )));
        }
        let model: Model =
            postcard::from_bytes(rest).map_err(|e| ModelError::Artifact(e.to_string()))?;
        if model.kind() != header.kind {
            return Err(ModelError::Artifact(
                "header and body disagree on the model kind".into(),
            ));
        }
        Ok(model)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
    }
}
