//! `/monitoring`: the latest monitor run (status, performance against the baseline, drifted
//! features with their statistics), the history of runs, the alert log, and the full report.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;

use super::{Cell, figure, html, table};
use crate::Shared;
use crate::charts::{self, LineChart, Series, XAxis, fmt_num};
use crate::layout::{Frame, document};
use crate::reports::{self, Latest, Monitoring};

/// Alerts listed, newest first.
pub const ALERTS_SHOWN: usize = 50;

pub async fn page(State(st): State<Shared>) -> Response {
    let dir = st.reports_dir.clone();
    let m = tokio::task::spawn_blocking(move || reports::read(&dir))
        .await
        .unwrap_or_default();
    html(StatusCode::OK, render(&m))
}

/// The latest full HTML report, as the monitor wrote it (a fixed file name: no request picks
/// a path).
pub async fn report(State(st): State<Shared>) -> Response {
    let path = st.reports_dir.join("latest.html");
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            );
            resp
        }
        Err(_) => super::message_page(
            StatusCode::NOT_FOUND,
            "Monitoring report",
            "monitoring",
            "No monitor report yet: the monitor has not run.".into(),
        ),
    }
}

pub fn render(m: &Monitoring) -> String {
    let body = match (&m.latest, &m.latest_error) {
        (Some(l), _) => latest(l, m),
        (None, Some(e)) => {
            let e = e.clone();
            view! { <section><p class="error" role="alert">"The latest report cannot be shown: " {e}</p></section> }.into_any()
        }
        (None, None) => view! {
            <section id="no-monitor-run">
                <p><strong>"No monitor has run yet."</strong> " This page shows the monitor's latest run once "
                <code>"salescast-monitor"</code> " has written a report to the reports directory."</p>
            </section>
        }
        .into_any(),
    };
    let skipped = (m.skipped_lines > 0).then(|| {
        view! { <p class="muted">{m.skipped_lines} " line(s) of the history or alert log could not be read and are left out."</p> }
    });
    let history = history(m);
    let alerts = alerts(m);
    let body = view! { {body} {history} {alerts} {skipped} }.into_any();
    document(
        Frame {
            title: "Monitoring".into(),
            active: "monitoring",
            banner: None,
        },
        body,
    )
}

