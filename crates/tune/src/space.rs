//! The `tune:` section of `params.yaml`: the budget, the folds and the search space.

use std::collections::BTreeMap;

use salescast_models::{GradientBoostingParams, Kind, RandomForestParams};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError, setting};

/// A closed range `[min, max]`, written as a two-element list in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds(pub f64, pub f64);

/// The ranges searched for gradient boosting. Learning rate, minimum child weight and lambda
/// are searched on a log scale, since their effect is multiplicative; the rest linearly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoostingSpace {
    pub learning_rate: Bounds,
    pub max_depth: Bounds,
    pub min_child_weight: Bounds,
    pub lambda: Bounds,
    pub subsample: Bounds,
    pub colsample: Bounds,
}

impl Default for BoostingSpace {
    fn default() -> Self {
        Self {
            learning_rate: Bounds(0.02, 0.3),
            max_depth: Bounds(3.0, 10.0),
            min_child_weight: Bounds(0.5, 50.0),
            lambda: Bounds(0.01, 10.0),
            subsample: Bounds(0.5, 1.0),
            colsample: Bounds(0.5, 1.0),
        }
    }
}

/// The ranges searched for the random forest; the leaf size on a log scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestSpace {
    pub max_depth: Bounds,
    pub max_features: Bounds,
    pub min_samples_leaf: Bounds,
}

impl Default for ForestSpace {
    fn default() -> Self {
        Self {
            max_depth: Bounds(6.0, 24.0),
            max_features: Bounds(0.2, 1.0),
            min_samples_leaf: Bounds(1.0, 100.0),
        }
    }
}

/// Budget, folds and space of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuneSettings {
    /// At most this many trials, the defaults (trial 0) included.
    pub trials: usize,
    /// No trial starts after this many seconds of this invocation (the running ones finish).
    pub time_budget_secs: f64,
    /// Seeds every sampled candidate: the same seed gives the same sequence of trials.
    pub seed: u64,
    /// Trials run at once. Fixed rather than taken from the core count, so that the sequence
    /// of candidates does not depend on the machine.
    pub parallel: usize,
    /// Candidates drawn at random before TPE takes over (Optuna's default is 10).
    pub startup_trials: usize,
    /// Rolling-origin folds at the end of the training days.
    pub folds: usize,
    /// Days scored per fold.
    pub fold_days: u32,
    pub gradient_boosting: BoostingSpace,
    pub random_forest: ForestSpace,
}

impl Default for TuneSettings {
    fn default() -> Self {
        Self {
            trials: 60,
            time_budget_secs: 600.0,
            seed: 0,
            parallel: 2,
            startup_trials: 10,
            folds: 3,
            fold_days: 28,
            gradient_boosting: BoostingSpace::default(),
            random_forest: ForestSpace::default(),
        }
    }
}

/// One searched hyperparameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dim {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
    pub log: bool,
    pub integer: bool,
}

impl Dim {
    /// The range TPE works in: logs for log-scale dimensions, and half a step beyond each end
    /// for integers so that both ends are as likely as the values between (Optuna does the same).
    pub fn internal(&self) -> (f64, f64) {
        let (lo, hi) = if self.integer {
            (self.min - 0.5, self.max + 0.5)
        } else {
            (self.min, self.max)
        };
        if self.log {
            (lo.max(f64::MIN_POSITIVE).ln(), hi.ln())
        } else {
            (lo, hi)
        }
    }

    /// A value of the internal range back in the user's units, rounded for integers and kept
    /// within the bounds.
    pub fn external(&self, v: f64) -> f64 {
        let v = if self.log { v.exp() } else { v };
        let v = if self.integer { v.round() } else { v };
        v.clamp(self.min, self.max)
    }

    /// A value in the user's units in the internal range (for telling TPE an earlier trial).
    pub fn to_internal(&self, v: f64) -> f64 {
        let (lo, hi) = self.internal();
        let v = if self.log { v.ln() } else { v };
        v.clamp(lo, hi)
    }
}

/// The hyperparameters of either model (defined beside the models, with their one fit).
pub use salescast_models::ModelParams;

