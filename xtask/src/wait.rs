//! Waiting for something with a deadline instead of a fixed sleep: services are ready as
//! soon as they answer, and a service that never answers fails with a clear message.

use std::io::{BufRead as _, BufReader, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::interrupt;

/// How often a probe is retried.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Calls `probe` until it returns `Some`, or `None` once `timeout` has passed.
/// Stops early with an error when the probe fails or the run is interrupted.
pub(crate) fn poll<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<Option<T>> {
    let deadline = Instant::now() + timeout;
    loop {
        interrupt::check()?;
        if let Some(value) = probe()? {
            return Ok(Some(value));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// What came of waiting for a process's first line of output.
#[derive(Debug)]
pub(crate) enum FirstLine {
    Line(String),
    /// The pipe closed first: the process ended (or closed its output).
    Closed,
    TimedOut,
}

/// Waits up to `timeout` for the first line `reader` gives. A thread keeps draining the
/// rest until the writer closes it, so the process never blocks on a full pipe.
pub(crate) fn first_line(
    reader: impl Read + Send + 'static,
    timeout: Duration,
) -> anyhow::Result<FirstLine> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line.trim_end().to_owned()),
            _ => None,
        };
        let got_line = first.is_some();
        let _ = sender.send(first);
        if got_line {
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
    });
    let deadline = Instant::now() + timeout;
    loop {
        interrupt::check()?;
        match receiver.recv_timeout(POLL_INTERVAL) {
            Ok(Some(line)) => return Ok(FirstLine::Line(line)),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(FirstLine::Closed),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                return Ok(FirstLine::TimedOut);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}
