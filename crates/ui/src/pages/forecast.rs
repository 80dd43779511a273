//! `/forecast`: the daily model's forecast for a store (or all stores), a date range and an
//! interval level, after the recent actuals; a table and a CSV download of the same numbers.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use leptos::prelude::*;

use super::{Cell, banner, err, field_error, figure, form_error, html, table};
use crate::charts::{self, Band, LineChart, Series, XAxis, day_number};
use crate::client::{Forecast, History};
use crate::layout::{Banner, Frame, document};
use crate::params::{Params, query};
use crate::{Shared, UiError};

/// Days of actuals drawn before the forecast.
pub const ACTUAL_DAYS: u64 = 56;
/// Default forecast length.
pub const DEFAULT_DAYS: u64 = 28;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    pub store: Option<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub level: Option<f64>,
}

impl Controls {
    pub fn parse(p: &Params) -> Result<Self, UiError> {
        let level = p.number("level")?;
        if let Some(l) = level
            && !(l > 0.0 && l < 100.0)
        {
            return Err(UiError::bad_input(
                "level",
                format!("{l} is not a percentage between 0 and 100"),
            ));
        }
        Ok(Self {
            store: p.text("store")?.map(str::to_owned),
            start: p.date("start")?,
            end: p.date("end")?,
            level,
        })
    }

    fn query(&self) -> String {
        query(&[
            ("store", self.store.clone().unwrap_or_default()),
            (
                "start",
                self.start.map(|d| d.to_string()).unwrap_or_default(),
            ),
            ("end", self.end.map(|d| d.to_string()).unwrap_or_default()),
            (
                "level",
                self.level.map(|l| l.to_string()).unwrap_or_default(),
            ),
        ])
    }
}

#[derive(Debug, Default)]
pub struct Data {
    pub controls: Controls,
    pub stores: Vec<String>,
    pub last_day: Option<NaiveDate>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub level: f64,
    pub forecast: Option<Arc<Forecast>>,
    pub actuals: Option<Arc<History>>,
    pub rejected: Option<(Option<String>, String)>,
    pub banner: Option<Banner>,
}

pub async fn load(st: &Shared, controls: Controls) -> Data {
    let api = &st.api;
    let status = api.status().await;
    let up = status.error.is_none();
    let s = status.value.clone();
    let daily = s.as_ref().and_then(|s| s.daily.clone());
    let mut data = Data {
        controls: controls.clone(),
        level: controls.level.unwrap_or(95.0),
        ..Default::default()
    };
    let Some(daily) = daily else {
        data.banner = banner(api, &[err(&status)], false);
        if data.banner.is_none() {
            data.rejected = Some((None, "The API serves no daily revenue model.".into()));
        }
        return data;
    };
    data.stores = daily.stores.clone();
    let last = daily.last_training_day;
    data.last_day = Some(last);
    let start = controls
        .start
        .unwrap_or_else(|| last.succ_opt().unwrap_or(last));
    let end = controls.end.unwrap_or_else(|| {
        start
            .checked_add_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(start)
    });
    data.start = Some(start);
    data.end = Some(end);
    let store = controls.store.as_deref();
    let forecast = api.forecast(up, store, start, end, data.level).await;
    if let Some(UiError::Rejected { field, message, .. }) = &forecast.error {
        data.rejected = Some((field.clone(), message.clone()));
    }
    let first = s
        .as_deref()
        .and_then(crate::pages::overview::data_days)
        .map(|d| d.0)
        .unwrap_or(daily.first_training_day);
    let a_start = last
        .checked_sub_days(Days::new(ACTUAL_DAYS - 1))
        .unwrap_or(first)
        .max(first);
    let actuals = if data.rejected.is_none() {
        Some(api.history(up, a_start, last, store, None).await)
    } else {
        None
    };
    data.banner = banner(
        api,
        &[err(&status), err(&forecast), actuals.as_ref().and_then(err)],
        forecast.value.is_some(),
    );
    data.forecast = forecast.value;
    data.actuals = actuals.and_then(|a| a.value);
    data
}

pub async fn page(State(st): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let controls = match Controls::parse(&Params::parse(q.as_deref())) {
        Ok(c) => c,
        Err(e) => return super::bad_request("Forecast", "forecast", &e),
    };
    let data = load(&st, controls).await;
    let status = if data.rejected.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html(status, render(&data))
}

