//! Rolling-origin folds over the training days: each fold trains on every day before its
//! window and scores the window, the way the model is used (it never sees the days it
//! forecasts). The test days are not passed in at all, so no choice can depend on them.

use salescast_models::Dataset;

use crate::error::{Result, TuneError};

/// One fold, its datasets built once and shared by every trial.
#[derive(Debug, Clone)]
pub struct Fold {
    /// Rows before the window, less the last `stop_days`: what the model is fitted on.
    pub fit: Dataset,
    /// The last `stop_days` before the window, watched by boosting's early stopping as in the
    /// train stage (the forest, which does not stop early, is given `stop_days = 0`).
    pub stop: Option<Dataset>,
    /// The window's rows: where the fold's MAE is measured.
    pub score: Dataset,
    /// First and last day (day numbers) of the window.
    pub window: (i64, i64),
}

fn gather(data: &Dataset, rows: &[usize]) -> Result<Dataset> {
    let d = data.n_features;
    let x = rows
        .iter()
        .flat_map(|&i| data.x[i * d..(i + 1) * d].iter().copied())
        .collect();
    let y = rows.iter().map(|&i| data.y[i]).collect();
    Ok(Dataset::new(x, y, data.feature_names.clone())?)
}

/// `folds` windows of `fold_days` days each, ending on the last training day, oldest first.
/// `days[i]` is row `i`'s day number. Each fold keeps at least as many earlier days as its
/// window plus `stop_days`, or the folds are refused with the numbers.
pub fn rolling_origin(
    data: &Dataset,
    days: &[i64],
    folds: usize,
    fold_days: u32,
    stop_days: u32,
) -> Result<Vec<Fold>> {
    if days.len() != data.n_rows {
        return Err(TuneError::Folds(format!(
            "{} day numbers for {} rows",
            days.len(),
            data.n_rows
        )));
    }
    let (Some(&first), Some(&last)) = (days.iter().min(), days.iter().max()) else {
        return Err(TuneError::Folds("no training rows".into()));
    };
    let (fd, sd) = (i64::from(fold_days), i64::from(stop_days));
    let span = last - first + 1;
    let need = fd * (folds as i64 + 1) + sd;
    if span < need {
        return Err(TuneError::Folds(format!(
            "{folds} folds of {fold_days} days need at least {need} training days ({fold_days} \
             more before the first window, {stop_days} for early stopping); the training days \
             span {span}: lower tune.folds or tune.fold_days"
        )));
    }
    let mut out = Vec::with_capacity(folds);
    for k in (1..=folds as i64).rev() {
        let start = last - k * fd + 1;
        let end = start + fd - 1;
        let stop_from = start - sd;
        let mut fit = Vec::new();
        let mut stop = Vec::new();
        let mut score = Vec::new();
        for (i, &d) in days.iter().enumerate() {
            if d < stop_from {
                fit.push(i);
            } else if d < start {
                stop.push(i);
            } else if d <= end {
                score.push(i);
            }
        }
        if fit.len() < 2 || score.is_empty() {
            return Err(TuneError::Folds(format!(
                "the fold scoring days {start}..={end} has {} rows to fit on and {} to score",
                fit.len(),
                score.len()
            )));
        }
        out.push(Fold {
            fit: gather(data, &fit)?,
            stop: (!stop.is_empty())
                .then(|| gather(data, &stop))
                .transpose()?,
            score: gather(data, &score)?,
            window: (start, end),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(days: i64, per_day: usize) -> (Dataset, Vec<i64>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut d = Vec::new();
        for day in 0..days {
            for j in 0..per_day {
                x.push(day as f64);
                y.push(j as f64);
                d.push(day);
            }
        }
        (Dataset::new(x, y, vec!["day".into()]).unwrap(), d)
    }

    #[test]
    fn windows_tile_the_end_and_nothing_leaks_forward() {
        let (ds, days) = data(200, 3);
        let folds = rolling_origin(&ds, &days, 3, 28, 14).unwrap();
        assert_eq!(folds.len(), 3);
        assert_eq!(folds[2].window, (172, 199));
        assert_eq!(folds[1].window, (144, 171));
        assert_eq!(folds[0].window, (116, 143));
        for f in &folds {
            assert_eq!(f.score.n_rows, 28 * 3);
            let max_fit = f
                .fit
                .x
                .iter()
                .chain(&f.stop.as_ref().unwrap().x)
                .copied()
                .fold(f64::MIN, f64::max);
            let min_score = f.score.x.iter().copied().fold(f64::MAX, f64::min);
            assert!(max_fit < min_score);
            assert_eq!(f.stop.as_ref().unwrap().n_rows, 14 * 3);
        }
    }

    #[test]
    fn too_few_days_are_refused_with_the_numbers() {
        let (ds, days) = data(60, 2);
        let e = rolling_origin(&ds, &days, 3, 28, 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("need at least 112") && e.contains("span 60"),
            "{e}"
        );
    }
}
