//! `cargo xtask bench`: a placeholder until the benchmark issue measures the product's
//! numbers; it lives alone here so that work replaces this one file.

use std::process::ExitCode;

pub(crate) fn bench() -> anyhow::Result<ExitCode> {
    println!(
        "bench: no benchmark is measured yet. Planned: mouth-to-ear latency, fan-out \
         capacity, DM delivery delay and client footprint (see BENCHMARKS.md)."
    );
    Ok(ExitCode::SUCCESS)
}
