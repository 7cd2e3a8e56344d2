//! The audio hooks: where the audio session hands encoded frames to the socket and
//! takes received frames from it.
//!
//! Both directions go through a bounded queue that drops the *oldest* frame when full
//! ([`DropOldest`]): late audio is worth less than fresh audio, and a stalled socket or
//! a stalled consumer must never block the other side. Outgoing audio waits behind
//! control messages in the socket writer (control first), and never the other way round.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use salon_proto::frame::FrameHeader;
use tokio::sync::Notify;

/// A bounded single-consumer queue that makes room by dropping its oldest item.
#[derive(Debug)]
pub(crate) struct DropOldest<T> {
    inner: Mutex<Slots<T>>,
    ready: Notify,
}

#[derive(Debug)]
struct Slots<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
    closed: bool,
}

impl<T> DropOldest<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Slots {
                items: VecDeque::with_capacity(capacity.max(1)),
                capacity: capacity.max(1),
                dropped: 0,
                closed: false,
            }),
            ready: Notify::new(),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an item, dropping the oldest when full. False when the queue is closed.
    pub(crate) fn push(&self, item: T) -> bool {
        {
            let mut slots = self.slots();
            if slots.closed {
                return false;
            }
            if slots.items.len() >= slots.capacity {
                slots.items.pop_front();
                slots.dropped += 1;
            }
            slots.items.push_back(item);
        }
        self.ready.notify_one();
        true
    }

    /// The oldest item, without waiting.
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.slots().items.pop_front()
    }

    /// The oldest item, waiting for one; `None` once closed and empty.
    pub(crate) async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut slots = self.slots();
                if let Some(item) = slots.items.pop_front() {
                    return Some(item);
                }
                if slots.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Forgets everything queued (stale audio from before a reconnect).
    pub(crate) fn clear(&self) {
        self.slots().items.clear();
    }

    /// Ends the queue: pushes are refused, the consumer drains and then gets `None`.
    pub(crate) fn close(&self) {
        self.slots().closed = true;
        self.ready.notify_one();
    }

    /// Items dropped to make room so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.slots().dropped
    }
}

/// One audio frame received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingFrame {
    /// The decoded 13-byte header; `header.stream` says whose audio it is
    /// ([`RoomView::member_by_stream`](crate::RoomView::member_by_stream)).
    pub header: FrameHeader,
    /// The payload (Opus, or SFrame-protected Opus when `header.flags` says E2EE),
    /// sharing the received message's buffer.
    pub payload: Bytes,
    /// When the client read it off the socket.
    pub received_at: Instant,
}

/// The receiving end of the incoming audio: the frames of the room this client is in.
/// Only the latest receiver from
/// [`ClientHandle::audio_frames`](crate::ClientHandle::audio_frames) gets frames;
/// earlier ones end.
#[derive(Debug)]
pub struct AudioFrames {
    pub(crate) queue: Arc<DropOldest<IncomingFrame>>,
}

impl AudioFrames {
    /// The next frame; `None` when the client shut down or a newer receiver took over.
    pub async fn recv(&mut self) -> Option<IncomingFrame> {
        self.queue.pop().await
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<IncomingFrame> {
        self.queue.try_pop()
    }

    /// Frames dropped because this receiver fell behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drops_the_oldest_and_never_blocks_the_producer() {
        let queue = DropOldest::new(3);
        for n in 0..5 {
            assert!(queue.push(n));
        }
        assert_eq!(queue.dropped(), 2);
        assert_eq!(queue.pop().await, Some(2));
        assert_eq!(queue.try_pop(), Some(3));
        queue.clear();
        assert_eq!(queue.try_pop(), None);
        queue.push(9);
        queue.close();
        assert!(!queue.push(10), "closed");
        assert_eq!(queue.pop().await, Some(9), "drains before ending");
        assert_eq!(queue.pop().await, None);
    }

    #[tokio::test]
    async fn a_waiting_consumer_wakes_up() {
        let queue = Arc::new(DropOldest::new(4));
        let consumer = tokio::spawn({
            let queue = queue.clone();
            async move { queue.pop().await }
        });
        tokio::task::yield_now().await;
        queue.push("frame");
        assert_eq!(consumer.await.unwrap(), Some("frame"));
    }
}
