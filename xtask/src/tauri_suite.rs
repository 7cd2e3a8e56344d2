//! The `tauri` suite: proof that the top-level `tauri.conf.json` is the one every way of
//! building the desktop app finds — a plain `cargo build` at the top level, `cargo tauri
//! build` and `cargo tauri dev` (tauri-cli, installed with cargo when missing). Each way
//! is one check, counted like a test; a failed check says what it saw.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::counts::Counts;
use crate::service_process::{self, Launch, ServiceProcess};
use crate::services::Services;
use crate::suites::Outcome;
use crate::{cmd, desktop, interrupt, stream, wait, workspace};

/// The address `build.devUrl` names; `cargo tauri dev` must open the window on it.
const DEV_URL: &str = "http://localhost:5173/";
/// How long `cargo tauri dev` may take to open its window: on a fresh machine it first
/// compiles Tauri without the embedded-assets feature.
const DEV_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// How long the dev app must keep running once its window is open.
const DEV_SETTLE: Duration = Duration::from_secs(3);

type Check = fn(&Path, &Services) -> anyhow::Result<()>;

const CHECKS: &[(&str, Check)] = &[
    (
        "cargo build at the top level builds the app with the top-level config",
        cargo_build,
    ),
    (
        "cargo tauri build finds the config and builds the app",
        tauri_build,
    ),
    (
        "cargo tauri dev opens the window on the config's dev server",
        tauri_dev,
    ),
];

pub(crate) fn run(services: &Services) -> anyhow::Result<Outcome> {
    let cargo_tauri = desktop::ensure_tauri_cli()?;
    let mut counts = Counts::default();
    for (name, check) in CHECKS {
        interrupt::check()?;
        eprintln!("tauri: {name}");
        match check(&cargo_tauri, services) {
            Ok(()) => {
                println!("tauri: ok     {name}");
                counts.passed += 1;
            }
            Err(err) => {
                interrupt::check()?;
                println!("tauri: FAILED {name}: {err:#}");
                counts.failed += 1;
            }
        }
    }
    Ok(Outcome::Ran {
        counts,
        problem: None,
    })
}

/// The top-level configuration file.
fn config_path() -> PathBuf {
    workspace::root().join("tauri.conf.json")
}

/// `cargo build` with no package named: the root package is the app, and its build script
/// read the top-level `tauri.conf.json` (tauri-build names every config file it read in a
/// `rerun-if-changed` line of the build script's output).
fn cargo_build(_: &Path, _: &Services) -> anyhow::Result<()> {
    desktop::build_ui()?;
    let mut build = workspace::cargo();
    build.args(["build", "--message-format=json-render-diagnostics"]);
    let output = stream::run_quiet(&mut build)?;
    ensure!(
        output.status.success(),
        "`cargo build` failed ({})",
        output.status
    );
    let root_manifest = workspace::root().join("Cargo.toml");
    let messages: Vec<serde_json::Value> = output
        .stdout
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    // The app: the binary built from the top-level manifest.
    let app = messages.iter().find(|message| {
        message["reason"] == "compiler-artifact"
            && message["manifest_path"]
                .as_str()
                .is_some_and(|path| Path::new(path) == root_manifest)
            && message["target"]["name"] == desktop::APP_BIN
            && message["executable"].is_string()
    });
    let app = app.with_context(|| {
        format!(
            "no `{}` binary came from {}",
            desktop::APP_BIN,
            root_manifest.display()
        )
    })?;
    // Its build script's output directory sits beside the file holding what it printed.
    let build_output = messages
        .iter()
        .find(|message| {
            message["reason"] == "build-script-executed"
                && message["package_id"] == app["package_id"]
        })
        .and_then(|message| message["out_dir"].as_str())
        .and_then(|dir| Path::new(dir).parent())
        .map(|dir| dir.join("output"));
    let build_output = build_output.context("the app's build script did not report")?;
    let text = std::fs::read_to_string(&build_output)
        .with_context(|| format!("could not read {}", build_output.display()))?;
    let expected = format!("cargo:rerun-if-changed={}", config_path().display());
    ensure!(
        text.lines().any(|line| line == expected),
        "the app's build script did not read {} (no `{expected}` in {})",
        config_path().display(),
        build_output.display()
    );
    Ok(())
}