fn latest(l: &Latest, m: &Monitoring) -> AnyView {
    let ok = l.status == "ok" || l.status == "healthy" || l.exit_code == 0;
    let badge_class = if ok { "badge ok" } else { "badge alert" };
    let perf_rows: Vec<Vec<Cell>> = l
        .performance
        .iter()
        .flat_map(|p| {
            p.checks.iter().map(move |c| {
                vec![
                    Cell::text(p.model.clone()),
                    Cell::text(if c.source.is_empty() {
                        c.metric.clone()
                    } else {
                        format!("{} ({})", c.metric, c.source)
                    }),
                    Cell::num(c.value.unwrap_or(f64::NAN), 3),
                    Cell::num(c.baseline.unwrap_or(f64::NAN), 3),
                    Cell::num(c.limit.unwrap_or(f64::NAN), 3),
                    Cell::text(if c.alert { "alert" } else { "ok" }),
                ]
            })
        })
        .collect();
    let perf_classes = l
        .performance
        .iter()
        .flat_map(|p| p.checks.iter().map(|c| c.alert.then_some("row-error")))
        .collect();
    let estimates = l
        .performance
        .iter()
        .filter_map(|p| {
            let e = p.estimated_mae.as_ref()?;
            Some(format!(
                "{}: estimated MAE {} (band {} to {})",
                p.model,
                fmt_num(e.value.unwrap_or(f64::NAN), 2),
                fmt_num(e.lower.unwrap_or(f64::NAN), 2),
                fmt_num(e.upper.unwrap_or(f64::NAN), 2)
            ))
        })
        .map(|s| view! { <li>{s}</li> })
        .collect_view();
    let drifted: Vec<_> = l.drift.columns.iter().filter(|c| c.drifted).collect();
    let drift_rows = l
        .drift
        .columns
        .iter()
        .map(|c| {
            vec![
                Cell::text(c.column.clone()),
                Cell::text(
                    c.test_name
                        .clone()
                        .or_else(|| c.skipped.clone().map(|s| format!("skipped: {s}")))
                        .unwrap_or_default(),
                ),
                Cell::num(c.score.unwrap_or(f64::NAN), 4),
                Cell::num(c.threshold.unwrap_or(f64::NAN), 4),
                Cell::num(c.psi.unwrap_or(f64::NAN), 4),
                Cell::text(if c.drifted { "drifted" } else { "stable" }),
            ]
        })
        .collect();
    let drift_classes = l
        .drift
        .columns
        .iter()
        .map(|c| c.drifted.then_some("row-error"))
        .collect();
    let drifted_list = if drifted.is_empty() {
        view! { <p id="drifted">"No feature drifted."</p> }.into_any()
    } else {
        let items = drifted
            .iter()
            .map(|c| {
                let s = format!(
                    "{}: {} = {} (threshold {})",
                    c.column,
                    c.test_name.clone().unwrap_or_default(),
                    fmt_num(c.score.unwrap_or(f64::NAN), 4),
                    fmt_num(c.threshold.unwrap_or(f64::NAN), 4)
                );
                view! { <li>{s}</li> }
            })
            .collect_view();
        view! { <ul id="drifted">{items}</ul> }.into_any()
    };
    let daily = l.daily.as_ref().map(|d| {
        let text = match &d.skipped {
            Some(s) => format!("Daily forecast check skipped: {s}"),
            None => format!(
                "Daily model {} over {} days: MAE {}, MASE {}, {}% interval coverage {}{}",
                d.model,
                d.days,
                fmt_num(d.mae.unwrap_or(f64::NAN), 2),
                fmt_num(d.mase.unwrap_or(f64::NAN), 3),
                fmt_num(d.level.unwrap_or(f64::NAN), 0),
                d.coverage
                    .map_or_else(|| "–".to_owned(), |c| format!("{:.1}%", c * 100.0)),
                if d.alert { " (alert)" } else { "" }
            ),
        };
        view! { <p>{text}</p> }
    });
    let report_link = m
        .has_html
        .then(|| view! { <p><a href="/monitoring/report" id="full-report">"Open the full HTML report"</a></p> });
    let summary = format!(
        "Run {} at {}, {:.2} s, on {} ({} rows, {} valid, {} invalid{}).",
        l.run_id,
        l.started_at,
        l.seconds,
        l.new_data.path,
        fmt_num(l.new_data.rows as f64, 0),
        fmt_num(l.new_data.valid_rows as f64, 0),
        fmt_num(l.new_data.invalid_rows as f64, 0),
        match (&l.new_data.first_day, &l.new_data.last_day) {
            (Some(a), Some(b)) => format!(", days {a} to {b}"),
            _ => String::new(),
        }
    );
    let ds = &l.drift.dataset;
    let share = format!(
        "{} of {} tested columns drifted ({:.1}%; dataset drift at {:.0}%): {}.",
        ds.drifted_columns,
        ds.tested_columns,
        ds.share * 100.0,
        ds.drift_share * 100.0,
        if ds.drift {
            "dataset drift"
        } else {
            "no dataset drift"
        }
    );
    view! {
        <section aria-labelledby="latest-h">
            <h2 id="latest-h">"Latest run " <span class=badge_class id="monitor-status">{l.status.clone()}</span></h2>
            <p>{summary}</p>
            <p>{l.alerts.len()} " alert(s) raised by this run."</p>
            {report_link}
        </section>
        <section aria-labelledby="perf-h">
            <h2 id="perf-h">"Performance against the baseline"</h2>
            {table("Metrics on the new data beside the held-out baseline and the alert limit", "performance-table",
                &[("model", false), ("metric", false), ("new data", true), ("baseline", true), ("limit", true), ("state", false)], perf_rows, perf_classes)}
            <ul>{estimates}</ul>
            {daily}
        </section>
        <section aria-labelledby="drift-h">
            <h2 id="drift-h">"Data drift"</h2>
            <p>{share}</p>
            {drifted_list}
            <details><summary>"Every column"</summary>
                {table("Drift statistics per column", "drift-table", &[("column", false), ("test", false), ("statistic", true), ("threshold", true), ("PSI", true), ("state", false)], drift_rows, drift_classes)}
            </details>
        </section>
    }
    .into_any()
}

