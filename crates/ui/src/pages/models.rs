//! `/models`: the loaded models and their versions, held-out metrics beside the seasonal-naive
//! baseline, the champion, the training data, feature importance (split gain and mean |SHAP|),
//! and links to MLflow runs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use leptos::prelude::*;
use serde_json::Value;

use super::{Cell, banner, err, figure, html, table};
use crate::Shared;
use crate::charts::{self, Bar, BarChart, fmt_num};
use crate::client::{MeanAbsShap, ModelStatus, Scores, ShapImportance, Status};
use crate::layout::{Banner, Frame, document};

/// Features drawn per model (the table lists all).
pub const TOP_FEATURES: usize = 15;

#[derive(Debug, Default)]
pub struct Data {
    pub status: Option<Arc<Status>>,
    pub mlflow_url: Option<String>,
    pub banner: Option<Banner>,
}

pub async fn load(st: &Shared) -> Data {
    let status = st.api.status().await;
    Data {
        banner: banner(&st.api, &[err(&status)], status.value.is_some()),
        status: status.value,
        mlflow_url: st.mlflow_url.clone(),
    }
}

pub async fn page(State(st): State<Shared>) -> Response {
    html(StatusCode::OK, render(&load(&st).await))
}

fn metric(v: Option<f64>, d: usize) -> Cell {
    Cell::num(v.unwrap_or(f64::NAN), d)
}

fn score_row(name: String, s: &Scores) -> Vec<Cell> {
    vec![
        Cell::text(name),
        metric(s.mae, 2),
        metric(s.rmse, 2),
        metric(s.r2, 4),
        metric(s.mape, 2),
    ]
}

pub fn render(data: &Data) -> String {
    let body = match data.status.as_deref() {
        Some(s) if !s.models.is_empty() => body(s, data.mlflow_url.as_deref()),
        Some(_) => view! { <section><p id="no-models">"The API has no models loaded."</p></section> }.into_any(),
        None => view! { <section><p>"No model information: the API has not answered yet."</p></section> }.into_any(),
    };
    document(
        Frame {
            title: "Models".into(),
            active: "models",
            banner: data.banner.clone(),
        },
        body,
    )
}

fn run_link(mlflow: Option<&str>, m: &ModelStatus) -> Option<AnyView> {
    let (base, run) = (mlflow?, m.mlflow_run_id.as_deref()?);
    let href = format!("{}/#/runs/{}", base.trim_end_matches('/'), run);
    Some(view! { <a href=href>"MLflow run"</a> }.into_any())
}

/// Global importance as the mean absolute TreeSHAP value per data-contract field on the
/// held-out days: unlike split gain, it is in revenue units and adds up per prediction.
fn shap_view(model: &str, sh: &ShapImportance) -> AnyView {
    let chart = BarChart {
        title: format!("Mean |SHAP| per field of {model}"),
        x_label: "mean absolute contribution (currency units)".into(),
        legend: "mean |SHAP|".into(),
        bars: sh
            .fields
            .iter()
            .map(|f| Bar {
                label: f.name.clone(),
                value: f.mean_abs_shap,
                tip: format!("{}: {}", f.name, fmt_num(f.mean_abs_shap, 4)),
            })
            .collect(),
        colour: charts::VERMILLION,
    }
    .svg();
    let rows = |list: &[MeanAbsShap]| -> Vec<Vec<Cell>> {
        list.iter()
            .map(|f| vec![Cell::text(f.name.clone()), Cell::num(f.mean_abs_shap, 4)])
            .collect()
    };
    let id = format!("shap-{model}");
    let fid = format!("shap-fields-{model}");
    let tid = format!("shap-features-{model}");
    view! {
        <div id=id class="shap">
            <h3>"Mean |SHAP| on the held-out days"</h3>
            {figure(chart, format!("How far each field moves a prediction on average, over {} held-out rows (exact TreeSHAP).", fmt_num(sh.rows as f64, 0)))}
            {table("Mean absolute SHAP value per field", &fid, &[("field", false), ("mean |SHAP|", true)], rows(&sh.fields), Vec::new())}
            <details><summary>"Per feature"</summary>
                {table("Mean absolute SHAP value per feature", &tid, &[("feature", false), ("mean |SHAP|", true)], rows(&sh.features), Vec::new())}
            </details>
        </div>
    }
    .into_any()
}

