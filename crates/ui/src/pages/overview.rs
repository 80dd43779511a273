//! `/`: key figures, daily revenue with the champion's forecast, revenue by store and category,
//! and the weekday pattern, for a date range, store and category taken from the query string.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Days, NaiveDate};
use leptos::prelude::*;

use super::{Cell, banner, err, field_error, figure, form_error, html, table};
use crate::charts::{self, Band, Bar, BarChart, LineChart, Series, XAxis, day_number, fmt_num};
use crate::client::{Catalog, Forecast, History, Status, Totals};
use crate::layout::{Banner, Frame, document};
use crate::params::Params;
use crate::{Shared, UiError};

/// Days in the default range, ending on the last day of the data.
pub const DEFAULT_DAYS: u64 = 90;
/// Days of forecast after the last day.
pub const FORECAST_DAYS: u64 = 28;
/// Longer ranges are drawn and tabled by week, keeping the page small.
pub const WEEKLY_AFTER_DAYS: usize = 190;

/// The view's controls, as parsed from the query string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub store: Option<String>,
    pub category: Option<String>,
}

impl Controls {
    pub fn parse(p: &Params) -> Result<Self, UiError> {
        let c = Self {
            start: p.date("start")?,
            end: p.date("end")?,
            store: p.text("store")?.map(str::to_owned),
            category: p.text("category")?.map(str::to_owned),
        };
        if let (Some(s), Some(e)) = (c.start, c.end)
            && e < s
        {
            return Err(UiError::bad_input(
                "end",
                format!("{e} is before the start {s}"),
            ));
        }
        Ok(c)
    }
}

/// Everything the page shows.
#[derive(Debug, Default)]
pub struct Data {
    pub controls: Controls,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub catalog: Option<std::sync::Arc<Catalog>>,
    pub history: Option<std::sync::Arc<History>>,
    pub previous: Option<std::sync::Arc<History>>,
    pub forecast: Option<std::sync::Arc<Forecast>>,
    /// Why there is no forecast on the chart, when there is none.
    pub forecast_note: Option<String>,
    /// The API's validation message, with its field.
    pub rejected: Option<(Option<String>, String)>,
    pub banner: Option<Banner>,
}

/// The first and last day the served models saw.
pub fn data_days(s: &Status) -> Option<(NaiveDate, NaiveDate)> {
    let first = s
        .models
        .iter()
        .filter_map(|m| m.fitted_on.map(|f| f.first))
        .chain(s.daily.as_ref().map(|d| d.first_training_day))
        .min()?;
    let last = s
        .models
        .iter()
        .filter_map(|m| m.fitted_on.map(|f| f.last))
        .chain(s.daily.as_ref().map(|d| d.last_training_day))
        .max()?;
    Some((first, last))
}

pub async fn page(State(st): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let controls = match Controls::parse(&params) {
        Ok(c) => c,
        Err(e) => return super::bad_request("Overview", "overview", &e),
    };
    let data = load(&st, controls).await;
    let status = if data.rejected.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html(status, render(&data))
}

/// Fetches the page's data (cached per loaded models).
pub async fn load(st: &Shared, controls: Controls) -> Data {
    let api = &st.api;
    let status = api.status().await;
    let up = status.error.is_none();
    let catalog = api.catalog(up).await;
    let days = status.value.as_deref().and_then(data_days);
    let mut data = Data {
        controls: controls.clone(),
        catalog: catalog.value.clone(),
        ..Default::default()
    };
    let Some((first, last)) = days else {
        data.banner = banner(api, &[err(&status), err(&catalog)], false);
        if data.banner.is_none() {
            data.rejected = Some((None, "The API has no models loaded yet.".into()));
        }
        return data;
    };
    let end = controls.end.unwrap_or(last);
    let start = controls.start.unwrap_or_else(|| {
        end.checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(first)
            .max(first)
    });
    data.first_day = Some(first);
    data.last_day = Some(last);
    data.start = Some(start);
    data.end = Some(end);
    let store = controls.store.as_deref();
    let category = controls.category.as_deref();
    let history = api.history(up, start, end, store, category).await;
    if let Some(UiError::Rejected { field, message, .. }) = &history.error {
        data.rejected = Some((field.clone(), message.clone()));
    }
    let len = (end - start).num_days().max(0) as u64 + 1;
    let prev_end = start.pred_opt();
    let previous = match prev_end {
        Some(pe) if pe >= first && data.rejected.is_none() => {
            let ps = pe
                .checked_sub_days(Days::new(len - 1))
                .unwrap_or(first)
                .max(first);
            Some(api.history(up, ps, pe, store, category).await)
        }
        _ => None,
    };
    let forecast = if category.is_some() {
        data.forecast_note = Some(
            "The forecast covers every category, so it is left out while one category is chosen."
                .into(),
        );
        None
    } else if end < last {
        data.forecast_note = Some(format!(
            "The forecast starts after {last}; end the range there to see it."
        ));
        None
    } else {
        let fs = last.succ_opt().unwrap_or(last);
        let fe = last
            .checked_add_days(Days::new(FORECAST_DAYS))
            .unwrap_or(last);
        Some(api.forecast(up, store, fs, fe, 95.0).await)
    };
    let errors = [
        err(&status),
        err(&catalog),
        err(&history),
        previous.as_ref().and_then(err),
        forecast.as_ref().and_then(err),
    ];
    data.banner = banner(api, &errors, history.value.is_some());
    data.history = history.value.clone();
    data.previous = previous.and_then(|p| p.value);
    if let Some(f) = &forecast
        && let Some(UiError::Rejected { message, .. }) = &f.error
    {
        data.forecast_note = Some(format!("No forecast: {message}"));
    }
    data.forecast = forecast.and_then(|f| f.value);
    data
}

