//! `salescast`: the pipeline command line. Each subcommand is one DVC stage; this binary only
//! parses settings, calls the libraries and reports.

mod args;
mod commands;
mod exit;
mod params;
mod track;
mod tune;

use std::process::ExitCode;

use clap::Parser;

/// Cleaning allocates millions of small strings across threads; mimalloc does that markedly
/// faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit::usage_error(&e),
    };
    exit::init_logging(cli.global.log_format);
    let json = cli.global.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(json),
    }
}
