//! How much delay the buffer should hold: the target, learned from arrivals.
//!
//! Each packet's *transit* is its arrival time minus its send time on the sender's
//! sample clock (the two clocks have unrelated origins, so only differences between
//! transits mean anything). The smallest transit over the last two seconds is the
//! *base*: the fastest the network delivered lately. A packet's *relative delay* is its
//! transit above the base, that is how much later than the best case it came; a packet
//! is played on time when the buffer holds at least that much delay.
//!
//! Arrivals are grouped into 100 ms buckets by arrival time, 20 buckets (2 s) kept, each
//! remembering its smallest and largest transit. The *required* delay is the second
//! largest bucket peak (largest transit minus base), so:
//! - jitter that lasts (two buckets, 100 to 200 ms) raises it at once, while
//! - one isolated spike, including the burst that arrives after a network stall (it
//!   all lands in one bucket), does not: a stall is cheaper to conceal once than to pay
//!   for with half a second of added delay on every frame afterwards.
//!
//! The target is the required delay plus [`MARGIN_NS`] (the playout clock wakes up a
//! little late or early from one period to the next), at least the configured minimum
//! and at most the maximum: a clean link costs the margin, not a frame. It rises
//! immediately and decays exponentially (time constant 2 s, measured
//! on arrivals) towards a lower requirement; since the requirement itself only drops
//! when the jittery buckets leave the 2 s window, a link that calms down keeps its
//! target for about two seconds and then sheds most of the excess over the next four to
//! six.
//!
//! The smoothed inter-arrival jitter of RFC 3550 §6.4.1 is kept beside it for
//! reporting; it is not used for the target because it measures how much consecutive
//! packets differ, not how late the late ones are.
//!
//! Base drift follows clock drift between sender and receiver for free: the window
//! forgets old minima.

/// Width of one bucket, by arrival time.
const BUCKET_NS: i64 = 100_000_000;
/// Buckets kept: the window is `BUCKETS * BUCKET_NS` = 2 s.
const BUCKETS: usize = 20;
/// Time constant of the target's decay.
const DECAY_NS: i64 = 2_000_000_000;
/// Held on top of the observed lateness: the playout thread's wake-up jitter (it polls
/// every 2 ms) and lateness the two-bucket peak does not show yet.
pub(super) const MARGIN_NS: i64 = 2_000_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    min: i64,
    max: i64,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        min: i64::MAX,
        max: i64::MIN,
    };

    fn is_empty(&self) -> bool {
        self.min > self.max
    }
}

/// The delay estimator for one stream. All times are nanoseconds on the buffer's clock
/// (since its epoch); transits are arrival minus sender time, signed.
#[derive(Debug, Clone)]
pub(super) struct DelayEstimator {
    buckets: [Bucket; BUCKETS],
    /// Absolute number (arrival / BUCKET_NS) of the newest bucket.
    newest: Option<i64>,
    base: i64,
    /// The largest and second largest bucket maxima (raw transits), and which bucket
    /// holds the largest: with the base, that gives the required delay.
    top: (i64, i64),
    top_bucket: usize,
    required: i64,
    target: i64,
    min_target: i64,
    max_target: i64,
    last_update: Option<i64>,
    last_transit: Option<i64>,
    /// RFC 3550 jitter, scaled by 16 as in its reference code, in nanoseconds.
    jitter_x16: i64,
}

impl DelayEstimator {
    pub(super) fn new(min_target: i64, max_target: i64) -> Self {
        let max_target = max_target.max(min_target);
        DelayEstimator {
            buckets: [Bucket::EMPTY; BUCKETS],
            newest: None,
            base: 0,
            top: (i64::MIN, i64::MIN),
            top_bucket: 0,
            required: 0,
            target: MARGIN_NS.clamp(min_target, max_target),
            min_target,
            max_target,
            last_update: None,
            last_transit: None,
            jitter_x16: 0,
        }
    }

    /// Forgets the link: back to the minimum target.
    pub(super) fn reset(&mut self) {
        *self = DelayEstimator::new(self.min_target, self.max_target);
    }

