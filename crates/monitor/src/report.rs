//! The run's report: one JSON document, and the same as a self-contained HTML page (inline CSS
//! and SVG, no external asset, readable offline).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::drift::{DriftReport, Histogram};
use crate::outputs::{Alert, HistoryEntry};
use crate::performance::{DailyPerformance, ModelPerformance, Source};

pub const REPORT_VERSION: u32 = 1;

/// What was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSummary {
    pub path: String,
    pub rows: usize,
    pub valid_rows: usize,
    pub invalid_rows: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_examples: Vec<String>,
    pub labelled_rows: usize,
    /// Labels above the training fences, clipped as cleaning clips the training data.
    #[serde(default)]
    pub clipped_labels: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_day: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_day: Option<chrono::NaiveDate>,
}

/// One monitor run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub run_id: String,
    pub started_at: String,
    pub seconds: f64,
    /// `healthy` or `alert`.
    pub status: String,
    pub exit_code: i32,
    pub new_data: InputSummary,
    pub models_dir: String,
    pub reference_rows: usize,
    pub reference_days: salescast_core::DayRange,
    pub performance: Vec<ModelPerformance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailyPerformance>,
    pub drift: DriftReport,
    pub alerts: Vec<Alert>,
    /// Which tool's convention each family of numbers follows.
    pub conventions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook: Vec<crate::outputs::Delivery>,
}

impl Report {
    /// The run's figures under flat names, for history, MLflow and Prometheus.
    pub fn flat_metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for p in &self.performance {
            for c in &p.checks {
                let suffix = match c.source {
                    Source::Realised => "",
                    Source::Estimated => "_estimated",
                };
                m.insert(format!("{}.{}{suffix}", p.model, c.metric), c.value);
            }
        }
        m.insert("drift.share".into(), self.drift.dataset.share);
        m.insert(
            "drift.columns_drifted".into(),
            self.drift.dataset.drifted_columns as f64,
        );
        if let Some(d) = &self.daily {
            if let Some(v) = d.mae {
                m.insert("daily.mae".into(), v);
            }
            if let Some(v) = d.mase {
                m.insert("daily.mase".into(), v);
            }
            if let Some(v) = d.coverage {
                m.insert("daily.coverage".into(), v);
            }
        }
        m.insert("rows.invalid".into(), self.new_data.invalid_rows as f64);
        m
    }

    /// The history line of this run.
    pub fn history_entry(&self) -> HistoryEntry {
        HistoryEntry {
            run_id: self.run_id.clone(),
            at: self.started_at.clone(),
            status: self.status.clone(),
            rows: self.new_data.valid_rows,
            alerts: self.alerts.len(),
            metrics: self.flat_metrics(),
            drifted: self
                .drift
                .columns
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.column.clone())
                .collect(),
        }
    }
}

pub use salescast_core::html::esc;

fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "–".into()
    }
}

/// Colour-blind-safe pair (Okabe–Ito blue and orange).
const REF_COLOUR: &str = "#0072B2";
const CUR_COLOUR: &str = "#E69F00";

