//! When to try reconnecting: exponential backoff with jitter.
//!
//! The first retries are fast (100 ms, 200 ms, …) because a server that restarts is
//! usually back within a second and a client in a room must be back in it within two;
//! the delay then doubles up to a ceiling so a server that stays down is not hammered,
//! and every delay is spread by ±20 % so thousands of clients dropped at once do not
//! come back in lockstep. The server can ask for more: `shutting_down` names a minimum
//! wait, and a close for flooding (4001) starts the sequence higher.
//!
//! Pure arithmetic with the random draw passed in, so it is tested without clocks.

use std::time::Duration;

/// The reconnect policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The ceiling the doubling stops at.
    pub max: Duration,
    /// Spread of every delay, as a fraction (0.2 = ±20 %).
    pub jitter: f64,
    /// The first delay after the server closed the connection for flooding (4001).
    pub after_flood: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            jitter: 0.2,
            after_flood: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (1 for the first retry), before jitter,
    /// starting from `first`.
    fn nominal(&self, attempt: u32, first: Duration) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        first
            .saturating_mul(1u32 << doublings)
            .min(self.max.max(first))
    }

    /// The delay before attempt `attempt` (1-based). `unit` is a uniform random draw
    /// from `[0, 1)`; `floor` is a minimum the server asked for (its `shutting_down`
    /// hint), and `flooded` starts the sequence at [`Backoff::after_flood`].
    pub fn delay(
        &self,
        attempt: u32,
        unit: f64,
        floor: Option<Duration>,
        flooded: bool,
    ) -> Duration {
        let first = if flooded {
            self.after_flood
        } else {
            self.initial
        };
        let nominal = self.nominal(attempt, first);
        let spread = (unit.clamp(0.0, 1.0) * 2.0 - 1.0) * self.jitter;
        let jittered = nominal.mul_f64((1.0 + spread).max(0.0));
        match floor {
            // Never earlier than the server asked, and spread only upwards from there.
            Some(floor) if jittered < floor => {
                floor.mul_f64(1.0 + unit.clamp(0.0, 1.0) * self.jitter)
            }
            _ => jittered,
        }
    }

    /// [`Backoff::delay`] with a fresh random draw.
    pub fn next_delay(&self, attempt: u32, floor: Option<Duration>, flooded: bool) -> Duration {
        use rand::Rng as _;
        self.delay(attempt, rand::thread_rng().r#gen(), floor, flooded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubles_from_100_ms_to_the_ceiling() {
        let policy = Backoff::default();
        let middle: Vec<Duration> = (1..=9).map(|n| policy.delay(n, 0.5, None, false)).collect();
        assert_eq!(
            middle,
            [
                MS(100),
                MS(200),
                MS(400),
                MS(800),
                MS(1600),
                MS(3200),
                MS(6400),
                MS(10_000),
                MS(10_000)
            ]
        );
        assert_eq!(policy.delay(u32::MAX, 0.5, None, false), MS(10_000));
    }

    #[test]
    fn jitter_spreads_twenty_percent_either_way() {
        let policy = Backoff::default();
        assert_eq!(policy.delay(1, 0.0, None, false), MS(80));
        assert_eq!(policy.delay(1, 1.0, None, false), MS(120));
        assert_eq!(policy.delay(4, 0.0, None, false), MS(640));
    }

    #[test]
    fn the_servers_hint_is_a_floor() {
        let policy = Backoff::default();
        let hint = Some(MS(2000));
        assert_eq!(policy.delay(1, 0.0, hint, false), MS(2000));
        assert_eq!(policy.delay(1, 1.0, hint, false), MS(2400));
        // A longer backoff than the hint stays as it is.
        assert_eq!(policy.delay(7, 0.5, hint, false), MS(6400));
    }

    #[test]
    fn a_flood_close_starts_high() {
        let policy = Backoff::default();
        assert_eq!(policy.delay(1, 0.5, None, true), MS(5000));
        assert_eq!(policy.delay(2, 0.5, None, true), MS(10_000));
    }
}
