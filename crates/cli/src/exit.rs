//! Exit codes and logging set-up shared by the subcommands.

use std::process::ExitCode;

use clap::ValueEnum;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// A failed command: the error and the exit code it maps to (`INTERFACES.md`: 2 for bad input
/// or usage, 3 for any other failure).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

pub const BAD_INPUT: u8 = 2;
pub const FAILED: u8 = 3;

impl Failure {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: BAD_INPUT,
            error: error.into(),
        }
    }

    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: FAILED,
            error: error.into(),
        }
    }

    /// Prints the error on stderr, and with `json` also as a JSON object on stdout (where a
    /// script reading `--json` output looks): `{"error": {"code", "exit_code", "message"}}`.
    pub fn report(&self, json: bool) -> ExitCode {
        eprintln!("error: {:#}", self.error);
        if json {
            let body = serde_json::json!({"error": {
                "code": if self.code == BAD_INPUT { "bad_input" } else { "failed" },
                "exit_code": self.code,
                "message": format!("{:#}", self.error),
            }});
            println!("{body}");
        }
        ExitCode::from(self.code)
    }
}

/// Library errors that know whether the input is at fault map to exit code 2, else 3.
macro_rules! classified {
    ($($t:ty),+) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                if e.is_bad_input() { Self::bad_input(e) } else { Self::failed(e) }
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