/// Grouped bars of the reference and current shares, with a y axis in percent, a legend and
/// a `<title>` per bar.
pub fn bars_svg(title: &str, h: &Histogram) -> String {
    let n = h.labels.len().max(1);
    let (w, ht, left, bottom, top) = (680.0, 260.0, 48.0, 70.0, 28.0);
    let plot_w = w - left - 10.0;
    let plot_h = ht - bottom - top;
    let max = h
        .reference
        .iter()
        .chain(&h.current)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let step = plot_w / n as f64;
    let bw = (step * 0.4).max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg role="img" aria-label="{t}" viewBox="0 0 {w} {ht}" width="100%" style="max-width:{w}px"><title>{t}</title>"#,
        t = esc(title)
    );
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let y = top + plot_h - plot_h * k as f64 / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" font-size="10" text-anchor="end">{label}</text>"##,
            x2 = w - 10.0,
            tx = left - 4.0,
            ty = y + 3.0,
            label = pct(v)
        );
    }
    for (i, label) in h.labels.iter().enumerate() {
        let x0 = left + step * i as f64 + step * 0.1;
        for (j, (v, colour, side)) in [
            (h.reference[i], REF_COLOUR, "reference"),
            (h.current[i], CUR_COLOUR, "current"),
        ]
        .into_iter()
        .enumerate()
        {
            let bh = plot_h * v / max;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{colour}"><title>{l}: {side} {p}</title></rect>"#,
                x = x0 + j as f64 * bw,
                y = top + plot_h - bh,
                l = esc(label),
                p = pct(v)
            );
        }
        let lx = x0 + bw;
        let ly = top + plot_h + 10.0;
        let short: String = label.chars().take(18).collect();
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" font-size="9" transform="rotate(40 {lx:.1} {ly:.1})">{}</text>"#,
            esc(&short)
        );
    }
    let _ = write!(
        s,
        r#"<text x="12" y="{my:.1}" font-size="10" transform="rotate(-90 12 {my:.1})" text-anchor="middle">share of rows</text><rect x="{lx}" y="6" width="10" height="10" fill="{REF_COLOUR}"/><text x="{tx}" y="15" font-size="11">reference</text><rect x="{lx2}" y="6" width="10" height="10" fill="{CUR_COLOUR}"/><text x="{tx2}" y="15" font-size="11">current</text></svg>"#,
        my = top + plot_h / 2.0,
        lx = left,
        tx = left + 14.0,
        lx2 = left + 90.0,
        tx2 = left + 104.0,
    );
    s
}

/// A line over runs, with the points' values as hover text.
pub fn line_svg(title: &str, points: &[(String, f64)], unit: &str) -> String {
    let (w, ht, left, bottom, top) = (680.0, 160.0, 60.0, 24.0, 20.0);
    let plot_w = w - left - 10.0;
    let plot_h = ht - bottom - top;
    let finite: Vec<f64> = points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let (mut lo, mut hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        lo -= 0.5 * lo.abs().max(1e-3);
        hi += 0.5 * hi.abs().max(1e-3);
    }
    let n = points.len().max(2) - 1;
    let xy = |i: usize, v: f64| {
        (
            left + plot_w * i as f64 / n as f64,
            top + plot_h - plot_h * (v - lo) / (hi - lo),
        )
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg role="img" aria-label="{t}" viewBox="0 0 {w} {ht}" width="100%" style="max-width:{w}px"><title>{t}</title>"#,
        t = esc(title)
    );
    for (k, v) in [(0, lo), (1, (lo + hi) / 2.0), (2, hi)] {
        let y = top + plot_h - plot_h * f64::from(k) / 2.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" font-size="10" text-anchor="end">{l}</text>"##,
            x2 = w - 10.0,
            tx = left - 4.0,
            ty = y + 3.0,
            l = esc(&format!("{}{unit}", num(v)))
        );
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.1.is_finite())
        .map(|(i, p)| {
            let (x, y) = xy(i, p.1);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        s,
        r#"<polyline fill="none" stroke="{REF_COLOUR}" stroke-width="2" points="{}"/>"#,
        path.join(" ")
    );
    for (i, (label, v)) in points.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let (x, y) = xy(i, *v);
        let _ = write!(
            s,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{REF_COLOUR}"><title>{}: {}</title></circle>"#,
            esc(label),
            esc(&format!("{}{unit}", num(*v)))
        );
    }
    let _ = write!(
        s,
        r#"<text x="{left}" y="{y}" font-size="10">runs, oldest to newest ({} shown)</text></svg>"#,
        points.len(),
        y = ht - 6.0
    );
    s
}

