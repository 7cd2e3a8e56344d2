//! Mixing decoded streams into one output for the playback device.
//!
//! Why it looks like this: everyone in a room may talk at once, each listener sets a
//! volume per person (0–200 %), and the result must never clip or wrap, whatever the
//! number of streams. Per frame, [`Mixer::mix`] sums the 48 kHz mono frames with their
//! gains (a gain change ramps over one frame, so moving a slider does not click), holds
//! the sum within full scale with a lookahead-free peak limiter and a soft clip (see
//! `limiter`), resamples to the device rate when it is not 48 kHz (rubato's FFT
//! resampler) and copies the mono signal to every device channel.
//!
//! All buffers are sized in [`Mixer::new`]; mixing allocates nothing (the caller's output
//! `Vec` grows once, or not at all if reserved with [`Mixer::max_output_len`]).
//!
//! Latency: summing and limiting add none; resampling adds [`Mixer::latency_samples`]
//! (device-rate samples, 0 at 48 kHz; 73 at 44.1 kHz with 20 ms frames, about 1.7 ms).

pub(crate) mod limiter;

use std::collections::HashMap;

use crate::capture::resample::{Chunking, StreamResampler};
use crate::frame::{FrameDuration, SAMPLE_RATE};
use limiter::{Limiter, soft_clip};

/// Highest per-stream gain (200 %).
pub const MAX_GAIN: f32 = 2.0;

/// Streams the gain table holds before it has to grow.
const STREAMS_PREALLOCATED: usize = 128;

/// Highest output rate accepted, in Hz.
pub const MAX_OUTPUT_RATE: u32 = 768_000;

/// Why a mixer could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    /// The output rate is 0 or above [`MAX_OUTPUT_RATE`].
    #[error("unsupported output sample rate: {0} Hz")]
    InvalidRate(u32),
    /// The output has no channels.
    #[error("the output device must have at least one channel")]
    NoChannels,
    /// The resampler refused the rates.
    #[error("cannot resample 48000 Hz to {rate} Hz: {reason}")]
    Resampler {
        /// The output rate.
        rate: u32,
        /// rubato's explanation.
        reason: String,
    },
}

#[derive(Debug, Clone, Copy)]
struct StreamGain {
    /// What the user asked for.
    target: f32,
    /// What the last mixed frame ended with.
    current: f32,
}

/// Sums 48 kHz mono streams with per-stream gains into frames for the output device.
#[derive(Debug)]
pub struct Mixer {
    output_rate: u32,
    output_channels: usize,
    frame_len: usize,
    gains: HashMap<u16, StreamGain>,
    sum: Vec<f32>,
    limiter: Limiter,
    resampler: Option<StreamResampler>,
    resampled: Vec<f32>,
}

impl Mixer {
    /// A mixer for a device running at `output_rate` Hz with `output_channels`
    /// interleaved channels, taking frames of `frame` at 48 kHz.
    pub fn new(
        output_rate: u32,
        output_channels: u16,
        frame: FrameDuration,
    ) -> Result<Self, MixerError> {
        if output_rate == 0 || output_rate > MAX_OUTPUT_RATE {
            return Err(MixerError::InvalidRate(output_rate));
        }
        if output_channels == 0 {
            return Err(MixerError::NoChannels);
        }
        let frame_len = frame.samples();
        let resampler = if output_rate == SAMPLE_RATE {
            None
        } else {
            Some(
                StreamResampler::new(
                    SAMPLE_RATE,
                    output_rate,
                    Chunking::FixedInput(frame_len),
                    false,
                )
                .map_err(|reason| MixerError::Resampler {
                    rate: output_rate,
                    reason,
                })?,
            )
        };
        let resampled = Vec::with_capacity(resampler.as_ref().map_or(0, |r| r.block_out() * 2));
        Ok(Self {
            output_rate,
            output_channels: output_channels.into(),
            frame_len,
            gains: HashMap::with_capacity(STREAMS_PREALLOCATED),
            sum: vec![0.0; frame_len],
            limiter: Limiter::new(SAMPLE_RATE),
            resampler,
            resampled,
        })
    }

    /// The device rate, in Hz.
    pub fn output_rate(&self) -> u32 {
        self.output_rate
    }

