//! Sequence and timestamp bookkeeping for one stream.
//!
//! The wire carries 32-bit sequence numbers and 32-bit timestamps, which wrap: the
//! sequence after about 2.7 years of 20 ms frames, the 48 kHz timestamp after about 25
//! hours. Comparing wrapped values directly breaks ordering at the wrap, so every value
//! is first extended to 64 bits relative to the highest value seen ([`Unwrapper`]), and
//! everything downstream compares plain `u64`s.
//!
//! [`SeqLedger`] then accounts for every sequence number exactly once as playout passes
//! it (played, dropped to catch up, arrived late, or lost), which is where the loss
//! counters and the recent loss percentage come from. It is a few fixed-size bit sets:
//! nothing is allocated per packet.

/// Extends a wrapping 32-bit counter to a monotonic 64-bit one.
///
/// A value is placed at the nearest distance (within ±2^31) from the highest value seen
/// so far. The first value lands at `2^32 + v` rather than at `v`, so packets from just
/// before the first one (reordered) still extend to a smaller number instead of
/// underflowing.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Unwrapper {
    highest: Option<u64>,
}

impl Unwrapper {
    /// The extended value of `v`, without remembering it (see [`Unwrapper::commit`]).
    pub(super) fn extend(&self, v: u32) -> u64 {
        match self.highest {
            None => (1 << 32) | u64::from(v),
            Some(highest) => {
                // Reinterpreting the wrapped difference as signed gives the nearest
                // distance; the `as` casts are the point here, not an accident.
                let delta = v.wrapping_sub(highest as u32) as i32;
                highest.saturating_add_signed(i64::from(delta))
            }
        }
    }

    /// Remembers an accepted value, so later values extend relative to it.
    ///
    /// Kept separate from [`Unwrapper::extend`] so a packet that is rejected as absurd
    /// cannot drag the reference point away from the real stream.
    pub(super) fn commit(&mut self, extended: u64) {
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
    }

    /// The highest value committed, if any.
    pub(super) fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// How far behind and ahead of the playout point arrivals are remembered.
pub(super) const HISTORY: u64 = 128;

/// The number of recent sequence numbers `loss_percent` is computed over.
const LOSS_WINDOW: u32 = 100;

/// Accounts for every sequence number once, as playout passes it.
///
/// `next` is the lowest sequence number playout has not passed yet. Arrivals that are
/// not buffered (late ones) are remembered in a 256-bit window centred on `next`:
/// bit `i` stands for `next - HISTORY + i`. That is enough to tell a late packet from a
/// duplicate of one already played, and a lost packet from one that arrived too late.
#[derive(Debug, Clone)]
pub(super) struct SeqLedger {
    next: u64,
    /// Bits for `[next - HISTORY, next)`: bit `i` is `next - HISTORY + i`.
    behind: u128,
    /// Bits for `[next, next + HISTORY)`: bit `i` is `next + i`.
    ahead: u128,
    lost: u64,
    window: LossWindow,
}

impl SeqLedger {
    pub(super) fn new(next: u64) -> Self {
        SeqLedger {
            next,
            behind: 0,
            ahead: 0,
            lost: 0,
            window: LossWindow::default(),
        }
    }

    /// The lowest sequence number playout has not passed.
    pub(super) fn next(&self) -> u64 {
        self.next
    }

    /// Moves the starting point down, before playout has begun (a packet from before
    /// the first one arrived). Only valid while nothing has been recorded ahead.
    pub(super) fn rewind_unanchored(&mut self, next: u64) {
        debug_assert!(next <= self.next);
        self.next = next;
        self.ahead = 0;
        self.behind = 0;
    }

    /// Whether `seq` was recorded as arrived (outside the buffer) or passed on time.
    pub(super) fn seen(&self, seq: u64) -> bool {
        if seq >= self.next {
            let i = seq - self.next;
            i < HISTORY && self.ahead & (1 << i) != 0
        } else {
            let back = self.next - seq;
            back <= HISTORY && self.behind & (1 << (HISTORY - back)) != 0
        }
    }

    /// Records that `seq` arrived but will not be played (it was late). Returns false
    /// when it is outside the remembered window.
    pub(super) fn mark_seen(&mut self, seq: u64) -> bool {
        if seq >= self.next {
            let i = seq - self.next;
            if i < HISTORY {
                self.ahead |= 1 << i;
                return true;
            }
        } else {
            let back = self.next - seq;
            if back <= HISTORY {
                self.behind |= 1 << (HISTORY - back);
                return true;
            }
        }
        false
    }

    /// How many sequence numbers in `[next, end)` are recorded as arrived late.
    pub(super) fn seen_ahead_before(&self, end: u64) -> u64 {
        let n = end.saturating_sub(self.next).min(HISTORY);
        u64::from((self.ahead & low_bits(n)).count_ones())
    }

    /// Passes `seq`, which arrived in time (played, or dropped to catch up), and every
    /// sequence number before it: those that never arrived are counted lost.
    pub(super) fn pass(&mut self, seq: u64) {
        debug_assert!(seq >= self.next);
        self.pass_gap(seq);
        self.window.push(false, 1);
        self.ahead |= 1; // `seq` is now `next`: remember it for duplicate detection.
        self.advance(1);
    }

    /// Passes every sequence number below `end` without one that arrived in time.
    pub(super) fn pass_gap(&mut self, end: u64) {
        if end <= self.next {
            return;
        }
        let gap = end - self.next;
        let late = self.seen_ahead_before(end);
        // Everything in the gap counts against the recent loss window, late ones too:
        // the decoder did not get them in time either, and that is what the encoder's
        // loss hint (FEC strength) is for.
        self.window.push(true, gap);
        self.lost += gap - late;
        self.advance(gap);
    }

