//! Running a test command with its output streamed live to the terminal while it is
//! also kept line by line, so its summary lines can be counted afterwards.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cmd;
use crate::interrupt;

/// How a command ended and what it printed.
#[derive(Debug)]
pub(crate) struct Captured {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: Vec<String>,
}

/// Runs `command` in the foreground (no stdin), copying its stdout and stderr to ours as
/// they come and keeping both as lines.
pub(crate) fn run_teed(command: &mut Command) -> anyhow::Result<Captured> {
    run_captured(command, true)
}

/// Like [`run_teed`], but its stdout (e.g. cargo's JSON messages) is only kept, not shown.
pub(crate) fn run_quiet(command: &mut Command) -> anyhow::Result<Captured> {
    run_captured(command, false)
}

fn run_captured(command: &mut Command, show_stdout: bool) -> anyhow::Result<Captured> {
    let described = cmd::describe(command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = interrupt::spawn_foreground(command)
        .with_context(|| format!("could not start `{described}`"))?;
    let stdout = child
        .child_mut()
        .stdout
        .take()
        .context("stdout not piped")?;
    let stderr = child
        .child_mut()
        .stderr
        .take()
        .context("stderr not piped")?;
    let stdout_lines = Lines::default();
    let stderr_lines = Lines::default();
    let stdout_copy: Box<dyn Write + Send> = if show_stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::sink())
    };
    let readers = [
        spawn_tee(stdout, stdout_copy, &stdout_lines),
        spawn_tee(stderr, std::io::stderr(), &stderr_lines),
    ];
    let status = child
        .wait()
        .with_context(|| format!("could not wait for `{described}`"))?;
    // A process it started and left running may still hold the pipes open: wait a
    // little for the rest of the output, then go on with what arrived.
    let deadline = Instant::now() + OUTPUT_GRACE;
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if readers.iter().any(|r| !r.is_finished()) {
        eprintln!(
            "xtask: `{described}` ended but something it started still holds its output open"
        );
    }
    Ok(Captured {
        status,
        stdout: stdout_lines.take(),
        stderr: stderr_lines.take(),
    })
}

/// How long to wait for output after the command itself ended.
const OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// Lines collected by a reader thread.
#[derive(Debug, Default, Clone)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn spawn_tee(
    from: impl Read + Send + 'static,
    to: impl Write + Send + 'static,
    lines: &Lines,
) -> JoinHandle<()> {
    let lines = lines.clone();
    std::thread::spawn(move || tee(from, to, &lines))
}

/// Copies `from` to `to` chunk by chunk (partial lines show at once) and keeps it split
/// into lines.
fn tee(mut from: impl Read, mut to: impl Write, lines: &Lines) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buffer[..n];
        let _ = to.write_all(chunk);
        let _ = to.flush();
        pending.extend_from_slice(chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push(to_line(&line));
        }
    }
    if !pending.is_empty() {
        lines.push(to_line(&pending));
    }
}

fn to_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{Lines, tee};

    #[test]
    fn copies_everything_and_splits_lines() {
        let input = b"running 1 test\r\ntest a ... ok\n\ntest result: ok.".as_slice();
        let mut copy = Vec::new();
        let lines = Lines::default();
        tee(input, &mut copy, &lines);
        assert_eq!(copy, input);
        assert_eq!(
            lines.take(),
            ["running 1 test", "test a ... ok", "", "test result: ok."]
        );
    }
}