/// `cargo tauri build --debug --no-bundle`: runs the config's `beforeBuildCommand` and
/// builds the app it names (bundling would fetch tools from the network).
fn tauri_build(cargo_tauri: &Path, _: &Services) -> anyhow::Result<()> {
    let mut build = std::process::Command::new(cargo_tauri);
    build
        .args(["tauri", "build", "--debug", "--no-bundle", "--ci"])
        .current_dir(workspace::root());
    let output = stream::run_quiet(&mut build)?;
    ensure!(
        output.status.success(),
        "`cargo tauri build` failed ({}): {}",
        output.status,
        output.stderr.join("\n")
    );
    let built = output
        .stdout
        .iter()
        .chain(&output.stderr)
        .find_map(|line| line.split_once("Built application at:"))
        .map(|(_, path)| PathBuf::from(path.trim()))
        .context("`cargo tauri build` did not say where it built the app")?;
    ensure!(
        built.file_name() == Some(desktop::APP_BIN.as_ref()) && built.is_file(),
        "`cargo tauri build` reported {} (expected an existing `{}` binary)",
        built.display(),
        desktop::APP_BIN
    );
    Ok(())
}

/// `cargo tauri dev --no-watch` under the test services: it starts the config's
/// `beforeDevCommand` (the UI's dev server), builds the app without the embedded UI and
/// runs it; the app logs the address its window shows, which must be the `devUrl`.
fn tauri_dev(cargo_tauri: &Path, services: &Services) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir().context("could not create a temporary directory")?;
    let log = scratch.path().join("tauri-dev.log");
    let program = cargo_tauri.to_string_lossy();
    let launch = Launch {
        user: None,
        // What Ctrl-C sends: tauri-cli then stops the dev server and the app itself.
        stop_signal: Signal::SIGINT,
    };
    let mut command = service_process::command_with(&program, "tauri-cli", &log, launch)?;
    command
        .args(["tauri", "dev", "--no-watch"])
        .current_dir(workspace::root());
    services.apply(&mut command);
    command
        .env("SALON_DATA_DIR", scratch.path().join("data"))
        .env("XDG_CONFIG_HOME", scratch.path().join("config"))
        .env("RUST_LOG", "info");
    let mut dev = ServiceProcess::spawn("cargo tauri dev", command, log.clone())?;
    let result = wait_for_window(&mut dev, &log);
    let group = Pid::from_raw(i32::try_from(dev.pid()).unwrap_or(i32::MAX));
    dev.stop();
    // Whatever it started in its process group and left behind (the dev server).
    let _ = killpg(group, Signal::SIGKILL);
    // It left `target/debug/salon` built to load the dev server; put the usual build
    // (the UI embedded) back there, as someone starting that binary expects.
    let mut restore = workspace::cargo();
    restore.args(["build", "--quiet", "-p", desktop::APP_PACKAGE]);
    let restored = cmd::run(&mut restore).context("could not rebuild the usual debug app");
    result.and(restored)
}

fn wait_for_window(dev: &mut ServiceProcess, log: &Path) -> anyhow::Result<()> {
    let window_line = |text: &str| {
        text.lines()
            .find(|line| line.contains("main window shows"))
            .map(str::to_owned)
    };
    let seen = wait::poll(DEV_TIMEOUT, || {
        if let Some(status) = dev.exit_status() {
            bail!("it ended ({status}) before the window opened");
        }
        Ok(window_line(
            &std::fs::read_to_string(log).unwrap_or_default(),
        ))
    });
    let line = match seen {
        Ok(Some(line)) => line,
        Ok(None) => {
            return Err(dev.failure(format!(
                "the window did not open within {} s",
                DEV_TIMEOUT.as_secs()
            )));
        }
        Err(err) => return Err(dev.failure(format!("{err:#}"))),
    };
    ensure!(
        line.trim_end().ends_with(DEV_URL),
        "the window shows something else than the dev server {DEV_URL}: {line}"
    );
    std::thread::sleep(DEV_SETTLE);
    if let Some(status) = dev.exit_status() {
        return Err(dev.failure(format!("the app ended ({status}) right after opening")));
    }
    Ok(())
}
