//! `cargo xtask bench [--quick]`: runs every benchmark and prints the machine they ran
//! on, so a figure copied into BENCHMARKS.md always comes with its command and machine.
//!
//! First the voice engine's criterion micro-benchmarks (encode, decode, jitter buffer,
//! capture processing, mixing); then `salon-bench`, built in release with
//! `salon-server`, for the end-to-end figures: fan-out capacity (one speaker and ten,
//! and the knee), mouth-to-ear latency on virtual and on real PulseAudio devices, and
//! private messages. Last the desktop app's footprint: `tests/e2e/footprint.mjs` drives
//! the release app (built with the web UI embedded) under the virtual screen through
//! tauri-driver into a room with three speaking salon-cli bots, and reports its CPU,
//! memory and cold start. The test services (Xvfb, PulseAudio, the keyring) run
//! meanwhile. `--quick` runs everything smaller and shorter (under five minutes once
//! built).
//!
//! Benchmarks never fail because the machine is slow; only a benchmark that cannot run
//! is an error. Each run's JSON line is kept in `target/bench/results.jsonl`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context as _;

use crate::services::Services;
use crate::{cmd, desktop, interrupt, suites, system_deps, workspace};

/// The packages with criterion benchmarks.
const BENCHED_PACKAGES: &[&str] = &["salon-voice", "salon-e2ee"];

/// One `salon-bench` run: a name and its arguments.
struct Run {
    name: &'static str,
    /// Arguments, separated by spaces.
    args: &'static str,
}

const FULL: &[Run] = &[
    Run {
        name: "fan-out, 1 speaker, 5,000 listeners",
        args: "fanout --speakers 1 --listeners 5000 --seconds 20",
    },
    Run {
        name: "fan-out, 10 speakers, 5,000 listeners",
        args: "fanout --speakers 10 --listeners 5000 --seconds 20",
    },
    Run {
        name: "fan-out knee, 1 speaker",
        args: "fanout --speakers 1 --listeners 500,1000,2000,3000,5000,7500 --seconds 15",
    },
    Run {
        name: "fan-out knee, 10 speakers",
        args: "fanout --speakers 10 --listeners 250,500,1000,2000,3000,5000 --seconds 15",
    },
    Run {
        name: "latency, 20 ms frames, virtual devices",
        args: "latency --frame-ms 20 --devices virtual --seconds 45",
    },
    Run {
        name: "latency, 10 ms frames, virtual devices",
        args: "latency --frame-ms 10 --devices virtual --seconds 45",
    },
    Run {
        name: "latency, 20 ms frames, PulseAudio devices",
        args: "latency --frame-ms 20 --devices pulse --seconds 45",
    },
    Run {
        name: "latency, 10 ms frames, PulseAudio devices",
        args: "latency --frame-ms 10 --devices pulse --seconds 45",
    },
    Run {
        name: "direct messages",
        args: "dm",
    },
];

const QUICK: &[Run] = &[
    Run {
        name: "fan-out, 1 speaker, 1,000 listeners",
        args: "fanout --speakers 1 --listeners 1000 --seconds 5 --warmup 1",
    },
    Run {
        name: "fan-out, 10 speakers, 500 listeners",
        args: "fanout --speakers 10 --listeners 500 --seconds 5 --warmup 1",
    },
    Run {
        name: "latency, 20 ms frames, virtual devices",
        args: "latency --frame-ms 20 --devices virtual --seconds 10",
    },
    Run {
        name: "latency, 10 ms frames, virtual devices",
        args: "latency --frame-ms 10 --devices virtual --seconds 10",
    },
    Run {
        name: "latency, 20 ms frames, PulseAudio devices",
        args: "latency --frame-ms 20 --devices pulse --seconds 10",
    },
    Run {
        name: "direct messages",
        args: "dm --messages 40 --senders 50,100 --load-seconds 5",
    },
];

/// The footprint script's directory (the end-to-end test's package) and seconds in the
/// room, full and quick.
const FOOTPRINT_DIR: &str = "tests/e2e";
const FOOTPRINT_SECONDS: (&str, &str) = ("60", "15");

