//! `cargo xtask bench`: runs the benchmarks and prints the machine they ran on, so a
//! figure copied into BENCHMARKS.md always comes with its command and its machine.
//!
//! Today these are the voice engine's criterion micro-benchmarks (encode, decode,
//! jitter buffer, capture processing, mixing). The end-to-end figures (mouth-to-ear
//! latency, fan-out capacity, DM delay, client footprint) come with `salon-bench`.
//! Benchmarks never fail because the machine is slow; only a benchmark that cannot run
//! is an error.

use std::process::ExitCode;

use crate::{cmd, system_deps, workspace};

/// The packages with criterion benchmarks.
const BENCHED_PACKAGES: &[&str] = &["salon-voice"];

pub(crate) fn bench() -> anyhow::Result<ExitCode> {
    system_deps::ensure_system_packages()?;
    println!("machine: {}", machine());
    for package in BENCHED_PACKAGES {
        let mut command = workspace::cargo();
        command
            .current_dir(workspace::root())
            .args(["bench", "--package", package, "--benches", "--"])
            // Short runs: enough for stable medians of microsecond-scale work.
            .args(["--warm-up-time", "1", "--measurement-time", "3"]);
        cmd::run(&mut command)?;
    }
    println!(
        "bench: not measured here yet: mouth-to-ear latency, fan-out capacity, DM delay \
         and client footprint (see BENCHMARKS.md)."
    );
    Ok(ExitCode::SUCCESS)
}

/// CPU model and core count, from /proc/cpuinfo where there is one.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{model}, {cores} cores")
}
