//! The pages. Each has an async handler that fetches what it needs from the API (through the
//! cache) and a pure `render` from that data to HTML, which the benchmark times alone.

pub mod batch;
pub mod forecast;
pub mod models;
pub mod monitoring;
pub mod overview;
pub mod predict;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;

use crate::UiError;
use crate::client::{ApiClient, Fetched};
use crate::layout::{Banner, Frame, document};

/// An HTML answer that no cache keeps (each view reflects the API's current models).
pub fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    resp
}

/// The banner for a page whose API calls ended in `errors`, when one of them means the API is
/// down, slow or broken. `stale`: the page still has data to show.
pub fn banner(api: &ApiClient, errors: &[Option<&UiError>], stale: bool) -> Option<Banner> {
    errors
        .iter()
        .flatten()
        .find(|e| e.api_down())
        .map(|e| Banner {
            api: api.base().to_owned(),
            reason: match e {
                UiError::Unreachable { reason, .. } | UiError::BadAnswer { reason, .. } => {
                    reason.clone()
                }
                other => other.to_string(),
            },
            stale,
        })
}

/// The error of a fetch, if any.
pub fn err<T>(f: &Fetched<T>) -> Option<&UiError> {
    f.error.as_ref()
}

/// A figure: the chart, its caption, and a line where the optional script echoes the hovered
/// point.
pub fn figure(svg: String, caption: String) -> AnyView {
    view! {
        <figure>
            <div inner_html=svg></div>
            <figcaption class="muted">{caption}</figcaption>
            <div class="readout" aria-live="polite"></div>
        </figure>
    }
    .into_any()
}

/// The API's refusal of a form: the field it names, if any, and its message.
pub type Rejected = Option<(Option<String>, String)>;

/// The refusal's message beside the control of `field`, when it names that field (or, for a
/// control the API knows under another name, one of `aliases`).
pub fn field_error(rejected: &Rejected, field: &str, aliases: &[&str]) -> Option<AnyView> {
    rejected
        .as_ref()
        .filter(|(f, _)| {
            f.as_deref()
                .is_some_and(|f| f == field || aliases.contains(&f))
        })
        .map(|(_, m)| {
            let id = format!("{field}-error");
            view! { <span class="field-error" role="alert" id=id>{m.clone()}</span> }.into_any()
        })
}

/// The refusal's message under the form, when it names none of the form's `fields`.
pub fn form_error(rejected: &Rejected, fields: &[&str], id: &str) -> Option<AnyView> {
    rejected
        .as_ref()
        .filter(|(f, _)| !f.as_deref().is_some_and(|f| fields.contains(&f)))
        .map(|(_, m)| {
            let id = id.to_owned();
            view! { <p class="error" role="alert" id=id>{m.clone()}</p> }.into_any()
        })
}

/// One table cell: text, right-aligned when numeric, with a value to sort by.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub numeric: bool,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Self {
            text: s.into(),
            numeric: false,
        }
    }
    pub fn num(v: f64, decimals: usize) -> Self {
        Self {
            text: crate::charts::fmt_num(v, decimals),
            numeric: true,
        }
    }
}

/// What the daily champion is made of, as a term and its description for a `<dl>`: a
/// combination's members (`mean[a + b]` → "a, b"), a SARIMA's orders, or nothing for a
/// single model whose name says it all (ETS, Theta, the additive model).
pub fn champion_parts(champion: &str, order: Option<&str>) -> Option<(&'static str, String)> {
    if let Some(inner) = champion
        .strip_prefix("mean[")
        .and_then(|r| r.strip_suffix(']'))
    {
        return Some(("Members", inner.split(" + ").collect::<Vec<_>>().join(", ")));
    }
    order.map(|o| ("Orders", o.to_owned()))
}

/// A sortable table (the script sorts it when present).
pub fn table(
    caption: &str,
    id: &str,
    head: &[(&str, bool)],
    rows: Vec<Vec<Cell>>,
    row_classes: Vec<Option<&'static str>>,
) -> AnyView {
    let head = head
        .iter()
        .map(|(h, numeric)| {
            let class = numeric.then_some("n");
            view! { <th scope="col" class=class>{h.to_string()}</th> }
        })
        .collect_view();
    let body = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let class = row_classes.get(i).copied().flatten();
            let cells = r
                .into_iter()
                .map(|c| {
                    let class = c.numeric.then_some("n");
                    view! { <td class=class>{c.text}</td> }
                })
                .collect_view();
            view! { <tr class=class>{cells}</tr> }
        })
        .collect_view();
    let caption = caption.to_owned();
    let id = id.to_owned();
    view! {
        <div class="wrap">
            <table class="sortable" id=id>
                <caption class="muted">{caption}</caption>
                <thead><tr>{head}</tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A message for a request the UI cannot show, inside the layout.
pub fn message_page(
    status: StatusCode,
    title: &str,
    active: &'static str,
    message: String,
) -> Response {
    let body = view! { <section><p class="error" role="alert">{message}</p></section> }.into_any();
    html(
        status,
        document(
            Frame {
                title: title.to_owned(),
                active,
                banner: None,
            },
            body,
        ),
    )
}

/// Any unknown address.
pub async fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "",
        "There is no page at this address. The navigation above lists every page.".into(),
    )
}

/// A bad query parameter: 400 and the page's layout with the field named.
pub fn bad_request(title: &str, active: &'static str, e: &UiError) -> Response {
    message_page(StatusCode::BAD_REQUEST, title, active, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::champion_parts;

    #[test]
    fn a_combination_is_shown_by_its_members_a_sarima_by_its_orders() {
        assert_eq!(
            champion_parts("mean[additive+holidays + ets(A,N,N)]", None),
            Some(("Members", "additive+holidays, ets(A,N,N)".to_owned()))
        );
        assert_eq!(
            champion_parts("sarima(1,1,1)(1,0,1,7)", Some("(1,1,1)(1,0,1,7)")),
            Some(("Orders", "(1,1,1)(1,0,1,7)".to_owned()))
        );
        assert_eq!(champion_parts("theta", None), None);
    }
}
