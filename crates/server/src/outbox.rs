//! One connection's outgoing queue, and the backpressure policy of the whole server.
//!
//! Audio must never wait for a slow listener, and control messages must never be lost.
//! So each connection has two queues behind one short lock: control messages, kept in
//! full (a connection that lets thousands pile up is closed), and audio frames, bounded,
//! where the oldest frame is dropped (and counted) to make room for the newest. A
//! listener whose audio queue stays full for seconds is hopelessly behind and is closed
//! with [`close::SLOW_CONSUMER`] so it can reconnect fresh. The fan-out loop only ever
//! pushes and returns; one writer task per connection drains the queues to the socket.
//!
//! Everything queued is a whole WebSocket frame ([`crate::ws`]), encoded once and shared
//! by every connection it goes to. The writer is woken only when its queues go from
//! empty to not empty: while it is busy, frames pile up and leave in its next write.
//! The fan-out counts what it queued and dropped once per frame, not once per listener,
//! so no counter is shared between threads on the per-delivery path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use salon_proto::close;
use tokio::sync::Notify;

use crate::metrics::{Metrics, bump};

/// Control messages one connection may have waiting before it is closed.
const MAX_CONTROL_BACKLOG: usize = 10_000;
/// How long an audio queue may stay overflowing before the connection is closed.
const HOPELESS_AFTER: Duration = Duration::from_secs(5);

/// How the writer ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closing {
    /// Send a close frame with this code and reason.
    Frame(u16, &'static str),
}

/// What the writer takes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Frames were added to the batch (control messages first).
    Frames,
    /// Nothing is left to send: close the connection.
    Close(Closing),
}

/// What one audio push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// Queued after dropping the oldest frame.
    QueuedDroppingOldest,
    /// Not queued: the connection is closing.
    Refused,
}