fn check_bounds(model: &str, d: &Dim, hard: (f64, f64)) -> Result<()> {
    let name = format!("{model}.{}", d.name);
    if !(d.min.is_finite() && d.max.is_finite()) || d.min > d.max {
        return Err(setting(
            name,
            format!(
                "[{}, {}] is not a range (min <= max, both finite)",
                d.min, d.max
            ),
        ));
    }
    if d.min < hard.0 || d.max > hard.1 {
        return Err(setting(
            name,
            format!(
                "[{}, {}] leaves the allowed values [{}, {}]",
                d.min, d.max, hard.0, hard.1
            ),
        ));
    }
    if d.log && d.min <= 0.0 {
        return Err(setting(name, "a log-scale range must be above 0"));
    }
    if d.integer && (d.min.fract() != 0.0 || d.max.fract() != 0.0) {
        return Err(setting(name, "an integer range needs whole ends"));
    }
    Ok(())
}

impl TuneSettings {
    /// The dimensions searched for `kind`, in a fixed order.
    pub fn dims(&self, kind: Kind) -> Vec<Dim> {
        let dim = |name, b: Bounds, log, integer| Dim {
            name,
            min: b.0,
            max: b.1,
            log,
            integer,
        };
        match kind {
            Kind::GradientBoosting => {
                let s = &self.gradient_boosting;
                vec![
                    dim("learning_rate", s.learning_rate, true, false),
                    dim("max_depth", s.max_depth, false, true),
                    dim("min_child_weight", s.min_child_weight, true, false),
                    dim("lambda", s.lambda, true, false),
                    dim("subsample", s.subsample, false, false),
                    dim("colsample", s.colsample, false, false),
                ]
            }
            Kind::RandomForest => {
                let s = &self.random_forest;
                vec![
                    dim("max_depth", s.max_depth, false, true),
                    dim("max_features", s.max_features, false, false),
                    dim("min_samples_leaf", s.min_samples_leaf, true, true),
                ]
            }
        }
    }

    /// Checks every setting and range, naming the first one that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.trials == 0 || self.trials > 100_000 {
            return Err(setting(
                "trials",
                format!("must be between 1 and 100000, got {}", self.trials),
            ));
        }
        if !(self.time_budget_secs > 0.0 && self.time_budget_secs.is_finite()) {
            return Err(setting(
                "time_budget_secs",
                format!("must be a positive number, got {}", self.time_budget_secs),
            ));
        }
        if self.parallel == 0 || self.parallel > 256 {
            return Err(setting(
                "parallel",
                format!("must be between 1 and 256, got {}", self.parallel),
            ));
        }
        if self.folds == 0 || self.folds > 52 {
            return Err(setting(
                "folds",
                format!("must be between 1 and 52, got {}", self.folds),
            ));
        }
        if self.fold_days == 0 || self.fold_days > 366 {
            return Err(setting(
                "fold_days",
                format!("must be between 1 and 366, got {}", self.fold_days),
            ));
        }
        let hard = |name: &str| -> (f64, f64) {
            match name {
                "learning_rate" => (f64::MIN_POSITIVE, 1.0),
                "max_depth" => (1.0, 32.0),
                "min_child_weight" | "lambda" => (0.0, 1e12),
                "subsample" | "colsample" | "max_features" => (f64::MIN_POSITIVE, 1.0),
                "min_samples_leaf" => (1.0, 1e9),
                _ => (f64::NEG_INFINITY, f64::INFINITY),
            }
        };
        for kind in [Kind::GradientBoosting, Kind::RandomForest] {
            for d in self.dims(kind) {
                check_bounds(kind.name(), &d, hard(d.name))?;
            }
        }
        Ok(())
    }
}

