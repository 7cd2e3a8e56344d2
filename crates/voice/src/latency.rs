//! Latency accounting: where the milliseconds between a mouth and an ear go.
//!
//! Latency is Salon's product, so the pipeline measures itself instead of being estimated.
//! Each frame carries the [`Instant`] its first sample was captured (from the sample
//! clock, see `DESIGN.md`), and each stage that hands the frame on records how long it
//! held it in a [`LatencyMeter`]: capture → encoded, arrival → taken out of the jitter
//! buffer, decoded → handed to the output, and capture → output end to end.
//!
//! Recording runs on audio threads, so it is O(1) and never allocates: each stage keeps
//! a fixed ring of the most recent durations (in microseconds) and a running sum. The
//! percentiles are computed only by [`LatencyMeter::report`], by selection in a scratch
//! buffer allocated up front, so a report does not allocate either.
//!
//! `Instant`s are only comparable on one machine: the end-to-end stage is meaningful
//! where capture and playback share a clock (loopback, tests) or where the capture time
//! has been mapped to the local clock.

use std::time::{Duration, Instant};

use crate::frame::SAMPLE_RATE;

/// A stage of the audio path that a frame spends time in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// From capture of the frame's first sample to its Opus packet being ready.
    CaptureToEncode,
    /// From the packet's arrival to its being taken out of the jitter buffer.
    JitterWait,
    /// From the frame being decoded to its being handed to the output device.
    DecodeToOutput,
    /// From capture to output: everything, the number a listener hears.
    EndToEnd,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 4] = [
        Stage::CaptureToEncode,
        Stage::JitterWait,
        Stage::DecodeToOutput,
        Stage::EndToEnd,
    ];

    /// A short name for logs and debug overlays.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::CaptureToEncode => "capture→encode",
            Stage::JitterWait => "jitter wait",
            Stage::DecodeToOutput => "decode→output",
            Stage::EndToEnd => "end to end",
        }
    }

    const fn index(self) -> usize {
        match self {
            Stage::CaptureToEncode => 0,
            Stage::JitterWait => 1,
            Stage::DecodeToOutput => 2,
            Stage::EndToEnd => 3,
        }
    }
}

/// Summary of one stage over the recent window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSummary {
    /// Durations recorded since creation or the last reset, including those that have
    /// since left the window.
    pub count: u64,
    /// Durations in the window that the figures below describe.
    pub window: usize,
    /// Mean over the window.
    pub mean: Duration,
    /// Median over the window.
    pub p50: Duration,
    /// 95th percentile over the window.
    pub p95: Duration,
    /// Maximum over the window.
    pub max: Duration,
}

/// The most recent durations of one stage, with O(1) recording.
#[derive(Debug, Clone)]
pub struct LatencyWindow {
    /// Ring of durations in microseconds (saturating at `u32::MAX`, about 71 minutes).
    ring: Box<[u32]>,
    /// Where the next duration goes.
    next: usize,
    /// How many slots of `ring` hold a duration.
    len: usize,
    /// Sum of the durations in the ring, in microseconds.
    sum_us: u64,
    /// Everything recorded since creation or reset.
    count: u64,
    /// Scratch for selecting percentiles without allocating.
    scratch: Box<[u32]>,
}

