//! Server-drawn SVG charts: a line chart with an interval band (dates or numbers on x),
//! horizontal bars, and a waterfall of a prediction's contributions.
//!
//! Our own module rather than plotters or charts-rs: the pages need a per-point `<title>` for
//! hover text, `role="img"` with an accessible name, CSS-sized responsive SVG and a few hundred
//! bytes per series. plotters' SVG backend writes absolute pixel sizes and no per-element titles,
//! and charts-rs styles its own themes; both would need post-processing of their output. Every
//! text that reaches the SVG goes through [`esc`].
//!
//! Colours are the Okabe–Ito palette, which stays distinguishable under the common colour
//! vision deficiencies; series also differ by dash pattern, so colour never carries meaning
//! alone.

use std::fmt::Write as _;

use chrono::NaiveDate;

/// Okabe–Ito blue: history, actuals.
pub const BLUE: &str = "#0072B2";
/// Okabe–Ito vermillion: forecasts, predictions.
pub const VERMILLION: &str = "#D55E00";
/// Okabe–Ito orange: interval bands (drawn translucent).
pub const ORANGE: &str = "#E69F00";
/// Okabe–Ito bluish green.
pub const GREEN: &str = "#009E73";
/// Okabe–Ito reddish purple: markers.
pub const PURPLE: &str = "#CC79A7";

pub use salescast_core::html::esc;

/// A number with thousands separators and `decimals` digits after the point.
pub fn fmt_num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3 + frac.len() + 2);
    if v < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        grouped.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push('.');
        grouped.push_str(frac);
    }
    grouped
}

/// A short axis label: 1.2k, 35M.
pub fn fmt_short(v: f64) -> String {
    let a = v.abs();
    let (d, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let t = if d.fract().abs() < 1e-9 {
        format!("{d:.0}")
    } else if d.abs() >= 10.0 {
        format!("{d:.1}")
    } else {
        format!("{d:.2}")
    };
    let t = if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        t
    };
    format!("{t}{suffix}")
}

/// The 1-2-5 step that splits `[lo, hi]` into about `n` parts (`None` for an empty range).
fn nice_step(lo: f64, hi: f64, n: usize) -> Option<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return None;
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    Some(
        [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag),
    )
}

/// Round tick values inside `[lo, hi]`, about `n` of them (1-2-5 steps): labels along an axis
/// whose ends are the data's (dates, run numbers).
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let Some(step) = nice_step(lo, hi, n) else {
        return vec![lo];
    };
    let first = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut k = 0.0;
    while first + k * step <= hi + step * 1e-9 && out.len() < 50 {
        out.push(first + k * step);
        k += 1.0;
    }
    out
}

/// Round tick values from at or below `lo` to at or above `hi`: a value axis, whose top label
/// is never below the highest value drawn (a 9.1% point under an axis that ends at 10%, not
/// above one that ends at 8%).
pub fn axis_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let Some(step) = nice_step(lo, hi, n) else {
        return vec![lo];
    };
    let first = (lo / step + 1e-9).floor() * step;
    let mut out = vec![first];
    while out.last().is_some_and(|t| *t < hi - step * 1e-9) && out.len() < 50 {
        out.push(first + out.len() as f64 * step);
    }
    out
}

/// What the x values are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XAxis {
    /// Days since the Unix epoch, labelled as dates.
    Dates,
    /// Plain numbers, in this unit.
    Numbers(&'static str),
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    /// `stroke-dasharray`, empty for solid.
    pub dash: &'static str,
    pub points: Vec<(f64, f64)>,
    /// Draw a dot with hover text at each point (with a CSS class for tests and scripts).
    pub dots: Option<&'static str>,
}

/// An interval band: x, lower, upper.
#[derive(Debug, Clone)]
pub struct Band {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart with optional band and vertical marker.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The accessible name and caption.
    pub title: String,
    pub x: XAxis,
    /// The y axis label, with its unit.
    pub y_label: String,
    pub series: Vec<Series>,
    pub band: Option<Band>,
    /// A vertical line at x with its label (the current value in a what-if).
    pub marker: Option<(f64, String)>,
}

const W: f64 = 720.0;

/// Days since 1970-01-01, for the x axis of dated charts.
pub fn day_number(d: NaiveDate) -> f64 {
    f64::from(
        d.signed_duration_since(NaiveDate::default())
            .num_days()
            .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
    )
}

