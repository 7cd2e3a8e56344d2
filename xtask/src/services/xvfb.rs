//! A virtual X screen (`Xvfb`) for GUI tests: it picks a free display number itself
//! (`-displayfd`), which also tells us the moment it accepts connections.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use super::Services;
use crate::service_process::{self, ServiceProcess};
use crate::wait::{self, FirstLine};
use crate::workspace;

const STARTUP: Duration = Duration::from_secs(15);

/// The screen size TESTING.md's recipes use.
const SCREEN: &str = "1280x800x24";

pub(super) fn start(services: &mut Services) -> anyhow::Result<()> {
    let dir = services.temp_dir("xvfb")?;
    let log = dir.join("Xvfb.log");
    let mut command = service_process::command("Xvfb", "xvfb", &log)?;
    // `-displayfd 1`: write the display number it chose to stdout once it is ready.
    command
        .args([
            "-displayfd",
            "1",
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            SCREEN,
        ])
        .stdout(Stdio::piped());
    let process = services.add(ServiceProcess::spawn("Xvfb", command, log)?);
    let stdout = process.take_stdout()?;
    let number = match wait::first_line(stdout, STARTUP)? {
        FirstLine::Line(line) if line.trim().parse::<u32>().is_ok() => line.trim().to_owned(),
        FirstLine::Line(other) => {
            return Err(
                process.failure(format!("it printed {other:?} instead of a display number"))
            );
        }
        FirstLine::Closed => return Err(process.failure("it ended before choosing a display")),
        FirstLine::TimedOut => {
            return Err(process.failure(format!(
                "it chose no display within {} s",
                STARTUP.as_secs()
            )));
        }
    };
    let display = format!(":{number}");

    // A real client connection proves the screen works (xdotool is in the package list).
    if workspace::on_path("xdotool") {
        let geometry = wait::poll(STARTUP, || {
            let output = Command::new("xdotool")
                .arg("getdisplaygeometry")
                .env("DISPLAY", &display)
                .stdin(Stdio::null())
                .output()
                .context("could not run xdotool")?;
            Ok(output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
        })?;
        match geometry {
            Some(size) if SCREEN.starts_with(&size.replace(' ', "x")) => {}
            Some(size) => {
                return Err(process.failure(format!(
                    "display {display} is {size}, not the requested {SCREEN}"
                )));
            }
            None => {
                return Err(process.failure(format!(
                    "no X client could connect to display {display} within {} s",
                    STARTUP.as_secs()
                )));
            }
        }
    }
    services.set_env("DISPLAY", display);
    Ok(())
}
