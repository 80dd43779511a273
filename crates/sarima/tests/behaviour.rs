//! Bad input, automatic orders against statsforecast's choice, forecasts and artifacts.

use augurs_core::{Fit, Predict};
use salescast_sarima::auto::AutoSarima;
use salescast_sarima::{FittedSarima, Order, Regressors, Sarima, SarimaError};

mod common;

use common::{floats, load};

fn airline() -> Vec<f64> {
    floats(&load("airline")["y"])
}

#[test]
fn a_series_shorter_than_the_model_needs_is_refused() {
    let e = Sarima::new(Order::sarima(1, 1, 1, 1, 1, 1, 12))
        .fit(&airline()[..20])
        .unwrap_err();
    assert!(matches!(e, SarimaError::TooShort { got: 20, .. }), "{e}");
    assert!(e.to_string().contains("need at least"), "{e}");
}

#[test]
fn a_constant_series_is_refused() {
    let e = Sarima::new(Order::arima(1, 0, 1))
        .fit(&[3.0; 200])
        .unwrap_err();
    assert!(matches!(e, SarimaError::Constant { .. }), "{e}");
    // Constant after differencing: a straight line with one difference.
    let line: Vec<f64> = (0..200).map(|t| 2.0 * t as f64).collect();
    assert!(matches!(
        Sarima::new(Order::arima(1, 1, 0)).fit(&line),
        Err(SarimaError::Constant { .. })
    ));
}

#[test]
fn nan_and_infinite_values_are_refused_with_their_index() {
    let mut y = airline();
    y[17] = f64::NAN;
    let e = Sarima::new(Order::arima(1, 1, 0)).fit(&y).unwrap_err();
    assert!(matches!(e, SarimaError::NonFinite { index: 17, .. }), "{e}");
    y[17] = f64::INFINITY;
    assert!(matches!(
        Sarima::new(Order::arima(1, 1, 0)).fit(&y),
        Err(SarimaError::NonFinite { index: 17, .. })
    ));
    let mut x = vec![0.0; y.len()];
    x[3] = f64::NAN;
    let exog = Regressors {
        names: vec!["x".into()],
        columns: vec![x],
    };
    let e = Sarima::new(Order::arima(1, 1, 0))
        .fit_exog(&airline(), &exog)
        .unwrap_err();
    assert!(e.to_string().contains("regressor x"), "{e}");
}

#[test]
fn impossible_orders_and_settings_are_refused() {
    let y = airline();
    for o in [
        Order::sarima(1, 0, 0, 1, 0, 0, 1),
        Order::arima(0, 3, 0),
        Order::arima(11, 0, 0),
    ] {
        let e = Sarima::new(o).fit(&y).unwrap_err();
        assert!(matches!(e, SarimaError::InvalidOrder { .. }), "{o}: {e}");
    }
    let e = Sarima::new(Order::arima(1, 0, 0))
        .max_iter(0)
        .fit(&y)
        .unwrap_err();
    assert!(
        matches!(
            e,
            SarimaError::InvalidSetting {
                name: "max_iter",
                ..
            }
        ),
        "{e}"
    );
    let exog = Regressors {
        names: vec!["x".into()],
        columns: vec![vec![1.0; 3]],
    };
    assert!(matches!(
        Sarima::new(Order::arima(1, 0, 0)).fit_exog(&y, &exog),
        Err(SarimaError::Regressors(_))
    ));
}

