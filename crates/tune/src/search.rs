//! The search: the defaults first, then random candidates, then TPE (Bergstra et al. 2011, the
//! `tpe` crate: one Parzen estimator per hyperparameter, as Optuna's default sampler), in
//! batches of `parallel` trials run at once.
//!
//! Reproducibility does not depend on timing or threads. Trial `n`'s candidate is drawn from a
//! generator seeded by `(seed, n)` and from the results of the trials before its batch only, so
//! the sequence is fixed by the seed; a search that is interrupted and resumed draws exactly
//! the candidates the uninterrupted one would have.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand10::SeedableRng as _;
use rayon::prelude::*;
use salescast_models::metrics::mae;
use salescast_models::{Kind, Model};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::folds::Fold;
use crate::space::{Dim, ModelParams, TuneSettings, apply, values_of};

/// Where a trial's candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Trial 0: the parameters `salescast train` would use.
    Defaults,
    Random,
    Tpe,
}

/// One evaluated candidate, as the trial log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub number: usize,
    pub source: Source,
    /// The searched hyperparameters, in the user's units.
    pub params: BTreeMap<String, f64>,
    /// MAE on each fold's window, oldest first.
    pub fold_mae: Vec<f64>,
    /// The mean of `fold_mae`; `None` when the trial failed.
    pub cv_mae: Option<f64>,
    /// Boosting: the rounds kept on each fold by early stopping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<usize>,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One candidate's fold scores.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldScores {
    pub fold_mae: Vec<f64>,
    pub rounds: Vec<usize>,
}

impl FoldScores {
    pub fn cv_mae(&self) -> f64 {
        self.fold_mae.iter().sum::<f64>() / self.fold_mae.len().max(1) as f64
    }
}

/// Fits `params` on each fold and scores its window.
pub fn evaluate(params: &ModelParams, folds: &[Fold]) -> Result<FoldScores> {
    params.validate()?;
    let mut out = FoldScores {
        fold_mae: Vec::with_capacity(folds.len()),
        rounds: Vec::new(),
    };
    for f in folds {
        let model = params.fit(&f.fit, f.stop.as_ref(), &|_| {})?;
        if let Model::GradientBoosting(m) = &model {
            out.rounds.push(m.trees.len());
        }
        let pred = model.predict(&f.score.x)?;
        out.fold_mae.push(mae(&f.score.y, &pred));
    }
    Ok(out)
}

/// What a search calls after each batch: the batch's trials, then every trial so far. An
/// error stops the search.
pub type OnBatch<'a> = dyn FnMut(&[Trial], &[Trial]) -> Result<()> + 'a;

/// A search over one model's space.
#[derive(Debug)]
pub struct Search<'a> {
    pub settings: &'a TuneSettings,
    /// The parameters `salescast train` would use: trial 0, and every value not searched.
    pub base: ModelParams,
    pub folds: &'a [Fold],
}

