//! Selection, artifact and forecast rules on a synthetic daily series with a weekly pattern,
//! a yearly swell and holiday lifts.

use chrono::{Datelike, Duration, NaiveDate};
use salescast_daily::{
    DEFAULT_MAX_HORIZON, DailyArtifact, DailyError, DailyModel, SelectSettings, select,
};

fn series(start: NaiveDate, n: usize, level: f64, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            let d = start + Duration::days(i as i64);
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
            let week =
                [1.0, 0.8, 0.85, 0.9, 1.1, 1.4, 1.3][d.weekday().num_days_from_monday() as usize];
            let year = 1.0 + 0.2 * (2.0 * std::f64::consts::PI * d.ordinal() as f64 / 365.25).sin();
            let holiday = if salescast_core::calendar::holiday_on(d).is_some() {
                1.5
            } else {
                1.0
            };
            level * week * year * holiday * (1.0 + 0.05 * noise) + 0.02 * level * i as f64 / 10.0
        })
        .collect()
}

fn settings() -> SelectSettings {
    SelectSettings {
        folds: 2,
        fold_days: 14,
        ..Default::default()
    }
}

#[test]
fn selects_scores_saves_and_forecasts_between_dates() {
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).expect("date");
    let y = series(start, 250, 1000.0, 1);
    let (train, test) = y.split_at(230);
    let stores = vec![
        ("S01".to_owned(), series(start, 230, 300.0, 2)),
        ("S02".to_owned(), series(start, 230, 200.0, 3)),
    ];
    let sel = select(start, train, test, &stores, &settings()).expect("select");
    assert!(sel.candidates.len() >= 3, "{:?}", sel.candidates);
    assert!(sel.candidates.iter().all(|c| c.fold_mase.len() == 2));
    // The fixed seasonal ARIMA is always backtested beside the automatic search's choice.
    assert!(
        sel.candidates
            .iter()
            .any(|c| c.name == "sarima(1,1,1)(1,1,1,7)"),
        "{:?}",
        sel.candidates.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    let best = sel
        .candidates
        .iter()
        .filter_map(|c| c.mean_mase)
        .fold(f64::INFINITY, f64::min);
    let champion = sel
        .candidates
        .iter()
        .find(|c| c.name == sel.champion.name())
        .expect("champion among candidates");
    assert_eq!(champion.mean_mase, Some(best));
    let (scores, _) = sel.test.as_ref().expect("test scores");
    // A clear weekly pattern: far better than the seasonal-naive scale.
    assert!(scores.mase < 1.0, "{scores:?}");
    assert_eq!(sel.stores.len(), 2);

    let last_day = start + Duration::days(229);
    let artifact = DailyArtifact {
        start,
        last_day,
        champion: sel.champion.clone(),
        candidates: sel.candidates.clone(),
        test: Some(*scores),
        stores: sel.stores.clone(),
        max_horizon: DEFAULT_MAX_HORIZON,
        trained_at: None,
        evaluated_on: None,
        refitted: false,
        test_window: Vec::new(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sarima.json");
    artifact.save(&path).expect("save");
    let back = DailyArtifact::load(&path).expect("load");
    let from = last_day + Duration::days(5);
    let to = last_day + Duration::days(12);
    let a = artifact.forecast(None, from, to, 95.0).expect("forecast");
    let b = back
        .forecast(None, from, to, 95.0)
        .expect("forecast after load");
    assert_eq!(a.len(), 8);
    assert_eq!(a[0].date, from);
    for (x, y) in a.iter().zip(&b) {
        assert!((x.mean - y.mean).abs() < 1e-9 && x.lower < x.mean && x.mean < x.upper);
    }
    // Forecasting a later window gives the same days as a forecast from the first day on.
    let full = artifact
        .forecast(None, last_day + Duration::days(1), to, 95.0)
        .expect("full");
    assert!((full[4].mean - a[0].mean).abs() < 1e-9);
    assert_eq!(
        artifact
            .forecast(Some("S02"), from, to, 80.0)
            .expect("store")
            .len(),
        8
    );

    let field = |r: Result<Vec<salescast_daily::DayForecast>, DailyError>| match r {
        Err(DailyError::Request { field, .. }) => field,
        other => panic!("expected a request error, got {other:?}"),
    };
    assert_eq!(
        field(artifact.forecast(None, last_day, to, 95.0)),
        "start_date"
    );
    assert_eq!(field(artifact.forecast(None, to, from, 95.0)), "end_date");
    assert_eq!(
        field(artifact.forecast(None, from, last_day + Duration::days(400), 95.0)),
        "end_date"
    );
    assert_eq!(field(artifact.forecast(None, from, to, 100.0)), "level");
    assert_eq!(
        field(artifact.forecast(Some("S99"), from, to, 95.0)),
        "store"
    );
}

#[test]
fn too_short_and_non_finite_series_are_refused() {
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).expect("date");
    let y = series(start, 60, 1000.0, 1);
    let e = select(start, &y, &[], &[], &settings()).unwrap_err();
    assert!(
        matches!(e, DailyError::TooShort { need: 98, got: 60 }),
        "{e}"
    );
    let mut y = series(start, 200, 1000.0, 1);
    y[10] = f64::NAN;
    assert!(select(start, &y, &[], &[], &settings()).is_err());
    let bad = SelectSettings {
        folds: 0,
        ..settings()
    };
    assert!(matches!(
        select(start, &series(start, 200, 1.0, 1), &[], &[], &bad),
        Err(DailyError::InvalidSetting { name: "folds", .. })
    ));
}

/// Every backtest forecast is made from the days before its origin: changing the days after a
/// window leaves that window's score unchanged for every candidate, and the held-out test days
/// are never read by the selection at all.
#[test]
fn the_selection_never_reads_the_days_after_an_origin() {
    let start = NaiveDate::from_ymd_opt(2021, 1, 4).expect("date");
    let n = 800;
    let y = series(start, n, 1000.0, 3);
    let test = series(start + Duration::days(n as i64), 28, 1000.0, 4);
    let s = settings();
    let windows = salescast_daily::select::windows(n, test.len(), &s);
    assert!(
        windows.iter().all(|&(end, days)| end + days <= n),
        "{windows:?}"
    );
    // the served season one year back and the test window's season are among the windows
    assert!(windows.contains(&(n + 28 - 364, 14)), "{windows:?}");
    assert!(windows.contains(&(n - 364, 28)), "{windows:?}");
    let base = select(start, &y, &test, &[], &s).expect("select");
    // bits, so a failed fold (NaN) compares equal to itself
    let scores = |sel: &salescast_daily::Selection| -> Vec<(String, Vec<u64>)> {
        sel.candidates
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.fold_mase.iter().map(|v| v.to_bits()).collect(),
                )
            })
            .collect()
    };
    // test days poisoned: the selection's scores are the same
    let poisoned: Vec<f64> = test.iter().map(|v| v * 50.0).collect();
    let other = select(start, &y, &poisoned, &[], &s).expect("select");
    assert_eq!(scores(&base), scores(&other));
    // the days after each window changed: that window's scores are the same
    for (w, &(end, days)) in windows.iter().enumerate() {
        let mut changed = y.clone();
        changed[end + days..].iter_mut().for_each(|v| *v *= 3.0);
        let sel = select(start, &changed, &test, &[], &s).expect("select");
        for ((name, a), (name_b, b)) in scores(&base).iter().zip(scores(&sel).iter()) {
            if name == name_b {
                assert_eq!(a[w], b[w], "{name}, window {w}");
            }
        }
    }
}