fn date_of(x: f64) -> NaiveDate {
    NaiveDate::default()
        .checked_add_signed(chrono::Duration::days(x.round() as i64))
        .unwrap_or_default()
}

fn x_label(axis: XAxis, x: f64) -> String {
    match axis {
        XAxis::Dates => date_of(x).format("%Y-%m-%d").to_string(),
        XAxis::Numbers(_) => fmt_short(x),
    }
}

fn date_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let span = hi - lo;
    let (a, b) = (date_of(lo), date_of(hi));
    if span <= 45.0 {
        let step = if span <= 10.0 { 1.0 } else { 7.0 };
        let mut out = Vec::new();
        let mut x = lo;
        while x <= hi + 1e-9 {
            out.push((x, date_of(x).format("%b %d").to_string()));
            x += step;
        }
        return out;
    }
    use chrono::Datelike;
    let months = (b.year() - a.year()) * 12 + b.month() as i32 - a.month() as i32;
    let every = match months {
        0..=7 => 1,
        8..=14 => 2,
        15..=30 => 3,
        31..=60 => 6,
        _ => 12,
    };
    let mut out = Vec::new();
    let mut y = a.year();
    let mut m = a.month();
    for _ in 0..=months + 1 {
        if (m - 1) % every == 0
            && let Some(d) = NaiveDate::from_ymd_opt(y, m, 1)
        {
            let x = day_number(d);
            if x >= lo && x <= hi {
                let label = if m == 1 || out.is_empty() {
                    d.format("%b %Y").to_string()
                } else {
                    d.format("%b").to_string()
                };
                out.push((x, label));
            }
        }
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    out
}