    /// Sequence numbers that never arrived by the time playout passed them.
    pub(super) fn lost(&self) -> u64 {
        self.lost
    }

    /// Percentage of the last sequence numbers passed that were lost or late.
    pub(super) fn loss_percent(&self) -> u8 {
        self.window.percent()
    }

    fn advance(&mut self, n: u64) {
        self.next += n;
        // The 256-bit window [behind | ahead] shifts towards `behind` by n bits.
        if n >= 2 * HISTORY {
            self.behind = 0;
            self.ahead = 0;
        } else if n >= HISTORY {
            self.behind = self.ahead >> (n - HISTORY);
            self.ahead = 0;
        } else if n > 0 {
            self.behind = (self.behind >> n) | (self.ahead << (HISTORY - n));
            self.ahead >>= n;
        }
    }
}

/// A mask of the lowest `n` bits (`n <= 128`).
fn low_bits(n: u64) -> u128 {
    if n >= 128 { u128::MAX } else { (1 << n) - 1 }
}

/// The outcomes of the last [`LOSS_WINDOW`] sequence numbers, one bit each.
#[derive(Debug, Clone, Copy, Default)]
struct LossWindow {
    bits: u128,
    len: u32,
}

impl LossWindow {
    fn push(&mut self, lost: bool, count: u64) {
        let count = count.min(u64::from(LOSS_WINDOW)) as u32;
        if count == 0 {
            return;
        }
        let fill = if lost { low_bits(u64::from(count)) } else { 0 };
        let shifted = if count >= 128 { 0 } else { self.bits << count };
        self.bits = (shifted | fill) & low_bits(u64::from(LOSS_WINDOW));
        self.len = (self.len + count).min(LOSS_WINDOW);
    }

    fn percent(&self) -> u8 {
        if self.len == 0 {
            return 0;
        }
        let lost = self.bits.count_ones();
        // Rounded; at most 100, so it fits.
        ((lost * 100 + self.len / 2) / self.len) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrapper_counts_on_across_the_wrap() {
        let mut u = Unwrapper::default();
        let mut last = None;
        for v in (u32::MAX - 3..=u32::MAX).chain(0..4) {
            let e = u.extend(v);
            if let Some(l) = last {
                assert_eq!(e, l + 1, "{v}");
            }
            u.commit(e);
            last = Some(e);
        }
        assert_eq!(u.highest(), Some((2 << 32) + 3));
    }

    #[test]
    fn unwrapper_places_reordered_values_behind_across_the_wrap() {
        let mut u = Unwrapper::default();
        let first = u.extend(1);
        u.commit(first);
        // u32::MAX came before 0 and 1 but arrives after them.
        assert_eq!(u.extend(u32::MAX), first - 2);
        assert_eq!(u.extend(0), first - 1);
        // A late value does not move the reference.
        u.commit(first - 2);
        assert_eq!(u.highest(), Some(first));
        // Far jumps resolve to the nearest side.
        assert_eq!(u.extend(1 + (1 << 31) - 1), first + (1 << 31) - 1);
        assert_eq!(u.extend(1u32.wrapping_add(1 << 31)), first - (1 << 31));
    }

    #[test]
    fn unwrapper_first_value_leaves_room_below() {
        let u = Unwrapper::default();
        assert_eq!(u.extend(0), 1 << 32);
        assert_eq!(u.extend(u32::MAX), (1 << 32) + u64::from(u32::MAX));
    }

    #[test]
    fn ledger_counts_gaps_as_lost_unless_seen_late() {
        let mut l = SeqLedger::new(1010);
        l.pass(1010);
        // 1011 arrives late (after its slot), 1012 never arrives.
        assert!(l.mark_seen(1011));
        assert!(l.seen(1011));
        assert_eq!(l.seen_ahead_before(1013), 1);
        l.pass(1013);
        assert_eq!(l.lost(), 1);
        assert_eq!(l.next(), 1014);
        // Everything passed on time or seen is remembered as such behind `next`.
        assert!(l.seen(1010));
        assert!(l.seen(1011));
        assert!(!l.seen(1012));
        assert!(l.seen(1013));
        // A straggler for 1012 can still be recorded (it is counted late by the caller).
        assert!(l.mark_seen(1012));
        assert!(l.seen(1012));
        // Out of the window: not remembered.
        assert!(!l.mark_seen(1014 - HISTORY - 1));
        assert!(l.mark_seen(1014 - HISTORY));
        assert!(!l.mark_seen(1014 + HISTORY));
        assert!(l.mark_seen(1014 + HISTORY - 1));
    }

    #[test]
    fn ledger_handles_gaps_wider_than_its_window() {
        let mut l = SeqLedger::new(0);
        l.pass(0);
        l.mark_seen(5);
        l.pass(1000);
        assert_eq!(l.lost(), 998);
        assert!(l.seen(1000));
        assert!(!l.seen(5)); // forgotten: out of the window
        assert_eq!(l.loss_percent(), 99); // 99 of the last 100 were not on time
        l.pass_gap(1001); // passing nothing is a no-op
        assert_eq!(l.lost(), 998);
        l.pass_gap(1002);
        assert_eq!(l.lost(), 999);
    }

    #[test]
    fn loss_window_is_exact_over_the_last_hundred() {
        let mut l = SeqLedger::new(0);
        for s in 0..1000 {
            if s % 10 == 3 {
                continue;
            }
            l.pass(s);
        }
        assert_eq!(l.loss_percent(), 10);
        assert_eq!(l.lost(), 100);
        for s in 1000..1100 {
            l.pass(s);
        }
        assert_eq!(l.loss_percent(), 0);
    }
}
