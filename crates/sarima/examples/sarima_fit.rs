//! Times SARIMA fitting and automatic order selection on a series, for `bench/sarima_vs_python.py`.
//!
//! `sarima_fit FILE ORDER REPEATS`: FILE has one value per line; ORDER is `p,d,q,P,D,Q,s` or
//! `auto:s`. Prints one JSON object: the order, log-likelihood, AICc and the median seconds.

use std::time::Instant;

use salescast_sarima::{Order, Regressors, Sarima, auto};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, file, order, repeats] = args.as_slice() else {
        return Err("usage: sarima_fit FILE p,d,q,P,D,Q,s|auto:s REPEATS".into());
    };
    let y: Vec<f64> = std::fs::read_to_string(file)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<f64>())
        .collect::<Result<_, _>>()?;
    let repeats: usize = repeats.parse()?;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let fit = if let Some(s) = order.strip_prefix("auto:") {
            let r = auto::AutoSarima::new(s.parse()?).fit(&y, &Regressors::none())?;
            if std::env::var_os("SARIMA_TRACE").is_some() {
                for c in &r.candidates {
                    eprintln!("{} {:?} aicc {:?} it {} {:.3}s {:?}", c.order, c.trend, c.aicc, c.iterations, c.seconds, c.error);
                }
            }
            r.model
        } else {
            let o: Vec<usize> = order.split(',').map(str::parse).collect::<Result<_, _>>()?;
            let [p, d, q, sp, sd, sq, s] = o.as_slice() else {
                return Err("ORDER needs 7 numbers".into());
            };
            Sarima::new(Order::sarima(*p, *d, *q, *sp, *sd, *sq, *s)).fit_exog(&y, &Regressors::none())?
        };
        times.push(t.elapsed().as_secs_f64());
        last = Some(fit);
    }
    times.sort_by(f64::total_cmp);
    let fit = last.ok_or("no fit")?;
    println!(
        "{{\"order\": \"{}\", \"loglik\": {}, \"aicc\": {}, \"median_seconds\": {}, \"repeats\": {}}}",
        fit.order,
        fit.loglik,
        fit.aicc(),
        times[times.len() / 2],
        times.len()
    );
    Ok(())
}
