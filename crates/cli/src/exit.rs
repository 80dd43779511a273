//! Exit codes and logging set-up shared by the subcommands.

use std::process::ExitCode;

use clap::ValueEnum;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

pub(crate) fn init_logging(format: LogFormat) {
    salescast_core::logging::init(format == LogFormat::Json);
}

/// A failed command: the error and the exit code it maps to (`INTERFACES.md`: 2 for bad input
/// or usage, 3 for any other failure).
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
    /// The flag, column or setting at fault, when one is (the JSON error's `field`).
    pub field: Option<String>,
}

pub(crate) const BAD_INPUT: u8 = 2;
pub(crate) const FAILED: u8 = 3;

impl Failure {
    pub(crate) fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: BAD_INPUT,
            error: error.into(),
            field: None,
        }
    }

    pub(crate) fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: FAILED,
            error: error.into(),
            field: None,
        }
    }

    /// Names the flag, column or setting at fault.
    pub(crate) fn on(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Prints the error on stderr, and with `json` also as a JSON object on stdout (where a
    /// script reading `--json` output looks): `{"error": {"code", "exit_code", "message",
    /// "field"}}`, `field` null when no one flag, column or setting is at fault.
    pub(crate) fn report(&self, json: bool) -> ExitCode {
        eprintln!("error: {:#}", self.error);
        if json {
            print_json_error(
                if self.code == BAD_INPUT {
                    "bad_input"
                } else {
                    "failed"
                },
                self.code,
                &format!("{:#}", self.error),
                self.field.as_deref(),
            );
        }
        ExitCode::from(self.code)
    }
}

/// The JSON error object on stdout (one line).
fn print_json_error(code: &str, exit_code: u8, message: &str, field: Option<&str>) {
    let body = serde_json::json!({"error": {
        "code": code,
        "exit_code": exit_code,
        "message": message,
        "field": field,
    }});
    println!("{body}");
}

/// A command line clap refused. With `--json` anywhere among the arguments, the refusal is
/// also printed as the JSON error object on stdout, `field` naming the flag (`--start`); help
/// and version requests are printed as clap prints them.
pub(crate) fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || !std::env::args_os().any(|a| a == "--json")
    {
        e.exit();
    }
    let _ = e.print();
    let field = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split_whitespace().next().map(str::to_owned),
        Some(ContextValue::Strings(v)) => v
            .first()
            .and_then(|s| s.split_whitespace().next())
            .map(str::to_owned),
        _ => None,
    };
    // The refusal without the usage lines and hints clap adds below it.
    let rendered = e.to_string();
    let message = rendered
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    print_json_error("usage", BAD_INPUT, &message, field.as_deref());
    ExitCode::from(BAD_INPUT)
}

/// Library errors that know whether the input is at fault map to exit code 2, else 3.
macro_rules! classified {
    ($($t:ty),+) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                let field = e.field().map(str::to_owned);
                let mut f = if e.is_bad_input() { Self::bad_input(e) } else { Self::failed(e) };
                f.field = field;
                f
            }
        }
    )+};
}

classified!(
    salescast_preprocess::PreprocessError,
    salescast_features::FeaturesError,
    salescast_pipeline::PipelineError
);

impl From<salescast_synth::SynthError> for Failure {
    fn from(e: salescast_synth::SynthError) -> Self {
        match e {
            salescast_synth::SynthError::InvalidConfig { .. } => Self::bad_input(e),
            salescast_synth::SynthError::Io(_) => Self::failed(e),
        }
    }
}

impl From<salescast_core::CoreError> for Failure {
    fn from(e: salescast_core::CoreError) -> Self {
        Self::failed(e)
    }
}