/// Mixes the seed and a trial number into one generator seed (SplitMix64's finaliser), so that
/// neighbouring trials get unrelated streams.
fn stream(seed: u64, number: usize) -> u64 {
    let mut z = seed ^ (number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Search<'_> {
    pub fn kind(&self) -> Kind {
        self.base.kind()
    }

    pub fn dims(&self) -> Vec<Dim> {
        self.settings.dims(self.kind())
    }

    /// Trial `number`'s candidate, given the finished trials before its batch.
    pub fn candidate(&self, number: usize, told: &[&Trial]) -> (Source, BTreeMap<String, f64>) {
        if number == 0 {
            return (Source::Defaults, values_of(&self.base));
        }
        let dims = self.dims();
        let seed = stream(self.settings.seed, number);
        if number <= self.settings.startup_trials || told.is_empty() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let values = dims
                .iter()
                .map(|d| {
                    let (lo, hi) = d.internal();
                    let v = if hi > lo {
                        rng.random_range(lo..hi)
                    } else {
                        lo
                    };
                    (d.name.to_owned(), d.external(v))
                })
                .collect();
            return (Source::Random, values);
        }
        let mut rng = rand10::rngs::StdRng::seed_from_u64(seed);
        let values = dims
            .iter()
            .map(|d| {
                let (lo, hi) = d.internal();
                let v = match tpe::range(lo, hi) {
                    Ok(range) if hi > lo => {
                        let mut opt = tpe::TpeOptimizer::new(tpe::parzen_estimator(), range);
                        for t in told {
                            if let (Some(&p), Some(v)) = (t.params.get(d.name), t.cv_mae) {
                                // In range by construction; a hand-edited log cannot break the
                                // search, only be left out of it.
                                let _ = opt.tell(d.to_internal(p), v);
                            }
                        }
                        opt.ask(&mut rng).unwrap_or((lo + hi) / 2.0)
                    }
                    _ => lo,
                };
                (d.name.to_owned(), d.external(v))
            })
            .collect();
        (Source::Tpe, values)
    }

    fn run_trial(&self, number: usize, source: Source, params: BTreeMap<String, f64>) -> Trial {
        let started = Instant::now();
        let scored =
            apply(&self.base, &self.dims(), &params).and_then(|p| evaluate(&p, self.folds));
        let seconds = started.elapsed().as_secs_f64();
        match scored {
            Ok(s) => Trial {
                number,
                source,
                params,
                cv_mae: Some(s.cv_mae()),
                fold_mae: s.fold_mae,
                rounds: s.rounds,
                seconds,
                error: None,
            },
            Err(e) => Trial {
                number,
                source,
                params,
                fold_mae: Vec::new(),
                cv_mae: None,
                rounds: Vec::new(),
                seconds,
                error: Some(e.to_string()),
            },
        }
    }

    /// Runs the trials missing from `done` (an earlier search's log, or nothing), batch by
    /// batch, until `trials` are done or the time budget is spent. `on_batch` sees each
    /// batch's trials and every trial so far, and may stop the search with an error (it is
    /// where the caller saves the log, so an interruption loses at most one batch).
    pub fn run(&self, done: Vec<Trial>, on_batch: &mut OnBatch<'_>) -> Result<Vec<Trial>> {
        let started = Instant::now();
        let budget = Duration::from_secs_f64(self.settings.time_budget_secs);
        let p = self.settings.parallel;
        let mut trials = done;
        trials.sort_by_key(|t| t.number);
        while let Some(first) = (0..self.settings.trials)
            .find(|n| trials.binary_search_by_key(n, |t| t.number).is_err())
        {
            if started.elapsed() >= budget {
                break;
            }
            let batch_start = first / p * p;
            let batch: Vec<usize> = (batch_start..(batch_start + p).min(self.settings.trials))
                .filter(|n| trials.binary_search_by_key(n, |t| t.number).is_err())
                .collect();
            let told: Vec<&Trial> = trials
                .iter()
                .filter(|t| t.number < batch_start && t.cv_mae.is_some())
                .collect();
            let candidates: Vec<(usize, Source, BTreeMap<String, f64>)> = batch
                .iter()
                .map(|&n| {
                    let (s, v) = self.candidate(n, &told);
                    (n, s, v)
                })
                .collect();
            let new: Vec<Trial> = candidates
                .into_par_iter()
                .map(|(n, s, v)| self.run_trial(n, s, v))
                .collect();
            trials.extend(new.iter().cloned());
            trials.sort_by_key(|t| t.number);
            on_batch(&new, &trials)?;
        }
        Ok(trials)
    }
}

/// The trial with the lowest cross-validated MAE (the earlier one on a tie).
pub fn best(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.cv_mae.is_some_and(f64::is_finite))
        .min_by(|a, b| {
            a.cv_mae
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.cv_mae.unwrap_or(f64::INFINITY))
                .then(a.number.cmp(&b.number))
        })
}

#[cfg(test)]
mod tests {
    use salescast_models::{Dataset, GradientBoostingParams, RandomForestParams};

    use super::*;
    use crate::folds::rolling_origin;