impl LatencyWindow {
    /// A window over the last `capacity` durations (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            ring: vec![0; capacity].into_boxed_slice(),
            next: 0,
            len: 0,
            sum_us: 0,
            count: 0,
            scratch: vec![0; capacity].into_boxed_slice(),
        }
    }

    /// How many durations the window holds at most.
    pub fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// Records one duration, evicting the oldest once the window is full.
    pub fn record(&mut self, duration: Duration) {
        let us = u32::try_from(duration.as_micros()).unwrap_or(u32::MAX);
        if self.len == self.ring.len() {
            self.sum_us -= u64::from(self.ring[self.next]);
        } else {
            self.len += 1;
        }
        self.ring[self.next] = us;
        self.sum_us += u64::from(us);
        self.next = (self.next + 1) % self.ring.len();
        self.count += 1;
    }

    /// Count, mean, p50, p95 and max over the window; `None` before the first record.
    pub fn summary(&mut self) -> Option<StageSummary> {
        if self.len == 0 {
            return None;
        }
        let n = self.len;
        let values = &mut self.scratch[..n];
        values.copy_from_slice(&self.ring[..n]);
        // Nearest-rank percentiles: the smallest value with at least p % at or below it.
        let rank = |p: usize| (n * p).div_ceil(100).clamp(1, n) - 1;
        let p50 = *values.select_nth_unstable(rank(50)).1;
        let p95 = *values.select_nth_unstable(rank(95)).1;
        let max = values.iter().copied().max().unwrap_or(0);
        Some(StageSummary {
            count: self.count,
            window: n,
            mean: Duration::from_micros(self.sum_us / n as u64),
            p50: Duration::from_micros(u64::from(p50)),
            p95: Duration::from_micros(u64::from(p95)),
            max: Duration::from_micros(u64::from(max)),
        })
    }

    /// Forgets everything recorded.
    pub fn reset(&mut self) {
        self.next = 0;
        self.len = 0;
        self.sum_us = 0;
        self.count = 0;
    }
}

/// Per-stage summaries; a stage with nothing recorded is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyReport {
    /// [`Stage::CaptureToEncode`].
    pub capture_to_encode: Option<StageSummary>,
    /// [`Stage::JitterWait`].
    pub jitter_wait: Option<StageSummary>,
    /// [`Stage::DecodeToOutput`].
    pub decode_to_output: Option<StageSummary>,
    /// [`Stage::EndToEnd`].
    pub end_to_end: Option<StageSummary>,
}

impl LatencyReport {
    /// The summary of `stage`.
    pub fn stage(&self, stage: Stage) -> Option<&StageSummary> {
        match stage {
            Stage::CaptureToEncode => self.capture_to_encode.as_ref(),
            Stage::JitterWait => self.jitter_wait.as_ref(),
            Stage::DecodeToOutput => self.decode_to_output.as_ref(),
            Stage::EndToEnd => self.end_to_end.as_ref(),
        }
    }
}

/// Running latency statistics for every [`Stage`].
#[derive(Debug, Clone)]
pub struct LatencyMeter {
    stages: [LatencyWindow; 4],
}

impl LatencyMeter {
    /// The default window: 500 frames, 10 s of 20 ms frames.
    pub const DEFAULT_WINDOW: usize = 500;

    /// A meter whose percentiles cover the last `window` durations of each stage.
    pub fn new(window: usize) -> Self {
        Self {
            stages: std::array::from_fn(|_| LatencyWindow::new(window)),
        }
    }

    /// Records that a frame spent `duration` in `stage`.
    pub fn record(&mut self, stage: Stage, duration: Duration) {
        self.stages[stage.index()].record(duration);
    }

    /// Records that a frame entered `stage` at `from` and left it at `to`; a `to` before
    /// `from` (clocks of different threads racing) counts as zero.
    pub fn record_span(&mut self, stage: Stage, from: Instant, to: Instant) {
        self.record(stage, to.saturating_duration_since(from));
    }

    /// Summaries of every stage over its window.
    pub fn report(&mut self) -> LatencyReport {
        let [capture, jitter, decode, end] = &mut self.stages;
        LatencyReport {
            capture_to_encode: capture.summary(),
            jitter_wait: jitter.summary(),
            decode_to_output: decode.summary(),
            end_to_end: end.summary(),
        }
    }

    /// Forgets everything recorded.
    pub fn reset(&mut self) {
        self.stages.iter_mut().for_each(LatencyWindow::reset);
    }
}