fn change(now: f64, before: Option<f64>) -> (String, Option<&'static str>) {
    match before {
        Some(b) if b.abs() > 1e-12 => {
            let pct = (now - b) / b.abs() * 100.0;
            let class = if pct >= 0.0 { "up" } else { "down" };
            (format!("{:+.1}% vs previous period", pct), Some(class))
        }
        _ => ("no previous period".into(), None),
    }
}

fn basket(t: &Totals) -> f64 {
    if t.transactions == 0 {
        0.0
    } else {
        t.revenue / t.transactions as f64
    }
}

/// Weekly sums (weeks starting Monday) of daily points, for long ranges.
fn weekly(days: &[(NaiveDate, f64, u64)]) -> Vec<(NaiveDate, f64, u64)> {
    let mut out: Vec<(NaiveDate, f64, u64)> = Vec::new();
    for &(d, r, n) in days {
        let monday = d
            .checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday())))
            .unwrap_or(d);
        match out.last_mut() {
            Some(last) if last.0 == monday => {
                last.1 += r;
                last.2 += n;
            }
            _ => out.push((monday, r, n)),
        }
    }
    out
}

fn controls_form(data: &Data) -> AnyView {
    let c = &data.controls;
    let start = data.start.map(|d| d.to_string()).unwrap_or_default();
    let end = data.end.map(|d| d.to_string()).unwrap_or_default();
    let min = data.first_day.map(|d| d.to_string()).unwrap_or_default();
    let max = data.last_day.map(|d| d.to_string()).unwrap_or_default();
    let (stores, categories) = data
        .catalog
        .as_ref()
        .map(|c| (c.stores.clone(), c.categories.clone()))
        .unwrap_or_default();
    let opt = |v: String, cur: &Option<String>| {
        let sel = cur.as_deref() == Some(v.as_str());
        let label = v.clone();
        view! { <option value=v selected=sel>{label}</option> }
    };
    let store_opts = stores.into_iter().map(|s| opt(s, &c.store)).collect_view();
    let cat_opts = categories
        .into_iter()
        .map(|s| opt(s, &c.category))
        .collect_view();
    let field_err = |name: &str| field_error(&data.rejected, name, &[]);
    let general = form_error(
        &data.rejected,
        &["start", "end", "store", "category"],
        "overview-error",
    );
    view! {
        <section>
            <form class="controls" method="get" action="/" id="overview-controls">
                <div><label for="start">"From"</label>
                    <input type="date" id="start" name="start" value=start min=min.clone() max=max.clone()/>{field_err("start")}</div>
                <div><label for="end">"To"</label>
                    <input type="date" id="end" name="end" value=end min=min max=max/>{field_err("end")}</div>
                <div><label for="store">"Store"</label>
                    <select id="store" name="store"><option value="">"All stores"</option>{store_opts}</select>{field_err("store")}</div>
                <div><label for="category">"Category"</label>
                    <select id="category" name="category"><option value="">"All categories"</option>{cat_opts}</select>{field_err("category")}</div>
                <div><button type="submit">"Show"</button></div>
            </form>
            {general}
        </section>
    }
    .into_any()
}

