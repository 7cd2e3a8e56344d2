//! Delay histograms shared by many tasks: one atomic counter per 10 µs bucket.
//!
//! Thousands of listener tasks record a delay per received frame, so recording is one
//! relaxed atomic increment and never allocates or locks. Buckets are 10 µs wide up to
//! 1 s and 1 ms wide up to 60 s (percentiles are exact to the bucket width); anything
//! longer lands in the last bucket, and the exact maximum is kept beside.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const FINE_US: u64 = 10;
const FINE_BUCKETS: u64 = 100_000; // 10 µs × 100,000 = 1 s
const COARSE_US: u64 = 1_000;
const COARSE_BUCKETS: u64 = 59_000; // then 1 ms up to 60 s

/// A histogram of durations, recordable from any thread.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    max_us: AtomicU64,
    count: AtomicU64,
}

/// Percentiles of a [`Histogram`] in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub(crate) struct Percentiles {
    pub(crate) count: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..FINE_BUCKETS + COARSE_BUCKETS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            max_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    fn bucket(us: u64) -> usize {
        let index = if us < FINE_US * FINE_BUCKETS {
            us / FINE_US
        } else {
            (FINE_BUCKETS + (us - FINE_US * FINE_BUCKETS) / COARSE_US)
                .min(FINE_BUCKETS + COARSE_BUCKETS - 1)
        };
        index as usize
    }

    /// The upper edge of bucket `index`, in microseconds.
    fn upper_us(index: usize) -> u64 {
        let index = index as u64;
        if index < FINE_BUCKETS {
            (index + 1) * FINE_US
        } else {
            FINE_US * FINE_BUCKETS + (index - FINE_BUCKETS + 1) * COARSE_US
        }
    }

    /// Records one duration.
    pub(crate) fn record(&self, duration: Duration) {
        let us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Self::bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets everything recorded (call while nothing records).
    pub(crate) fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
        self.max_us.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
    }

    /// Nearest-rank percentiles (each the upper edge of its bucket, capped at the
    /// maximum); all zero when empty.
    pub(crate) fn percentiles(&self) -> Percentiles {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Percentiles::default();
        }
        let max_us = self.max_us.load(Ordering::Relaxed);
        let at = |p: f64| {
            let rank = ((total as f64 * p / 100.0).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (index, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    return Self::upper_us(index).min(max_us) as f64 / 1000.0;
                }
            }
            max_us as f64 / 1000.0
        };
        Percentiles {
            count: total,
            p50_ms: at(50.0),
            p95_ms: at(95.0),
            p99_ms: at(99.0),
            max_ms: max_us as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_the_recorded_distribution() {
        let histogram = Histogram::default();
        // 1..=100 ms, one each: p50 is 50 ms, p99 99 ms, max 100 ms.
        for ms in 1..=100 {
            histogram.record(Duration::from_millis(ms));
        }
        let p = histogram.percentiles();
        assert_eq!(p.count, 100);
        assert!((p.p50_ms - 50.01).abs() < 0.011, "{p:?}");
        assert!((p.p99_ms - 99.01).abs() < 0.011, "{p:?}");
        assert_eq!(p.max_ms, 100.0);
    }

    #[test]
    fn long_delays_use_coarse_buckets_and_keep_the_exact_max() {
        let histogram = Histogram::default();
        histogram.record(Duration::from_micros(2_345_678));
        let p = histogram.percentiles();
        assert_eq!(p.p50_ms, 2345.678);
        histogram.record(Duration::from_secs(3600));
        assert_eq!(histogram.percentiles().max_ms, 3_600_000.0);
    }

    #[test]
    fn empty_is_all_zero() {
        assert_eq!(Histogram::default().percentiles(), Percentiles::default());
    }
}
