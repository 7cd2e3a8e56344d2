//! The table of test suites and how each kind is run and counted. A later issue adds its
//! suite with one line in [`SUITES`].

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

use crate::counts::{self, Counts};
use crate::services::Services;
use crate::stream::{self, Captured};
use crate::{cmd, desktop, interrupt, tauri_suite, workspace};

/// How a suite is run.
#[derive(Debug)]
pub(crate) enum Runner {
    /// `cargo test --workspace --no-fail-fast`: unit, integration and doc tests.
    Cargo,
    /// `npm test` in this directory (relative to the root), after `npm ci`; skipped while
    /// the directory has no `package.json` with a `test` script.
    Npm { dir: &'static str },
    /// Like `Npm`, after building the web UI, the desktop app and the CLI and installing
    /// tauri-driver; the test gets their paths in `SALON_APP_BIN`, `SALON_CLI_BIN` and
    /// `TAURI_DRIVER`.
    Desktop { dir: &'static str },
    /// The desktop app built the three ways its top-level `tauri.conf.json` must serve:
    /// `cargo build`, `cargo tauri build`, `cargo tauri dev` (see `tauri_suite`).
    Tauri,
}

/// One suite: every suite runs with the services' environment.
#[derive(Debug)]
pub(crate) struct Suite {
    pub(crate) name: &'static str,
    pub(crate) runner: Runner,
}

/// Every suite, in the order they run.
pub(crate) const SUITES: &[Suite] = &[
    Suite {
        name: "rust",
        runner: Runner::Cargo,
    },
    Suite {
        name: "ui",
        runner: Runner::Npm { dir: "ui" },
    },
    Suite {
        name: "e2e",
        runner: Runner::Desktop { dir: "tests/e2e" },
    },
    Suite {
        name: "tauri",
        runner: Runner::Tauri,
    },
];

/// What came of running a suite.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Nothing to run yet, and why.
    Skipped(String),
    /// It ran: its counts, and why it failed beyond them (which counts as one failure).
    Ran {
        counts: Counts,
        problem: Option<String>,
    },
}

impl Suite {
    pub(crate) fn run(&self, services: &Services) -> Outcome {
        let result = match self.runner {
            Runner::Cargo => run_cargo(services),
            Runner::Npm { dir } => run_npm(&workspace::root().join(dir), services, &[]),
            Runner::Desktop { dir } => run_desktop(&workspace::root().join(dir), services),
            Runner::Tauri => tauri_suite::run(services),
        };
        result.unwrap_or_else(|err| Outcome::Ran {
            counts: Counts::default(),
            problem: Some(format!("it could not run: {err:#}")),
        })
    }
}

fn run_cargo(services: &Services) -> anyhow::Result<Outcome> {
    let mut command = workspace::cargo();
    command.args(["test", "--workspace", "--no-fail-fast"]);
    if std::io::stderr().is_terminal() {
        command.arg("--color=always");
    }
    services.apply(&mut command);
    let output = stream::run_teed(&mut command)?;
    let counts: Counts = output
        .stdout
        .iter()
        .filter_map(|l| counts::libtest(l))
        .sum();
    let problem = (!output.status.success() && counts.failed == 0).then(|| {
        let stderr: Vec<String> = output
            .stderr
            .iter()
            .map(|l| counts::strip_ansi(l))
            .collect();
        let reason = if stderr.iter().any(|l| l.contains("could not compile")) {
            "the build failed (see the compiler errors above)".to_owned()
        } else if let Some(line) = stderr
            .iter()
            .find(|l| l.contains("process didn't exit successfully"))
        {
            format!("a test binary ended abnormally: {}", line.trim())
        } else {
            "no test reported a failure".to_owned()
        };
        format!("`cargo test` exited with {} but {reason}", output.status)
    });
    Ok(Outcome::Ran { counts, problem })
}

/// Why the npm suite in `dir` has nothing to run, if so.
fn npm_skip_reason(dir: &Path) -> anyhow::Result<Option<String>> {
    let manifest = dir.join("package.json");
    if !manifest.is_file() {
        return Ok(Some("no tests yet".to_owned()));
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("could not read {}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", manifest.display()))?;
    if json
        .pointer("/scripts/test")
        .and_then(|t| t.as_str())
        .is_none()
    {
        return Ok(Some(
            "no tests yet (package.json has no test script)".to_owned(),
        ));
    }
    Ok(None)
}

fn run_desktop(dir: &Path, services: &Services) -> anyhow::Result<Outcome> {
    if let Some(reason) = npm_skip_reason(dir)? {
        return Ok(Outcome::Skipped(reason));
    }
    let tauri_driver = desktop::ensure_tauri_driver()?;
    let (app, cli) = desktop::build_binaries()?;
    let env = [
        ("SALON_APP_BIN", app.into_os_string()),
        ("SALON_CLI_BIN", cli.into_os_string()),
        ("TAURI_DRIVER", tauri_driver.into_os_string()),
    ];
    run_npm(dir, services, &env)
}

fn run_npm(
    dir: &Path,
    services: &Services,
    env: &[(&str, std::ffi::OsString)],
) -> anyhow::Result<Outcome> {
    if let Some(reason) = npm_skip_reason(dir)? {
        return Ok(Outcome::Skipped(reason));
    }

    install_npm_packages(dir)?;

    let mut test = Command::new("npm");
    test.arg("test")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0");
    services.apply(&mut test);
    test.envs(env.iter().map(|(k, v)| (k, v)));
    let output = stream::run_teed(&mut test)?;
    Ok(count_npm(&output))
}

/// `npm ci` when there is a lockfile, else `npm install`.
///
/// npm 11 (seen with 11.19 here) can write a lockfile that its own `npm ci` rejects
/// ("Missing: @rollup/rollup-android-arm-eabi@ from lock file": other platforms' optional
/// packages are left out), so a failed `npm ci` is retried once as `npm install`.
pub(crate) fn install_npm_packages(dir: &Path) -> anyhow::Result<()> {
    let npm = |subcommand: &str| {
        let mut command = Command::new("npm");
        command
            .args([subcommand, "--no-audit", "--no-fund"])
            .current_dir(dir);
        command
    };
    let has_lockfile = ["package-lock.json", "npm-shrinkwrap.json"]
        .iter()
        .any(|lock| dir.join(lock).is_file());
    if !has_lockfile {
        return cmd::run(&mut npm("install"));
    }
    if let Err(err) = cmd::run(&mut npm("ci")) {
        interrupt::check()?;
        eprintln!(
            "{}: {err:#}; retrying with `npm install` (npm can write lockfiles its own \
             `npm ci` rejects)",
            dir.display()
        );
        cmd::run(&mut npm("install"))?;
    }
    Ok(())
}

fn count_npm(output: &Captured) -> Outcome {
    let counts: Counts = output
        .stdout
        .iter()
        .chain(&output.stderr)
        .filter_map(|line| counts::vitest(line).or_else(|| counts::node_test(line)))
        .sum();
    let problem = (!output.status.success() && counts.failed == 0).then(|| {
        format!(
            "`npm test` exited with {} but no test reported a failure",
            output.status
        )
    });
    Outcome::Ran { counts, problem }
}