impl LineChart {
    /// The chart as an SVG element.
    pub fn svg(&self) -> String {
        let (ht, left, right, top, bottom) = (300.0, 64.0, 14.0, 34.0, 46.0);
        let pw = W - left - right;
        let ph = ht - top - bottom;
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(self.band.iter().flat_map(|b| b.points.iter().map(|p| p.0)))
            .chain(self.marker.iter().map(|m| m.0))
            .filter(|v| v.is_finite());
        let (xlo, xhi) = bounds(xs);
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(
                self.band
                    .iter()
                    .flat_map(|b| b.points.iter().flat_map(|p| [p.1, p.2])),
            )
            .filter(|v| v.is_finite());
        let (mut ylo, yhi) = bounds(ys);
        if ylo > 0.0 && ylo < 0.35 * yhi {
            ylo = 0.0;
        }
        let yt = axis_ticks(ylo, yhi, 5);
        let ylo = yt.first().copied().unwrap_or(ylo).min(ylo);
        let yhi = yt.last().copied().unwrap_or(yhi).max(yhi);
        let sx = |x: f64| left + pw * (x - xlo) / (xhi - xlo);
        let sy = |y: f64| top + ph - ph * (y - ylo) / (yhi - ylo);
        let mut s = String::with_capacity(4096);
        let t = esc(&self.title);
        let _ = write!(
            s,
            r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {W} {ht}" preserveAspectRatio="xMidYMid meet"><title>{t}</title>"#
        );
        for v in &yt {
            let y = sy(*v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
                x2 = W - right,
                tx = left - 5.0,
                ty = y + 4.0,
                l = esc(&fmt_short(*v))
            );
        }
        let xt: Vec<(f64, String)> = match self.x {
            XAxis::Dates => date_ticks(xlo, xhi),
            XAxis::Numbers(_) => {
                let whole = self
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter())
                    .all(|p| p.0.fract() == 0.0);
                nice_ticks(xlo, xhi, 6)
                    .into_iter()
                    .filter(|v| !whole || v.fract() == 0.0)
                    .map(|v| (v, fmt_short(v)))
                    .collect()
            }
        };
        let _ = write!(
            s,
            r#"<line class="axis" x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/>"#,
            x2 = W - right,
            y = top + ph
        );
        let min_gap = 52.0;
        let mut last_x = f64::NEG_INFINITY;
        for (v, label) in xt {
            let x = sx(v);
            if x - last_x < min_gap {
                continue;
            }
            last_x = x;
            let _ = write!(
                s,
                r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{y0:.1}" y2="{y1:.1}"/><text class="tick" x="{x:.1}" y="{ty:.1}" text-anchor="middle">{l}</text>"#,
                y0 = top + ph,
                y1 = top + ph + 4.0,
                ty = top + ph + 17.0,
                l = esc(&label)
            );
        }
        let x_name = match self.x {
            XAxis::Dates => "date".to_owned(),
            XAxis::Numbers(unit) => unit.to_owned(),
        };
        let _ = write!(
            s,
            r#"<text class="label" x="{x:.1}" y="{y:.1}" text-anchor="middle">{xl}</text><text class="label" x="14" y="{my:.1}" text-anchor="middle" transform="rotate(-90 14 {my:.1})">{yl}</text>"#,
            x = left + pw / 2.0,
            y = ht - 6.0,
            xl = esc(&x_name),
            my = top + ph / 2.0,
            yl = esc(&self.y_label)
        );
        let mut legend: Vec<(String, String)> = Vec::new();
        if let Some(b) = &self.band
            && !b.points.is_empty()
        {
            let upper: Vec<String> = b
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.2)))
                .collect();
            let lower: Vec<String> = b
                .points
                .iter()
                .rev()
                .map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.1)))
                .collect();
            let _ = write!(
                s,
                r#"<polygon class="band" fill="{ORANGE}" fill-opacity="0.3" stroke="none" points="{} {}"><title>{}</title></polygon>"#,
                upper.join(" "),
                lower.join(" "),
                esc(&b.name)
            );
            legend.push((
                format!(r#"<rect x="0" y="-9" width="16" height="10" fill="{ORANGE}" fill-opacity="0.3"/>"#),
                b.name.clone(),
            ));
        }
        for series in &self.series {
            let pts: Vec<String> = series
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.1)))
                .collect();
            let dash = if series.dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{}""#, series.dash)
            };
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{p}"/>"#,
                c = series.colour,
                p = pts.join(" ")
            );
            if let Some(class) = series.dots {
                let band_at = |x: f64| {
                    self.band.as_ref().and_then(|b| {
                        b.points
                            .iter()
                            .find(|p| (p.0 - x).abs() < 1e-9)
                            .map(|p| (p.1, p.2))
                    })
                };
                for p in series.points.iter().filter(|p| p.1.is_finite()) {
                    let mut tip = format!(
                        "{}: {} {}",
                        x_label(self.x, p.0),
                        series.name,
                        fmt_num(p.1, 2)
                    );
                    if let Some((lo, hi)) = band_at(p.0) {
                        let _ = write!(tip, " ({} to {})", fmt_num(lo, 2), fmt_num(hi, 2));
                    }
                    let _ = write!(
                        s,
                        r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="3" fill="{c}" data-x="{dx}" data-y="{dy}"><title>{tip}</title></circle>"#,
                        x = sx(p.0),
                        y = sy(p.1),
                        c = series.colour,
                        dx = esc(&x_label(self.x, p.0)),
                        dy = p.1,
                        tip = esc(&tip)
                    );
                }
            }
            legend.push((
                format!(
                    r#"<line x1="0" x2="16" y1="-4" y2="-4" stroke="{}" stroke-width="2"{dash}/>"#,
                    series.colour
                ),
                series.name.clone(),
            ));
        }
        if let Some((mx, label)) = &self.marker
            && mx.is_finite()
        {
            let x = sx(*mx);
            let _ = write!(
                s,
                r#"<line class="marker" x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{y2:.1}" stroke="{PURPLE}" stroke-width="2" stroke-dasharray="2 3"><title>{l}</title></line>"#,
                y2 = top + ph,
                l = esc(label)
            );
            legend.push((
                format!(
                    r#"<line x1="8" x2="8" y1="-10" y2="2" stroke="{PURPLE}" stroke-width="2" stroke-dasharray="2 3"/>"#
                ),
                label.clone(),
            ));
        }
        write_legend(&mut s, left, &legend);
        s.push_str("</svg>");
        s
    }
}

