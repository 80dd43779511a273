//! Fits `AutoEts` (weekly season) on each series of a JSON file `[{"name", "y"}]` and prints,
//! per series, the chosen model, its log-likelihood and the median fit time over `reps` runs,
//! as JSON lines. Used by `bench/ets_vs_statsforecast.py`.
//!
//!     cargo run --release -p salescast-ets --example ets_fit -- series.json 5

use std::time::Instant;

use salescast_ets::AutoEts;

#[derive(serde::Deserialize)]
struct Series {
    name: String,
    y: Vec<f64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: ets_fit <series.json> [reps]")?;
    let reps: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let series: Vec<Series> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    for s in series {
        let mut times = Vec::with_capacity(reps);
        let mut fit = None;
        for _ in 0..reps.max(1) {
            let t = Instant::now();
            fit = Some(AutoEts::new(7).fit(&s.y)?);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let fit = fit.ok_or("no fit")?;
        println!(
            "{}",
            serde_json::json!({
                "name": s.name,
                "model": fit.name(),
                "loglik": fit.loglik,
                "seconds": times[times.len() / 2],
            })
        );
    }
    Ok(())
}
