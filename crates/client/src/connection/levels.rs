//! Speaking levels for display: the server sends them every 200 ms per room; a UI
//! repaints meters at a fixed rate, so levels are passed on at most once per interval,
//! the newest winning, and one held back is delivered when the interval has passed.

use std::time::{Duration, Instant};

use salon_proto::RoomId;
use salon_proto::room::SpeakerLevel;

/// Levels ready for the UI.
pub(crate) type Levels = (RoomId, Vec<SpeakerLevel>);

#[derive(Debug)]
pub(crate) struct LevelsThrottle {
    interval: Duration,
    last: Option<Instant>,
    held: Option<Levels>,
}

impl LevelsThrottle {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            held: None,
        }
    }

    /// New levels arrived: answers them when they may be shown now, else holds them.
    pub(crate) fn offer(&mut self, now: Instant, levels: Levels) -> Option<Levels> {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.held = Some(levels);
            return None;
        }
        self.last = Some(now);
        self.held = None;
        Some(levels)
    }

    /// Held-back levels whose time has come.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<Levels> {
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if due && self.held.is_some() {
            self.last = Some(now);
            return self.held.take();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use salon_proto::StreamId;

    use super::*;

    fn levels(level: u8) -> Levels {
        (
            RoomId::from_bytes([1; 16]),
            vec![SpeakerLevel {
                stream: StreamId(1),
                level,
                voice: true,
            }],
        )
    }

    #[test]
    fn at_most_one_per_interval_newest_wins() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut throttle = LevelsThrottle::new(Duration::from_millis(100));
        assert_eq!(throttle.offer(ms(0), levels(10)), Some(levels(10)));
        assert_eq!(throttle.offer(ms(30), levels(20)), None);
        assert_eq!(throttle.offer(ms(60), levels(30)), None);
        assert_eq!(throttle.flush(ms(90)), None, "not yet");
        assert_eq!(throttle.flush(ms(100)), Some(levels(30)), "the newest");
        assert_eq!(throttle.flush(ms(300)), None, "nothing held");
        assert_eq!(throttle.offer(ms(300), levels(40)), Some(levels(40)));
    }
}
