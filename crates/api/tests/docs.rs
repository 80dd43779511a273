//! `docs/http.md` (the HTTP reference) and `docs/openapi.json` are rendered from the service's
//! OpenAPI document and `salescast-api --help`: this test fails when the committed files differ
//! (the docs drifted from the code). `SALESCAST_BLESS=1 cargo test -p salescast-api --test docs`
//! rewrites them.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // a test writes the docs directly; it may unwrap

use std::path::Path;

use serde_json::Value;
use utoipa::OpenApi;

/// A one-line cell: newlines and pipes would break the Markdown table.
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn schema_name(v: &Value) -> String {
    let content = &v["content"];
    let Some((ctype, media)) = content.as_object().and_then(|m| m.iter().next()) else {
        return String::new();
    };
    let schema = &media["schema"];
    let name = schema["$ref"]
        .as_str()
        .or_else(|| schema["items"]["$ref"].as_str())
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
        .unwrap_or_else(|| schema["type"].as_str().unwrap_or("").to_owned());
    format!("`{name}` ({ctype})")
}

fn render(doc: &Value, help: &str) -> String {
    let mut out = String::from(
        "# HTTP reference: `salescast-api`\n\n\
         Generated from the service's OpenAPI document (`GET /openapi.json`, also committed as \
         [`openapi.json`](openapi.json) with every schema) and its `--help`; \
         `crates/api/tests/docs.rs` fails when these files drift from the code \
         (`SALESCAST_BLESS=1 cargo test -p salescast-api --test docs` rewrites them). Every \
         error is `{\"error\": {\"code\", \"message\", \"field\"}}` with a 4xx/5xx status. Rows \
         follow the [data contract](data-contract.md).\n\n## Routes\n\n",
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let summary = op["summary"].as_str().unwrap_or("");
            out.push_str(&format!("### `{} {path}`\n\n", method.to_uppercase()));
            if !summary.is_empty() {
                out.push_str(&format!("{}\n\n", cell(summary)));
            }
            if let Some(d) = op["description"].as_str().filter(|d| *d != summary) {
                out.push_str(&format!("{}\n\n", d.trim()));
            }
            if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                out.push_str("| parameter | in | required | description |\n|---|---|---|---|\n");
                for p in params {
                    out.push_str(&format!(
                        "| `{}` | {} | {} | {} |\n",
                        p["name"].as_str().unwrap_or(""),
                        p["in"].as_str().unwrap_or(""),
                        if p["required"].as_bool().unwrap_or(false) {
                            "yes"
                        } else {
                            "no"
                        },
                        cell(p["description"].as_str().unwrap_or(""))
                    ));
                }
                out.push('\n');
            }
            if op["requestBody"].is_object() {
                out.push_str(&format!(
                    "Request body: {}. {}\n\n",
                    schema_name(&op["requestBody"]),
                    cell(op["requestBody"]["description"].as_str().unwrap_or(""))
                ));
            }
            out.push_str("| status | body | meaning |\n|---|---|---|\n");
            for (status, r) in op["responses"].as_object().unwrap() {
                out.push_str(&format!(
                    "| {status} | {} | {} |\n",
                    schema_name(r),
                    cell(r["description"].as_str().unwrap_or(""))
                ));
            }
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "## Settings: `salescast-api --help`\n\n```text\n{}\n```\n",
        help.trim_end()
    ));
    out
}

#[test]
fn the_http_reference_is_the_openapi_document() {
    let doc = salescast_api::ApiDoc::openapi();
    let json = doc.to_pretty_json().unwrap() + "\n";
    let value: Value = serde_json::from_str(&json).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_salescast-api"))
        .arg("--help")
        .env_clear()
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(o.status.success());
    let md = render(&value, &String::from_utf8(o.stdout).unwrap());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let (md_path, json_path) = (dir.join("http.md"), dir.join("openapi.json"));
    if std::env::var_os("SALESCAST_BLESS").is_some() {
        std::fs::write(&md_path, &md).unwrap();
        std::fs::write(&json_path, &json).unwrap();
    }
    let hint = "run SALESCAST_BLESS=1 cargo test -p salescast-api --test docs";
    assert!(
        std::fs::read_to_string(&md_path).unwrap_or_default() == md,
        "docs/http.md differs from the OpenAPI document: {hint}"
    );
    assert!(
        std::fs::read_to_string(&json_path).unwrap_or_default() == json,
        "docs/openapi.json differs from the OpenAPI document: {hint}"
    );
}
