//! One connection's outgoing queue, and the backpressure policy of the whole server.
//!
//! Audio must never wait for a slow listener, and control messages must never be lost.
//! So each connection has two queues behind one short lock: control messages, kept in
//! full (a connection that lets thousands pile up is closed), and audio frames, bounded,
//! where the oldest frame is dropped (and counted) to make room for the newest. A
//! listener whose audio queue stays full for seconds is hopelessly behind and is closed
//! with [`close::SLOW_CONSUMER`] so it can reconnect fresh. The fan-out loop only ever
//! pushes and returns; one writer task per connection drains the queues to the socket.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use salon_proto::close;
use tokio::sync::Notify;

use crate::metrics::{Metrics, bump};

/// Control messages one connection may have waiting before it is closed.
const MAX_CONTROL_BACKLOG: usize = 10_000;
/// How long an audio queue may stay overflowing before the connection is closed.
const HOPELESS_AFTER: Duration = Duration::from_secs(5);

/// Something to write to the socket.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// A JSON control message (shared between recipients).
    Text(Utf8Bytes),
    /// An audio frame (shared between recipients).
    Audio(Bytes),
}

#[derive(Debug, Default)]
struct Queues {
    control: VecDeque<Utf8Bytes>,
    audio: VecDeque<Bytes>,
    overflowing_since: Option<Instant>,
    close: Option<(u16, &'static str)>,
}

/// The outgoing side of one connection.
#[derive(Debug)]
pub(crate) struct Outbox {
    queues: Mutex<Queues>,
    notify: Notify,
    audio_capacity: usize,
    /// Audio frames this connection lost to backpressure.
    pub(crate) dropped: AtomicU64,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// An empty outbox holding at most `audio_capacity` audio frames.
    pub(crate) fn new(audio_capacity: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            queues: Mutex::default(),
            notify: Notify::new(),
            audio_capacity: audio_capacity.max(1),
            dropped: AtomicU64::new(0),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a control message. Never drops it; closes the connection instead when the
    /// backlog is absurd.
    pub(crate) fn push_text(&self, text: Utf8Bytes) {
        let mut queues = self.lock();
        if queues.close.is_some() {
            return;
        }
        if queues.control.len() >= MAX_CONTROL_BACKLOG {
            queues.close = Some((close::SLOW_CONSUMER, "too far behind on control messages"));
            bump(&self.metrics.slow_disconnects);
        } else {
            queues.control.push_back(text);
        }
        drop(queues);
        self.notify.notify_one();
    }

    /// Queues an audio frame, dropping the oldest when full.
    pub(crate) fn push_audio(&self, frame: Bytes, now: Instant) {
        let mut queues = self.lock();
        if queues.close.is_some() {
            return;
        }
        if queues.audio.len() >= self.audio_capacity {
            queues.audio.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            bump(&self.metrics.audio_dropped_slow);
            let since = *queues.overflowing_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= HOPELESS_AFTER {
                queues.close = Some((
                    close::SLOW_CONSUMER,
                    "could not keep up with the room's audio",
                ));
                queues.audio.clear();
                bump(&self.metrics.slow_disconnects);
            }
        }
        if queues.close.is_none() {
            queues.audio.push_back(frame);
            bump(&self.metrics.audio_out);
        }
        drop(queues);
        self.notify.notify_one();
    }

    /// Asks the writer to close the connection after what is queued.
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        let mut queues = self.lock();
        if queues.close.is_none() {
            queues.close = Some((code, reason));
        }
        drop(queues);
        self.notify.notify_one();
    }

    /// Waits for and takes everything queued: control first, then audio. Returns the
    /// close request last, once the queues are empty.
    pub(crate) async fn next_batch(
        &self,
        batch: &mut Vec<Outgoing>,
    ) -> Option<(u16, &'static str)> {
        loop {
            {
                let mut queues = self.lock();
                batch.extend(queues.control.drain(..).map(Outgoing::Text));
                batch.extend(queues.audio.drain(..).map(Outgoing::Audio));
                queues.overflowing_since = None;
                if !batch.is_empty() {
                    return None;
                }
                if let Some(close) = queues.close {
                    return Some(close);
                }
            }
            self.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(capacity: usize) -> Outbox {
        Outbox::new(capacity, Arc::new(Metrics::default()))
    }

    #[tokio::test]
    async fn oldest_audio_is_dropped_and_control_is_kept() {
        let outbox = outbox(2);
        let now = Instant::now();
        for n in 0..5u8 {
            outbox.push_audio(Bytes::from(vec![n]), now);
            outbox.push_text(Utf8Bytes::from(format!("c{n}")));
        }
        let mut batch = Vec::new();
        assert!(outbox.next_batch(&mut batch).await.is_none());
        let texts: Vec<String> = batch
            .iter()
            .filter_map(|o| match o {
                Outgoing::Text(t) => Some(t.to_string()),
                Outgoing::Audio(_) => None,
            })
            .collect();
        let audio: Vec<u8> = batch
            .iter()
            .filter_map(|o| match o {
                Outgoing::Audio(a) => Some(a[0]),
                Outgoing::Text(_) => None,
            })
            .collect();
        assert_eq!(texts, ["c0", "c1", "c2", "c3", "c4"]);
        assert_eq!(audio, [3, 4]);
        assert_eq!(outbox.dropped.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_listener_that_stays_behind_is_closed() {
        let outbox = outbox(1);
        let start = Instant::now();
        outbox.push_audio(Bytes::from_static(b"a"), start);
        outbox.push_audio(Bytes::from_static(b"b"), start);
        outbox.push_audio(Bytes::from_static(b"c"), start + HOPELESS_AFTER);
        let mut batch = Vec::new();
        let closed = outbox.next_batch(&mut batch).await;
        assert_eq!(closed.map(|c| c.0), Some(close::SLOW_CONSUMER));
        assert!(batch.is_empty());
    }
}
