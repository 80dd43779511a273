//! `/predict`: one transaction's context fields in, the predicted revenue out, with the model
//! and its version; the API's validation message sits beside the field at fault. A what-if
//! curve varies one numeric field across its usual range in one batched request.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::{Cell, banner, err, field_error, figure, form_error, html, table};
use crate::charts::{self, LineChart, Series, Waterfall, XAxis, fmt_num};
use crate::client::{Catalog, Explanation, Prediction, Status};
use crate::layout::{Banner, Frame, document};
use crate::params::Params;
use crate::{Shared, UiError};

/// Numeric fields a what-if can vary.
pub const WHATIF_FIELDS: [&str; 2] = ["unit_price", "discount"];
pub const DEFAULT_POINTS: i64 = 21;
pub const MAX_POINTS: i64 = 201;

/// The form as submitted (or the typical row before any submission).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form {
    pub submitted: bool,
    pub date: String,
    pub store_id: String,
    pub product_id: String,
    pub category: String,
    pub unit_price: String,
    pub discount: String,
    pub promotion: bool,
    pub customer_segment: String,
    pub payment_method: String,
    pub model: Option<String>,
    pub whatif: Option<String>,
    pub points: i64,
}

const TEXT_FIELDS: [&str; 8] = [
    "date",
    "store_id",
    "product_id",
    "category",
    "unit_price",
    "discount",
    "customer_segment",
    "payment_method",
];