const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1000px;padding:12px;color:#222;line-height:1.4}\
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.alert{color:#a30000;font-weight:600}.ok{color:#006b3c;font-weight:600}.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff}\
.b-alert{background:#a30000}.b-ok{background:#006b3c}.muted{color:#666;font-size:13px}section{margin:18px 0}.wrap{overflow-x:auto}h1{font-size:22px}h2{font-size:18px;border-bottom:2px solid #eee}";

/// The report as a self-contained HTML page. `history` holds earlier runs and this one.
pub fn html(report: &Report, history: &[HistoryEntry]) -> String {
    let mut s = String::new();
    let alert = !report.alerts.is_empty();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Salescast monitor {id}</title><style>{CSS}</style></head><body><main><h1>Salescast monitor <span class="badge {b}">{st}</span></h1><p class="muted">Run {id}, started {at}, {secs:.2} s. New data: {path} ({rows} rows, {valid} valid, {inv} invalid, {lab} labelled{days}). Reference: {rr} rows sampled from the training days {rf}..{rl}.</p>"#,
        id = esc(&report.run_id),
        b = if alert { "b-alert" } else { "b-ok" },
        st = if alert { "alerts raised" } else { "healthy" },
        at = esc(&report.started_at),
        secs = report.seconds,
        path = esc(&report.new_data.path),
        rows = report.new_data.rows,
        valid = report.new_data.valid_rows,
        inv = report.new_data.invalid_rows,
        lab = report.new_data.labelled_rows,
        days = match (report.new_data.first_day, report.new_data.last_day) {
            (Some(a), Some(b)) => format!(", days {a}..{b}"),
            _ => String::new(),
        },
        rr = report.reference_rows,
        rf = report.reference_days.first,
        rl = report.reference_days.last,
    );

    s.push_str("<section><h2>Alerts</h2>");
    if report.alerts.is_empty() {
        s.push_str(r#"<p class="ok">No alert.</p>"#);
    } else {
        s.push_str("<ul>");
        for a in &report.alerts {
            let _ = write!(
                s,
                r#"<li class="alert">{}: {}</li>"#,
                esc(&format!("{:?}", a.kind)),
                esc(&a.message)
            );
        }
        s.push_str("</ul>");
    }
    if !report.new_data.invalid_examples.is_empty() {
        s.push_str("<p>Rows that break the data contract (first few):</p><ul>");
        for e in &report.new_data.invalid_examples {
            let _ = write!(s, "<li>{}</li>", esc(e));
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>");

    s.push_str("<section><h2>Performance against the held-out baseline</h2><div class=\"wrap\"><table><thead><tr><th>model</th><th>metric</th><th>source</th><th>value</th><th>baseline</th><th>limit</th><th>change</th><th></th></tr></thead><tbody>");
    for p in &report.performance {
        for c in &p.checks {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&p.model),
                esc(&c.metric),
                if c.source == Source::Realised {
                    "realised"
                } else {
                    "estimated"
                },
                num(c.value),
                num(c.baseline),
                num(c.limit),
                if c.metric == "r2" {
                    num(c.change)
                } else {
                    pct(c.change)
                },
                if c.alert { "alert" } else { "ok" },
                if c.alert { "alert" } else { "ok" },
            );
        }
    }
    s.push_str("</tbody></table></div>");
    for p in &report.performance {
        let e = &p.estimated_mae;
        let _ = write!(
            s,
            "<p class=\"muted\">{}: estimated MAE {} (band {}–{}){}; mean prediction {}.</p>",
            esc(&p.model),
            num(e.value),
            num(e.lower),
            num(e.upper),
            match p.realised_within_band {
                Some(true) => ", the realised MAE is inside the band",
                Some(false) => ", the realised MAE is outside the band",
                None => "",
            },
            num(p.prediction_mean)
        );
    }
    s.push_str("</section>");

    if let Some(d) = &report.daily {
        let _ = write!(s, "<section><h2>Daily forecast ({})</h2>", esc(&d.model));
        match &d.skipped {
            Some(why) => {
                let _ = write!(s, "<p class=\"muted\">Not checked: {}</p>", esc(why));
            }
            None => {
                let _ = write!(
                    s,
                    "<p>{} days: MAE {}, MASE {}, {} of the days inside the {}% interval (alert below {}).</p>",
                    d.days,
                    d.mae.map_or("–".into(), num),
                    d.mase.map_or("–".into(), num),
                    d.coverage.map_or("–".into(), pct),
                    d.level,
                    pct(d.coverage_min)
                );
                s.push_str("<div class=\"wrap\"><table><thead><tr><th>day</th><th>actual</th><th>forecast</th><th>lower</th><th>upper</th></tr></thead><tbody>");
                for day in &d.per_day {
                    let _ = write!(
                        s,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        day.date,
                        num(day.actual),
                        num(day.mean),
                        num(day.lower),
                        num(day.upper)
                    );
                }
                s.push_str("</tbody></table></div>");
            }
        }
        s.push_str("</section>");
    }

    let ds = &report.drift.dataset;
    let _ = write!(
        s,
        "<section><h2>Data drift</h2><p>{} of {} tested columns drifted ({}; dataset drift at {}): <span class=\"{}\">{}</span>.</p><p class=\"muted\">Convention: {}.</p>",
        ds.drifted_columns,
        ds.tested_columns,
        pct(ds.share),
        pct(ds.drift_share),
        if ds.drift { "alert" } else { "ok" },
        if ds.drift {
            "dataset drift"
        } else {
            "no dataset drift"
        },
        esc(&report.drift.convention)
    );
    s.push_str("<div class=\"wrap\"><table><thead><tr><th>column</th><th>role</th><th>test</th><th>score</th><th>threshold</th><th>drift</th><th>PSI</th><th>missing ref → cur</th><th>notes</th></tr></thead><tbody>");
    for c in &report.drift.columns {
        let notes = match (&c.skipped, c.new_categories.is_empty()) {
            (Some(why), _) => format!("skipped: {why}"),
            (None, false) => format!(
                "new categories: {}",
                c.new_categories
                    .iter()
                    .map(|(l, n)| format!("{l} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, true) => c
                .ks_statistic
                .map(|d| format!("KS statistic {}", num(d)))
                .unwrap_or_default(),
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
            esc(&c.column),
            c.role,
            esc(c.test_name.as_deref().unwrap_or("–")),
            c.score.map_or("–".into(), num),
            c.threshold.map_or("–".into(), num),
            if c.drifted { "alert" } else { "ok" },
            if c.drifted { "drift" } else { "no" },
            c.psi.map_or("–".into(), num),
            pct(c.missing_rate_reference),
            pct(c.missing_rate_current),
            esc(&notes)
        );
    }
    s.push_str("</tbody></table></div>");
    for c in report.drift.columns.iter().filter(|c| c.drifted) {
        if let Some(h) = &c.histogram {
            let _ = write!(
                s,
                "<h3>{}</h3>{}",
                esc(&c.column),
                bars_svg(
                    &format!("{}: reference and current distributions", c.column),
                    h
                )
            );
        }
    }
    s.push_str("</section>");

    s.push_str("<section><h2>History</h2>");
    if history.len() < 2 {
        s.push_str("<p class=\"muted\">This is the first run in the history file; trends appear from the second run on.</p>");
    }
    let mut names: Vec<&String> = history.iter().flat_map(|h| h.metrics.keys()).collect();
    names.sort();
    names.dedup();
    let recent = &history[history.len().saturating_sub(50)..];
    for name in names {
        let points: Vec<(String, f64)> = recent
            .iter()
            .map(|h| {
                (
                    h.at.clone(),
                    h.metrics.get(name).copied().unwrap_or(f64::NAN),
                )
            })
            .collect();
        let _ = write!(
            s,
            "<h3>{}</h3>{}",
            esc(name),
            line_svg(&format!("{name} across runs"), &points, "")
        );
    }
    s.push_str("<div class=\"wrap\"><table><thead><tr><th>run</th><th>status</th><th>rows</th><th>alerts</th><th>drifted</th></tr></thead><tbody>");
    for h in recent.iter().rev() {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&h.at),
            esc(&h.status),
            h.rows,
            h.alerts,
            esc(&h.drifted.join(", "))
        );
    }
    s.push_str("</tbody></table></div></section>");

    s.push_str("<section><h2>Conventions</h2><ul>");
    for (k, v) in &report.conventions {
        let _ = write!(s, "<li><b>{}</b>: {}</li>", esc(k), esc(v));
    }
    s.push_str("</ul></section></main></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn bars_have_a_title_per_bar_and_a_legend() {
        let h = Histogram {
            labels: vec!["a".into(), "<b>".into()],
            reference: vec![0.5, 0.5],
            current: vec![0.25, 0.75],
        };
        let svg = bars_svg("t", &h);
        assert_eq!(svg.matches("<rect").count(), 4 + 2);
        assert!(svg.contains("&lt;b&gt;: current 75.0%"));
        assert!(svg.contains("reference") && svg.contains("current"));
    }
}