    /// Learns from one arrival.
    pub(super) fn observe(&mut self, arrival: i64, transit: i64) {
        if let Some(prev) = self.last_transit {
            let d = transit.saturating_sub(prev).saturating_abs();
            self.jitter_x16 += d - ((self.jitter_x16 + 8) >> 4);
        }
        self.last_transit = Some(transit);

        // Most arrivals land in the newest bucket: spare the division for them.
        let bucket = match self.newest {
            Some(newest)
                if arrival >= newest * BUCKET_NS && arrival - newest * BUCKET_NS < BUCKET_NS =>
            {
                newest
            }
            _ => arrival.div_euclid(BUCKET_NS),
        };
        // The first sample or a new bucket: recompute from scratch.
        let mut rotated = self.newest.is_none();
        let newest = match self.newest {
            None => bucket,
            Some(newest) if bucket > newest => {
                let stale = bucket.saturating_sub(newest).min(BUCKETS as i64);
                for i in 0..stale {
                    self.buckets[slot(bucket - i)] = Bucket::EMPTY;
                }
                rotated = true;
                bucket
            }
            Some(newest) => newest,
        };
        self.newest = Some(newest);
        if newest.saturating_sub(bucket) < BUCKETS as i64 {
            let index = slot(bucket);
            let b = &mut self.buckets[index];
            b.min = b.min.min(transit);
            b.max = b.max.max(transit);
            let max = b.max;
            if rotated {
                self.rescan();
            } else {
                // A sample only lowers the base and raises its own bucket's maximum:
                // both can be folded in without looking at the other buckets.
                self.base = self.base.min(transit);
                if index == self.top_bucket || max > self.top.0 {
                    if index != self.top_bucket {
                        self.top.1 = self.top.0;
                        self.top_bucket = index;
                    }
                    self.top.0 = max;
                } else if max > self.top.1 {
                    self.top.1 = max;
                }
            }
            // Every peak is at least zero, and a missing second bucket counts as zero.
            self.required = self.top.1.saturating_sub(self.base).max(0);
        }
        self.update_target(arrival);
    }

    /// Recomputes the base and the two largest maxima from all buckets.
    fn rescan(&mut self) {
        self.base = i64::MAX;
        self.top = (i64::MIN, i64::MIN);
        for (index, b) in self.buckets.iter().enumerate() {
            if b.is_empty() {
                continue;
            }
            self.base = self.base.min(b.min);
            if b.max > self.top.0 {
                self.top = (b.max, self.top.0);
                self.top_bucket = index;
            } else if b.max > self.top.1 {
                self.top.1 = b.max;
            }
        }
    }

    fn update_target(&mut self, arrival: i64) {
        let goal = self
            .required
            .saturating_add(MARGIN_NS)
            .clamp(self.min_target, self.max_target);
        let dt = self
            .last_update
            .map_or(0, |last| arrival.saturating_sub(last).clamp(0, DECAY_NS));
        if self.last_update.is_none_or(|last| arrival > last) {
            self.last_update = Some(arrival);
        }
        if goal >= self.target {
            self.target = goal;
        } else {
            let excess = i128::from(self.target - goal);
            let shed = excess * i128::from(dt) / i128::from(DECAY_NS);
            // `shed <= excess`, which fits in an i64.
            self.target -= shed as i64;
        }
    }

    /// The smallest recent transit: when a packet "should" arrive, at best.
    pub(super) fn base(&self) -> i64 {
        self.base
    }

    /// The delay the buffer should hold beyond the base, in nanoseconds.
    pub(super) fn target(&self) -> i64 {
        self.target
    }

    /// RFC 3550 interarrival jitter, in nanoseconds.
    pub(super) fn jitter(&self) -> i64 {
        self.jitter_x16 >> 4
    }
}

