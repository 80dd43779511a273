//! Backtest of the served daily champion: hold out the last `days` days of the data it was
//! refitted on, re-estimate its recipe (same orders and members) on the rest, forecast `days`
//! days and score them. Beside it, the evaluation fit's score at the same horizon (the first
//! `days` days of its test window) and on the same last days (its longest horizons), so the
//! refit's accuracy can be read against the judged figures.
//!
//! `cargo run --release -p salescast-pipeline --example backtest -- [DATA_DIR] [MODELS_DIR] [DAYS]`

use std::path::PathBuf;

use salescast_daily::{DailyArtifact, Scores};
use salescast_features::daily::ALL_STORES;
use salescast_models::serving::EVALUATION_DIR;
use salescast_pipeline::daily::{DAILY_ARTIFACT, read_daily};
use salescast_pipeline::features_dir;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data_dir = PathBuf::from(args.first().map_or("data", String::as_str));
    let models_dir = PathBuf::from(args.get(1).map_or("models", String::as_str));
    let days: usize = match args.get(2) {
        Some(s) => s
            .parse()
            .map_err(|e| format!("DAYS {s:?} is not a whole number: {e}"))?,
        None => 14,
    };
    if days == 0 {
        return Err("DAYS must be at least 1".into());
    }

    let served = DailyArtifact::load(&models_dir.join(DAILY_ARTIFACT))?;
    let evaluation = DailyArtifact::load(&models_dir.join(EVALUATION_DIR).join(DAILY_ARTIFACT))?;
    let refit_dir = features_dir(&data_dir).join(salescast_features::frame::REFIT_DIR);
    let all = read_daily(&refit_dir)?;
    let full = all
        .iter()
        .find(|s| s.name == ALL_STORES)
        .ok_or_else(|| format!("{}: no {ALL_STORES} series", refit_dir.display()))?;
    let y = [full.train.as_slice(), full.test.as_slice()].concat();
    if y.len() < days + 60 {
        return Err(format!("{} day(s) are too few for a {days}-day backtest", y.len()).into());
    }
    let cut = y.len() - days;
    let recipe = served.champion.recipe();
    let fitted = recipe.fit(full.start, &y[..cut])?;
    let forecast = fitted.forecast(full.start, days, Some(0.95))?;
    let backtest = Scores::new(&y[cut..], &forecast.point, &y[..cut]);
    let covered = forecast.intervals.as_ref().map_or(0, |iv| {
        y[cut..]
            .iter()
            .zip(iv.lower.iter().zip(&iv.upper))
            .filter(|(a, (l, u))| *l <= *a && *a <= *u)
            .count()
    });

    let window = &evaluation.test_window;
    if window.len() < days {
        return Err(format!(
            "the evaluation fit's test window has {} day(s), fewer than {days}",
            window.len()
        )
        .into());
    }
    let eval_train_len = evaluation.champion.nobs();
    let eval_train = &y[..eval_train_len.min(y.len())];
    let score = |days: &[salescast_daily::TestDay]| {
        let actual: Vec<f64> = days.iter().map(|d| d.actual).collect();
        let mean: Vec<f64> = days.iter().map(|d| d.mean).collect();
        Scores::new(&actual, &mean, eval_train)
    };
    let first = score(&window[..days]);
    let last = score(&window[window.len() - days..]);

    let day = |i: usize| full.start + chrono::Duration::days(i as i64);
    println!(
        "champion {} refitted on {}..{}, backtest on {}..{}",
        recipe.name(),
        full.start,
        day(y.len() - 1),
        day(cut),
        day(y.len() - 1)
    );
    println!(
        "refit, last {days} days held out:          MAE {:>9.1}  RMSE {:>9.1}  MASE {:.3}  95% coverage {covered}/{days}",
        backtest.mae, backtest.rmse, backtest.mase
    );
    println!(
        "evaluation fit, first {days} test days:     MAE {:>9.1}  RMSE {:>9.1}  MASE {:.3}",
        first.mae, first.rmse, first.mase
    );
    println!(
        "evaluation fit, same last {days} days:      MAE {:>9.1}  RMSE {:>9.1}  MASE {:.3}",
        last.mae, last.rmse, last.mase
    );
    Ok(())
}