#[derive(Debug, Default)]
struct Queues {
    control: VecDeque<Bytes>,
    audio: VecDeque<Bytes>,
    overflowing_since: Option<Instant>,
    close: Option<Closing>,
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.control.is_empty() && self.audio.is_empty()
    }
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

    /// Queues a control message (a whole frame). Never drops it; closes the connection
    /// instead when the backlog is absurd.
    pub(crate) fn push_text(&self, frame: Bytes) {
        let mut queues = self.lock();
        if queues.close.is_some() {
            return;
        }
        let was_empty = queues.is_empty();
        if queues.control.len() >= MAX_CONTROL_BACKLOG {
            queues.close = Some(Closing::Frame(
                close::SLOW_CONSUMER,
                "too far behind on control messages",
            ));
            bump(&self.metrics.slow_disconnects);
        } else {
            queues.control.push_back(frame);
        }
        let closing = queues.close.is_some();
        drop(queues);
        if was_empty || closing {
            self.notify.notify_one();
        }
    }

    /// Queues an audio frame (a whole frame), dropping the oldest when full. The caller
    /// counts what it answers into the metrics.
    pub(crate) fn push_audio(&self, frame: &Bytes, now: Instant) -> Pushed {
        let mut queues = self.lock();
        if queues.close.is_some() {
            return Pushed::Refused;
        }
        let was_empty = queues.is_empty();
        let mut pushed = Pushed::Queued;
        if queues.audio.len() >= self.audio_capacity {
            queues.audio.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            pushed = Pushed::QueuedDroppingOldest;
            let since = *queues.overflowing_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= HOPELESS_AFTER {
                queues.close = Some(Closing::Frame(
                    close::SLOW_CONSUMER,
                    "could not keep up with the room's audio",
                ));
                queues.audio.clear();
                bump(&self.metrics.slow_disconnects);
                drop(queues);
                self.notify.notify_one();
                return Pushed::Refused;
            }
        }
        queues.audio.push_back(frame.clone());
        drop(queues);
        if was_empty {
            self.notify.notify_one();
        }
        pushed
    }

    /// Asks the writer to close the connection after what is queued.
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        let mut queues = self.lock();
        if queues.close.is_none() {
            queues.close = Some(Closing::Frame(code, reason));
        }
        drop(queues);
        self.notify.notify_one();
    }

    /// Waits for and takes everything queued: control first, then audio. Answers the
    /// close request last, once the queues are empty.
    pub(crate) async fn next_batch(&self, batch: &mut Vec<Bytes>) -> Next {
        loop {
            {
                let mut queues = self.lock();
                batch.extend(queues.control.drain(..));
                batch.extend(queues.audio.drain(..));
                queues.overflowing_since = None;
                if !batch.is_empty() {
                    return Next::Frames;
                }
                if let Some(close) = queues.close {
                    return Next::Close(close);
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
        let mut answers = Vec::new();
        for n in 0..5u8 {
            answers.push(outbox.push_audio(&Bytes::from(vec![b'a', n]), now));
            outbox.push_text(Bytes::from(vec![b'c', n]));
        }
        assert_eq!(answers[..2], [Pushed::Queued, Pushed::Queued]);
        assert!(
            answers[2..]
                .iter()
                .all(|a| *a == Pushed::QueuedDroppingOldest)
        );
        let mut batch = Vec::new();
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Frames);
        let texts: Vec<u8> = batch
            .iter()
            .filter(|b| b[0] == b'c')
            .map(|b| b[1])
            .collect();
        let audio: Vec<u8> = batch
            .iter()
            .filter(|b| b[0] == b'a')
            .map(|b| b[1])
            .collect();
        assert_eq!(texts, [0, 1, 2, 3, 4]);
        assert_eq!(audio, [3, 4]);
        assert_eq!(outbox.dropped.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_listener_that_stays_behind_is_closed() {
        let outbox = outbox(1);
        let start = Instant::now();
        outbox.push_audio(&Bytes::from_static(b"a"), start);
        outbox.push_audio(&Bytes::from_static(b"b"), start);
        let last = outbox.push_audio(&Bytes::from_static(b"c"), start + HOPELESS_AFTER);
        assert_eq!(last, Pushed::Refused);
        let mut batch = Vec::new();
        let closed = outbox.next_batch(&mut batch).await;
        assert_eq!(
            closed,
            Next::Close(Closing::Frame(
                close::SLOW_CONSUMER,
                "could not keep up with the room's audio"
            ))
        );
        assert!(batch.is_empty());
    }

    #[tokio::test]
    async fn the_writer_is_woken_once_per_busy_spell_and_misses_nothing() {
        let outbox = Arc::new(outbox(100));
        let now = Instant::now();
        let mut batch = Vec::new();
        outbox.push_audio(&Bytes::from_static(b"1"), now);
        outbox.push_audio(&Bytes::from_static(b"2"), now);
        assert_eq!(outbox.next_batch(&mut batch).await, Next::Frames);
        assert_eq!(batch.len(), 2);
        batch.clear();
        // Pushed from another task while the writer waits: it is woken and gets both.
        let pusher = {
            let outbox = Arc::clone(&outbox);
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                outbox.push_audio(&Bytes::from_static(b"3"), now);
                outbox.push_text(Bytes::from_static(b"4"));
            })
        };
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while batch.len() < 2 {
                let next = outbox.next_batch(&mut batch).await;
                assert_eq!(next, Next::Frames);
            }
        })
        .await;
        assert!(waited.is_ok(), "the writer was not woken");
        assert!(pusher.await.is_ok());
        batch.sort();
        assert_eq!(batch, [Bytes::from_static(b"3"), Bytes::from_static(b"4")]);
        outbox.close(1000, "goodbye");
        batch.clear();
        assert_eq!(
            outbox.push_audio(&Bytes::from_static(b"5"), now),
            Pushed::Refused,
            "nothing is queued once closing"
        );
        assert_eq!(
            outbox.next_batch(&mut batch).await,
            Next::Close(Closing::Frame(1000, "goodbye"))
        );
    }
}