/// A saved model whose parameters no fit produces (here an additive model with a coefficient
/// missing) is refused when the artifact loads, naming the file, instead of panicking when it
/// forecasts.
#[test]
fn an_artifact_with_an_impossible_model_is_refused_on_load() {
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).expect("date");
    let y = series(start, 200, 1000.0, 5);
    let model = salescast_daily::model::Recipe::Additive { holidays: true }
        .fit(start, &y)
        .expect("fit");
    let artifact = |champion: DailyModel| DailyArtifact {
        start,
        last_day: start + Duration::days(199),
        champion,
        candidates: Vec::new(),
        test: None,
        stores: Default::default(),
        max_horizon: DEFAULT_MAX_HORIZON,
        trained_at: None,
        evaluated_on: None,
        refitted: false,
        test_window: Vec::new(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sarima.json");
    artifact(model.clone()).save(&path).expect("save");
    assert!(DailyArtifact::load(&path).is_ok());
    let DailyModel::Additive { mut fitted } = model else {
        panic!("not additive")
    };
    fitted.beta.pop();
    artifact(DailyModel::Mean {
        members: vec![DailyModel::Additive { fitted }],
    })
    .save(&path)
    .expect("save");
    let e = DailyArtifact::load(&path).expect_err("refused");
    assert!(e.to_string().contains("sarima.json"), "{e}");
}