/// The page as HTML.
pub fn render(data: &Data) -> String {
    let body = view! {
        {controls_form(data)}
        {data.history.as_ref().map(|h| body(data, h))}
    }
    .into_any();
    document(
        Frame {
            title: "Overview".into(),
            active: "overview",
            banner: data.banner.clone(),
        },
        body,
    )
}

fn body(data: &Data, h: &History) -> AnyView {
    let t = h.slice.totals;
    let prev = data.previous.as_ref().map(|p| p.slice.totals);
    let kpi =
        |label: &'static str, value: String, now: f64, before: Option<f64>, id: &'static str| {
            let (delta, class) = change(now, before);
            view! {
                <div class="kpi" id=id><div class="muted">{label}</div><div class="v">{value}</div>
                    <div class=class>{delta}</div></div>
            }
        };
    let scope = format!(
        "{} to {}, {}, {}",
        h.slice.start,
        h.slice.end,
        data.controls.store.as_deref().unwrap_or("all stores"),
        data.controls
            .category
            .as_deref()
            .unwrap_or("all categories")
    );
    let kpis = view! {
        <section aria-label="Key figures">
            <p class="muted">{scope.clone()}</p>
            <div class="kpis">
                {kpi("Revenue", fmt_num(t.revenue, 0), t.revenue, prev.map(|p| p.revenue), "kpi-revenue")}
                {kpi("Transactions", fmt_num(t.transactions as f64, 0), t.transactions as f64, prev.map(|p| p.transactions as f64), "kpi-transactions")}
                {kpi("Average basket", fmt_num(basket(&t), 2), basket(&t), prev.map(|p| basket(&p)), "kpi-basket")}
            </div>
        </section>
    };
    // Daily or weekly points.
    let days: Vec<(NaiveDate, f64, u64)> = h
        .slice
        .daily
        .iter()
        .map(|d| (d.date, d.totals.revenue, d.totals.transactions))
        .collect();
    let weekly_view = days.len() > WEEKLY_AFTER_DAYS;
    let points = if weekly_view { weekly(&days) } else { days };
    let unit = if weekly_view { "weekly" } else { "daily" };
    let mut series = vec![Series {
        name: format!("{unit} revenue"),
        colour: charts::BLUE,
        dash: "",
        points: points.iter().map(|p| (day_number(p.0), p.1)).collect(),
        dots: (points.len() <= 200).then_some("hist-pt"),
    }];
    let mut band = None;
    if let Some(f) = data.forecast.as_ref().filter(|_| !weekly_view) {
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
        band = Some(Band {
            name: format!("{:.0}% interval", f.level),
            points: f
                .forecast
                .iter()
                .filter_map(|p| Some((day_number(p.date), p.lower?, p.upper?)))
                .collect(),
        });
    }
    let forecast_note = if weekly_view && data.forecast.is_some() {
        Some("The daily forecast is shown on ranges up to 190 days.".to_owned())
    } else {
        data.forecast_note.clone()
    };
    let chart = LineChart {
        title: format!("Revenue, {scope}"),
        x: XAxis::Dates,
        y_label: format!("{unit} revenue (currency units)"),
        series,
        band,
        marker: None,
    };
    let mut table_rows: Vec<Vec<Cell>> = points
        .iter()
        .map(|p| {
            vec![
                Cell::text(p.0.to_string()),
                Cell::num(p.1, 2),
                Cell::num(p.2 as f64, 0),
                Cell::text("actual"),
            ]
        })
        .collect();
    if let Some(f) = data.forecast.as_ref().filter(|_| !weekly_view) {
        for p in &f.forecast {
            table_rows.push(vec![
                Cell::text(p.date.to_string()),
                Cell::num(p.mean, 2),
                Cell::text(format!(
                    "{} to {}",
                    fmt_num(p.lower.unwrap_or(f64::NAN), 2),
                    fmt_num(p.upper.unwrap_or(f64::NAN), 2)
                )),
                Cell::text("forecast"),
            ]);
        }
    }
    let first_col = if weekly_view { "week from" } else { "date" };
    let daily_table = table(
        "Revenue per period: actuals, then the forecast with its interval",
        "daily-table",
        &[
            (first_col, false),
            ("revenue", true),
            ("transactions / interval", true),
            ("kind", false),
        ],
        table_rows,
        Vec::new(),
    );
    let bars = |title: &str, legend: &str, groups: &[crate::client::GroupTotals]| {
        BarChart {
            title: title.to_owned(),
            x_label: "revenue (currency units)".into(),
            legend: legend.to_owned(),
            bars: groups
                .iter()
                .map(|g| Bar {
                    label: g.key.clone(),
                    value: g.totals.revenue,
                    tip: format!(
                        "{}: revenue {}, {} transactions",
                        g.key,
                        fmt_num(g.totals.revenue, 2),
                        fmt_num(g.totals.transactions as f64, 0)
                    ),
                })
                .collect(),
            colour: charts::BLUE,
        }
        .svg()
    };
    let group_rows = |groups: &[crate::client::GroupTotals]| {
        groups
            .iter()
            .map(|g| {
                vec![
                    Cell::text(g.key.clone()),
                    Cell::num(g.totals.revenue, 2),
                    Cell::num(g.totals.transactions as f64, 0),
                    Cell::num(basket(&g.totals), 2),
                ]
            })
            .collect::<Vec<_>>()
    };
    let weekday_chart = BarChart {
        title: format!("Mean daily revenue by weekday, {scope}"),
        x_label: "mean daily revenue (currency units)".into(),
        legend: "mean revenue per day".into(),
        bars: h
            .slice
            .by_weekday
            .iter()
            .map(|w| Bar {
                label: w.weekday.clone(),
                value: w.mean_revenue,
                tip: format!(
                    "{}: mean revenue {} over {} days, {} transactions a day",
                    w.weekday,
                    fmt_num(w.mean_revenue, 2),
                    w.days,
                    fmt_num(w.mean_transactions, 1)
                ),
            })
            .collect(),
        colour: charts::GREEN,
    }
    .svg();
    let weekday_rows = h
        .slice
        .by_weekday
        .iter()
        .map(|w| {
            vec![
                Cell::text(w.weekday.clone()),
                Cell::num(f64::from(w.days), 0),
                Cell::num(w.mean_revenue, 2),
                Cell::num(w.mean_transactions, 1),
            ]
        })
        .collect();
    let group_head: &[(&str, bool)] = &[
        ("name", false),
        ("revenue", true),
        ("transactions", true),
        ("average basket", true),
    ];
    view! {
        {kpis}
        <section aria-labelledby="rev-h">
            <h2 id="rev-h">"Revenue over time"</h2>
            {figure(chart.svg(), format!("{} revenue with the forecast of the champion{} and its interval band.", if weekly_view { "Weekly" } else { "Daily" }, data.forecast.as_ref().map(|f| format!(" ({})", f.champion)).unwrap_or_default()))}
            {forecast_note.map(|n| view! { <p class="muted" id="forecast-note">{n}</p> })}
            <details><summary>"Table of these numbers"</summary>{daily_table}</details>
        </section>
        <section aria-labelledby="store-h">
            <h2 id="store-h">"Revenue by store"</h2>
            {figure(bars(&format!("Revenue by store, {scope}"), "revenue", &h.slice.by_store), "Stores by revenue in the range (within the chosen category).".into())}
            {table("Revenue by store", "store-table", group_head, group_rows(&h.slice.by_store), Vec::new())}
        </section>
        <section aria-labelledby="cat-h">
            <h2 id="cat-h">"Revenue by category"</h2>
            {figure(bars(&format!("Revenue by category, {scope}"), "revenue", &h.slice.by_category), "Categories by revenue in the range (within the chosen store).".into())}
            {table("Revenue by category", "category-table", group_head, group_rows(&h.slice.by_category), Vec::new())}
        </section>
        <section aria-labelledby="wd-h">
            <h2 id="wd-h">"Weekday pattern"</h2>
            {figure(weekday_chart, "Mean revenue per calendar day, Monday first.".into())}
            {table("Weekday pattern", "weekday-table", &[("weekday", false), ("days", true), ("mean revenue", true), ("mean transactions", true)], weekday_rows, Vec::new())}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        // 2025-01-05 is a Sunday, 2025-01-06 a Monday.
        let w = weekly(&[
            (d("2025-01-05"), 1.0, 1),
            (d("2025-01-06"), 2.0, 2),
            (d("2025-01-07"), 3.0, 3),
        ]);
        assert_eq!(
            w,
            vec![(d("2024-12-30"), 1.0, 1), (d("2025-01-06"), 5.0, 5)]
        );
    }

    #[test]
    fn controls_reject_a_reversed_range() {
        let p = Params::parse(Some("start=2025-02-01&end=2025-01-01"));
        let e = Controls::parse(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("end:"), "{e}");
    }

    #[test]
    fn changes_against_the_previous_period() {
        assert_eq!(change(110.0, Some(100.0)).0, "+10.0% vs previous period");
        assert_eq!(change(90.0, Some(100.0)).1, Some("down"));
        assert_eq!(change(1.0, None).0, "no previous period");
    }
}
