//! Counters exported at `/metrics` in the Prometheus text format.
//!
//! Plain atomics: the audio path bumps them per frame, so they must cost no lock. The
//! text is written by hand because the format is four lines per metric; parsing is
//! someone else's job.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use salon_proto::ErrorCode;

/// Every counter the server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// Audio frames received from speakers and accepted.
    pub audio_in: AtomicU64,
    /// Audio frames queued to listeners.
    pub audio_out: AtomicU64,
    /// Audio frames dropped because a listener was too slow.
    pub audio_dropped_slow: AtomicU64,
    /// Audio frames refused (not an unmuted speaker, malformed, over the rate).
    pub audio_rejected: AtomicU64,
    /// MLS messages stored in mailboxes (one per receiving device).
    pub mls_stored: AtomicU64,
    /// MLS messages pushed or fetched.
    pub mls_delivered: AtomicU64,
    /// Connections closed because they could not keep up.
    pub slow_disconnects: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a refused request by its error code.
    pub fn reject(&self, code: ErrorCode) {
        let mut rejected = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        *rejected.entry(code.as_str()).or_default() += 1;
    }

    /// How many requests were refused with `code`.
    pub fn rejected(&self, code: ErrorCode) -> u64 {
        let rejected = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        rejected.get(code.as_str()).copied().unwrap_or(0)
    }

    /// The Prometheus text, with the live room gauges passed in.
    pub fn render(&self, rooms: usize, members: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        metric(
            "salon_connections",
            "gauge",
            "Open WebSocket connections.",
            get(&self.connections),
        );
        metric("salon_rooms", "gauge", "Live rooms.", rooms as u64);
        metric(
            "salon_room_members",
            "gauge",
            "Members across all rooms.",
            members as u64,
        );
        metric(
            "salon_audio_frames_in_total",
            "counter",
            "Audio frames accepted from speakers.",
            get(&self.audio_in),
        );
        metric(
            "salon_audio_frames_out_total",
            "counter",
            "Audio frames queued to listeners.",
            get(&self.audio_out),
        );
        metric(
            "salon_audio_frames_dropped_total",
            "counter",
            "Audio frames dropped for slow listeners.",
            get(&self.audio_dropped_slow),
        );
        metric(
            "salon_audio_frames_rejected_total",
            "counter",
            "Audio frames refused (not an unmuted speaker, malformed, flood).",
            get(&self.audio_rejected),
        );
        metric(
            "salon_slow_disconnects_total",
            "counter",
            "Connections closed for falling hopelessly behind.",
            get(&self.slow_disconnects),
        );
        metric(
            "salon_mls_messages_stored_total",
            "counter",
            "MLS messages stored, one per receiving device.",
            get(&self.mls_stored),
        );
        metric(
            "salon_mls_messages_delivered_total",
            "counter",
            "MLS messages pushed or fetched.",
            get(&self.mls_delivered),
        );
        let _ = writeln!(
            out,
            "# HELP salon_requests_rejected_total Requests answered with an error, by code.\n# TYPE salon_requests_rejected_total counter"
        );
        let rejected = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        for (code, count) in rejected.iter() {
            let _ = writeln!(
                out,
                "salon_requests_rejected_total{{reason=\"{code}\"}} {count}"
            );
        }
        out
    }
}
