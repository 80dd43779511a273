//! Times SARIMA fitting and automatic order selection, for `bench/sarima_vs_python.py`.
//!
//! `sarima_fit FILES ORDER REPEATS`: FILES is one file or a comma-separated list (fitted in
//! parallel, one series per task), each with one value per line; ORDER is `p,d,q,P,D,Q,s` or
//! `auto:s`. Prints one JSON object: the first series' order, log-likelihood and AICc, and the
//! median seconds of fitting all series.

use std::time::Instant;

use rayon::prelude::*;
use salescast_sarima::{FittedSarima, Order, Regressors, Sarima, auto};

fn read(file: &str) -> Result<Vec<f64>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(std::fs::read_to_string(file)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<f64>())
        .collect::<Result<_, _>>()?)
}

fn fit(y: &[f64], order: &str) -> Result<FittedSarima, Box<dyn std::error::Error + Send + Sync>> {
    if let Some(s) = order.strip_prefix("auto:") {
        let r = auto::AutoSarima::new(s.parse()?).fit(y, &Regressors::none())?;
        if std::env::var_os("SARIMA_TRACE").is_some() {
            for c in &r.candidates {
                eprintln!(
                    "{} {:?} aicc {:?} it {} {:.3}s {:?}",
                    c.order, c.trend, c.aicc, c.iterations, c.seconds, c.error
                );
            }
        }
        return Ok(r.model);
    }
    let o: Vec<usize> = order.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let [p, d, q, sp, sd, sq, s] = o.as_slice() else {
        return Err("ORDER needs 7 numbers".into());
    };
    Ok(Sarima::new(Order::sarima(*p, *d, *q, *sp, *sd, *sq, *s))
        .fit_exog(y, &Regressors::none())?)
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, files, order, repeats] = args.as_slice() else {
        return Err("usage: sarima_fit FILE[,FILE...] p,d,q,P,D,Q,s|auto:s REPEATS".into());
    };
    let series: Vec<Vec<f64>> = files.split(',').map(read).collect::<Result<_, _>>()?;
    let repeats: usize = repeats.parse()?;
    let mut times = Vec::new();
    let mut first = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let fits: Vec<FittedSarima> = series
            .par_iter()
            .map(|y| fit(y, order))
            .collect::<Result<_, _>>()?;
        times.push(t.elapsed().as_secs_f64());
        first = fits.into_iter().next();
    }
    times.sort_by(f64::total_cmp);
    let fit = first.ok_or("no series")?;
    println!(
        "{{\"order\": \"{}\", \"loglik\": {}, \"aicc\": {}, \"median_seconds\": {}, \"repeats\": {}, \"series\": {}}}",
        fit.order,
        fit.loglik,
        fit.aicc(),
        times[times.len() / 2],
        times.len(),
        series.len()
    );
    Ok(())
}
