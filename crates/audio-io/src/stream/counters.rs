//! What the callbacks report, in atomics only: a callback must never lock, allocate or
//! log, so trouble is counted here and read by the watcher thread and the handles.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};

use cpal::ErrorKind;

/// Counters of one [`Capture`](super::Capture) or [`Playback`](super::Playback): they
/// outlive device switches, so the numbers cover the whole session.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    overruns: AtomicU64,
    dropped: AtomicU64,
    underruns: AtomicU64,
    xruns: AtomicU64,
    primed: AtomicBool,
}

impl Counters {
    /// Capture: a callback found the ring too full for `dropped` samples.
    pub(crate) fn overrun(&self, dropped: usize) {
        self.overruns.fetch_add(1, Relaxed);
        self.dropped.fetch_add(dropped as u64, Relaxed);
    }

    /// Playback: a callback found the ring short and played silence. Not counted before
    /// the first write, when silence is all there is to play.
    pub(crate) fn underrun(&self) {
        if self.primed.load(Relaxed) {
            self.underruns.fetch_add(1, Relaxed);
        }
    }

    /// Playback: the user has written samples.
    pub(crate) fn prime(&self) {
        self.primed.store(true, Relaxed);
    }

    /// The backend reported one of its own over- or underruns.
    pub(crate) fn xrun(&self) {
        self.xruns.fetch_add(1, Relaxed);
    }

    pub(crate) fn overruns(&self) -> u64 {
        self.overruns.load(Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    pub(crate) fn underruns(&self) -> u64 {
        self.underruns.load(Relaxed)
    }

    pub(crate) fn xruns(&self) -> u64 {
        self.xruns.load(Relaxed)
    }
}

/// The health of one cpal stream. Each reopened stream gets a fresh one, so a dead
/// stream's late error cannot mark its replacement dead.
#[derive(Debug, Default)]
pub(crate) struct StreamHealth {
    callbacks: AtomicU64,
    failure: AtomicU8,
}

/// The failure codes stored in [`StreamHealth::failure`]; 0 is "none".
const FAILURES: &[&str] = &[
    "",
    "the device is gone",
    "the stream was invalidated",
    "the device is busy",
    "the audio server went away",
    "permission was denied",
    "the audio backend failed",
];

impl StreamHealth {
    /// One callback ran: the stream is alive.
    pub(crate) fn beat(&self) {
        self.callbacks.fetch_add(1, Relaxed);
    }

    pub(crate) fn callbacks(&self) -> u64 {
        self.callbacks.load(Relaxed)
    }

    /// Why the stream failed, if it did.
    pub(crate) fn failure(&self) -> Option<&'static str> {
        match self.failure.load(Relaxed) {
            0 => None,
            code => FAILURES.get(usize::from(code)).copied(),
        }
    }

    fn fail(&self, kind: ErrorKind) {
        let code = match kind {
            ErrorKind::DeviceNotAvailable => 1,
            ErrorKind::StreamInvalidated => 2,
            ErrorKind::DeviceBusy => 3,
            ErrorKind::HostUnavailable => 4,
            ErrorKind::PermissionDenied => 5,
            _ => 6,
        };
        self.failure.store(code, Relaxed);
    }
}

/// The body of every stream's error callback: count or flag, nothing else.
pub(crate) fn on_stream_error(counters: &Counters, health: &StreamHealth, error: &cpal::Error) {
    match error.kind() {
        ErrorKind::Xrun => counters.xrun(),
        // Still streaming: rerouted by the backend, or merely not real-time.
        ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => {}
        kind => health.fail(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underruns_count_only_after_the_first_write() {
        let counters = Counters::default();
        counters.underrun();
        assert_eq!(counters.underruns(), 0);
        counters.prime();
        counters.underrun();
        assert_eq!(counters.underruns(), 1);
    }

    #[test]
    fn errors_sort_into_xruns_and_failures() {
        let (counters, health) = (Counters::default(), StreamHealth::default());
        on_stream_error(&counters, &health, &cpal::Error::new(ErrorKind::Xrun));
        on_stream_error(
            &counters,
            &health,
            &cpal::Error::new(ErrorKind::DeviceChanged),
        );
        assert_eq!((counters.xruns(), health.failure()), (1, None));
        on_stream_error(
            &counters,
            &health,
            &cpal::Error::new(ErrorKind::DeviceNotAvailable),
        );
        assert_eq!(health.failure(), Some("the device is gone"));
    }
}
