//! Ending processes that tests or services leave behind, so a run leaves nothing
//! running (and no zombies: on some machines PID 1 does not reap orphans).
//!
//! xtask makes itself a "child subreaper": a process whose parent dies is re-parented to
//! xtask instead of PID 1 (e.g. a daemon that a test or the bus started and forgot).
//! After the suites ran and the services stopped, xtask has no children of its own left,
//! so any child it still has is such an orphan: it gets SIGTERM, then SIGKILL.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid};

/// How long an orphan gets to end after SIGTERM.
const GRACE: Duration = Duration::from_secs(3);

/// Makes orphaned descendants our children from now on (Linux only; a warning elsewhere).
pub(crate) fn adopt_orphans() {
    if let Err(err) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("xtask: warning: cannot adopt orphaned processes ({err}); leftovers may remain");
    }
}

/// Ends every child xtask still has (see the module docs). Call only when xtask has no
/// child of its own running.
pub(crate) fn end_orphans() {
    // Ending one may orphan its own children, which then become ours: a few rounds.
    for _ in 0..5 {
        let orphans = children();
        if orphans.is_empty() {
            return;
        }
        // Those that already ended only need reaping; the others are named.
        let running: Vec<String> = orphans
            .iter()
            .filter(|orphan| orphan.state != 'Z')
            .map(|orphan| format!("{} (pid {})", orphan.name, orphan.pid))
            .collect();
        if !running.is_empty() {
            eprintln!(
                "xtask: ending processes left behind: {}",
                running.join(", ")
            );
        }
        for orphan in &orphans {
            let _ = kill(orphan.pid, Signal::SIGTERM);
        }
        let deadline = Instant::now() + GRACE;
        let mut left: Vec<Pid> = orphans.into_iter().map(|orphan| orphan.pid).collect();
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|pid| {
                matches!(
                    waitpid(*pid, Some(WaitPidFlag::WNOHANG)),
                    Ok(WaitStatus::StillAlive)
                )
            });
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in left {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

/// A child process, as /proc describes it.
#[derive(Debug)]
struct Process {
    pid: Pid,
    name: String,
    /// `Z` for one that ended and waits to be reaped.
    state: char,
}

/// Our current children, read from /proc.
fn children() -> Vec<Process> {
    let me = getpid().as_raw();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (ppid, name, state) = parse_stat(&stat)?;
            (ppid == me).then(|| Process {
                pid: Pid::from_raw(pid),
                name,
                state,
            })
        })
        .collect()
}

/// The parent pid, command name and state from a `/proc/PID/stat` line:
/// `PID (NAME) STATE PPID ...`, where NAME may itself contain spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(i32, String, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, name, state))
}

#[cfg(test)]
mod tests {
    use super::parse_stat;

    #[test]
    fn parses_parent_and_name_even_with_odd_names() {
        assert_eq!(
            parse_stat("4242 (dbus-daemon) S 17 4242 4242 0 -1"),
            Some((17, "dbus-daemon".to_owned(), 'S'))
        );
        assert_eq!(
            parse_stat("7 (a) b (c) Z 1 7 7 0"),
            Some((1, "a) b (c".to_owned(), 'Z'))
        );
        assert_eq!(parse_stat("garbage"), None);
    }
}
