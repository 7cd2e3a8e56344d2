//! The services tests need on a machine with no screen, no sound card and no desktop
//! session: a virtual X screen, a PulseAudio server with a null sink, a private D-Bus
//! session bus with an unlocked, throwaway keyring, and a throwaway PostgreSQL server.
//!
//! Each service gets its own fresh temporary directory and is started, verified and
//! stopped here. Their variables (`DISPLAY`, `XDG_RUNTIME_DIR`, `PULSE_SERVER`,
//! `SALON_TEST_POSTGRES_URL`, ...) are given only to the test processes
//! ([`Services::apply`]), never to xtask's own environment. Dropping [`Services`] stops
//! every service (newest first) and then deletes the directories, also when a step fails
//! or the run is interrupted.

mod dbus;
mod keyring;
mod postgres;
mod pulse;
mod xvfb;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;
use tempfile::TempDir;

use crate::service_process::ServiceProcess;

/// Started services, the variables that point test processes at them, and their
/// temporary directories.
#[derive(Debug, Default)]
pub(crate) struct Services {
    processes: Vec<ServiceProcess>,
    env: Vec<(&'static str, OsString)>,
    dirs: Vec<TempDir>,
}

impl Services {
    /// Starts and verifies every service; on error, those already started are stopped.
    pub(crate) fn start() -> anyhow::Result<Self> {
        let mut services = Self::default();
        // The bus first: PulseAudio and the keyring connect to it (PulseAudio would
        // otherwise try to launch a bus of its own).
        dbus::start(&mut services).context("could not start the D-Bus session bus")?;
        keyring::start(&mut services).context("could not start the keyring (gnome-keyring)")?;
        xvfb::start(&mut services).context("could not start the virtual screen (Xvfb)")?;
        pulse::start(&mut services).context("could not start the sound server (PulseAudio)")?;
        postgres::start(&mut services).context("could not start the database (PostgreSQL)")?;
        Ok(services)
    }

    /// Gives `command` the services' variables (and hides a Wayland session, so GUI
    /// tests use the virtual screen).
    pub(crate) fn apply(&self, command: &mut Command) {
        command.env_remove("WAYLAND_DISPLAY");
        for (key, value) in &self.env {
            command.env(key, value);
        }
    }

    /// One line per service, for the log.
    pub(crate) fn describe(&self) -> String {
        let processes: Vec<String> = self
            .processes
            .iter()
            .map(|p| format!("{} (pid {})", p.name(), p.pid()))
            .collect();
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(key, value)| format!("{key}={}", value.to_string_lossy()))
            .collect();
        format!(
            "services: running {}\nservices: test environment {}",
            processes.join(", "),
            env.join(" ")
        )
    }

    /// A fresh temporary directory, deleted after the services stop.
    fn temp_dir(&mut self, service: &str) -> anyhow::Result<PathBuf> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("salon-{service}-"))
            .tempdir()
            .with_context(|| format!("could not create a temporary directory for {service}"))?;
        let path = dir.path().to_path_buf();
        self.dirs.push(dir);
        Ok(path)
    }

    /// Keeps `process` so it is stopped with the others, and hands it back.
    fn add(&mut self, process: ServiceProcess) -> &mut ServiceProcess {
        self.processes.push(process);
        let last = self.processes.len() - 1;
        &mut self.processes[last]
    }

    /// Sets a variable for the test processes (and for services started later).
    fn set_env(&mut self, key: &'static str, value: impl Into<OsString>) {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
    }

    /// A variable set by a service started earlier.
    fn env_var(&self, key: &str) -> Option<&OsStr> {
        self.env
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_os_str())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        // Newest first: nothing loses a service it depends on while still running.
        while let Some(mut process) = self.processes.pop() {
            process.stop();
        }
        // `dirs` are deleted after this, when the fields drop.
    }
}
