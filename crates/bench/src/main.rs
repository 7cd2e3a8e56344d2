//! `salon-bench`: Salon's end-to-end benchmarks against a real `salon-server` process.
//!
//! Each subcommand prints a human summary and, with `--json`, one JSON object on the
//! last line (with the machine and the date), so `cargo xtask bench` and BENCHMARKS.md
//! can quote the same numbers. A benchmark reports what it measured; it never fails
//! because the machine is slow, only when it cannot run.

mod dm;
mod dm_load;
mod fanout;
mod histogram;
mod latency;
mod machine;
mod pulse;
mod server;
mod session;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

/// Salon's end-to-end benchmarks.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Print one JSON object with the results on the last line.
    #[arg(long, global = true)]
    json: bool,
    /// The `salon-server` binary [default: $SALON_BENCH_SERVER, else next to salon-bench].
    #[arg(long, global = true)]
    server: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fan-out capacity: S speakers, N listener connections in one room.
    Fanout {
        /// Listener connections; several (comma-separated, ascending) grow the room step
        /// by step on one server and report the knee (largest N with p99 ≤ 50 ms).
        #[arg(long, value_delimiter = ',', default_value = "5000")]
        listeners: Vec<usize>,
        /// Speakers sending 20 ms frames.
        #[arg(long, default_value_t = 1)]
        speakers: usize,
        /// Measured seconds per step.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Unmeasured seconds of sending before each measurement.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Measure every listener count even after one misses the knee's bounds.
        #[arg(long)]
        all_steps: bool,
    },
    /// Mouth-to-ear latency: a speaker client, a listener client, a real server.
    Latency {
        /// Frame length in milliseconds: 20 (default) or 10 (low-latency mode).
        #[arg(long, default_value_t = 20)]
        frame_ms: u32,
        /// Seconds of speech measured (after 2 s of settling).
        #[arg(long, default_value_t = 45.0)]
        seconds: f64,
        /// Which devices carry the audio.
        #[arg(long, value_enum, default_value_t = latency::Devices::Virtual)]
        devices: latency::Devices,
        /// The speech to send: a 48 kHz mono WAV file, looped.
        #[arg(long, default_value_os_t = default_signal())]
        signal: PathBuf,
    },
    /// Private messages: MLS conversation setup time and send → receive delay, then the
    /// messages per second one server sustains.
    Dm {
        /// Messages measured (one every 250 ms).
        #[arg(long, default_value_t = 100)]
        messages: u64,
        /// Sender counts (comma-separated, ascending) for the load steps; each sender
        /// writes to its own recipient. `0`: no load steps.
        #[arg(long, value_delimiter = ',', default_value = "50,100,200,400,800")]
        senders: Vec<usize>,
        /// Messages per second each sender sends (under the per-connection limit).
        #[arg(long, default_value_t = 15.0)]
        rate: f64,
        /// Measured seconds per load step.
        #[arg(long, default_value_t = 10.0)]
        load_seconds: f64,
        /// Bytes of each message in the load steps.
        #[arg(long, default_value_t = 300)]
        payload: usize,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("salon-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let server = args.server.clone().unwrap_or_else(server::default_binary);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.command {
        Command::Fanout {
            listeners,
            speakers,
            seconds,
            warmup,
            all_steps,
        } => {
            let config = fanout::FanoutConfig {
                listeners,
                speakers,
                seconds,
                warmup,
                server,
                stop_at_knee: !all_steps,
            };
            let report = runtime.block_on(fanout::run(&config))?;
            match report.knee_listeners {
                Some(n) => println!(
                    "fanout: knee (p99 ≤ 50 ms, ≥ 99 % delivered) at {n} listeners of those measured"
                ),
                None => println!("fanout: no measured listener count held p99 ≤ 50 ms"),
            }
            if args.json {
                let last = report.steps.last().cloned();
                emit_json("fanout", &(last, &report))?;
            }
        }
        Command::Latency {
            frame_ms,
            seconds,
            devices,
            signal,
        } => {
            let frame = match frame_ms {
                10 => salon_voice::frame::FrameDuration::Ms10,
                20 => salon_voice::frame::FrameDuration::Ms20,
                other => anyhow::bail!("--frame-ms is 10 or 20, not {other}"),
            };
            let config = latency::LatencyConfig {
                frame,
                seconds,
                devices,
                server,
                signal,
            };
            let report = runtime.block_on(latency::run(&config))?;
            latency::print(&report);
            if args.json {
                emit_json("latency", &report)?;
            }
        }
        Command::Dm {
            messages,
            senders,
            rate,
            load_seconds,
            payload,
        } => {
            let report = runtime.block_on(dm::run(&server, messages))?;
            dm::print(&report);
            let senders: Vec<usize> = senders.into_iter().filter(|&n| n > 0).collect();
            let load = if senders.is_empty() {
                None
            } else {
                let config = dm_load::LoadConfig {
                    senders,
                    rate,
                    seconds: load_seconds,
                    payload,
                };
                let load = runtime.block_on(dm_load::run(&server, &config))?;
                dm_load::print(&load);
                Some(load)
            };
            if args.json {
                emit_json("dm", &(report, load))?;
            }
        }
    }
    Ok(())
}

/// The speech fixture of the voice engine's tests, in this source tree.
fn default_signal() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../voice/tests/fixtures/speech-48k-mono.wav")
}

/// Prints `{"bench": NAME, "machine": …, "date": …, <fields of value>}` on one line.
fn emit_json(bench: &str, value: &impl Serialize) -> anyhow::Result<()> {
    let mut object = serde_json::Map::new();
    object.insert("bench".into(), bench.into());
    object.insert(
        "machine".into(),
        serde_json::to_value(machine::Machine::here())?,
    );
    flatten_into(&mut object, serde_json::to_value(value)?);
    println!("{}", serde_json::Value::Object(object));
    Ok(())
}

/// Merges objects (and the objects of a tuple) into `into`, later fields winning.
fn flatten_into(into: &mut serde_json::Map<String, serde_json::Value>, value: serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => into.extend(map),
        serde_json::Value::Array(items) => items.into_iter().for_each(|v| flatten_into(into, v)),
        _ => {}
    }
}
