//! `/batch`: upload a CSV, see how many rows were scored and how many failed, the first rows
//! with the failures highlighted, and download the whole scored file exactly as the API
//! streamed it.

use axum::body::Body;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use leptos::prelude::*;
use tokio::io::AsyncWriteExt;

use super::{Cell, banner, html, table};
use crate::charts::fmt_num;
use crate::jobs::{Jobs, PREVIEW_ROWS, Summary};
use crate::layout::{Banner, Frame, document};
use crate::params::Params;
use crate::{Shared, UiError};

/// What the page shows.
#[derive(Debug, Default)]
pub struct Data {
    pub job: Option<(String, Summary)>,
    pub limit_bytes: u64,
    pub error: Option<String>,
    pub banner: Option<Banner>,
}

/// The upload limit: the UI's own, and the API's when it reports one.
async fn limit(st: &Shared) -> (u64, Option<UiError>) {
    let status = st.api.status().await;
    let api = status
        .value
        .as_ref()
        .and_then(|s| s.limits)
        .map(|l| l.max_csv_bytes);
    (
        api.map_or(st.max_upload_bytes, |a| a.min(st.max_upload_bytes)),
        status.error,
    )
}

pub async fn page(State(st): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q.as_deref());
    let (limit_bytes, status_err) = limit(&st).await;
    let mut data = Data {
        limit_bytes,
        banner: banner(&st.api, &[status_err.as_ref()], false),
        ..Default::default()
    };
    let job = match p.text("job") {
        Ok(j) => j.map(str::to_owned),
        Err(e) => return super::bad_request("Batch scoring", "batch", &e),
    };
    let mut status = StatusCode::OK;
    if let Some(id) = job {
        match st.jobs.summary(&id) {
            Ok(s) => data.job = Some((id, s)),
            Err(e) => {
                status = StatusCode::NOT_FOUND;
                data.error = Some(e.to_string());
            }
        }
    }
    html(status, render(&data))
}

fn failure(st: &Shared, limit_bytes: u64, status: StatusCode, e: &UiError) -> Response {
    let data = Data {
        limit_bytes,
        error: (!e.api_down()).then(|| e.to_string()),
        banner: banner(&st.api, &[Some(e)], false),
        ..Default::default()
    };
    let status = if e.api_down() {
        StatusCode::BAD_GATEWAY
    } else {
        status
    };
    // A dead API is the API's failure, not the UI's: the page still renders, with the banner.
    let status = if status.is_server_error() {
        StatusCode::OK
    } else {
        status
    };
    html(status, render(&data))
}

/// `POST /batch`: spool, score through the API, spool the answer, then redirect to the result.
pub async fn upload(State(st): State<Shared>, mut form: Multipart) -> Response {
    let (limit_bytes, _) = limit(&st).await;
    st.jobs.sweep();
    let id = match Jobs::new_id() {
        Ok(id) => id,
        Err(e) => return failure(&st, limit_bytes, StatusCode::OK, &e),
    };
    let result = score(&st, &id, &mut form, limit_bytes).await;
    let _ = tokio::fs::remove_file(st.jobs.upload_path(&id)).await;
    let _ = tokio::fs::remove_file(Jobs::partial(&st.jobs.upload_path(&id))).await;
    match result {
        Ok(()) => Redirect::to(&format!("/batch?job={id}")).into_response(),
        Err((status, e)) => {
            st.jobs.remove(&id);
            failure(&st, limit_bytes, status, &e)
        }
    }
}

type Failure = (StatusCode, UiError);

async fn score(
    st: &Shared,
    id: &str,
    form: &mut Multipart,
    limit_bytes: u64,
) -> Result<(), Failure> {
    let bad =
        |field: &str, reason: String| (StatusCode::BAD_REQUEST, UiError::bad_input(field, reason));
    let too_big = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            UiError::bad_input(
                "file",
                format!(
                    "the file is larger than the limit of {} bytes",
                    fmt_num(limit_bytes as f64, 0)
                ),
            ),
        )
    };
    // The form sends its checkbox before the file, as the fields stand in the page.
    let mut ignore_extra = false;
    let mut field = loop {
        match form.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(f)) if f.name() == Some("extra_fields") => {
                let value = f.text().await.unwrap_or_default();
                if value != "ignore" {
                    return Err(bad(
                        "extra_fields",
                        "the only value is \"ignore\" (leave it out to refuse unknown columns)"
                            .into(),
                    ));
                }
                ignore_extra = true;
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(bad("file", "choose a CSV file to upload".into())),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(e) => {
                tracing::debug!(reason = %e.body_text(), "unreadable multipart upload");
                return Err(bad(
                    "file",
                    "the upload is not a readable multipart/form-data form: choose the file again"
                        .into(),
                ));
            }
        }
    };
    let filename: String = field
        .file_name()
        .unwrap_or("upload.csv")
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .take(100)
        .collect();
    let upload = st.jobs.upload_path(id);
    // The disk's error (which names the spool's path) goes to the log, not to the page.
    let io = |e: std::io::Error| {
        (
            StatusCode::INSUFFICIENT_STORAGE,
            UiError::io("spooling the upload", e),
        )
    };
    let mut out = tokio::fs::File::create(&upload).await.map_err(io)?;
    let mut written: u64 = 0;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                written += chunk.len() as u64;
                if written > limit_bytes {
                    return Err(too_big());
                }
                out.write_all(&chunk).await.map_err(io)?;
            }
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(e) => {
                tracing::debug!(reason = %e.body_text(), "the upload broke off");
                return Err(bad(
                    "file",
                    "the upload broke off before its end: send the file again".into(),
                ));
            }
        }
    }
    out.flush().await.map_err(io)?;
    drop(out);
    if written == 0 {
        return Err(bad("file", "the file is empty".into()));
    }
    let file = tokio::fs::File::open(&upload).await.map_err(io)?;
    let resp = st
        .api
        .batch_csv(file, written, &filename, ignore_extra)
        .await
        .map_err(|e| match &e {
            UiError::Rejected { status, .. } => (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                e,
            ),
            _ => (StatusCode::BAD_GATEWAY, e),
        })?;
    // The scored CSV goes to disk chunk by chunk as the API streams it.
    let scored = st.jobs.scored_path(id);
    let part = Jobs::partial(&scored);
    let mut out = tokio::fs::File::create(&part).await.map_err(io)?;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            (
                StatusCode::BAD_GATEWAY,
                UiError::Unreachable {
                    url: st.api.base().to_owned(),
                    reason: "the scored file broke off".into(),
                },
            )
        })?;
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    out.sync_all().await.map_err(io)?;
    drop(out);
    tokio::fs::rename(&part, &scored).await.map_err(io)?;
    let jobs_id = id.to_owned();
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.jobs.summarise(&jobs_id, &filename))
        .await
        .map_err(|e| {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                UiError::io("reading the scored file", e),
            )
        })?
        .map_err(|e| (StatusCode::BAD_GATEWAY, e))?;
    Ok(())
}

