//! `docs/cli.md`, the command reference, is the `--help` of every `salescast` command: this test
//! renders it and fails when the committed file differs (the doc drifted from the code).
//! `SALESCAST_BLESS=1 cargo test -p salescast-cli --test docs` rewrites it.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // a test writes the doc directly; it may unwrap

use std::path::Path;
use std::process::Command;

fn help(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_salescast"))
        .args(args)
        .arg("--help")
        // no SALESCAST_* variable (help shows their values) and a fixed width, so the text
        // does not depend on the environment or the terminal
        .env_clear()
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}");
    String::from_utf8(o.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

fn render(path: &[&str], out: &mut String) {
    let text = help(path);
    let title = std::iter::once("salescast")
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let level = "#".repeat((path.len() + 2).min(4));
    out.push_str(&format!(
        "{level} `{title}`\n\n```text\n{}\n```\n\n",
        text.trim_end()
    ));
    for sub in subcommands(&text) {
        let mut next = path.to_vec();
        next.push(&sub);
        render(&next, out);
    }
}

#[test]
fn the_command_reference_is_the_commands_help() {
    let mut doc = String::from(
        "# Command reference: `salescast`\n\n\
         Generated from each command's `--help` (`crates/cli/tests/docs.rs` checks that this file \
         matches them; `SALESCAST_BLESS=1 cargo test -p salescast-cli --test docs` rewrites it). \
         Settings come from flags, then `SALESCAST_*` variables, then `params.yaml` \
         ([settings](settings.md)); exit codes: 0 success, 2 bad input or usage, 3 any other \
         failure. With `--json`, a failure is also a JSON object on stdout: \
         `{\"error\": {\"code\", \"exit_code\", \"message\", \"field\"}}` (`code` is `usage`, \
         `bad_input` or `failed`; `field` names the flag, column or setting at fault, or is null). \
         The input format is the [data contract](data-contract.md).\n\n",
    );
    render(&[], &mut doc);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    if std::env::var_os("SALESCAST_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/cli.md differs from the commands' --help: run SALESCAST_BLESS=1 cargo test -p salescast-cli --test docs"
    );
}
