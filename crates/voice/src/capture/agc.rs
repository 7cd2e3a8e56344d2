//! Automatic gain control: brings speech slowly towards a target level.
//!
//! Why: microphones and distances differ by 20 dB or more between people, and listeners
//! should not have to ride per-person volume. The gain is learnt from speech only (the
//! voice detector's active blocks), moves slowly ([`GAIN_RISE_DB_PER_S`]) so it does not
//! pump with syllables, is limited to [`MAX_GAIN_DB`], and is never above unity outside
//! speech (with its hangover), so the room between sentences is not pulled up. A block
//! whose peak would go past [`CEILING`] gets less gain (the block is in hand, so this needs
//! no lookahead) and a final soft clip guarantees the output stays within full scale.
//!
//! Works on whole blocks and adds no delay.

use super::denoise::BLOCK;
use super::level::{db_to_gain, peak};
use crate::mixer::limiter::soft_clip;

/// The speech level the AGC aims for, in dBFS RMS.
pub(crate) const TARGET_DBFS: f32 = -20.0;

/// Most gain applied, in dB.
pub(crate) const MAX_GAIN_DB: f32 = 20.0;

/// Least gain applied (loud talkers are brought down), in dB.
pub(crate) const MIN_GAIN_DB: f32 = -10.0;

/// Highest peak the gain may produce (−1 dBFS) before the soft clip.
pub(crate) const CEILING: f32 = 0.891;

/// How fast the gain may rise and fall.
pub(crate) const GAIN_RISE_DB_PER_S: f32 = 6.0;
pub(crate) const GAIN_FALL_DB_PER_S: f32 = 20.0;

/// Time constant of the speech level estimate, in seconds.
const LEVEL_TIME_CONSTANT_S: f32 = 0.5;

/// Blocks per second.
const BLOCKS_PER_S: f32 = super::SAMPLE_RATE as f32 / BLOCK as f32;

/// Samples over which a gain decrease is applied: fast (2.5 ms) so a loud onset or the
/// end of speech is tamed almost at once, yet without a step.
const FAST_RAMP: usize = 120;

#[derive(Debug, Clone)]
pub(crate) struct Agc {
    /// Speech level estimate, dBFS, once speech has been heard.
    speech_level_db: Option<f32>,
    /// The gain speech gets, in dB.
    speech_gain_db: f32,
    /// The gain applied at the end of the last block, as a factor.
    applied: f32,
}

impl Default for Agc {
    fn default() -> Self {
        Self {
            speech_level_db: None,
            speech_gain_db: 0.0,
            applied: 1.0,
        }
    }
}

impl Agc {
    /// The gain speech currently gets, in dB.
    #[cfg(test)]
    pub(crate) fn speech_gain_db(&self) -> f32 {
        self.speech_gain_db
    }

    /// Processes one block in place, given its level (dBFS) and what the voice detector
    /// said about it.
    pub(crate) fn process(&mut self, block: &mut [f32], level_db: f32, active: bool, voice: bool) {
        if active {
            let alpha = 1.0 - (-1.0 / (LEVEL_TIME_CONSTANT_S * BLOCKS_PER_S)).exp();
            let estimate = self
                .speech_level_db
                .map_or(level_db, |e| e + (level_db - e) * alpha);
            self.speech_level_db = Some(estimate);
            let wanted = (TARGET_DBFS - estimate).clamp(MIN_GAIN_DB, MAX_GAIN_DB);
            let step = (wanted - self.speech_gain_db).clamp(
                -GAIN_FALL_DB_PER_S / BLOCKS_PER_S,
                GAIN_RISE_DB_PER_S / BLOCKS_PER_S,
            );
            self.speech_gain_db += step;
        }
        let mut target = db_to_gain(self.speech_gain_db);
        if !voice {
            target = target.min(1.0);
        }
        let block_peak = peak(block);
        if block_peak * target > CEILING {
            target = CEILING / block_peak;
        }
        let start = self.applied;
        let ramp = if target < start {
            FAST_RAMP.min(block.len())
        } else {
            block.len()
        };
        let step = (target - start) / ramp.max(1) as f32;
        for (i, x) in block.iter_mut().enumerate() {
            let gain = if i < ramp {
                start + step * (i + 1) as f32
            } else {
                target
            };
            *x = soft_clip(*x * gain);
        }
        self.applied = target;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::level::{dbfs, mean_square};

    fn tone_block(amplitude: f32, phase: &mut usize) -> [f32; BLOCK] {
        let mut block = [0.0; BLOCK];
        for x in &mut block {
            *x = amplitude * (*phase as f32 * 2.0 * std::f32::consts::PI * 220.0 / 48_000.0).sin();
            *phase += 1;
        }
        block
    }

    #[test]
    fn quiet_speech_rises_slowly_to_the_target_within_the_limit() {
        let mut agc = Agc::default();
        let mut phase = 0;
        // A -35 dBFS "voice": needs +15 dB.
        let amplitude = db_to_gain(-35.0) * std::f32::consts::SQRT_2;
        let mut levels = Vec::new();
        for _ in 0..600 {
            let mut block = tone_block(amplitude, &mut phase);
            let level = dbfs(mean_square(&block));
            agc.process(&mut block, level, true, true);
            levels.push(dbfs(mean_square(&block)));
        }
        // 6 dB/s: after 1 s about +6 dB, after 6 s at the target.
        assert!((levels[99] - (-29.0)).abs() < 1.0, "{}", levels[99]);
        assert!((levels[599] - TARGET_DBFS).abs() < 0.5, "{}", levels[599]);
        // A whisper gets at most MAX_GAIN_DB.
        let mut agc = Agc::default();
        for _ in 0..2000 {
            let mut block = tone_block(0.001, &mut phase);
            let level = dbfs(mean_square(&block));
            agc.process(&mut block, level, true, true);
        }
        assert!((agc.speech_gain_db() - MAX_GAIN_DB).abs() < 1e-3);
    }

    #[test]
    fn no_gain_above_unity_outside_speech_and_no_clipping() {
        let mut agc = Agc::default();
        let mut phase = 0;
        for _ in 0..1000 {
            let mut block = tone_block(0.01, &mut phase);
            let level = dbfs(mean_square(&block));
            agc.process(&mut block, level, true, true);
        }
        assert!(agc.speech_gain_db() > 19.0);
        // Noise after the speech: back to unity within the first 2.5 ms.
        let mut block = tone_block(0.01, &mut phase);
        agc.process(&mut block, -43.0, false, false);
        assert!(peak(&block[FAST_RAMP..]) <= 0.01 + 1e-6);
        // A full-scale shout with the gain at +20 dB: never past full scale.
        for _ in 0..50 {
            let mut block = tone_block(1.0, &mut phase);
            let level = dbfs(mean_square(&block));
            agc.process(&mut block, level, true, true);
            assert!(peak(&block) <= 1.0);
        }
    }
}