fn write_legend(s: &mut String, left: f64, items: &[(String, String)]) {
    let mut x = left;
    for (swatch, name) in items {
        let _ = write!(
            s,
            r#"<g class="legend" transform="translate({x:.1} 16)">{swatch}<text x="21" y="0">{}</text></g>"#,
            esc(name)
        );
        x += 34.0 + 6.5 * name.chars().count() as f64;
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = lo.abs().max(1.0) * 0.5;
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// One bar: its label, value and hover text.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub tip: String,
}

/// Horizontal bars (long labels stay readable on a phone), largest first as given.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    /// The value axis label, with its unit.
    pub x_label: String,
    /// What the bars show, for the legend.
    pub legend: String,
    pub bars: Vec<Bar>,
    pub colour: &'static str,
}

impl BarChart {
    pub fn svg(&self) -> String {
        let row = 22.0;
        let (left, right, top, bottom) = (150.0, 70.0, 30.0, 40.0);
        let n = self.bars.len().max(1) as f64;
        let ht = top + bottom + row * n;
        let pw = W - left - right;
        let lo = self.bars.iter().map(|b| b.value).fold(0.0f64, f64::min);
        let hi = self.bars.iter().map(|b| b.value).fold(0.0f64, f64::max);
        let ticks = axis_ticks(lo, if hi > lo { hi } else { lo + 1.0 }, 4);
        let lo = ticks.first().copied().unwrap_or(lo).min(lo);
        let hi = ticks.last().copied().unwrap_or(hi).max(hi).max(lo + 1e-12);
        let sx = |v: f64| left + pw * (v - lo) / (hi - lo);
        let t = esc(&self.title);
        let mut s = String::with_capacity(2048);
        let _ = write!(
            s,
            r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {W} {ht}" preserveAspectRatio="xMidYMid meet"><title>{t}</title>"#
        );
        for v in &ticks {
            let x = sx(*v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{y2:.1}"/><text class="tick" x="{x:.1}" y="{ty:.1}" text-anchor="middle">{l}</text>"#,
                y2 = ht - bottom,
                ty = ht - bottom + 15.0,
                l = esc(&fmt_short(*v))
            );
        }
        for (i, b) in self.bars.iter().enumerate() {
            let y = top + row * i as f64;
            let (x0, x1) = if b.value >= 0.0 {
                (sx(0.0), sx(b.value))
            } else {
                (sx(b.value), sx(0.0))
            };
            let label: String = b.label.chars().take(22).collect();
            let _ = write!(
                s,
                r#"<text class="tick" x="{lx}" y="{ty:.1}" text-anchor="end">{l}</text><rect class="bar" x="{x0:.1}" y="{yy:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{tip}</title></rect><text class="tick" x="{vx:.1}" y="{ty:.1}">{v}</text>"#,
                lx = left - 6.0,
                ty = y + row * 0.65,
                l = esc(&label),
                yy = y + 3.0,
                w = (x1 - x0).max(0.5),
                h = row - 6.0,
                c = self.colour,
                tip = esc(&b.tip),
                vx = x1.max(x0) + 4.0,
                v = esc(&fmt_short(b.value))
            );
        }
        let _ = write!(
            s,
            r#"<text class="label" x="{x:.1}" y="{y:.1}" text-anchor="middle">{xl}</text>"#,
            x = left + pw / 2.0,
            y = ht - 8.0,
            xl = esc(&self.x_label)
        );
        write_legend(
            &mut s,
            left,
            &[(
                format!(
                    r#"<rect x="0" y="-9" width="16" height="10" fill="{}"/>"#,
                    self.colour
                ),
                self.legend.clone(),
            )],
        );
        s.push_str("</svg>");
        s
    }
}

/// A prediction's explanation as a waterfall: from the model's expected value, each
/// contribution moves the running total (rightward up, leftward down) until the prediction.
/// Increases are vermillion and solid, decreases blue and hatched by a dashed outline, and
/// every value is written with its sign, so colour never carries the meaning alone.
#[derive(Debug, Clone)]
pub struct Waterfall {
    pub title: String,
    pub x_label: String,
    pub expected: f64,
    /// Largest magnitude first, as the API lists them.
    pub steps: Vec<(String, f64)>,
    pub prediction: f64,
}

