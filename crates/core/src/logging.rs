//! The binaries' one logging start-up: logs go to stderr (stdout is for results), filtered by
//! `RUST_LOG` (default `info`), as text or one JSON object a line. Text is coloured only on a
//! terminal, and never when `NO_COLOR` is set (<https://no-color.org>), so a log redirected to
//! a file or a pipe (`make run > log`) holds no escape codes.

use std::io::IsTerminal;

/// Whether text logs are coloured: stderr is a terminal and `NO_COLOR` is unset or empty.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber: JSON lines when `json`, else text.
pub fn init(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(colour()).init();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_colour_off_a_terminal() {
        // Tests run with stderr captured or piped: never a terminal here.
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            assert!(!super::colour());
        }
    }
}