/// `GET /batch/{id}/scored.csv`: the API's answer, byte for byte, streamed from disk.
pub async fn download(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let summary = match st.jobs.summary(&id) {
        Ok(s) => s,
        Err(e) => {
            return super::message_page(
                StatusCode::NOT_FOUND,
                "Batch scoring",
                "batch",
                e.to_string(),
            );
        }
    };
    let file = match tokio::fs::File::open(st.jobs.scored_path(&id)).await {
        Ok(f) => f,
        Err(_) => {
            return super::message_page(
                StatusCode::NOT_FOUND,
                "Batch scoring",
                "batch",
                "The scored file has expired: upload the file again.".into(),
            );
        }
    };
    let stem = summary.filename.trim_end_matches(".csv").replace(
        |c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "_",
    );
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(summary.bytes));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}-scored.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

pub fn render(data: &Data) -> String {
    let limit = fmt_num(data.limit_bytes as f64 / (1 << 20) as f64, 1);
    let error = data
        .error
        .clone()
        .map(|e| view! { <p class="error" role="alert" id="batch-error">{e}</p> });
    let form = view! {
        <section>
            <form method="post" action="/batch" enctype="multipart/form-data" id="batch-form">
                <label for="file">"CSV file in the data contract (up to " {limit} " MB)"</label>
                <div><input type="checkbox" id="extra_fields" name="extra_fields" value="ignore"/>
                    <label for="extra_fields">"Pass through columns outside the data contract (otherwise the file is refused, naming them)"</label></div>
                <input type="file" id="file" name="file" accept=".csv,text/csv" required=true/>
                <button type="submit">"Score"</button>
            </form>
            {error}
            <p class="muted">"Every row comes back, in order, with " <code>"predicted_revenue"</code>
                ", or an " <code>"error"</code> " that names the field at fault."</p>
        </section>
    };
    let result = data.job.as_ref().map(|(id, s)| result(id, s));
    let body = view! { {form} {result} }.into_any();
    document(
        Frame {
            title: "Batch scoring".into(),
            active: "batch",
            banner: data.banner.clone(),
        },
        body,
    )
}

fn result(id: &str, s: &Summary) -> AnyView {
    let head: Vec<(String, bool)> = s
        .header
        .iter()
        .map(|h| (h.clone(), h == "predicted_revenue"))
        .collect();
    let head_refs: Vec<(&str, bool)> = head.iter().map(|(h, n)| (h.as_str(), *n)).collect();
    let classes = s
        .preview
        .iter()
        .map(|r| {
            s.error_column
                .and_then(|i| r.get(i))
                .filter(|v| !v.is_empty())
                .map(|_| "row-error")
        })
        .collect();
    let rows = s
        .preview
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| {
                    if head.get(i).is_some_and(|h| h.1) {
                        Cell {
                            text: v.clone(),
                            numeric: true,
                        }
                    } else {
                        Cell::text(v.clone())
                    }
                })
                .collect()
        })
        .collect();
    let href = format!("/batch/{id}/scored.csv");
    let scored = s.rows - s.errors;
    let shown = s.preview.len().min(PREVIEW_ROWS);
    view! {
        <section aria-labelledby="batch-h">
            <h2 id="batch-h">"Result for " {s.filename.clone()}</h2>
            <div class="kpis">
                <div class="kpi"><div class="muted">"Rows"</div><div class="v" id="batch-rows">{s.rows}</div></div>
                <div class="kpi"><div class="muted">"Scored"</div><div class="v" id="batch-scored">{scored}</div></div>
                <div class="kpi"><div class="muted">"Failed"</div><div class="v" id="batch-errors">{s.errors}</div></div>
            </div>
            <p><a href=href id="batch-download" download="">"Download the scored CSV (" {fmt_num(s.bytes as f64, 0)} " bytes)"</a></p>
            {table(&format!("The first {shown} rows; rows that could not be scored are highlighted"), "batch-table", &head_refs, rows, classes)}
        </section>
    }
    .into_any()
}