/// The forecast as CSV, one row per day: `date,store,mean,lower_95,upper_95,model`, the bounds
/// named with their level as the CLI's `forecast` and `forecast-many` tables name them.
pub async fn csv(State(st): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let controls = match Controls::parse(&Params::parse(q.as_deref())) {
        Ok(c) => c,
        Err(e) => return super::bad_request("Forecast", "forecast", &e),
    };
    let data = load(&st, controls).await;
    let Some(f) = data.forecast.as_ref() else {
        let msg = data
            .rejected
            .map(|r| r.1)
            .or_else(|| {
                data.banner
                    .map(|b| format!("the API at {} is not answering ({})", b.api, b.reason))
            })
            .unwrap_or_else(|| "no forecast".into());
        return super::message_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Forecast",
            "forecast",
            msg,
        );
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let store = f.store.clone().unwrap_or_else(|| "ALL".into());
    let lab = salescast_core::schema::level_label(f.level);
    let _ = w.write_record([
        "date".to_owned(),
        "store".to_owned(),
        "mean".to_owned(),
        format!("lower_{lab}"),
        format!("upper_{lab}"),
        "model".to_owned(),
    ]);
    for p in &f.forecast {
        let _ = w.write_record([
            p.date.to_string(),
            store.clone(),
            p.mean.to_string(),
            p.lower.map(|v| v.to_string()).unwrap_or_default(),
            p.upper.map(|v| v.to_string()).unwrap_or_default(),
            f.champion.clone(),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    let name = format!(
        "forecast-{}-{}-{}.csv",
        store,
        data.start.map(|d| d.to_string()).unwrap_or_default(),
        data.end.map(|d| d.to_string()).unwrap_or_default()
    )
    .replace(
        |c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'),
        "_",
    );
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

pub fn render(data: &Data) -> String {
    let c = &data.controls;
    let start = data.start.map(|d| d.to_string()).unwrap_or_default();
    let end = data.end.map(|d| d.to_string()).unwrap_or_default();
    let min = data
        .last_day
        .and_then(|d| d.succ_opt())
        .map(|d| d.to_string())
        .unwrap_or_default();
    let store_opts = data
        .stores
        .iter()
        .map(|s| {
            let sel = c.store.as_deref() == Some(s.as_str());
            view! { <option value=s.clone() selected=sel>{s.clone()}</option> }
        })
        .collect_view();
    let field_err = |name: &str, api_name: &str| field_error(&data.rejected, name, &[api_name]);
    let general = form_error(
        &data.rejected,
        &["start_date", "end_date", "store", "level"],
        "forecast-error",
    );
    let level = fmt_level(data.level);
    let form = view! {
        <section>
            <form class="controls" method="get" action="/forecast" id="forecast-controls">
                <div><label for="store">"Store"</label>
                    <select id="store" name="store"><option value="">"All stores"</option>{store_opts}</select>{field_err("store", "store")}</div>
                <div><label for="start">"From"</label>
                    <input type="date" id="start" name="start" value=start min=min.clone()/>{field_err("start", "start_date")}</div>
                <div><label for="end">"To"</label>
                    <input type="date" id="end" name="end" value=end min=min/>{field_err("end", "end_date")}</div>
                <div><label for="level">"Interval level (%)"</label>
                    <input type="number" id="level" name="level" value=level min="1" max="99.9" step="any"/>{field_err("level", "level")}</div>
                <div><button type="submit">"Forecast"</button></div>
            </form>
            {general}
        </section>
    };
    let body = view! {
        {form}
        {data.forecast.as_ref().map(|f| result(data, f))}
    }
    .into_any();
    document(
        Frame {
            title: "Forecast".into(),
            active: "forecast",
            banner: data.banner.clone(),
        },
        body,
    )
}

fn fmt_level(l: f64) -> String {
    if l.fract() == 0.0 {
        format!("{l:.0}")
    } else {
        l.to_string()
    }
}

fn result(data: &Data, f: &Forecast) -> AnyView {
    let scope = f.store.clone().unwrap_or_else(|| "all stores".into());
    let mut series = Vec::new();
    if let Some(a) = &data.actuals {
        series.push(Series {
            name: "actual revenue".into(),
            colour: charts::BLUE,
            dash: "",
            points: a
                .slice
                .daily
                .iter()
                .map(|d| (day_number(d.date), d.totals.revenue))
                .collect(),
            dots: Some("act-pt"),
        });
    }
    series.push(Series {
        name: "forecast".into(),
        colour: charts::VERMILLION,
        dash: "6 3",
        points: f
            .forecast
            .iter()
            .map(|p| (day_number(p.date), p.mean))
            .collect(),
        dots: Some("fc-pt"),
    });
    let chart = LineChart {
        title: format!("Daily revenue forecast, {scope}"),
        x: XAxis::Dates,
        y_label: "daily revenue (currency units)".into(),
        series,
        band: Some(Band {
            name: format!("{}% interval", fmt_level(f.level)),
            points: f
                .forecast
                .iter()
                .filter_map(|p| Some((day_number(p.date), p.lower?, p.upper?)))
                .collect(),
        }),
        marker: None,
    };
    let rows = f
        .forecast
        .iter()
        .map(|p| {
            vec![
                Cell::text(p.date.to_string()),
                Cell::num(p.mean, 2),
                Cell::num(p.lower.unwrap_or(f64::NAN), 2),
                Cell::num(p.upper.unwrap_or(f64::NAN), 2),
            ]
        })
        .collect();
    let href = format!(
        "/forecast.csv?{}",
        Controls {
            start: data.start,
            end: data.end,
            level: Some(data.level),
            store: data.controls.store.clone(),
        }
        .query()
    );
    let parts = super::champion_parts(&f.champion, f.order.as_deref())
        .map(|(t, v)| view! { <dt>{t}</dt><dd>{v}</dd> });
    let refitted = if f.refitted {
        "re-estimated on every day after its evaluation"
    } else {
        "the evaluation fit"
    };
    view! {
        <section aria-labelledby="model-h">
            <h2 id="model-h">"Model"</h2>
            <dl id="forecast-model">
                <dt>"Model"</dt><dd>{f.champion.clone()}</dd>
                {parts}
                <dt>"Last day seen"</dt><dd>{f.last_day_seen.to_string()}</dd>
                <dt>"Fit"</dt><dd>{refitted}</dd>
            </dl>
        </section>
        <section aria-labelledby="fc-h">
            <h2 id="fc-h">"Forecast"</h2>
            {figure(chart.svg(), format!("The last {ACTUAL_DAYS} days of actual revenue, then the forecast with its {}% interval.", fmt_level(f.level)))}
            <p><a href=href id="forecast-csv" download="">"Download this forecast (CSV)"</a></p>
            {table("Forecast per day", "forecast-table", &[("date", false), ("mean", true), ("lower", true), ("upper", true)], rows, Vec::new())}
        </section>
    }
    .into_any()
}
