//! The desktop app's build steps: the web UI (`npm run build` in `ui/`, whose output
//! `ui/dist` the app embeds), the app and the CLI binaries the end-to-end test drives,
//! and `tauri-driver` and tauri-cli (installed with cargo when missing), so `cargo xtask
//! run` and the `e2e` and `tauri` suites work on a fresh clone.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::{cmd, suites, workspace};

/// The desktop app's package and binary.
pub(crate) const APP_PACKAGE: &str = "salon-app";
pub(crate) const APP_BIN: &str = "salon";
/// The CLI's package and binary (the end-to-end test's bots).
pub(crate) const CLI_PACKAGE: &str = "salon-cli";
pub(crate) const CLI_BIN: &str = "salon-cli";

/// Builds the web UI into `ui/dist` when `ui/` has a `package.json` with a `build`
/// script (installing its packages first); otherwise the app shows the placeholder its
/// build script writes.
pub(crate) fn build_ui() -> anyhow::Result<()> {
    let dir = workspace::root().join("ui");
    let manifest = dir.join("package.json");
    if !manifest.is_file() {
        eprintln!("ui: no package.json yet; the app shows a placeholder page");
        return Ok(());
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("could not read {}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", manifest.display()))?;
    if json.pointer("/scripts/build").is_none() {
        eprintln!("ui: package.json has no build script; the app shows a placeholder page");
        return Ok(());
    }
    if !dir.join("node_modules").is_dir() {
        suites::install_npm_packages(&dir)?;
    }
    let mut build = Command::new("npm");
    build.args(["run", "build"]).current_dir(&dir);
    cmd::run(&mut build).context("could not build the web UI")
}

/// The directory cargo builds into.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace::root().join(dir),
        None => workspace::root().join("target"),
    }
}

/// What the end-to-end test needs, built: `(app, cli)` binaries.
pub(crate) fn build_binaries() -> anyhow::Result<(PathBuf, PathBuf)> {
    build_ui()?;
    let mut build = workspace::cargo();
    build.args(["build", "-p", APP_PACKAGE, "-p", CLI_PACKAGE]);
    cmd::run(&mut build)?;
    let debug = target_dir().join("debug");
    Ok((debug.join(APP_BIN), debug.join(CLI_BIN)))
}

/// `tauri-driver`, installed with `cargo install` (2.x, about 90 s) when missing.
pub(crate) fn ensure_tauri_driver() -> anyhow::Result<PathBuf> {
    ensure_cargo_tool("tauri-driver", "tauri-driver", "^2")
}

/// tauri-cli (`cargo tauri`), installed with `cargo install` when missing: the same minor
/// version as the `tauri` crate. Building it takes 10–15 minutes on two idle cores.
pub(crate) fn ensure_tauri_cli() -> anyhow::Result<PathBuf> {
    ensure_cargo_tool("cargo-tauri", "tauri-cli", "~2.12")
}

/// The program `binary` from cargo's bin directory or PATH, or else installed there from
/// crate `krate` at `version` (with its lockfile).
fn ensure_cargo_tool(binary: &str, krate: &str, version: &str) -> anyhow::Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("bin").join(binary));
    if let Some(path) = cargo_bin.as_ref().filter(|p| p.is_file()) {
        return Ok(path.clone());
    }
    if workspace::on_path(binary) {
        return Ok(PathBuf::from(binary));
    }
    eprintln!("{binary}: installing {krate} {version} with cargo");
    let mut install = workspace::cargo();
    install.args(["install", krate, "--version", version, "--locked"]);
    cmd::run(&mut install).with_context(|| format!("could not install {krate}"))?;
    cargo_bin.filter(|p| p.is_file()).with_context(|| {
        format!("{krate} was installed but {binary} is not in cargo's bin directory")
    })
}