fn history(m: &Monitoring) -> Option<AnyView> {
    if m.history.is_empty() {
        return None;
    }
    let runs = &m.history;
    let n = runs.len();
    let mut series = vec![Series {
        name: "drifted share of columns (%)".into(),
        colour: charts::BLUE,
        dash: "",
        points: runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some(((i + 1) as f64, r.metrics.get("drift.share")? * 100.0)))
            .collect(),
        dots: Some("run-pt"),
    }];
    series.push(Series {
        name: "alerts".into(),
        colour: charts::VERMILLION,
        dash: "6 3",
        points: runs
            .iter()
            .enumerate()
            .map(|(i, r)| ((i + 1) as f64, r.alerts as f64))
            .collect(),
        dots: Some("alert-pt"),
    });
    let chart = LineChart {
        title: format!("Monitor runs, oldest to newest ({n})"),
        x: XAxis::Numbers("run number"),
        y_label: "percent of columns / alerts".into(),
        series,
        band: None,
        marker: None,
    };
    let rows = runs
        .iter()
        .enumerate()
        .rev()
        .take(100)
        .map(|(i, r)| {
            vec![
                Cell::num((i + 1) as f64, 0),
                Cell::text(r.at.clone()),
                Cell::text(r.status.clone()),
                Cell::num(r.rows as f64, 0),
                Cell::num(r.alerts as f64, 0),
                Cell::num(
                    r.metrics.get("drift.share").copied().unwrap_or(f64::NAN) * 100.0,
                    1,
                ),
                Cell::text(r.drifted.join(", ")),
            ]
        })
        .collect();
    Some(
        view! {
            <section aria-labelledby="hist-h">
                <h2 id="hist-h">"History of runs"</h2>
                {figure(chart.svg(), "Share of drifted columns and alerts per run.".into())}
                {table("Runs, newest first", "history-table", &[("run", true), ("at", false), ("status", false), ("rows", true), ("alerts", true), ("drifted %", true), ("drifted columns", false)], rows, Vec::new())}
            </section>
        }
        .into_any(),
    )
}

fn alerts(m: &Monitoring) -> Option<AnyView> {
    if m.latest.is_none() && m.alerts.is_empty() {
        return None;
    }
    let rows = m
        .alerts
        .iter()
        .rev()
        .take(ALERTS_SHOWN)
        .map(|a| {
            vec![
                Cell::text(a.at.clone()),
                Cell::text(a.kind.clone()),
                Cell::text(a.message.clone()),
                Cell::text(a.features.join(", ")),
                Cell::text(a.run_id.clone()),
            ]
        })
        .collect::<Vec<_>>();
    let content = if rows.is_empty() {
        view! { <p id="no-alerts">"The alert log is empty."</p> }.into_any()
    } else {
        table(
            &format!(
                "The newest {} alerts, newest first",
                rows.len().min(ALERTS_SHOWN)
            ),
            "alert-table",
            &[
                ("at", false),
                ("kind", false),
                ("message", false),
                ("features", false),
                ("run", false),
            ],
            rows,
            Vec::new(),
        )
    };
    Some(
        view! {
            <section aria-labelledby="alerts-h">
                <h2 id="alerts-h">"Alert log"</h2>
                {content}
            </section>
        }
        .into_any(),
    )
}
