//! Keeping sums within full scale: a peak limiter that rides the gain, and a soft clip.
//!
//! Why both: a room of many loud speakers at 200 % sums to far beyond full scale. Plain
//! clipping there sounds harsh and integer conversion downstream would wrap; a memoryless
//! tanh curve alone turns heavy overload into a square wave. The limiter follows the peak
//! envelope (instant attack, smooth release) and scales the sum so its peaks sit at
//! [`THRESHOLD`]: below it, the gain is exactly 1 and the signal untouched. It needs no
//! lookahead, so it adds no delay. The soft clip after it, identity below [`KNEE`], then
//! bends whatever still gets past (inter-sample overshoot from resampling) smoothly into
//! the range, so the output can never leave [-1, 1].

/// Peak level the limiter holds sums to (−1 dBFS).
pub(crate) const THRESHOLD: f32 = 0.891;

/// Where the soft clip starts bending.
pub(crate) const KNEE: f32 = 0.9;

/// Release time constant of the limiter's envelope, in seconds.
const RELEASE_S: f32 = 0.1;

/// Identity up to [`KNEE`], then a tanh curve with matching slope that approaches (and
/// never passes) full scale. Not-a-number comes out as silence.
pub(crate) fn soft_clip(x: f32) -> f32 {
    let magnitude = x.abs();
    if magnitude <= KNEE {
        x
    } else if magnitude.is_nan() {
        0.0
    } else {
        let room = 1.0 - KNEE;
        (KNEE + room * ((magnitude - KNEE) / room).tanh()).copysign(x)
    }
}

/// A lookahead-free peak limiter for one 48 kHz channel.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    envelope: f32,
    release: f32,
}

impl Limiter {
    pub(crate) fn new(sample_rate: u32) -> Self {
        Self {
            envelope: 0.0,
            release: (-1.0 / (RELEASE_S * sample_rate as f32)).exp(),
        }
    }

    /// The gain the limiter applies now, in dB (0 when idle).
    pub(crate) fn gain_db(&self) -> f32 {
        if self.envelope > THRESHOLD {
            20.0 * (THRESHOLD / self.envelope).log10()
        } else {
            0.0
        }
    }

    /// Limits `samples` in place: afterwards every |x| ≤ [`THRESHOLD`] (give or take
    /// rounding, which the soft clip's knee leaves room for).
    pub(crate) fn process(&mut self, samples: &mut [f32]) {
        for x in samples {
            let magnitude = x.abs();
            self.envelope = magnitude.max(self.envelope * self.release);
            if self.envelope > THRESHOLD {
                *x *= THRESHOLD / self.envelope;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_clip_is_identity_below_the_knee_and_bounded_above() {
        for x in [0.0, 0.3, -0.5, 0.9, -0.9] {
            assert_eq!(soft_clip(x), x);
        }
        let mut previous = 0.0;
        for i in 0..10_000 {
            let x = 0.9 + i as f32 * 0.01;
            let y = soft_clip(x);
            assert!(y <= 1.0 && y >= previous, "{x} -> {y}");
            assert_eq!(soft_clip(-x), -y);
            previous = y;
        }
        assert_eq!(soft_clip(f32::INFINITY), 1.0);
        assert_eq!(soft_clip(f32::NAN), 0.0);
    }

    #[test]
    fn limiter_holds_peaks_and_lets_quiet_signals_through() {
        let mut limiter = Limiter::new(48_000);
        let mut loud: Vec<f32> = (0..4800).map(|i| 40.0 * (i as f32 * 0.05).sin()).collect();
        limiter.process(&mut loud);
        // Within rounding of the threshold (x · (T / |x|) may round up by an ulp).
        assert!(loud.iter().all(|x| x.abs() <= THRESHOLD * (1.0 + 1e-6)));
        assert!(limiter.gain_db() < -30.0);
        // A second later the envelope has released and a quiet signal is untouched.
        let mut silence = vec![0.0; 48_000];
        limiter.process(&mut silence);
        let mut quiet: Vec<f32> = (0..4800).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
        let original = quiet.clone();
        limiter.process(&mut quiet);
        assert_eq!(quiet, original);
        assert_eq!(limiter.gain_db(), 0.0);
    }
}