    /// The device channel count.
    pub fn output_channels(&self) -> u16 {
        u16::try_from(self.output_channels).unwrap_or(u16::MAX)
    }

    /// Samples per input frame (48 kHz mono).
    pub fn frame_samples(&self) -> usize {
        self.frame_len
    }

    /// The most interleaved samples one [`Mixer::mix`] call writes: reserve this much in
    /// the output `Vec` and mixing never allocates.
    pub fn max_output_len(&self) -> usize {
        let frames = self.resampler.as_ref().map_or(self.frame_len, |r| {
            r.block_out() * self.frame_len.div_ceil(r.block_in())
        });
        frames * self.output_channels
    }

    /// Delay the mixer adds, in device-rate samples: the resampler's (0 at 48 kHz).
    pub fn latency_samples(&self) -> usize {
        self.resampler.as_ref().map_or(0, |r| {
            // Input that waits for a whole block when blocks do not divide the frame.
            let waiting = (r.block_in() - self.frame_len % r.block_in()) % r.block_in();
            r.delay() + waiting * self.output_rate as usize / SAMPLE_RATE as usize
        })
    }

    /// Sets the gain of one stream (the `StreamId` value), 0.0 (muted) to
    /// [`MAX_GAIN`] (200 %); values outside are clamped, NaN is ignored. Streams without
    /// a gain play at 1.0. For a stream already mixed, the change ramps in over the next
    /// frame; a stream not yet heard starts at the new gain.
    pub fn set_gain(&mut self, stream_key: u16, gain: f32) {
        if gain.is_nan() {
            return;
        }
        let gain = gain.clamp(0.0, MAX_GAIN);
        self.gains
            .entry(stream_key)
            .and_modify(|g| g.target = gain)
            .or_insert(StreamGain {
                target: gain,
                current: gain,
            });
    }

    /// The gain set for a stream (1.0 if none was).
    pub fn gain(&self, stream_key: u16) -> f32 {
        self.gains.get(&stream_key).map_or(1.0, |g| g.target)
    }

    /// Forgets a stream (when its speaker leaves): its gain goes back to 1.0 and its
    /// slot in the gain table is freed.
    pub fn remove_stream(&mut self, stream_key: u16) {
        self.gains.remove(&stream_key);
    }

    /// How much the limiter is currently turning the sum down, in dB (0 or negative).
    pub fn limiter_gain_db(&self) -> f32 {
        self.limiter.gain_db()
    }

    /// Mixes one frame. `inputs` are `(stream key, 48 kHz mono frame)` pairs, any number
    /// of them; a frame shorter than [`Mixer::frame_samples`] is padded with silence, a
    /// longer one cut, and non-finite samples count as silence. `out` is cleared and
    /// receives the interleaved device-rate frames; returns their count (per channel).
    /// At 48 kHz that is always one frame; when resampling it follows the rate (882
    /// for 20 ms at 44.1 kHz), and the first call may give fewer while the resampler
    /// fills.
    pub fn mix(&mut self, inputs: &[(u16, &[f32])], out: &mut Vec<f32>) -> usize {
        self.sum.fill(0.0);
        for &(key, samples) in inputs {
            // A stream heard for the first time plays at unity (the map has room for
            // STREAMS_PREALLOCATED streams before it grows).
            let gain = self.gains.entry(key).or_insert(StreamGain {
                target: 1.0,
                current: 1.0,
            });
            let from = gain.current;
            gain.current = gain.target;
            accumulate(&mut self.sum, samples, from, gain.target);
        }
        self.limiter.process(&mut self.sum);
        out.clear();
        let channels = self.output_channels;
        let mono: &[f32] = match &mut self.resampler {
            None => &self.sum,
            Some(resampler) => {
                let resampled = &mut self.resampled;
                resampled.clear();
                resampler.process(&self.sum, |chunk| resampled.extend_from_slice(chunk));
                resampled
            }
        };
        out.resize(mono.len() * channels, 0.0);
        for (frame, &x) in out.chunks_exact_mut(channels).zip(mono) {
            frame.fill(soft_clip(x));
        }
        mono.len()
    }
}

