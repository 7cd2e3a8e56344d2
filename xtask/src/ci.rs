//! `cargo xtask ci`: what `.ci/run` runs. The formatting and lint gates, then exactly
//! the `test` path, stopping at the first step that fails.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::{cmd, system_deps, test_run, workspace};

pub(crate) fn ci() -> anyhow::Result<ExitCode> {
    system_deps::ensure_system_packages()?;
    system_deps::ensure_rust_components()?;

    eprintln!("ci: step 1/3: formatting");
    let mut fmt = workspace::cargo();
    fmt.args(["fmt", "--all", "--check"]);
    cmd::run(&mut fmt)
        .context("ci stopped: the code is not formatted; run `cargo fmt --all` and commit")?;

    eprintln!("ci: step 2/3: clippy");
    let mut clippy = workspace::cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    cmd::run(&mut clippy).context("ci stopped: clippy found problems (see above)")?;

    eprintln!("ci: step 3/3: tests");
    test_run::test(&[])
}
