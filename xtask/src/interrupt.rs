//! Ctrl-C (and SIGTERM/SIGHUP) handling, so an interrupted run still stops its services
//! and never leaves the program it was waiting for running on its own.
//!
//! The handler never cleans up by itself: it records the interrupt and passes the signal
//! on to the one foreground child (`cargo test`, `npm test`, `cargo run`, ...); the main
//! thread then sees the child end, unwinds, and the services' drop guards stop them.
//! When we own the terminal, a foreground child shares our process group and has already
//! received the terminal's SIGINT, so it is not sent a second one (a second Ctrl-C means
//! "quit now" to many servers). Without a terminal (CI) each foreground child gets its own
//! process group and the signal is forwarded to that whole group. A third Ctrl-C kills the
//! child and exits at once.

use std::fmt;
use std::io::IsTerminal as _;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp, tcgetpgrp};
use std::os::unix::process::CommandExt as _;

/// How many interrupt signals arrived so far.
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

/// The child we are currently waiting for in the foreground, if any.
static FOREGROUND: Mutex<Option<Foreground>> = Mutex::new(None);

#[derive(Debug, Clone, Copy)]
struct Foreground {
    pid: Pid,
    /// Whether it leads its own process group (no terminal): then we forward signals.
    own_group: bool,
}

/// The error returned when the run was interrupted; `main` maps it to exit status 130.
#[derive(Debug)]
pub(crate) struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once, at start-up).
pub(crate) fn install() -> anyhow::Result<()> {
    ctrlc::set_handler(on_signal).context("could not install the signal handler")
}

fn on_signal() {
    let count = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
    let force = count >= 3;
    if count == 1 {
        eprintln!("\nxtask: interrupted; stopping (interrupt twice more to force)");
    }
    let foreground = *FOREGROUND.lock().unwrap_or_else(PoisonError::into_inner);
    let signal = if force {
        Signal::SIGKILL
    } else {
        Signal::SIGINT
    };
    match foreground {
        Some(fg) if fg.own_group => {
            let _ = killpg(fg.pid, signal);
        }
        Some(fg) if force => {
            let _ = kill(fg.pid, signal);
        }
        // It shares our process group with the terminal, which already signalled it.
        Some(_) | None => {}
    }
    if force {
        // Services are started with a parent-death signal, so they end with us.
        eprintln!("xtask: forced exit");
        std::process::exit(130);
    }
}

/// Whether an interrupt signal has arrived.
pub(crate) fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// `Err(Interrupted)` once an interrupt signal has arrived.
pub(crate) fn check() -> anyhow::Result<()> {
    if interrupted() {
        Err(Interrupted.into())
    } else {
        Ok(())
    }
}

/// Whether we are in the terminal's foreground process group (so the terminal's Ctrl-C
/// reaches every process in our group).
fn owns_terminal() -> bool {
    let stdin = std::io::stdin();
    stdin.is_terminal() && tcgetpgrp(&stdin).is_ok_and(|group| group == getpgrp())
}

/// A child that interrupt signals are passed on to while it runs.
#[derive(Debug)]
pub(crate) struct ForegroundChild {
    child: Child,
    waited: bool,
}

/// Spawns `command` as the foreground child (see the module docs for signals).
pub(crate) fn spawn_foreground(command: &mut Command) -> anyhow::Result<ForegroundChild> {
    check()?;
    let own_group = !owns_terminal();
    if own_group {
        command.process_group(0);
    }
    let child = command.spawn()?;
    let pid = Pid::from_raw(i32::try_from(child.id()).context("process id out of range")?);
    *FOREGROUND.lock().unwrap_or_else(PoisonError::into_inner) =
        Some(Foreground { pid, own_group });
    Ok(ForegroundChild {
        child,
        waited: false,
    })
}

impl ForegroundChild {
    /// The child, e.g. to take its output pipes.
    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the child to end.
    pub(crate) fn wait(mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait();
        self.waited = status.is_ok();
        status
    }
}

impl Drop for ForegroundChild {
    fn drop(&mut self) {
        if !self.waited {
            // Only on an error path: never leave it running or as a zombie.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let mut foreground = FOREGROUND.lock().unwrap_or_else(PoisonError::into_inner);
        if foreground.is_some_and(|fg| fg.pid.as_raw() as u32 == self.child.id()) {
            *foreground = None;
        }
    }
}
