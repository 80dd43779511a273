use super::*;
use rand_distr::StandardNormal;

/// A series from an ETS(A,A,A) model with known parameters.
fn simulated_aaa(n: usize, seed: u64) -> Vec<f64> {
    let spec = Spec::new(
        Component::Additive,
        Component::Additive,
        false,
        Component::Additive,
        7,
    );
    let p = Smoothing {
        alpha: 0.2,
        beta: 0.01,
        gamma: 0.1,
        phi: 1.0,
    };
    let mut state = vec![500.0, 1.0, 30.0, -10.0, -20.0, 5.0, 0.0, 15.0, -20.0];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let e: f64 = rng.sample(StandardNormal);
            let y = filter::forecast_at(&spec, 1.0, &state, 0) + 5.0 * e;
            filter::update(&spec, &p, &mut state, y);
            y
        })
        .collect()
}

use rand::Rng;

#[test]
fn a_trend_and_a_week_are_found_and_continued() {
    let y = simulated_aaa(400, 1);
    let fit = AutoEts::new(7).fit(&y).expect("fit");
    assert_ne!(fit.spec.trend, Component::None, "{}", fit.name());
    assert_ne!(fit.spec.season, Component::None, "{}", fit.name());
    let fc = fit.forecast(14, Some(0.95)).expect("forecast");
    // the weekly shape repeats: day t and t + 7 differ by about a week of slope
    for i in 0..7 {
        let d = fc.point[i + 7] - fc.point[i];
        assert!(d.abs() < 20.0, "{:?}", fc.point);
    }
    let iv = fc.intervals.expect("intervals");
    let width = |i: usize| iv.upper[i] - iv.lower[i];
    assert!(width(13) > width(0) && width(0) > 0.0);
    // the noise sd is 5: the one-step 95% half-width is about 1.96·5
    assert!((width(0) / 2.0 - 9.8).abs() < 2.5, "{}", width(0));
}

#[test]
fn the_loglik_is_the_profiled_likelihood_of_the_fitted_errors() {
    let y = simulated_aaa(200, 2);
    let spec = Spec::new(
        Component::Multiplicative,
        Component::Additive,
        true,
        Component::Multiplicative,
        7,
    );
    let fit = spec.fit(&y).expect("fit");
    let again = loglik(&spec, &fit.params, &fit.initial, &y).expect("loglik");
    assert!((again - fit.loglik).abs() < 1e-9 * fit.loglik.abs());
    assert!((fit.params.phi - 0.8..=0.98).contains(&fit.params.phi));
    assert!(fit.params.beta <= fit.params.alpha);
    // simulated intervals hold the point forecast and are repeatable
    let a = fit.forecast(30, Some(0.9)).expect("forecast");
    let b = fit.forecast(30, Some(0.9)).expect("forecast");
    let iv = a.intervals.expect("intervals");
    let again = b.intervals.expect("intervals");
    assert_eq!((&iv.lower, &iv.upper), (&again.lower, &again.upper));
    for i in 0..30 {
        assert!(iv.lower[i] < a.point[i] && a.point[i] < iv.upper[i]);
    }
}

#[test]
fn bad_series_and_models_are_refused() {
    let auto = AutoEts::new(7);
    assert!(matches!(
        auto.fit(&[1.0, f64::NAN, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
        Err(EtsError::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        auto.fit(&[1.0, 2.0]),
        Err(EtsError::TooShort { .. })
    ));
    let bad = Spec::new(
        Component::Additive,
        Component::None,
        false,
        Component::Multiplicative,
        7,
    );
    assert!(bad.validate().is_err());
    let m = Spec::new(
        Component::Multiplicative,
        Component::None,
        false,
        Component::None,
        1,
    );
    let with_zero: Vec<f64> = (0..50).map(|t| (t % 5) as f64).collect();
    assert!(m.fit(&with_zero).is_err());
    // multiplicative models are not tried on data with zeros
    assert!(
        auto.candidates(&with_zero)
            .iter()
            .all(|s| !s.multiplicative())
    );
    // a constant series forecasts itself
    let c = auto.fit(&[3.0; 30]).expect("constant");
    assert_eq!(c.forecast(3, None).expect("forecast").point, vec![3.0; 3]);
    assert!(c.forecast(3, Some(1.5)).is_err());
}

#[test]
fn a_corrupted_model_is_refused() {
    let y = simulated_aaa(120, 3);
    let mut fit = AutoEts::new(7).fit(&y).expect("fit");
    assert!(fit.validate().is_ok());
    fit.params.alpha = 2.0;
    assert!(fit.validate().is_err());
    fit.params.alpha = 0.5;
    fit.last.pop();
    assert!(fit.validate().is_err());
}

#[test]
fn the_family_is_the_one_statsforecast_searches() {
    let positive: Vec<f64> = (1..100).map(f64::from).collect();
    let names: Vec<String> = AutoEts::new(7)
        .candidates(&positive)
        .iter()
        .map(Spec::name)
        .collect();
    assert_eq!(
        names,
        [
            "ETS(A,N,N)",
            "ETS(A,N,A)",
            "ETS(A,Ad,N)",
            "ETS(A,A,N)",
            "ETS(A,Ad,A)",
            "ETS(A,A,A)",
            "ETS(M,N,N)",
            "ETS(M,N,A)",
            "ETS(M,N,M)",
            "ETS(M,Ad,N)",
            "ETS(M,A,N)",
            "ETS(M,Ad,A)",
            "ETS(M,A,A)",
            "ETS(M,Ad,M)",
            "ETS(M,A,M)",
        ]
    );
}