pub(crate) fn bench(quick: bool) -> anyhow::Result<ExitCode> {
    system_deps::ensure_system_packages()?;
    println!("machine: {}", machine());
    let (warm_up, measure) = if quick { ("0.5", "1") } else { ("1", "3") };
    for package in BENCHED_PACKAGES {
        let mut command = workspace::cargo();
        command
            // The bench targets only (`--benches` would take a library's unit tests
            // too, and they do not know criterion's options).
            .args(["bench", "--package", package, "--bench", "*", "--"])
            // Short runs: enough for stable medians of microsecond-scale work.
            .args(["--warm-up-time", warm_up, "--measurement-time", measure]);
        cmd::run(&mut command)?;
    }

    // The app embeds ui/dist, so the UI is built first.
    desktop::build_ui()?;
    let mut build = workspace::cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "salon-server",
        "-p",
        "salon-bench",
        "-p",
        desktop::APP_PACKAGE,
        "-p",
        desktop::CLI_PACKAGE,
    ]);
    cmd::run(&mut build)?;
    let tauri_driver = desktop::ensure_tauri_driver()?;
    let footprint_dir = workspace::root().join(FOOTPRINT_DIR);
    suites::install_npm_packages(&footprint_dir)?;
    let release = target_dir()?.join("release");
    let results_path = target_dir()?.join("bench/results.jsonl");
    std::fs::create_dir_all(results_path.parent().unwrap_or(Path::new(".")))?;
    let mut results = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .with_context(|| format!("cannot open {}", results_path.display()))?;

    let services = Services::start()?;
    println!("{}", services.describe());
    for run in if quick { QUICK } else { FULL } {
        println!("\nbench: {}: salon-bench {} --json", run.name, run.args);
        let mut command = Command::new(release.join("salon-bench"));
        command
            .args(run.args.split_whitespace())
            .arg("--json")
            .env("SALON_BENCH_SERVER", release.join("salon-server"))
            .current_dir(workspace::root())
            .stdout(Stdio::piped());
        services.apply(&mut command);
        run_for_json(&mut command, run.name, &mut results)?;
    }

    let seconds = if quick {
        FOOTPRINT_SECONDS.1
    } else {
        FOOTPRINT_SECONDS.0
    };
    let name = "client footprint, 3 speakers";
    println!("\nbench: {name}: node footprint.mjs --seconds {seconds} --json");
    let mut command = Command::new("node");
    command
        .args(["footprint.mjs", "--seconds", seconds, "--json"])
        .env("SALON_APP_BIN", release.join(desktop::APP_BIN))
        .env("SALON_CLI_BIN", release.join(desktop::CLI_BIN))
        .env("SALON_SERVER_BIN", release.join("salon-server"))
        .env("TAURI_DRIVER", &tauri_driver)
        .current_dir(&footprint_dir)
        .stdout(Stdio::piped());
    services.apply(&mut command);
    run_for_json(&mut command, name, &mut results)?;

    drop(services);
    println!("\nbench: results appended to {}", results_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs a benchmark whose last stdout line is its JSON object: shows its progress as it
/// comes and appends the JSON line to `results`.
fn run_for_json(
    command: &mut Command,
    name: &str,
    results: &mut std::fs::File,
) -> anyhow::Result<()> {
    let mut child = interrupt::spawn_foreground(command)
        .with_context(|| format!("cannot start the benchmark {name}"))?;
    let stdout = child.child_mut().stdout.take().context("no stdout pipe")?;
    let mut json = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line?;
        if line.starts_with('{') {
            json = Some(line);
        } else {
            println!("{line}");
        }
    }
    let status = child.wait()?;
    interrupt::check()?;
    match json {
        Some(json) if status.success() => Ok(writeln!(results, "{json}")?),
        _ => anyhow::bail!("could not run the benchmark {name} ({status})"),
    }
}

/// Cargo's target directory for this workspace (honours `CARGO_TARGET_DIR`).
fn target_dir() -> anyhow::Result<PathBuf> {
    let output = workspace::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    anyhow::ensure!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
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
