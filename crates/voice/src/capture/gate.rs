//! Noise gate: attenuates blocks below a threshold, with attack, hold and release.
//!
//! Why, next to RNNoise: some people want silence between their sentences rather than a
//! suppressed but audible room, and a gate gives a predictable "below this level nothing
//! goes out" (which also lets Opus DTX stop sending). Off by default.
//!
//! The gate decides per block (10 ms) from the block's level, before applying its gain to
//! that same block: the opening is decided with the block in hand, so it needs no
//! lookahead and adds no delay. The gain moves sample by sample with a one-pole
//! smoother, fast to open ([`ATTACK`]) and slow to close ([`RELEASE`]), and stays open
//! for the hold time after the level last crossed the threshold, so word endings fade
//! rather than chop and there are no clicks. Closed means [`RANGE_DB`] down, not muted.

use std::time::Duration;

use super::level::{blocks_for, db_to_gain};

/// Attenuation when closed, in dB.
pub(crate) const RANGE_DB: f32 = 40.0;

/// Opening time constant.
pub(crate) const ATTACK: Duration = Duration::from_millis(1);

/// Closing time constant.
pub(crate) const RELEASE: Duration = Duration::from_millis(60);

/// Per-sample smoothing coefficient for a time constant at 48 kHz.
pub(crate) fn smoothing(time_constant: Duration) -> f32 {
    let samples = time_constant.as_secs_f32() * super::SAMPLE_RATE as f32;
    1.0 - (-1.0 / samples.max(1.0)).exp()
}

#[derive(Debug, Clone)]
pub(crate) struct NoiseGate {
    threshold_db: f32,
    closed_gain: f32,
    gain: f32,
    hold_blocks: u32,
    hold_left: u32,
    attack: f32,
    release: f32,
}

impl NoiseGate {
    /// A gate opening at `threshold_db` dBFS and holding open for `hold` after.
    pub(crate) fn new(threshold_db: f32, hold: Duration) -> Self {
        Self {
            threshold_db,
            closed_gain: db_to_gain(-RANGE_DB),
            // Start closed: the first syllable opens it within a millisecond.
            gain: db_to_gain(-RANGE_DB),
            hold_blocks: blocks_for(hold),
            hold_left: 0,
            attack: smoothing(ATTACK),
            release: smoothing(RELEASE),
        }
    }

    pub(crate) fn set_threshold(&mut self, threshold_db: f32) {
        self.threshold_db = threshold_db;
    }

    /// The current gain factor.
    #[cfg(test)]
    pub(crate) fn gain(&self) -> f32 {
        self.gain
    }

    /// Gates one block in place, given its level in dBFS.
    pub(crate) fn process(&mut self, block: &mut [f32], level_db: f32) {
        let open = if level_db >= self.threshold_db {
            self.hold_left = self.hold_blocks;
            true
        } else if self.hold_left > 0 {
            self.hold_left -= 1;
            true
        } else {
            false
        };
        let (target, coefficient) = if open {
            (1.0, self.attack)
        } else {
            (self.closed_gain, self.release)
        };
        for x in block {
            self.gain += (target - self.gain) * coefficient;
            *x *= self.gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::denoise::BLOCK;

    #[test]
    fn attenuates_below_and_passes_above_without_jumps() {
        let mut gate = NoiseGate::new(-40.0, Duration::from_millis(50));
        let mut trajectory = Vec::new();
        // 0.5 s quiet (-50 dBFS), 0.5 s loud (-10), 1 s quiet again.
        for (blocks, level) in [(50, -50.0), (50, -10.0), (100, -50.0)] {
            for _ in 0..blocks {
                let mut block = [1.0f32; BLOCK];
                gate.process(&mut block, level);
                trajectory.extend_from_slice(&block);
            }
        }
        let at = |ms: usize| trajectory[ms * 48];
        assert!(at(400) <= 0.0101, "closed: {}", at(400));
        assert!(at(600) > 0.999, "open: {}", at(600));
        // Held 50 ms after the loud part, then released.
        assert!(at(1040) > 0.999);
        assert!(at(1500) < 0.02, "released: {}", at(1500));
        // The gain (a unit signal here) never jumps: at most 1/48 of the range per sample
        // (1 ms attack), which is inaudible as a click on speech.
        let largest_step = trajectory
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        assert!(largest_step < 0.025, "{largest_step}");
        assert!(gate.gain() < 0.02);
    }
}
