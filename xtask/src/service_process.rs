//! One background service process owned by xtask (Xvfb, PulseAudio, ...): started in its
//! own process group with its output in a log file, and stopped by its process id
//! (its stop signal, SIGTERM unless [`Launch`] says otherwise, then SIGKILL to its whole
//! process group after a deadline) when dropped, so no path leaves it running.

use std::fs::File;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, User};
use std::os::unix::process::CommandExt as _;

use crate::{wait, workspace};

/// How long a service gets to end after its stop signal before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Session variables a service must not inherit from the person's own desktop session.
const SESSION_VARS: &[&str] = &[
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "PULSE_SERVER",
    "PULSE_COOKIE",
    "GNOME_KEYRING_CONTROL",
];

/// How a service is run: as which user, and which signal asks it to stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Launch<'a> {
    /// Another system user to run it as (xtask must then be root); `None`: as ourselves.
    pub(crate) user: Option<&'a User>,
    /// The signal that asks it to stop, from [`ServiceProcess::stop`] and from the kernel
    /// should xtask die without cleaning up.
    pub(crate) stop_signal: Signal,
}

impl Default for Launch<'_> {
    fn default() -> Self {
        Self {
            user: None,
            stop_signal: Signal::SIGTERM,
        }
    }
}

/// A service's command, and the signal that asks it to stop. It derefs to the
/// [`Command`] for adding arguments and variables.
#[derive(Debug)]
pub(crate) struct ServiceCommand {
    command: Command,
    stop_signal: Signal,
}

impl Deref for ServiceCommand {
    type Target = Command;

    fn deref(&self) -> &Command {
        &self.command
    }
}

impl DerefMut for ServiceCommand {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.command
    }
}

/// [`command_with`] with the default [`Launch`]: as ourselves, stopped with SIGTERM.
pub(crate) fn command(program: &str, package: &str, log: &Path) -> anyhow::Result<ServiceCommand> {
    command_with(program, package, log, Launch::default())
}

/// A command for service `program` (from Debian package `package`), writing stdout and
/// stderr to `log`, with no stdin, its own process group and none of the caller's session
/// variables, run as `launch.user` if given. When `setpriv` can, the kernel also sends it
/// `launch.stop_signal` should xtask die without cleaning up (e.g. SIGKILL).
pub(crate) fn command_with(
    program: &str,
    package: &str,
    log: &Path,
    launch: Launch<'_>,
) -> anyhow::Result<ServiceCommand> {
    if !workspace::on_path(program) {
        bail!("`{program}` is not installed (Debian package `{package}`)");
    }
    let mut command = if parent_death_signal_works() {
        let signal = launch.stop_signal.as_str();
        let mut command = Command::new("setpriv");
        command.args([
            "--pdeathsig",
            signal.strip_prefix("SIG").unwrap_or(signal),
            "--",
            program,
        ]);
        command
    } else {
        Command::new(program)
    };
    if let Some(user) = launch.user {
        // The child switches user before it runs setpriv (dropping root's supplementary
        // groups too), so the parent-death signal set by setpriv survives: the kernel
        // clears it when a process's credentials change.
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let log_file =
        File::create(log).with_context(|| format!("could not create {}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0);
    for var in SESSION_VARS {
        command.env_remove(var);
    }
    Ok(ServiceCommand {
        command,
        stop_signal: launch.stop_signal,
    })
}

/// Runs a one-off setup step (e.g. `initdb`), made by [`command`] or [`command_with`]
/// with its output going to `log`, to its end and returns that output. An error with the
/// end of the log if it fails or takes longer than `timeout` (then it is stopped, as it
/// is when the run is interrupted meanwhile).
pub(crate) fn run_step(
    name: &'static str,
    command: ServiceCommand,
    log: PathBuf,
    timeout: Duration,
) -> anyhow::Result<String> {
    let mut process = ServiceProcess::spawn(name, command, log)?;
    let status = wait::poll(timeout, || Ok(process.exit_status()))?;
    match status {
        Some(status) if status.success() => {
            process.stopped = true;
            Ok(std::fs::read_to_string(&process.log).unwrap_or_default())
        }
        Some(_) => Err(process.failure("it failed")),
        None => Err(process.failure(format!("it did not finish within {} s", timeout.as_secs()))),
    }
}

/// Whether `setpriv --pdeathsig` exists here (util-linux 2.33 or later).
fn parent_death_signal_works() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        Command::new("setpriv")
            .args(["--pdeathsig", "TERM", "--", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// A running service; stopped when dropped.
#[derive(Debug)]
pub(crate) struct ServiceProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
    stop_signal: Signal,
    stopped: bool,
}

impl ServiceProcess {
    /// Starts `command` (made by [`command`] or [`command_with`], writing to `log`) as
    /// service `name`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: ServiceCommand,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        let child = command
            .command
            .spawn()
            .with_context(|| format!("could not start {name}"))?;
        Ok(Self {
            name,
            child,
            log,
            stop_signal: command.stop_signal,
            stopped: false,
        })
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout, when the command was given `Stdio::piped()` for it.
    pub(crate) fn take_stdout(&mut self) -> anyhow::Result<ChildStdout> {
        self.child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("{}'s output is not piped", self.name))
    }

    /// Its stdin, when the command was given `Stdio::piped()` for it.
    pub(crate) fn take_stdin(&mut self) -> anyhow::Result<ChildStdin> {
        self.child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("{}'s input is not piped", self.name))
    }

    /// How it ended, if it has.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// An error saying what went wrong, whether the process still runs, and the end of
    /// its log (which is deleted with its temporary directory).
    pub(crate) fn failure(&mut self, what: impl std::fmt::Display) -> anyhow::Error {
        let state = match self.exit_status() {
            Some(status) => format!("{} ended ({status})", self.name),
            None => format!("{} is still running (pid {})", self.name, self.pid()),
        };
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n    ");
        if tail.trim().is_empty() {
            anyhow!("{what}; {state}; its log is empty")
        } else {
            anyhow!("{what}; {state}; the end of its log:\n    {tail}")
        }
    }

    /// Stops it: its stop signal, then SIGKILL to its process group (it and whatever it
    /// started that is still in there) if it has not ended within [`STOP_GRACE`].
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pid = self.pid();
        if let Some(status) = self.exit_status() {
            eprintln!(
                "services: {} (pid {pid}) had already ended: {status}",
                self.name
            );
            return;
        }
        let target = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        let _ = kill(target, self.stop_signal);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                eprintln!("services: stopped {} (pid {pid})", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // It leads its own process group (see `command_with`).
        let _ = killpg(target, Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!(
            "services: killed {} (pid {pid}) and its process group: it ignored {} for {} s",
            self.name,
            self.stop_signal,
            STOP_GRACE.as_secs()
        );
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