impl Form {
    /// The form from the query string, starting from the catalog's typical row for any field
    /// not sent.
    pub fn parse(p: &Params, catalog: Option<&Catalog>) -> Result<Self, UiError> {
        let typical = |k: &str| -> String {
            catalog
                .and_then(|c| c.typical.get(k))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        let submitted = p.has("go");
        let mut f = Self {
            submitted,
            points: p
                .integer("points", 3, MAX_POINTS)?
                .unwrap_or(DEFAULT_POINTS),
            model: p
                .choice("model", &["random_forest", "gradient_boosting"])?
                .map(str::to_owned),
            whatif: p.choice("whatif", &WHATIF_FIELDS)?.map(str::to_owned),
            promotion: if submitted {
                p.text("promotion")?.is_some()
            } else {
                catalog
                    .and_then(|c| c.typical.get("promotion"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            },
            ..Default::default()
        };
        for k in TEXT_FIELDS {
            let v = match p.text(k)? {
                Some(v) => v.to_owned(),
                None if submitted => String::new(),
                None => typical(k),
            };
            match k {
                "date" => f.date = v,
                "store_id" => f.store_id = v,
                "product_id" => f.product_id = v,
                "category" => f.category = v,
                "unit_price" => f.unit_price = v,
                "discount" => f.discount = v,
                "customer_segment" => f.customer_segment = v,
                _ => f.payment_method = v,
            }
        }
        Ok(f)
    }

    /// The request body of `POST /predict`. Numbers that do not parse go as text, so that the
    /// API's own validation names the field.
    pub fn transaction(&self) -> Value {
        let mut m = Map::new();
        let text = |v: &str| {
            if v.is_empty() {
                Value::Null
            } else {
                Value::String(v.to_owned())
            }
        };
        let number = |v: &str| match v.parse::<f64>() {
            Ok(x) if x.is_finite() => json!(x),
            _ => text(v),
        };
        m.insert("date".into(), text(&self.date));
        m.insert("store_id".into(), text(&self.store_id));
        m.insert("product_id".into(), text(&self.product_id));
        m.insert("category".into(), text(&self.category));
        m.insert("unit_price".into(), number(&self.unit_price));
        m.insert("discount".into(), number(&self.discount));
        m.insert("promotion".into(), Value::Bool(self.promotion));
        m.insert("customer_segment".into(), text(&self.customer_segment));
        m.insert("payment_method".into(), text(&self.payment_method));
        Value::Object(m)
    }
}

/// The what-if curve: the varied field's values and the predictions.
#[derive(Debug, Clone)]
pub struct WhatIf {
    pub field: String,
    pub current: Option<f64>,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Default)]
pub struct Data {
    pub form: Form,
    pub status: Option<Arc<Status>>,
    pub catalog: Option<Arc<Catalog>>,
    pub prediction: Option<Prediction>,
    pub whatif: Option<WhatIf>,
    /// The API's validation message and the field it names.
    pub rejected: Option<(Option<String>, String)>,
    pub banner: Option<Banner>,
}

/// `n` evenly spaced values from `lo` to `hi`.
pub fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n < 2 {
        return vec![lo];
    }
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

pub async fn load(st: &Shared, params: &Params) -> Result<Data, UiError> {
    let api = &st.api;
    let status = api.status().await;
    let up = status.error.is_none();
    let catalog = api.catalog(up).await;
    let form = Form::parse(params, catalog.value.as_deref())?;
    let mut data = Data {
        form: form.clone(),
        status: status.value.clone(),
        catalog: catalog.value.clone(),
        ..Default::default()
    };
    let mut errors: Vec<UiError> = Vec::new();
    if form.submitted && up {
        let row = form.transaction();
        match api.predict_one(&row, form.model.as_deref(), true).await {
            Ok(p) => data.prediction = Some(p),
            Err(UiError::Rejected { field, message, .. }) => {
                data.rejected = Some((field, message));
            }
            Err(e) => errors.push(e),
        }
        if let (Some(field), Some(_), Some(c)) = (&form.whatif, &data.prediction, &data.catalog) {
            let range = c.ranges.get(field).copied();
            let current = row.get(field).and_then(Value::as_f64);
            let (lo, hi) = match range {
                Some(r) if r.max > r.min => (r.min, r.max),
                _ => {
                    let v = current.unwrap_or(0.0);
                    (0.0, (v * 2.0).max(1.0))
                }
            };
            let xs = grid(lo, hi, usize::try_from(form.points).unwrap_or(2));
            let rows: Vec<Value> = xs
                .iter()
                .map(|x| {
                    let mut r = row.clone();
                    if let Some(o) = r.as_object_mut() {
                        o.insert(field.clone(), json!(x));
                    }
                    r
                })
                .collect();
            match api.predict(&rows, form.model.as_deref()).await {
                Ok(ps) => {
                    data.whatif = Some(WhatIf {
                        field: field.clone(),
                        current,
                        points: xs
                            .iter()
                            .zip(&ps)
                            .map(|(x, p)| (*x, p.predicted_revenue))
                            .collect(),
                    });
                }
                Err(UiError::Rejected { field, message, .. }) => {
                    data.rejected = Some((field, format!("what-if: {message}")));
                }
                Err(e) => errors.push(e),
            }
        }
    }
    let mut all: Vec<Option<&UiError>> = vec![err(&status), err(&catalog)];
    all.extend(errors.iter().map(Some));
    data.banner = banner(api, &all, data.catalog.is_some());
    Ok(data)
}

pub async fn page(State(st): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    match load(&st, &params).await {
        Ok(data) => {
            let status = if data.rejected.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            html(status, render(&data))
        }
        Err(e) => super::bad_request("Predict", "predict", &e),
    }
}

pub fn render(data: &Data) -> String {
    let f = &data.form;
    let c = data.catalog.as_deref();
    let field_err = |name: &str| field_error(&data.rejected, name, &[]);
    let select = |name: &'static str, label: &'static str, choices: Vec<String>, current: &str| {
        let mut choices = choices;
        if !current.is_empty() && !choices.iter().any(|c| c == current) {
            choices.insert(0, current.to_owned());
        }
        let opts = choices
            .into_iter()
            .map(|v| {
                let sel = v == current;
                let label = v.clone();
                view! { <option value=v selected=sel>{label}</option> }
            })
            .collect_view();
        // An empty field stays empty (and the API names it) rather than showing the first choice.
        let none = current
            .is_empty()
            .then(|| view! { <option value="" selected=true>"(none)"</option> });
        view! {
            <div><label for=name>{label}</label>
                <select id=name name=name>{none}{opts}</select>{field_err(name)}</div>
        }
    };
    let products: Vec<String> = c
        .map(|c| c.products.iter().map(|p| p.product_id.clone()).collect())
        .unwrap_or_default();
    let models: Vec<(String, bool)> = data
        .status
        .as_ref()
        .map(|s| {
            s.models
                .iter()
                .map(|m| (m.name.clone(), m.champion))
                .collect()
        })
        .unwrap_or_default();
    let model_opts = models
        .into_iter()
        .map(|(m, champ)| {
            let sel = f.model.as_deref() == Some(m.as_str());
            let label = if champ {
                format!("{m} (champion)")
            } else {
                m.clone()
            };
            view! { <option value=m selected=sel>{label}</option> }
        })
        .collect_view();
    let whatif_opts = WHATIF_FIELDS
        .iter()
        .map(|w| {
            let sel = f.whatif.as_deref() == Some(*w);
            view! { <option value=*w selected=sel>{*w}</option> }
        })
        .collect_view();
    let mut fields: Vec<&str> = TEXT_FIELDS.to_vec();
    fields.push("promotion");
    let general = form_error(&data.rejected, &fields, "predict-error");
    let form = view! {
        <section>
            <form class="grid" method="get" action="/predict" id="predict-form">
                <div><label for="date">"Date"</label>
                    <input type="date" id="date" name="date" value=f.date.clone()/>{field_err("date")}</div>
                {select("store_id", "Store", c.map(|c| c.stores.clone()).unwrap_or_default(), &f.store_id)}
                {select("product_id", "Product", products, &f.product_id)}
                {select("category", "Category", c.map(|c| c.categories.clone()).unwrap_or_default(), &f.category)}
                <div><label for="unit_price">"Unit price"</label>
                    <input type="number" id="unit_price" name="unit_price" step="any" value=f.unit_price.clone()/>{field_err("unit_price")}</div>
                <div><label for="discount">"Discount (fraction, 0 to 1)"</label>
                    <input type="number" id="discount" name="discount" step="any" min="0" max="1" value=f.discount.clone()/>{field_err("discount")}</div>
                <div><label for="promotion">"On promotion"</label>
                    <input type="checkbox" id="promotion" name="promotion" value="true" checked=f.promotion/>{field_err("promotion")}</div>
                {select("customer_segment", "Customer segment", c.map(|c| c.customer_segments.clone()).unwrap_or_default(), &f.customer_segment)}
                {select("payment_method", "Payment method", c.map(|c| c.payment_methods.clone()).unwrap_or_default(), &f.payment_method)}
                <div><label for="model">"Model"</label>
                    <select id="model" name="model"><option value="">"The champion"</option>{model_opts}</select></div>
                <div><label for="whatif">"What-if: vary"</label>
                    <select id="whatif" name="whatif"><option value="">"Nothing"</option>{whatif_opts}</select></div>
                <div><label for="points">"What-if points"</label>
                    <input type="number" id="points" name="points" min="3" max=MAX_POINTS.to_string() step="1" value=f.points.to_string()/></div>
                <div><button type="submit" name="go" value="1">"Predict"</button></div>
            </form>
            {general}
        </section>
    };
    let result = data.prediction.as_ref().map(|p| {
        let value = p.predicted_revenue.to_string();
        view! {
            <section aria-labelledby="result-h">
                <h2 id="result-h">"Predicted revenue"</h2>
                <p class="result" id="prediction" data-value=value>{fmt_num(p.predicted_revenue, 2)}</p>
                <p class="muted" id="prediction-model">"Model " <strong>{p.model.clone()}</strong> ", version " <code>{p.model_version.clone()}</code></p>
            </section>
        }
    });
    let explanation = data.prediction.as_ref().and_then(|p| {
        p.explanation
            .as_ref()
            .map(|e| explanation_view(e, p.predicted_revenue))
    });
    let whatif = data.whatif.as_ref().map(whatif_view);
    let body = view! { {form} {result} {explanation} {whatif} }.into_any();
    document(
        Frame {
            title: "Predict one transaction".into(),
            active: "predict",
            banner: data.banner.clone(),
        },
        body,
    )
}

/// "Why this number": the TreeSHAP contributions per field as a waterfall from the model's
/// expected value to this prediction, with the numbers in a table and the per-feature detail
/// behind a disclosure.
fn explanation_view(e: &Explanation, prediction: f64) -> AnyView {
    let chart = Waterfall {
        title: "Contributions to this prediction, largest first".into(),
        x_label: "revenue (currency units)".into(),
        expected: e.expected_value,
        steps: e
            .contributions
            .iter()
            .map(|c| (c.name.clone(), c.contribution))
            .collect(),
        prediction,
    };
    let rows = |list: &[crate::client::Contribution]| -> Vec<Vec<Cell>> {
        list.iter()
            .map(|c| vec![Cell::text(c.name.clone()), Cell::num(c.contribution, 4)])
            .collect()
    };
    let mut fields = vec![vec![
        Cell::text("expected value"),
        Cell::num(e.expected_value, 4),
    ]];
    fields.extend(rows(&e.contributions));
    fields.push(vec![Cell::text("prediction"), Cell::num(prediction, 4)]);
    let expected = e.expected_value.to_string();
    view! {
        <section aria-labelledby="explain-h" id="explanation" data-expected=expected>
            <h2 id="explain-h">"Why this number"</h2>
            <div id="explain-chart">
                {figure(chart.svg(), "Exact TreeSHAP values: starting from the model's average prediction, each field's contribution moves the total until it reaches this prediction. One-hot columns are summed into their field and calendar features into the date.".into())}
            </div>
            {table("Contributions per field", "explain-table", &[("field", false), ("contribution", true)], fields, Vec::new())}
            <details><summary>"Per feature, as the model sees them"</summary>
                {table("Contributions per model feature", "explain-features", &[("feature", false), ("contribution", true)], rows(&e.feature_contributions), Vec::new())}
            </details>
        </section>
    }
    .into_any()
}

fn whatif_view(w: &WhatIf) -> AnyView {
    let unit: &'static str = if w.field == "discount" {
        "discount (fraction)"
    } else {
        "unit price (currency units)"
    };
    let chart = LineChart {
        title: format!("Predicted revenue across {}", w.field),
        x: XAxis::Numbers(unit),
        y_label: "predicted revenue (currency units)".into(),
        series: vec![Series {
            name: "predicted revenue".into(),
            colour: charts::VERMILLION,
            dash: "",
            points: w.points.clone(),
            dots: Some("whatif-pt"),
        }],
        band: None,
        marker: w
            .current
            .map(|v| (v, format!("current {} = {}", w.field, fmt_num(v, 2)))),
    };
    let rows = w
        .points
        .iter()
        .map(|(x, y)| vec![Cell::num(*x, 4), Cell::num(*y, 2)])
        .collect();
    view! {
        <section aria-labelledby="whatif-h">
            <h2 id="whatif-h">"What-if: " {w.field.clone()}</h2>
            {figure(chart.svg(), format!("{} predictions from one batched request; the dashed line marks the current value.", w.points.len()))}
            <details><summary>"Table of these numbers"</summary>
                {table("What-if predictions", "whatif-table", &[(w.field.as_str(), true), ("predicted revenue", true)], rows, Vec::new())}
            </details>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_spans_the_range() {
        let g = grid(1.0, 3.0, 5);
        assert_eq!(g, vec![1.0, 1.5, 2.0, 2.5, 3.0]);
        assert_eq!(grid(1.0, 2.0, 1), vec![1.0]);
    }

    #[test]
    fn numbers_that_do_not_parse_go_as_text() {
        let p = Params::parse(Some("go=1&unit_price=abc&discount=0.1&store_id=S01"));
        let f = Form::parse(&p, None).unwrap_or_default();
        let t = f.transaction();
        assert_eq!(t["unit_price"], json!("abc"));
        assert_eq!(t["discount"], json!(0.1));
        assert_eq!(t["promotion"], json!(false));
        assert_eq!(t["date"], Value::Null);
    }

    #[test]
    fn points_are_bounded() {
        assert!(Form::parse(&Params::parse(Some("points=1000")), None).is_err());
        assert!(Form::parse(&Params::parse(Some("whatif=quantity")), None).is_err());
    }
}
