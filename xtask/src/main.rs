//! `cargo xtask`: the one entry point for people and CI (`run`, `test`, `bench`, `ci`).
//!
//! Plain Rust instead of shell scripts so that the same code installs what the project
//! needs, starts the services the tests use, and counts the results on every machine.
//! Each module does one thing; this file only parses the command line and dispatches.

mod bench;
mod ci;
mod cli;
mod cmd;
mod counts;
mod desktop;
mod interrupt;
mod reaper;
mod run;
mod service_process;
mod services;
mod stream;
mod suites;
mod system_deps;
mod tauri_suite;
mod test_run;
mod wait;
mod workspace;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = interrupt::install() {
        eprintln!("xtask: warning: Ctrl-C will not be handled cleanly: {err:#}");
    }
    let result = match cli.command {
        Command::Test { suites } => test_run::test(&suites),
        Command::Ci => ci::ci(),
        Command::Run { args } => run::run(&args),
        Command::Bench { quick } => bench::bench(quick),
    };
    match result {
        Ok(code) => code,
        Err(err) if err.is::<interrupt::Interrupted>() || interrupt::interrupted() => {
            eprintln!("xtask: interrupted");
            ExitCode::from(130)
        }
        Err(err) => {
            // The cause chain, without the backtrace anyhow adds under RUST_BACKTRACE.
            eprintln!("xtask: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