#[test]
fn an_optimiser_that_runs_out_of_iterations_says_so() {
    let e = Sarima::new(Order::sarima(2, 1, 2, 1, 1, 1, 12))
        .max_iter(2)
        .fit(&airline())
        .unwrap_err();
    assert!(
        matches!(e, SarimaError::NotConverged { iterations: 2, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("did not converge within 2 iterations"),
        "{e}"
    );
}

#[test]
fn forecasts_need_the_regressors_the_model_was_fitted_with() {
    let y = airline();
    let x: Vec<f64> = (0..y.len())
        .map(|t| ((t % 12) == 11) as u8 as f64)
        .collect();
    let exog = Regressors {
        names: vec!["dec".into()],
        columns: vec![x],
    };
    let fit = Sarima::new(Order::arima(1, 1, 1))
        .fit_exog(&y, &exog)
        .expect("fit");
    let e = fit
        .forecast_exog(5, &Regressors::none(), Some(0.95))
        .unwrap_err();
    assert!(e.to_string().contains("regressors"), "{e}");
    let short = Regressors {
        names: vec!["dec".into()],
        columns: vec![vec![0.0; 3]],
    };
    assert!(fit.forecast_exog(5, &short, None).is_err());
    assert!(
        fit.forecast_exog(
            1,
            &Regressors {
                names: vec!["dec".into()],
                columns: vec![vec![0.0]]
            },
            Some(1.5)
        )
        .is_err()
    );
}

#[test]
fn intervals_widen_with_the_horizon_and_the_level() {
    let fit = Sarima::new(Order::sarima(0, 1, 1, 0, 1, 1, 12))
        .fit(&airline())
        .expect("fit");
    let f80 = fit.predict(24, Some(0.8)).expect("forecast");
    let f95 = fit.predict(24, Some(0.95)).expect("forecast");
    let (i80, i95) = (f80.intervals.expect("80"), f95.intervals.expect("95"));
    for h in 0..24 {
        assert!(
            i95.lower[h] < i80.lower[h]
                && i80.lower[h] < f80.point[h]
                && f80.point[h] < i80.upper[h]
        );
        assert!(i80.upper[h] < i95.upper[h]);
    }
    assert!(i95.upper[23] - i95.lower[23] > i95.upper[0] - i95.lower[0]);
    assert!(fit.predict(3, None).expect("no level").intervals.is_none());
    let (q, p) = fit.ljung_box(10).expect("ljung-box");
    assert!(q > 0.0 && (0.0..=1.0).contains(&p), "{q} {p}");
}

#[test]
fn a_fitted_model_round_trips_through_json() {
    let fit = Sarima::new(Order::sarima(0, 1, 1, 0, 1, 1, 12))
        .fit(&airline())
        .expect("fit");
    let back: FittedSarima =
        serde_json::from_str(&serde_json::to_string(&fit).expect("ser")).expect("de");
    assert_eq!(
        back.predict(12, Some(0.9)).expect("a").point,
        fit.predict(12, Some(0.9)).expect("b").point
    );
}

/// On each golden series, our automatic choice is statsforecast AutoARIMA's or has a lower AICc
/// under our likelihood than statsforecast's choice fitted by us.
#[test]
fn automatic_orders_match_statsforecast_or_beat_its_aicc() {
    for name in ["airline", "gdp"] {
        let g = load(name);
        let y = floats(&g["y"]);
        let sf: Vec<usize> = floats(&g["statsforecast_auto_order"])
            .iter()
            .map(|v| *v as usize)
            .collect();
        let theirs = Order::sarima(sf[0], sf[1], sf[2], sf[3], sf[4], sf[5], sf[6]);
        let ours = AutoSarima::new(sf[6])
            .fit(&y, &Regressors::none())
            .expect("auto");
        println!(
            "{name}: ours {} (AICc {:.3}), statsforecast {theirs}",
            ours.model.order,
            ours.model.aicc()
        );
        if ours.model.order.to_string() != theirs.to_string() {
            let trend = ours.model.trend;
            let refit = Sarima::new(theirs)
                .trend(trend)
                .fit(&y)
                .expect("their order");
            assert!(
                ours.model.aicc() <= refit.aicc() + 1e-6,
                "{name}: ours {} vs {}",
                ours.model.aicc(),
                refit.aicc()
            );
        }
    }
}

#[test]
fn a_fit_stopped_by_its_limit_with_a_small_gradient_is_kept() {
    let order = Order::sarima(0, 1, 1, 0, 1, 1, 12);
    let full = Sarima::new(order).max_iter(500).fit(&airline()).unwrap();
    assert!(full.iterations > 3, "{}", full.iterations);
    // One iteration short of convergence: the gradient is far under the threshold of a
    // practically converged fit, so the fit is an answer, marked by reaching its limit.
    let short = Sarima::new(order)
        .max_iter(full.iterations - 1)
        .fit(&airline())
        .unwrap();
    assert_eq!(short.iterations, full.iterations - 1);
    assert!((short.aic() - full.aic()).abs() < 1e-3 * full.aic().abs());
}