fn slot(bucket: i64) -> usize {
    bucket.rem_euclid(BUCKETS as i64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// Feeds a 20 ms stream from `from_ms` to `to_ms` (sender time = arrival time minus
    /// the given extra delay).
    fn feed(e: &mut DelayEstimator, from_ms: i64, to_ms: i64, extra_ms: impl Fn(i64) -> i64) {
        let mut t = from_ms;
        while t < to_ms {
            let extra = extra_ms(t);
            e.observe((t + extra) * MS, extra * MS);
            t += 20;
        }
    }

    #[test]
    fn clean_link_keeps_the_minimum() {
        let mut e = DelayEstimator::new(20 * MS, 500 * MS);
        feed(&mut e, 0, 5000, |_| 0);
        assert_eq!(e.target(), 20 * MS);
        assert_eq!(e.base(), 0);
        assert_eq!(e.jitter(), 0);
    }

    #[test]
    fn lasting_jitter_raises_the_target_at_once_and_it_decays_slowly() {
        let mut e = DelayEstimator::new(20 * MS, 500 * MS);
        feed(&mut e, 0, 1000, |_| 0);
        // Every other packet 60 ms late, for 200 ms: two buckets.
        feed(&mut e, 1000, 1200, |t| if t % 40 == 20 { 60 } else { 0 });
        assert_eq!(e.target(), 62 * MS, "lateness plus the margin");
        feed(&mut e, 1200, 3000, |t| if t % 40 == 20 { 60 } else { 0 });
        assert_eq!(e.target(), 62 * MS);
        assert!(e.jitter() > 20 * MS, "{}", e.jitter());
        // Calm: held while the jittery buckets are in the window...
        feed(&mut e, 3000, 4900, |_| 0);
        assert_eq!(e.target(), 62 * MS);
        // ...then decays with a 2 s time constant.
        feed(&mut e, 4900, 6100, |_| 0);
        let t = e.target();
        assert!(t > 35 * MS && t < 55 * MS, "{t}");
        feed(&mut e, 6100, 16000, |_| 0);
        assert!(e.target() < 21 * MS, "{}", e.target());
        assert!(e.target() >= 20 * MS);
    }

    #[test]
    fn one_spike_or_stall_burst_does_not_move_the_target() {
        let mut e = DelayEstimator::new(20 * MS, 500 * MS);
        feed(&mut e, 0, 2000, |_| 0);
        // A 1 s stall: everything sent from 2000 to 3000 arrives at 3000.
        feed(&mut e, 2000, 3000, |t| 3000 - t);
        feed(&mut e, 3000, 4000, |_| 0);
        assert_eq!(e.target(), 20 * MS);
    }

    #[test]
    fn target_never_exceeds_the_maximum() {
        let mut e = DelayEstimator::new(20 * MS, 500 * MS);
        feed(&mut e, 0, 4000, |t| if t % 40 == 0 { 0 } else { 900 });
        assert_eq!(e.target(), 500 * MS);
    }

    proptest::proptest! {
        /// The incremental update agrees with recomputing from all buckets, whatever
        /// the order and spacing of arrivals.
        #[test]
        fn incremental_update_matches_a_rescan(
            samples in proptest::collection::vec((-50i64..400, -200i64..900), 1..400),
        ) {
            let mut e = DelayEstimator::new(20 * MS, 500 * MS);
            let mut arrival = 0;
            for (step, transit) in samples {
                arrival += step * MS;
                e.observe(arrival, transit * MS);
                let mut fresh = e.clone();
                fresh.rescan();
                proptest::prop_assert_eq!(e.base, fresh.base);
                proptest::prop_assert_eq!(e.top, fresh.top);
                proptest::prop_assert_eq!(e.required, fresh.top.1.saturating_sub(fresh.base).max(0));
                proptest::prop_assert!(e.target >= 20 * MS && e.target <= 500 * MS);
            }
        }
    }

    #[test]
    fn base_follows_a_route_change() {
        let mut e = DelayEstimator::new(20 * MS, 500 * MS);
        feed(&mut e, 0, 1000, |_| 0);
        feed(&mut e, 1000, 4000, |_| 100);
        assert_eq!(e.base(), 100 * MS);
        feed(&mut e, 4000, 5000, |_| 30);
        assert_eq!(e.base(), 30 * MS);
    }
}