impl Waterfall {
    pub fn svg(&self) -> String {
        let row = 22.0;
        let (left, right, top, bottom) = (150.0, 80.0, 30.0, 40.0);
        let n = self.steps.len() as f64 + 2.0;
        let ht = top + bottom + row * n;
        let pw = W - left - right;
        let mut totals = vec![0.0, self.expected, self.prediction];
        let mut run = self.expected;
        for (_, v) in &self.steps {
            run += v;
            totals.push(run);
        }
        let lo = totals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = totals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ticks = axis_ticks(lo, if hi > lo { hi } else { lo + 1.0 }, 4);
        let lo = ticks.first().copied().unwrap_or(lo).min(lo);
        let hi = ticks.last().copied().unwrap_or(hi).max(hi).max(lo + 1e-12);
        let sx = |v: f64| left + pw * (v - lo) / (hi - lo);
        let t = esc(&self.title);
        let mut s = String::with_capacity(4096);
        let _ = write!(
            s,
            r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {W} {ht}" preserveAspectRatio="xMidYMid meet"><title>{t}</title>"#
        );
        for v in &ticks {
            let x = sx(*v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{y2:.1}"/><text class="tick" x="{x:.1}" y="{ty:.1}" text-anchor="middle">{l}</text>"#,
                y2 = ht - bottom,
                ty = ht - bottom + 15.0,
                l = esc(&fmt_short(*v))
            );
        }
        let mut bar = |i: usize,
                       label: &str,
                       from: f64,
                       to: f64,
                       colour: &str,
                       dash: &str,
                       text: String| {
            let y = top + row * i as f64;
            let (x0, x1) = (sx(from.min(to)), sx(from.max(to)));
            let label: String = label.chars().take(22).collect();
            let _ = write!(
                s,
                r#"<text class="tick" x="{lx}" y="{ty:.1}" text-anchor="end">{l}</text><rect class="bar" x="{x0:.1}" y="{yy:.1}" width="{w:.1}" height="{h:.1}" fill="{colour}" stroke="{colour}" stroke-dasharray="{dash}" fill-opacity="{op}"><title>{tip}</title></rect><text class="tick" x="{vx:.1}" y="{ty:.1}">{v}</text>"#,
                lx = left - 6.0,
                ty = y + row * 0.65,
                l = esc(&label),
                yy = y + 3.0,
                w = (x1 - x0).max(0.5),
                h = row - 6.0,
                op = if dash.is_empty() { "1" } else { "0.45" },
                tip = esc(&format!("{label}: {text}")),
                vx = x1 + 4.0,
                v = esc(&text)
            );
        };
        bar(
            0,
            "expected value",
            0.0,
            self.expected,
            GREEN,
            "",
            fmt_num(self.expected, 2),
        );
        let mut run = self.expected;
        for (i, (name, v)) in self.steps.iter().enumerate() {
            let (colour, dash, sign) = if *v >= 0.0 {
                (VERMILLION, "", "+")
            } else {
                (BLUE, "4 2", "−")
            };
            bar(
                i + 1,
                name,
                run,
                run + v,
                colour,
                dash,
                format!("{sign}{}", fmt_num(v.abs(), 2)),
            );
            run += v;
        }
        bar(
            self.steps.len() + 1,
            "prediction",
            0.0,
            self.prediction,
            PURPLE,
            "",
            fmt_num(self.prediction, 2),
        );
        let _ = write!(
            s,
            r#"<text class="label" x="{x:.1}" y="{y:.1}" text-anchor="middle">{xl}</text>"#,
            x = left + pw / 2.0,
            y = ht - 8.0,
            xl = esc(&self.x_label)
        );
        write_legend(
            &mut s,
            left,
            &[
                (
                    format!(r#"<rect x="0" y="-9" width="16" height="10" fill="{VERMILLION}"/>"#),
                    "raises the prediction".into(),
                ),
                (
                    format!(
                        r#"<rect x="0" y="-9" width="16" height="10" fill="{BLUE}" fill-opacity="0.45" stroke="{BLUE}" stroke-dasharray="4 2"/>"#
                    ),
                    "lowers it".into(),
                ),
            ],
        );
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_every_text() {
        let evil = "<script>alert(1)</script>";
        let chart = BarChart {
            title: evil.into(),
            x_label: evil.into(),
            legend: evil.into(),
            bars: vec![Bar {
                label: evil.into(),
                value: 3.0,
                tip: evil.into(),
            }],
            colour: BLUE,
        };
        let svg = chart.svg();
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let line = LineChart {
            title: evil.into(),
            x: XAxis::Numbers("x"),
            y_label: evil.into(),
            series: vec![Series {
                name: evil.into(),
                colour: BLUE,
                dash: "",
                points: vec![(0.0, 1.0), (1.0, 2.0)],
                dots: Some("pt"),
            }],
            band: None,
            marker: Some((0.5, evil.into())),
        };
        assert!(!line.svg().contains("<script"));
    }

    #[test]
    fn one_dot_per_point_with_hover_text() {
        let d0 = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
        let points: Vec<(f64, f64)> = (0..14)
            .map(|i| (day_number(d0) + f64::from(i), 100.0 + f64::from(i)))
            .collect();
        let band = Band {
            name: "95% interval".into(),
            points: points.iter().map(|p| (p.0, p.1 - 5.0, p.1 + 5.0)).collect(),
        };
        let chart = LineChart {
            title: "Forecast".into(),
            x: XAxis::Dates,
            y_label: "revenue".into(),
            series: vec![Series {
                name: "forecast".into(),
                colour: VERMILLION,
                dash: "6 3",
                points,
                dots: Some("fc-pt"),
            }],
            band: Some(band),
            marker: None,
        };
        let svg = chart.svg();
        assert_eq!(svg.matches(r#"class="fc-pt""#).count(), 14);
        assert!(svg.contains("2025-01-01: forecast 100.00 (95.00 to 105.00)"));
        assert!(svg.contains("<polygon class=\"band\""));
        assert!(svg.contains("95% interval"));
    }

    #[test]
    fn numbers_and_ticks() {
        assert_eq!(fmt_num(1234567.891, 2), "1,234,567.89");
        assert_eq!(fmt_num(-1234.0, 0), "-1,234");
        assert_eq!(fmt_num(-0.001, 1), "0.0");
        assert_eq!(fmt_num(12.0, 0), "12");
        assert_eq!(fmt_short(12_500.0), "12.5k");
        assert_eq!(fmt_short(2_000_000.0), "2M");
        assert_eq!(
            nice_ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let t = nice_ticks(3.0, 97.0, 4);
        assert!(t.windows(2).all(|w| w[1] > w[0]));
        assert!(t.first().is_some_and(|v| *v >= 3.0));
        assert_eq!(nice_ticks(1.0, 1.0, 4), vec![1.0]);
        // A value axis reaches past the data at both ends: 0..9.1 ends at 10, not at 8.
        assert_eq!(axis_ticks(0.0, 9.1, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(axis_ticks(3.0, 97.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(axis_ticks(0.0, 100.0, 5), nice_ticks(0.0, 100.0, 5));
        assert_eq!(nice_ticks(f64::NAN, 1.0, 4).len(), 1);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let empty = LineChart {
            title: "t".into(),
            x: XAxis::Dates,
            y_label: "y".into(),
            series: vec![],
            band: None,
            marker: None,
        };
        assert!(empty.svg().starts_with("<svg"));
        let bars = BarChart {
            title: "t".into(),
            x_label: "x".into(),
            legend: "l".into(),
            bars: vec![Bar {
                label: "neg".into(),
                value: -2.0,
                tip: String::new(),
            }],
            colour: GREEN,
        };
        assert!(bars.svg().contains("<rect class=\"bar\""));
    }

    #[test]
    fn waterfall_walks_from_the_expected_value_to_the_prediction() {
        let w = Waterfall {
            title: "why <b>".into(),
            x_label: "revenue".into(),
            expected: 100.0,
            steps: vec![("unit_price".into(), 40.0), ("discount".into(), -15.0)],
            prediction: 125.0,
        };
        let svg = w.svg();
        // One bar per step plus the expected value and the prediction.
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 4);
        assert!(svg.contains(">+40.00<") && svg.contains(">−15.00<"));
        assert!(svg.contains("why &lt;b&gt;") && !svg.contains("<b>"));
        // The decrease starts where the increase ended: its bar spans 125..140.
        let lows = Waterfall {
            steps: vec![],
            ..w.clone()
        }
        .svg();
        assert!(lows.starts_with("<svg"));
        let nan = Waterfall {
            expected: f64::NAN,
            ..w
        };
        assert!(nan.svg().starts_with("<svg"));
    }
}
