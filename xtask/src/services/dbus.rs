//! A private D-Bus session bus (`dbus-daemon --session`) listening on a socket in its
//! own temporary directory, so tests never touch the person's own session bus.

use std::process::Stdio;
use std::time::Duration;

use anyhow::bail;

use super::Services;
use crate::service_process::{self, ServiceProcess};
use crate::wait::{self, FirstLine};

const STARTUP: Duration = Duration::from_secs(15);

pub(super) fn start(services: &mut Services) -> anyhow::Result<()> {
    let dir = services.temp_dir("dbus")?;
    let log = dir.join("dbus-daemon.log");
    let socket = dir.join("bus");
    let mut command = service_process::command("dbus-daemon", "dbus", &log)?;
    command
        .args(["--session", "--nofork", "--print-address"])
        .arg(format!("--address=unix:path={}", socket.display()))
        .stdout(Stdio::piped());
    // Services the bus activates (e.g. for a GUI test) write their files in here.
    for (var, sub) in [
        ("XDG_RUNTIME_DIR", "runtime"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
    ] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path)?;
        command.env(var, path);
    }
    let process = services.add(ServiceProcess::spawn("dbus-daemon", command, log)?);
    let stdout = process.take_stdout()?;
    // dbus-daemon prints its address once it is listening.
    let address = match wait::first_line(stdout, STARTUP)? {
        FirstLine::Line(address) if address.starts_with("unix:") => address,
        FirstLine::Line(other) => {
            return Err(process.failure(format!("it printed {other:?} instead of an address")));
        }
        FirstLine::Closed => return Err(process.failure("it ended before printing its address")),
        FirstLine::TimedOut => {
            return Err(process.failure(format!(
                "it printed no address within {} s",
                STARTUP.as_secs()
            )));
        }
    };
    if !socket.exists() {
        bail!(
            "dbus-daemon reported {address} but {} does not exist",
            socket.display()
        );
    }
    services.set_env("DBUS_SESSION_BUS_ADDRESS", address);
    Ok(())
}
