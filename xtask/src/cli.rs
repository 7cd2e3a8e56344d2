//! The command line of `cargo xtask`, kept apart so `--help` documents every subcommand
//! in one place.

use clap::{Parser, Subcommand};

/// Build, test and run Salon: the one entry point for people and CI.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Install missing system packages, start Xvfb, PulseAudio and a throwaway keyring,
    /// run every test suite and print `N passed, M failed`.
    Test {
        /// Run only these suites (rust, ui, e2e, tauri); every suite when not given.
        #[arg(long = "suite", value_name = "NAME")]
        suites: Vec<String>,
    },
    /// What CI runs: formatting and clippy checks, then exactly what `test` does.
    Ci,
    /// Run the most complete runnable part of this checkout (the app, else the server).
    Run {
        /// Arguments passed on to the program (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the benchmarks: the voice engine's criterion benches, then `salon-bench`
    /// (fan-out, mouth-to-ear latency, direct messages) against a release server.
    Bench {
        /// Smaller and shorter runs (under five minutes once built).
        #[arg(long)]
        quick: bool,
    },
}
