//! A PulseAudio server with a null sink `salon_sink` at 48 kHz as the default sink and
//! its monitor as the default source: real, real-time audio devices for cpal (through
//! ALSA's pulse plugin) on a machine without a sound card, where what is played comes
//! back on the monitor.
//!
//! It runs with a private `XDG_RUNTIME_DIR` (its socket is `pulse/native` in there) and
//! its own config directory, accepts clients without a cookie, and counts as started
//! once `pactl info` answers and reports the defaults above.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::Services;
use crate::service_process::{self, ServiceProcess};
use crate::wait;

const STARTUP: Duration = Duration::from_secs(15);

/// The sink tests play into; `salon_sink.monitor` records what was played.
const SINK: &str = "salon_sink";

/// Streams default to the sink's rate, so nothing is resampled behind a test's back.
const DAEMON_CONF: &str = "\
default-sample-rate = 48000
alternate-sample-rate = 48000
high-priority = no
realtime-scheduling = no
";

pub(super) fn start(services: &mut Services) -> anyhow::Result<()> {
    let dir = services.temp_dir("pulse")?;
    let runtime = dir.join("runtime");
    let config = dir.join("config");
    std::fs::create_dir_all(runtime.join("pulse"))?;
    std::fs::create_dir_all(config.join("pulse"))?;
    std::fs::write(config.join("pulse/daemon.conf"), DAEMON_CONF)?;
    let socket = runtime.join("pulse/native");
    let log = dir.join("pulseaudio.log");

    let mut command = service_process::command("pulseaudio", "pulseaudio", &log)?;
    command
        .args([
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--log-target=stderr",
            "-n", // no default script: only the modules below
        ])
        .arg(format!(
            "--load=module-native-protocol-unix auth-anonymous=1 socket={}",
            socket.display()
        ))
        .arg(format!(
            "--load=module-null-sink sink_name={SINK} rate=48000"
        ))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", &config);
    if let Some(bus) = services.env_var("DBUS_SESSION_BUS_ADDRESS") {
        command.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }

    let client_env: Vec<(&'static str, OsString)> = vec![
        ("XDG_RUNTIME_DIR", runtime.clone().into()),
        ("PULSE_SERVER", format!("unix:{}", socket.display()).into()),
        ("PULSE_COOKIE", config.join("pulse/cookie").into()),
    ];
    let pactl = |args: &[&str]| -> anyhow::Result<Output> {
        Command::new("pactl")
            .args(args)
            .envs(client_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .context("could not run pactl (Debian package `pulseaudio-utils`)")
    };

    let process = services.add(ServiceProcess::spawn("pulseaudio", command, log)?);
    let answered = wait::poll(STARTUP, || {
        if process.exit_status().is_some() {
            return Ok(Some(false));
        }
        Ok(pactl(&["info"])?.status.success().then_some(true))
    })?;
    if answered != Some(true) {
        return Err(process.failure(format!(
            "`pactl info` got no answer within {} s",
            STARTUP.as_secs()
        )));
    }
    let monitor = format!("{SINK}.monitor");
    for args in [
        ["set-default-sink", SINK],
        ["set-default-source", monitor.as_str()],
    ] {
        let output = pactl(&args)?;
        if !output.status.success() {
            return Err(process.failure(format!(
                "`pactl {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
    }
    let info = String::from_utf8_lossy(&pactl(&["info"])?.stdout).into_owned();
    check_defaults(&info, &monitor, &socket)?;

    for (key, value) in client_env {
        services.set_env(key, value);
    }
    Ok(())
}

/// Checks `pactl info`'s report of the default sink and source.
fn check_defaults(info: &str, monitor: &str, socket: &Path) -> anyhow::Result<()> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
            .to_owned()
    };
    let (sink, source) = (field("Default Sink:"), field("Default Source:"));
    if sink != SINK || source != monitor {
        bail!(
            "the server at {} reports default sink {sink:?} and source {source:?}, \
             not {SINK:?} and {monitor:?}",
            socket.display()
        );
    }
    Ok(())
}
