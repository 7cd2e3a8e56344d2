//! `cargo xtask run`: run the most complete runnable part of this checkout (the desktop
//! app, after building its web UI, else the room server), found through
//! `cargo metadata`, with Ctrl-C passed on to it.

use std::process::ExitCode;

use anyhow::Context as _;
use serde::Deserialize;

use crate::desktop::{self, APP_PACKAGE};
use crate::{cmd, system_deps, workspace};

/// The room server's binary target.
const SERVER_BIN: &str = "salon-server";
/// Where the server listens when started from here.
const SERVER_LISTEN: &str = "127.0.0.1:7300";

#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    system_deps::ensure_system_packages()?;
    let metadata = metadata()?;

    let mut command = workspace::cargo();
    if metadata.packages.iter().any(|p| p.name == APP_PACKAGE) {
        desktop::build_ui()?;
        command.args(["run", "-p", APP_PACKAGE, "--"]).args(args);
    } else if let Some(package) = metadata.packages.iter().find(|p| {
        p.targets
            .iter()
            .any(|t| t.name == SERVER_BIN && t.kind.iter().any(|k| k == "bin"))
    }) {
        println!(
            "The desktop app is not built yet; running the room server, the most complete \
             part there is."
        );
        command
            .args(["run", "-p", &package.name, "--bin", SERVER_BIN, "--"])
            .args(["--listen", SERVER_LISTEN])
            .args(args);
    } else {
        eprintln!(
            "xtask run: this checkout has neither the desktop app (package `{APP_PACKAGE}`) \
             nor the room server (binary `{SERVER_BIN}`) yet, so there is nothing to run."
        );
        return Ok(ExitCode::FAILURE);
    }

    eprintln!("xtask run: {}", cmd::describe(&command));
    // Ctrl-C reaches it (see `interrupt`); we wait for it and pass on how it ended.
    let status = cmd::status(&mut command)?;
    Ok(exit_code(status))
}

/// The workspace's packages, from `cargo metadata --no-deps`.
fn metadata() -> anyhow::Result<Metadata> {
    let output = workspace::cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("could not run `cargo metadata`")?;
    if !output.status.success() {
        anyhow::bail!(
            "`cargo metadata` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("could not read `cargo metadata`'s output")
}

/// Our exit code for a child that ended with `status` (128 + signal when killed).
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt as _;
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