/// `sum += gain · samples`, the gain moving linearly from `from` to `to` over the frame.
fn accumulate(sum: &mut [f32], samples: &[f32], from: f32, to: f32) {
    let finite = |x: f32| if x.is_finite() { x } else { 0.0 };
    if from == to {
        if to == 0.0 {
            return;
        }
        for (s, &x) in sum.iter_mut().zip(samples) {
            *s += finite(x) * to;
        }
    } else {
        let step = (to - from) / sum.len() as f32;
        for (i, (s, &x)) in sum.iter_mut().zip(samples).enumerate() {
            *s += finite(x) * (from + step * (i + 1) as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic uniform noise source in [-1, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    fn sine(freq: f32, amplitude: f32, start: usize, len: usize, rate: f32) -> Vec<f32> {
        (start..start + len)
            .map(|i| amplitude * (i as f32 * 2.0 * std::f32::consts::PI * freq / rate).sin())
            .collect()
    }

    #[test]
    fn fifty_full_scale_streams_at_200_percent_stay_within_full_scale() {
        for rate in [48_000, 44_100, 96_000] {
            let mut mixer = Mixer::new(rate, 2, FrameDuration::Ms20).expect("mixer");
            for key in 0..50 {
                mixer.set_gain(key, 2.0);
            }
            let mut rng = Lcg(7);
            let mut frames: Vec<Vec<f32>> = vec![vec![0.0; 960]; 50];
            let mut out = Vec::with_capacity(mixer.max_output_len());
            let mut written = 0;
            for n in 0..100 {
                for frame in &mut frames {
                    // Every other frame all streams in phase at full scale (the worst
                    // case for the sum), otherwise independent full-scale noise.
                    for (i, x) in frame.iter_mut().enumerate() {
                        *x = match (n % 2, (i / 20) % 2) {
                            (0, 0) => 1.0,
                            (0, _) => -1.0,
                            _ => rng.next(),
                        };
                    }
                }
                let inputs: Vec<(u16, &[f32])> = frames
                    .iter()
                    .enumerate()
                    .map(|(k, f)| (k as u16, f.as_slice()))
                    .collect();
                let n_frames = mixer.mix(&inputs, &mut out);
                assert_eq!(out.len(), n_frames * 2);
                assert!(out.len() <= mixer.max_output_len());
                written += n_frames;
                for &x in &out {
                    assert!(!x.is_nan() && x.abs() <= 1.0, "{rate} Hz: {x}");
                }
            }
            assert!(
                mixer.limiter_gain_db() < -30.0,
                "{}",
                mixer.limiter_gain_db()
            );
            let expected = 100 * 960 * rate as usize / 48_000;
            assert!(
                expected - written <= 2 * mixer.latency_samples() + 1,
                "{rate}: {written}"
            );
        }
    }

    #[test]
    fn non_finite_input_is_silence() {
        let mut mixer = Mixer::new(48_000, 1, FrameDuration::Ms10).expect("mixer");
        let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.25].repeat(120);
        let mut out = Vec::new();
        mixer.mix(&[(1, &bad)], &mut out);
        assert!(out.iter().all(|x| x.is_finite()));
        assert_eq!(out[3], 0.25);
        assert_eq!(out[0], 0.0);
    }

    #[test]
    fn gains_apply_exactly_below_the_limiter() {
        let mut mixer = Mixer::new(48_000, 2, FrameDuration::Ms20).expect("mixer");
        mixer.set_gain(3, 0.5);
        let input = sine(440.0, 0.2, 0, 960, 48_000.0);
        let mut out = Vec::new();
        for _ in 0..3 {
            assert_eq!(mixer.mix(&[(3, &input)], &mut out), 960);
            for (i, &x) in input.iter().enumerate() {
                assert_eq!(out[2 * i], x * 0.5);
                assert_eq!(out[2 * i + 1], x * 0.5);
            }
        }
        // Two streams add; an unknown stream plays at 1.0; clamping.
        let other = sine(1000.0, 0.1, 0, 960, 48_000.0);
        mixer.mix(&[(3, &input), (9, &other)], &mut out);
        for i in 0..960 {
            assert!((out[2 * i] - (input[i] * 0.5 + other[i])).abs() < 1e-6);
        }
        mixer.set_gain(4, 7.0);
        assert_eq!(mixer.gain(4), MAX_GAIN);
        mixer.set_gain(4, -1.0);
        assert_eq!(mixer.gain(4), 0.0);
        mixer.set_gain(4, f32::NAN);
        assert_eq!(mixer.gain(4), 0.0);
        mixer.remove_stream(4);
        assert_eq!(mixer.gain(4), 1.0);
    }

    #[test]
    fn a_gain_change_ramps_over_one_frame() {
        let mut mixer = Mixer::new(48_000, 1, FrameDuration::Ms20).expect("mixer");
        let ones = vec![0.5f32; 960];
        let mut out = Vec::new();
        mixer.mix(&[(1, &ones)], &mut out);
        mixer.set_gain(1, 0.0);
        mixer.mix(&[(1, &ones)], &mut out);
        assert!((out[0] - 0.5).abs() < 1e-3 && out[959].abs() < 1e-6);
        assert!(out.windows(2).all(|w| w[1] <= w[0] && w[0] - w[1] < 1e-3));
        mixer.mix(&[(1, &ones)], &mut out);
        assert!(out.iter().all(|&x| x == 0.0));
    }

    /// Frequency by linear interpolation of rising zero crossings.
    fn frequency(signal: &[f32], rate: f32) -> f32 {
        let crossings: Vec<f32> = signal
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
            .map(|(i, w)| i as f32 + w[0] / (w[0] - w[1]))
            .collect();
        let (first, last) = (crossings[0], crossings[crossings.len() - 1]);
        (crossings.len() - 1) as f32 * rate / (last - first)
    }

    #[test]
    fn resampled_output_has_the_right_length_frequency_and_level() {
        for (rate, per_frame) in [(44_100u32, 882usize), (16_000, 320), (96_000, 1920)] {
            let mut mixer = Mixer::new(rate, 2, FrameDuration::Ms20).expect("mixer");
            let mut left = Vec::new();
            let mut out = Vec::with_capacity(mixer.max_output_len());
            for n in 0..50 {
                let input = sine(1000.0, 0.5, n * 960, 960, 48_000.0);
                let frames = mixer.mix(&[(1, &input)], &mut out);
                if n > 0 {
                    assert_eq!(frames, per_frame, "{rate} Hz");
                }
                assert_eq!(out.len(), frames * 2);
                left.extend(out.chunks_exact(2).map(|f| {
                    assert_eq!(f[0], f[1]);
                    f[0]
                }));
            }
            let steady = &left[rate as usize / 10..];
            let f = frequency(steady, rate as f32);
            assert!((f - 1000.0).abs() < 0.5, "{rate} Hz: {f}");
            let peak = steady.iter().fold(0.0f32, |p, x| p.max(x.abs()));
            assert!((peak - 0.5).abs() < 0.01, "{rate} Hz: {peak}");
        }
    }

    #[test]
    fn unusual_rates_keep_the_rate_over_time() {
        // 11.025 kHz: FFT blocks that do not divide the frame (output varies per call);
        // 44.056 kHz: no short common block, the sinc resampler.
        for rate in [11_025u32, 44_056] {
            let mut mixer = Mixer::new(rate, 1, FrameDuration::Ms20).expect("mixer");
            let mut out = Vec::with_capacity(mixer.max_output_len());
            let input = sine(300.0, 0.5, 0, 960, 48_000.0);
            let mut total = 0;
            for _ in 0..50 {
                total += mixer.mix(&[(1, &input)], &mut out);
                assert!(out.len() <= mixer.max_output_len(), "{rate}");
            }
            let missing = rate as usize - total;
            assert!(missing <= mixer.latency_samples() + 1, "{rate}: {total}");
        }
    }

    #[test]
    fn invalid_devices_are_refused() {
        assert_eq!(
            Mixer::new(0, 2, FrameDuration::Ms20).err(),
            Some(MixerError::InvalidRate(0))
        );
        assert_eq!(
            Mixer::new(48_000, 0, FrameDuration::Ms20).err(),
            Some(MixerError::NoChannels)
        );
        let m = Mixer::new(44_100, 2, FrameDuration::Ms20).expect("mixer");
        assert_eq!(m.latency_samples(), 73);
        assert_eq!(m.max_output_len(), 882 * 2);
        assert_eq!(
            Mixer::new(48_000, 1, FrameDuration::Ms10)
                .expect("m")
                .latency_samples(),
            0
        );
    }
}