    /// A small series with a clear signal in the first feature and noise in the second.
    fn data(days: i64, per_day: usize) -> (Dataset, Vec<i64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut x, mut y, mut d) = (Vec::new(), Vec::new(), Vec::new());
        for day in 0..days {
            for _ in 0..per_day {
                let a: f64 = rng.random_range(0.0..10.0);
                let b: f64 = rng.random_range(0.0..1.0);
                x.extend([a, b, (day % 7) as f64]);
                y.push(3.0 * a + (day % 7) as f64 + b);
                d.push(day);
            }
        }
        let names = vec!["a".into(), "b".into(), "dow".into()];
        (Dataset::new(x, y, names).unwrap(), d)
    }

    fn settings(trials: usize) -> TuneSettings {
        TuneSettings {
            trials,
            startup_trials: 3,
            folds: 2,
            fold_days: 7,
            ..TuneSettings::default()
        }
    }

    fn gb() -> ModelParams {
        ModelParams::GradientBoosting(GradientBoostingParams {
            n_rounds: 20,
            early_stopping_rounds: 5,
            ..GradientBoostingParams::default()
        })
    }

    #[test]
    fn a_search_is_reproducible_from_its_seed_and_resumes_where_it_stopped() {
        let (ds, days) = data(40, 15);
        let folds = rolling_origin(&ds, &days, 2, 7, 3).unwrap();
        let s = settings(9);
        let search = Search {
            settings: &s,
            base: gb(),
            folds: &folds,
        };
        let mut batches = 0;
        let all = search
            .run(Vec::new(), &mut |new, _| {
                batches += 1;
                assert!(new.len() <= 2);
                Ok(())
            })
            .unwrap();
        assert_eq!(all.len(), 9);
        assert_eq!(batches, 5);
        assert_eq!(all[0].source, Source::Defaults);
        assert_eq!(all[1].source, Source::Random);
        assert_eq!(all[8].source, Source::Tpe);
        assert!(
            all.iter()
                .all(|t| t.cv_mae.is_some() && t.fold_mae.len() == 2)
        );
        let again = search.run(Vec::new(), &mut |_, _| Ok(())).unwrap();
        let strip = |t: &[Trial]| -> Vec<(BTreeMap<String, f64>, Vec<f64>)> {
            t.iter()
                .map(|t| (t.params.clone(), t.fold_mae.clone()))
                .collect()
        };
        assert_eq!(strip(&all), strip(&again));
        // Interrupted after trial 4 (mid-batch: trial 5 was lost): the resumed search redraws
        // exactly the missing trials.
        let resumed = search.run(all[..5].to_vec(), &mut |_, _| Ok(())).unwrap();
        assert_eq!(strip(&all), strip(&resumed));
        let other_seed = TuneSettings {
            seed: 1,
            ..s.clone()
        };
        let other = Search {
            settings: &other_seed,
            base: gb(),
            folds: &folds,
        }
        .candidate(1, &[]);
        assert_ne!(other.1, all[1].params);
    }

    #[test]
    fn tpe_finds_at_least_what_the_defaults_score_and_the_budget_stops_new_trials() {
        let (ds, days) = data(40, 15);
        let folds = rolling_origin(&ds, &days, 2, 7, 0).unwrap();
        let s = settings(8);
        let base = ModelParams::RandomForest(RandomForestParams {
            n_trees: 10,
            ..RandomForestParams::default()
        });
        let search = Search {
            settings: &s,
            base,
            folds: &folds,
        };
        let all = search.run(Vec::new(), &mut |_, _| Ok(())).unwrap();
        let b = best(&all).unwrap();
        assert!(b.cv_mae.unwrap() <= all[0].cv_mae.unwrap());
        let tight = TuneSettings {
            time_budget_secs: 1e-9,
            ..s.clone()
        };
        let first_batch_only = Search {
            settings: &tight,
            base: search.base.clone(),
            folds: &folds,
        }
        .run(Vec::new(), &mut |_, _| Ok(()))
        .unwrap();
        assert!(first_batch_only.len() <= 2, "{}", first_batch_only.len());
    }

    #[test]
    fn a_failing_candidate_is_a_failed_trial_not_a_failed_search() {
        let (ds, days) = data(40, 5);
        let folds = rolling_origin(&ds, &days, 2, 7, 3).unwrap();
        let s = settings(2);
        let search = Search {
            settings: &s,
            base: gb(),
            folds: &folds,
        };
        let mut bad = values_of(&gb());
        bad.insert("subsample".into(), 0.0);
        let t = search.run_trial(1, Source::Random, bad);
        assert!(t.cv_mae.is_none());
        assert!(
            t.error.as_deref().unwrap_or("").contains("subsample"),
            "{t:?}"
        );
        let stop = search.run(Vec::new(), &mut |_, _| {
            Err(crate::TuneError::Candidate("stopped by the caller".into()))
        });
        assert!(stop.is_err());
    }
}
