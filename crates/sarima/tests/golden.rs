//! Golden tests against statsmodels' SARIMAX (fixtures from `tests/golden/make_golden.py`).
//!
//! Each fixture holds a series, an order and statsmodels' maximum-likelihood fit. We fit the
//! same model and ask for: a log-likelihood within 1e-4 relative of statsmodels' or higher,
//! parameters within 1e-3 (relative for regression coefficients and the variance, absolute
//! for ARMA coefficients), and 30-step forecasts and 95% bounds within 1e-3 relative.

use salescast_sarima::{Order, Regressors, Sarima};
use serde_json::Value;

mod common;

use common::{floats, load};

fn columns(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array").iter().map(floats).collect()
}

fn order(g: &Value) -> Order {
    let o: Vec<usize> = floats(&g["order"]).iter().map(|v| *v as usize).collect();
    let s: Vec<usize> = floats(&g["seasonal_order"])
        .iter()
        .map(|v| *v as usize)
        .collect();
    Order::sarima(o[0], o[1], o[2], s[0], s[1], s[2], s[3])
}

fn regressors(g: &Value, key: &str) -> Regressors {
    let names: Vec<String> = g["exog_names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("str").to_owned())
        .collect();
    Regressors {
        names,
        columns: columns(&g[key]),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn check(name: &str) {
    let g = load(name);
    let y = floats(&g["y"]);
    let exog = regressors(&g, "exog");
    let fit = Sarima::new(order(&g)).fit_exog(&y, &exog).expect("fit");
    let llf = g["llf"].as_f64().expect("llf");
    println!(
        "{name}: ours {:.6} statsmodels {llf:.6} ({} iterations)",
        fit.loglik, fit.iterations
    );
    assert!(
        fit.loglik >= llf - 1e-4 * llf.abs(),
        "{name}: log-likelihood {} below statsmodels' {llf}",
        fit.loglik
    );
    let ours = fit.params.to_vec();
    let theirs = floats(&g["params"]);
    let k_exog = exog.len();
    assert_eq!(ours.len(), theirs.len(), "{name}: parameter count");
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let scaled = i < k_exog || i == ours.len() - 1;
        let err = if scaled { rel(*a, *b) } else { (a - b).abs() };
        assert!(
            err < 1e-3,
            "{name}: parameter {} ours {a} statsmodels {b}",
            g["param_names"][i]
        );
    }
    let future = regressors(&g, "future_exog");
    let fc = fit
        .forecast_exog(30, &future, Some(0.95))
        .expect("forecast");
    let iv = fc.intervals.expect("intervals");
    for (key, ours) in [
        ("forecast_mean", &fc.point),
        ("forecast_lower_95", &iv.lower),
        ("forecast_upper_95", &iv.upper),
    ] {
        for (h, (a, b)) in ours.iter().zip(floats(&g[key])).enumerate() {
            assert!(
                rel(*a, b) < 1e-3,
                "{name}: {key}[{h}] ours {a} statsmodels {b}"
            );
        }
    }
    let aic = g["aic"].as_f64().expect("aic");
    assert!(
        fit.aic() <= aic + 1e-4 * aic.abs(),
        "{name}: AIC {} vs {aic}",
        fit.aic()
    );
}

#[test]
fn airline_log_passengers_011_011_12() {
    check("airline");
}

#[test]
fn elnino_monthly_101_011_12() {
    check("elnino");
}

#[test]
fn gdp_quarterly_210_100_4() {
    check("gdp");
}

#[test]
fn daily_revenue_111_111_7_with_holiday_and_fourier_regressors() {
    check("daily");
}

/// Our likelihood at statsmodels' parameters is statsmodels' likelihood: the two agree on the
/// function, not only on where its maximum lies.
#[test]
fn likelihood_at_statsmodels_parameters_matches() {
    for name in ["airline", "elnino", "gdp", "daily"] {
        let g = load(name);
        let y = floats(&g["y"]);
        let exog = regressors(&g, "exog");
        let o = order(&g);
        let v = floats(&g["params"]);
        let k = exog.len();
        let mut at = k;
        let mut take = |n: usize| {
            let s = v[at..at + n].to_vec();
            at += n;
            s
        };
        let params = salescast_sarima::Params {
            exog: v[..k].to_vec(),
            ar: take(o.p),
            ma: take(o.q),
            seasonal_ar: take(o.seasonal_p),
            seasonal_ma: take(o.seasonal_q),
            sigma2: *v.last().expect("sigma2"),
        };
        let fit =
            salescast_sarima::FittedSarima::from_params(o, params, &y, &exog, 0).expect("filter");
        let llf = g["llf"].as_f64().expect("llf");
        println!("{name}: ours {:.9} statsmodels {llf:.9}", fit.loglik);
        assert!(
            rel(fit.loglik, llf) < 1e-7,
            "{name}: {} vs {llf}",
            fit.loglik
        );
    }
}