fn body(s: &Status, mlflow: Option<&str>) -> AnyView {
    let mut rows: Vec<Vec<Cell>> = s
        .models
        .iter()
        .map(|m| {
            let name = if m.champion {
                format!("{} (champion)", m.name)
            } else {
                m.name.clone()
            };
            score_row(name, &m.test_metrics)
        })
        .collect();
    if let Some(b) = &s.baseline {
        rows.push(score_row("seasonal naive (baseline)".into(), b));
    }
    let metrics = table(
        "Held-out test-window metrics (the evaluation fit)",
        "metrics-table",
        &[
            ("model", false),
            ("MAE", true),
            ("RMSE", true),
            ("R²", true),
            ("MAPE %", true),
        ],
        rows,
        Vec::new(),
    );
    let cards = s
        .models
        .iter()
        .map(|m| {
            let badge = m.champion.then(|| view! { <span class="badge champion">"champion"</span> });
            let fitted = m
                .fitted_on
                .map(|f| format!("{} to {} ({} rows)", f.first, f.last, fmt_num(f.rows as f64, 0)))
                .unwrap_or_else(|| "–".into());
            let evaluated = m
                .evaluated_on
                .map(|f| format!("{} to {} ({} rows)", f.first, f.last, fmt_num(f.rows as f64, 0)))
                .unwrap_or_else(|| "–".into());
            let mut fi = m.feature_importance.clone();
            fi.sort_by(|a, b| b.importance.total_cmp(&a.importance));
            let chart = BarChart {
                title: format!("Feature importance of {} (top {TOP_FEATURES})", m.name),
                x_label: "share of split gain".into(),
                legend: "importance".into(),
                bars: fi
                    .iter()
                    .take(TOP_FEATURES)
                    .map(|f| Bar {
                        label: f.feature.clone(),
                        value: f.importance,
                        tip: format!("{}: {}", f.feature, fmt_num(f.importance, 4)),
                    })
                    .collect(),
                colour: charts::BLUE,
            }
            .svg();
            let fi_rows = fi
                .iter()
                .map(|f| vec![Cell::text(f.feature.clone()), Cell::num(f.importance, 4)])
                .collect();
            let id = format!("model-{}", m.name);
            let fi_id = format!("importance-{}", m.name);
            let shap = m.shap_importance.as_ref().map(|sh| shap_view(&m.name, sh));
            view! {
                <section id=id>
                    <h2>{m.name.clone()} " " {badge}</h2>
                    <dl>
                        <dt>"Version"</dt><dd><code>{m.version.clone()}</code></dd>
                        <dt>"Trained"</dt><dd>{m.trained_at.clone().unwrap_or_else(|| "–".into())}</dd>
                        <dt>"Fitted on"</dt><dd>{fitted} {if m.refitted { " (refitted on every day)" } else { "" }}</dd>
                        <dt>"Evaluated on"</dt><dd>{evaluated}</dd>
                    </dl>
                    {run_link(mlflow, m)}
                    {figure(chart, "Importance as each feature's share of the model's split gain.".into())}
                    <details><summary>"All features"</summary>
                        {table("Feature importance", &fi_id, &[("feature", false), ("importance", true)], fi_rows, Vec::new())}
                    </details>
                    {shap}
                </section>
            }
        })
        .collect_view();
    let training = s.training_data.as_ref().map(|t| {
        view! {
            <section aria-labelledby="data-h">
                <h2 id="data-h">"Training data"</h2>
                <dl>
                    <dt>"SHA-256"</dt><dd><code id="data-sha">{t.sha256.clone()}</code></dd>
                    <dt>"Training rows"</dt><dd>{fmt_num(t.train_rows as f64, 0)} ", up to " {t.train_end.to_string()}</dd>
                    <dt>"Test rows"</dt><dd>{fmt_num(t.test_rows as f64, 0)} ", from " {t.test_start.to_string()}</dd>
                </dl>
            </section>
        }
    });
    let daily = s.daily.as_ref().map(|d| {
        let num = |v: Option<f64>| v.map_or_else(|| Cell::text("–"), |v| Cell::num(v, 3));
        let rows: Vec<Vec<Cell>> = d
            .backtest
            .iter()
            .map(|c| {
                let chosen = if c.candidate == d.champion { " (champion)" } else { "" };
                let windows = c
                    .window_mase
                    .iter()
                    .map(|v| v.map_or_else(|| "–".to_owned(), |v| fmt_num(v, 3)))
                    .collect::<Vec<_>>()
                    .join(" / ");
                vec![
                    Cell::text(format!("{}{chosen}", c.candidate)),
                    num(c.mean_mase),
                    Cell::text(windows),
                    num(c.interval_scale),
                    Cell::text(c.error.clone().unwrap_or_default()),
                ]
            })
            .collect();
        let backtest = (!rows.is_empty()).then(|| {
            let n = rows.len();
            table(
                "Backtest of every candidate (MASE: lower is better; the windows match the served horizon and include the served season a year earlier)",
                "backtest",
                &[
                    ("Candidate", false),
                    ("Mean MASE", true),
                    ("MASE per window", false),
                    ("Interval scale", true),
                    ("Failure", false),
                ],
                rows,
                vec![None; n],
            )
        });
        let m = |k: &str| {
            d.test_metrics
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_f64)
                .map_or_else(|| "–".to_owned(), |v| fmt_num(v, 3))
        };
        view! {
            <section aria-labelledby="daily-h">
                <h2 id="daily-h">"Daily revenue model"</h2>
                <dl>
                    <dt>"Champion"</dt><dd>{d.champion.clone()}</dd>
                    {super::champion_parts(&d.champion, d.order.as_deref()).map(|(t, v)| view! { <dt>{t}</dt><dd>{v}</dd> })}
                    <dt>"Days"</dt><dd>{d.first_training_day.to_string()} " to " {d.last_training_day.to_string()}</dd>
                    <dt>"Test MAE / RMSE / MAPE % / MASE"</dt><dd>{m("mae")} " / " {m("rmse")} " / " {m("mape")} " / " {m("mase")}</dd>
                    <dt>"Store models"</dt><dd>{d.stores.join(", ")}</dd>
                </dl>
                {backtest}
            </section>
        }
    });
    let champion = s.champion.clone().unwrap_or_else(|| "–".into());
    view! {
        <section aria-labelledby="metrics-h">
            <h2 id="metrics-h">"Held-out metrics"</h2>
            <p>"Champion: " <strong id="champion">{champion}</strong> " (lowest test MAE). API version " {s.version.clone()} "."</p>
            {metrics}
        </section>
        {training}
        {cards}
        {daily}
    }
    .into_any()
}