/// The base parameters with the searched ones replaced by `values` (user units, by name).
/// Every dimension must be given; no other name may be.
pub fn apply(
    base: &ModelParams,
    dims: &[Dim],
    values: &BTreeMap<String, f64>,
) -> Result<ModelParams> {
    for k in values.keys() {
        if !dims.iter().any(|d| d.name == k) {
            return Err(TuneError::Candidate(format!(
                "{k} is not searched for {}; searched: {}",
                base.kind().name(),
                dims.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let get = |name: &str| -> Result<f64> {
        let v = *values
            .get(name)
            .ok_or_else(|| TuneError::Candidate(format!("{name} is missing")))?;
        if !v.is_finite() {
            return Err(TuneError::Candidate(format!(
                "{name} must be a finite number"
            )));
        }
        Ok(v)
    };
    let whole = |name: &str| -> Result<usize> {
        let v = get(name)?;
        if v < 0.0 || v.fract() != 0.0 {
            return Err(TuneError::Candidate(format!(
                "{name} must be a whole number >= 0, got {v}"
            )));
        }
        Ok(v as usize)
    };
    let out = match base {
        ModelParams::GradientBoosting(p) => ModelParams::GradientBoosting(GradientBoostingParams {
            learning_rate: get("learning_rate")?,
            max_depth: whole("max_depth")?,
            min_child_weight: get("min_child_weight")?,
            lambda: get("lambda")?,
            subsample: get("subsample")?,
            colsample: get("colsample")?,
            ..p.clone()
        }),
        ModelParams::RandomForest(p) => ModelParams::RandomForest(RandomForestParams {
            max_depth: whole("max_depth")?,
            max_features: get("max_features")?,
            min_samples_leaf: u32::try_from(whole("min_samples_leaf")?)
                .map_err(|_| TuneError::Candidate("min_samples_leaf is too large".to_owned()))?,
            ..p.clone()
        }),
    };
    out.validate()
        .map_err(|e| TuneError::Candidate(e.to_string()))?;
    Ok(out)
}

/// The searched values of `params`, by name (trial 0: the defaults as they are).
pub fn values_of(params: &ModelParams) -> BTreeMap<String, f64> {
    let pairs: Vec<(&str, f64)> = match params {
        ModelParams::GradientBoosting(p) => vec![
            ("learning_rate", p.learning_rate),
            ("max_depth", p.max_depth as f64),
            ("min_child_weight", p.min_child_weight),
            ("lambda", p.lambda),
            ("subsample", p.subsample),
            ("colsample", p.colsample),
        ],
        ModelParams::RandomForest(p) => vec![
            ("max_depth", p.max_depth as f64),
            ("max_features", p.max_features),
            ("min_samples_leaf", f64::from(p.min_samples_leaf)),
        ],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_cover_both_models() {
        let s = TuneSettings::default();
        s.validate().unwrap();
        assert_eq!(s.dims(Kind::GradientBoosting).len(), 6);
        assert_eq!(s.dims(Kind::RandomForest).len(), 3);
    }

    #[test]
    fn a_bad_range_is_named() {
        let mut s = TuneSettings::default();
        s.gradient_boosting.learning_rate = Bounds(0.5, 0.1);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("gradient_boosting.learning_rate"), "{e}");
        let mut s = TuneSettings::default();
        s.random_forest.max_features = Bounds(0.1, 1.5);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("random_forest.max_features"), "{e}");
        let mut s = TuneSettings::default();
        s.gradient_boosting.lambda = Bounds(0.0, 1.0);
        assert!(s.validate().unwrap_err().to_string().contains("log-scale"));
    }

    #[test]
    fn internal_and_external_round_trip_inside_the_bounds() {
        let s = TuneSettings::default();
        for d in s.dims(Kind::GradientBoosting) {
            let (lo, hi) = d.internal();
            for v in [lo, (lo + hi) / 2.0, hi] {
                let x = d.external(v);
                assert!(x >= d.min && x <= d.max, "{} {x}", d.name);
                if d.integer {
                    assert_eq!(x.fract(), 0.0);
                }
            }
            assert!((d.external(d.to_internal(d.min)) - d.min).abs() < 1e-12);
        }
    }

    #[test]
    fn apply_replaces_only_the_searched_values() {
        let base = ModelParams::GradientBoosting(GradientBoostingParams::default());
        let dims = TuneSettings::default().dims(Kind::GradientBoosting);
        let mut v = values_of(&base);
        v.insert("learning_rate".into(), 0.05);
        let ModelParams::GradientBoosting(p) = apply(&base, &dims, &v).unwrap() else {
            panic!("kind changed")
        };
        assert_eq!(p.learning_rate, 0.05);
        assert_eq!(p.n_rounds, 300);
        v.insert("n_trees".into(), 3.0);
        assert!(
            apply(&base, &dims, &v)
                .unwrap_err()
                .to_string()
                .contains("n_trees")
        );
        let mut v = values_of(&base);
        v.insert("max_depth".into(), 2.5);
        assert!(
            apply(&base, &dims, &v)
                .unwrap_err()
                .to_string()
                .contains("whole")
        );
    }
}