impl Default for LatencyMeter {
    fn default() -> Self {
        Self::new(Self::DEFAULT_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn empty_stage_reports_none() {
        let mut meter = LatencyMeter::default();
        meter.record(Stage::JitterWait, ms(5));
        let report = meter.report();
        assert!(report.capture_to_encode.is_none());
        assert_eq!(report.jitter_wait.map(|s| s.count), Some(1));
    }

    #[test]
    fn percentiles_over_one_to_hundred() {
        let mut window = LatencyWindow::new(100);
        // Record in a scrambled order: the summary must not depend on it.
        for i in 0..100u64 {
            window.record(ms((i * 37) % 100 + 1));
        }
        let s = window.summary().unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.window, 100);
        assert_eq!(s.p50, ms(50));
        assert_eq!(s.p95, ms(95));
        assert_eq!(s.max, ms(100));
        assert_eq!(s.mean, Duration::from_micros(50_500));
    }

    #[test]
    fn window_forgets_old_values_but_counts_them() {
        let mut window = LatencyWindow::new(4);
        for _ in 0..10 {
            window.record(ms(100));
        }
        for _ in 0..4 {
            window.record(ms(2));
        }
        let s = window.summary().unwrap();
        assert_eq!(s.count, 14);
        assert_eq!(s.window, 4);
        assert_eq!(s.mean, ms(2));
        assert_eq!(s.max, ms(2));
    }

    #[test]
    fn span_backwards_is_zero_and_reset_clears() {
        let mut meter = LatencyMeter::new(8);
        let t = Instant::now();
        meter.record_span(Stage::EndToEnd, t + ms(3), t);
        assert_eq!(meter.report().end_to_end.unwrap().max, Duration::ZERO);
        meter.reset();
        assert!(meter.report().end_to_end.is_none());
    }

    #[test]
    fn zero_capacity_holds_one() {
        let mut window = LatencyWindow::new(0);
        window.record(ms(1));
        window.record(ms(7));
        assert_eq!(window.capacity(), 1);
        assert_eq!(window.summary().unwrap().p50, ms(7));
    }
}

/// When each captured sample was heard by the microphone, from the read side of a
/// source: the capture processor numbers its 48 kHz output samples from the start of
/// the stream, and this clock maps such a position back to an instant, using the time
/// of the latest read and how much of the source was read after that position.
#[derive(Debug, Clone)]
pub struct CaptureClock {
    rate: u32,
    /// Frames read from the source since the clock started.
    read: u64,
    /// When the latest read returned.
    last_read: Instant,
}

impl CaptureClock {
    /// A clock for a source at `rate` Hz, starting now.
    pub fn new(rate: u32, now: Instant) -> Self {
        Self {
            rate: rate.max(1),
            read: 0,
            last_read: now,
        }
    }

    /// The source's rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Notes that a read returned `frames` frames at `now`.
    pub fn record_read(&mut self, frames: u64, now: Instant) {
        self.read += frames;
        self.last_read = now;
    }

    /// When the 48 kHz sample just before position `end` was captured: the latest read's
    /// time, less the source frames read after it.
    pub fn captured(&self, end: u64) -> Instant {
        let end = (u128::from(end) * u128::from(self.rate) / u128::from(SAMPLE_RATE)) as u64;
        let behind = self.read.saturating_sub(end) as f64 / f64::from(self.rate);
        self.last_read
            .checked_sub(Duration::from_secs_f64(behind))
            .unwrap_or(self.last_read)
    }
}

#[cfg(test)]
mod capture_clock_tests {
    use super::*;

    #[test]
    fn maps_positions_back_through_the_source_rate() {
        let start = Instant::now();
        let mut clock = CaptureClock::new(44_100, start);
        let now = start + Duration::from_secs(1);
        clock.record_read(44_100, now);
        // The last sample read was captured just now; half a second of 48 kHz samples
        // back is half a second earlier.
        assert_eq!(clock.captured(48_000), now);
        let back = now - clock.captured(24_000);
        assert!(
            back.abs_diff(Duration::from_millis(500)) < Duration::from_micros(1),
            "{back:?}"
        );
        // Positions beyond what was read are "now", never in the future.
        assert_eq!(clock.captured(96_000), now);
    }
}
