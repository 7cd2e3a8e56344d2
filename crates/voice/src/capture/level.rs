//! Level meter (RMS in dBFS) and voice activity detection with hangover.
//!
//! Why here, before the gate and AGC: the meter shows what the microphone (after noise
//! suppression) delivers, and the later stages need to know whether a block is speech:
//! the AGC must not pull noise up between sentences, and Opus DTX and the "speaking"
//! indicator follow the voice flag.
//!
//! The detector is energy-based with an adaptive noise floor: the floor follows quieter
//! blocks down quickly and creeps up slowly, and a block is active speech when it stands
//! [`SPEECH_OVER_FLOOR_DB`] above the floor (and above an absolute minimum). When RNNoise
//! runs, its speech probability is combined with it as a veto: an energetic block the
//! network doubts is speech (a click, a bump, a door) is not. The network's probability
//! is not trusted on its own: until it has heard some speech it rates steady white noise
//! as likely speech for seconds (measured on the test fixture). The hangover keeps the flag up
//! for a while after the last active block, so word endings and short pauses between
//! words are not cut. It works on whole blocks and adds no delay.

use std::time::Duration;

use super::denoise::BLOCK;

/// The level reported for digital silence, in dBFS.
pub(crate) const SILENCE_DBFS: f32 = -120.0;

/// Blocks quieter than this are never speech, in dBFS.
pub(crate) const MIN_SPEECH_DBFS: f32 = -60.0;

/// How far above the noise floor a block must be to count as speech, in dB.
pub(crate) const SPEECH_OVER_FLOOR_DB: f32 = 9.0;

/// RNNoise probability below which an energetic block is not speech.
const DOUBTFUL_SPEECH: f32 = 0.15;

/// Noise floor rise per block (10 ms): 10 dB/s between speech, 5 dB/s during it, so a
/// sudden louder background (a fan switched on) is learnt within about two seconds, while
/// speech, whose pauses between words pull the floor back down, does not become "noise".
const FLOOR_RISE_DB: f32 = 0.1;
const FLOOR_RISE_IN_SPEECH_DB: f32 = 0.05;

/// Share of the distance the floor falls per block towards a quieter block.
const FLOOR_FALL: f32 = 0.5;

/// Mean of the squares of `samples` (0 for an empty slice).
pub(crate) fn mean_square(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|x| x * x).sum::<f32>() / samples.len() as f32
}

/// Largest magnitude in `samples`.
pub(crate) fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |p, x| p.max(x.abs()))
}

/// A mean square as dBFS (a full-scale square wave is 0 dBFS, a full-scale sine −3).
pub(crate) fn dbfs(mean_square: f32) -> f32 {
    if mean_square > 1e-12 {
        (10.0 * mean_square.log10()).max(SILENCE_DBFS)
    } else {
        SILENCE_DBFS
    }
}

/// A gain in dB as a factor.
pub(crate) fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Number of blocks covering `duration`, rounded up.
pub(crate) fn blocks_for(duration: Duration) -> u32 {
    let block = Duration::from_secs(1) / (super::SAMPLE_RATE / BLOCK as u32);
    u32::try_from(duration.as_nanos().div_ceil(block.as_nanos())).unwrap_or(u32::MAX)
}

/// What the detector says about one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VoiceDecision {
    /// This block itself is speech (no hangover): what level estimators should learn from.
    pub(crate) active: bool,
    /// Speech, or within the hangover after it.
    pub(crate) voice: bool,
}

/// Energy-based voice detector with an adaptive noise floor and hangover.
#[derive(Debug, Clone)]
pub(crate) struct VoiceDetector {
    floor_db: Option<f32>,
    hangover_blocks: u32,
    hangover_left: u32,
}

impl VoiceDetector {
    pub(crate) fn new(hangover: Duration) -> Self {
        Self {
            floor_db: None,
            hangover_blocks: blocks_for(hangover),
            hangover_left: 0,
        }
    }

    /// The current noise floor estimate, in dBFS.
    #[cfg(test)]
    pub(crate) fn floor_db(&self) -> Option<f32> {
        self.floor_db
    }

    /// Judges one block from its level and, when RNNoise ran, its speech probability.
    pub(crate) fn update(&mut self, level_db: f32, probability: Option<f32>) -> VoiceDecision {
        let floor = *self.floor_db.get_or_insert(level_db);
        let loud_enough = level_db > MIN_SPEECH_DBFS;
        let energetic = loud_enough && level_db > floor + SPEECH_OVER_FLOOR_DB;
        let active = energetic && probability.is_none_or(|p| p >= DOUBTFUL_SPEECH);
        let floor = if level_db < floor {
            floor + (level_db - floor) * FLOOR_FALL
        } else {
            let rise = if active {
                FLOOR_RISE_IN_SPEECH_DB
            } else {
                FLOOR_RISE_DB
            };
            floor + (level_db - floor).min(rise)
        };
        self.floor_db = Some(floor.max(SILENCE_DBFS));
        let voice = if active {
            self.hangover_left = self.hangover_blocks;
            true
        } else if self.hangover_left > 0 {
            self.hangover_left -= 1;
            true
        } else {
            false
        };
        VoiceDecision { active, voice }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbfs_of_known_signals() {
        assert_eq!(dbfs(1.0), 0.0);
        assert!((dbfs(0.5) + 3.0103).abs() < 1e-3);
        assert_eq!(dbfs(0.0), SILENCE_DBFS);
        assert_eq!(blocks_for(Duration::from_millis(300)), 30);
        assert_eq!(blocks_for(Duration::from_millis(301)), 31);
        assert_eq!(blocks_for(Duration::ZERO), 0);
    }

    #[test]
    fn steady_noise_is_not_speech_and_a_burst_is_with_hangover() {
        let mut vad = VoiceDetector::new(Duration::from_millis(100));
        for _ in 0..100 {
            assert!(!vad.update(-50.0, None).voice);
        }
        assert!(vad.update(-20.0, None).active);
        // 100 ms hangover = 10 blocks of voice after the burst, then silence.
        let tail: Vec<bool> = (0..12).map(|_| vad.update(-50.0, None).voice).collect();
        assert_eq!(tail, [[true; 10].as_slice(), &[false; 2]].concat());
        let floor = vad.floor_db().expect("floor");
        assert!((floor + 50.0).abs() < 0.5, "{floor}");
    }

    #[test]
    fn the_floor_learns_a_louder_background() {
        let mut vad = VoiceDetector::new(Duration::ZERO);
        for _ in 0..50 {
            vad.update(-70.0, None);
        }
        // The background jumps by 20 dB: speech at first, noise after a few seconds.
        let voiced = (0..500).filter(|_| vad.update(-50.0, None).active).count();
        assert!(voiced < 400, "{voiced}");
        assert!(!vad.update(-50.0, None).active);
    }

    #[test]
    fn the_network_vetoes_loud_non_speech() {
        let mut vad = VoiceDetector::new(Duration::ZERO);
        for _ in 0..50 {
            vad.update(-60.0, Some(0.0));
        }
        assert!(
            !vad.update(-20.0, Some(0.01)).active,
            "a click is not speech"
        );
        assert!(vad.update(-20.0, Some(0.5)).active);
        assert!(
            !vad.update(-58.0, Some(0.9)).active,
            "confident but not above the floor"
        );
    }
}
