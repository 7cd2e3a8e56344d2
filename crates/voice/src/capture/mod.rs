//! Capture processing: from what the microphone delivers to 48 kHz mono frames for Opus.
//!
//! Runs on the encoder thread, between the capture ring and the encoder. The device
//! delivers interleaved samples at its own rate, channel count and buffer size;
//! [`CaptureProcessor::push`] takes any amount of them and [`CaptureProcessor::pop_frame`]
//! hands out exactly one frame ([`FrameDuration`]) at a time, with its level, a voice
//! flag for DTX and the "speaking" indicator, and its position on the capture sample
//! clock for timestamps.
//!
//! The stages, in order, and the latency each adds (48 kHz samples):
//!
//! | stage | module | latency |
//! |---|---|---|
//! | downmix to mono (average of the channels) | here | 0 |
//! | resample to 48 kHz, bypassed at 48 kHz | `resample` (rubato FFT) | half a block (the FFT's delay, e.g. 80 at 44.1 kHz) plus up to one block waiting to fill (160 at 44.1 kHz); 0 when bypassed |
//! | noise suppression (RNNoise), switchable | `denoise` | 480 (10 ms), whether on or off, so switching never moves the clock |
//! | level meter (RMS dBFS) and VAD with hangover | `level` | 0 |
//! | noise gate, optional | `gate` | 0 |
//! | AGC and soft clip | `agc` | 0 |
//!
//! The 48 kHz stages work in blocks of 10 ms (RNNoise's frame) and decide about a block
//! with the whole block in hand, which is why the meter, gate and AGC need no lookahead
//! of their own. [`CaptureProcessor::latency_samples`] is the total: how much input must
//! have followed a frame's last sample before that frame can be popped (worst case).
//!
//! The delays are trimmed off the start of the stream, so the frame with
//! `sample_index` k holds the audio captured at 48 kHz instants k, k+1, …: the frame's
//! capture time is the stream's start time plus `sample_index / 48000` seconds.
//!
//! Nothing here allocates once running, except that the output queue grows if the
//! caller pushes far more than it pops (it keeps its capacity after that).

pub(crate) mod agc;
pub(crate) mod denoise;
pub(crate) mod gate;
pub(crate) mod level;
pub(crate) mod resample;

use std::collections::VecDeque;
use std::time::Duration;

use crate::frame::{FrameDuration, SAMPLE_RATE};
use agc::Agc;
use denoise::{BLOCK, Denoiser};
use gate::NoiseGate;
use level::{VoiceDetector, dbfs, mean_square};
use resample::{Chunking, StreamResampler};

/// Highest device rate accepted, in Hz.
pub const MAX_INPUT_RATE: u32 = 768_000;

/// Lowest noise gate threshold accepted, in dBFS.
pub const MIN_GATE_THRESHOLD_DBFS: f32 = -100.0;

/// Device samples downmixed at a time (bounds the scratch buffer, not the push size).
const MONO_CHUNK: usize = 1024;

/// How capture is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// The device's sample rate, in Hz.
    pub input_rate: u32,
    /// The device's channel count (interleaved).
    pub input_channels: u16,
    /// Frame length handed to the encoder.
    pub frame: FrameDuration,
    /// RNNoise noise suppression (default on).
    pub noise_suppression: bool,
    /// Noise gate threshold in dBFS, `None` for no gate (default).
    pub noise_gate: Option<f32>,
    /// Automatic gain control (default on).
    pub agc: bool,
    /// How long the voice flag (and an open gate) stays up after speech ends.
    pub vad_hangover: Duration,
}

impl CaptureConfig {
    /// The defaults for a device of this rate and channel count.
    pub fn new(input_rate: u32, input_channels: u16) -> Self {
        Self {
            input_rate,
            input_channels,
            ..Self::default()
        }
    }
}

impl Default for CaptureConfig {
    /// 48 kHz mono, 20 ms frames, noise suppression and AGC on, no gate, 300 ms hangover.
    fn default() -> Self {
        Self {
            input_rate: SAMPLE_RATE,
            input_channels: 1,
            frame: FrameDuration::default(),
            noise_suppression: true,
            noise_gate: None,
            agc: true,
            vad_hangover: Duration::from_millis(300),
        }
    }
}

/// Why a capture processor could not be made or changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaptureError {
    /// The device rate is 0 or above [`MAX_INPUT_RATE`].
    #[error("unsupported input sample rate: {0} Hz")]
    InvalidRate(u32),
    /// The device has no channels.
    #[error("the input device must have at least one channel")]
    NoChannels,
    /// The gate threshold is not a number between [`MIN_GATE_THRESHOLD_DBFS`] and 0.
    #[error("noise gate threshold must be between -100 and 0 dBFS, not {0}")]
    InvalidGateThreshold(f32),
    /// The resampler refused the rates.
    #[error("cannot resample {rate} Hz to 48000 Hz: {reason}")]
    Resampler {
        /// The device rate.
        rate: u32,
        /// rubato's explanation.
        reason: String,
    },
}

/// What goes with a popped frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameInfo {
    /// RMS level of the frame after noise suppression, before gate and AGC, in dBFS
    /// (the microphone's level as a meter should show it; −120 for silence).
    pub level_dbfs: f32,
    /// Speech, or within the hangover after speech.
    pub voice: bool,
    /// Position of the frame's first sample on the 48 kHz capture clock: the number of
    /// 48 kHz samples captured before it since the processor was made.
    pub sample_index: u64,
}

/// One processed 10 ms block waiting to be popped.
#[derive(Debug, Clone, Copy)]
struct Block {
    samples: [f32; BLOCK],
    mean_square: f32,
    voice: bool,
}

/// The 48 kHz half of the pipeline: blocks in, processed blocks queued.
#[derive(Debug)]
struct BlockStage {
    block: [f32; BLOCK],
    filled: usize,
    /// Whether the denoiser's first (delay) block has been dropped.
    primed: bool,
    denoiser: Denoiser,
    vad: VoiceDetector,
    gate: Option<NoiseGate>,
    hangover: Duration,
    agc: Agc,
    agc_enabled: bool,
    ready: VecDeque<Block>,
}

impl BlockStage {
    fn feed(&mut self, mut samples: &[f32]) {
        while !samples.is_empty() {
            let take = (BLOCK - self.filled).min(samples.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&samples[..take]);
            self.filled += take;
            samples = &samples[take..];
            if self.filled == BLOCK {
                self.filled = 0;
                self.process_block();
            }
        }
    }

    fn process_block(&mut self) {
        let mut block = self.block;
        let probability = self.denoiser.process(&mut block);
        if !self.primed {
            // The delay line's initial silence, not captured audio.
            self.primed = true;
            return;
        }
        let mean_square = mean_square(&block);
        let level_db = dbfs(mean_square);
        let decision = self.vad.update(level_db, probability);
        if let Some(gate) = &mut self.gate {
            gate.process(&mut block, level_db);
        }
        if self.agc_enabled {
            self.agc
                .process(&mut block, level_db, decision.active, decision.voice);
        } else {
            for x in &mut block {
                *x = crate::mixer::limiter::soft_clip(*x);
            }
        }
        self.ready.push_back(Block {
            samples: block,
            mean_square,
            voice: decision.voice,
        });
    }
}

/// Turns device audio into 48 kHz mono frames: downmix, resample, noise suppression,
/// level and VAD, gate, AGC. See the [module docs](self).
#[derive(Debug)]
pub struct CaptureProcessor {
    config: CaptureConfig,
    channels: usize,
    frame_len: usize,
    /// A device frame split across pushes.
    partial: Vec<f32>,
    mono: Vec<f32>,
    resampler: Option<StreamResampler>,
    stage: BlockStage,
    next_index: u64,
}

fn validate_gate(threshold: Option<f32>) -> Result<(), CaptureError> {
    match threshold {
        Some(t) if !(MIN_GATE_THRESHOLD_DBFS..=0.0).contains(&t) => {
            Err(CaptureError::InvalidGateThreshold(t))
        }
        _ => Ok(()),
    }
}

impl CaptureProcessor {
    /// A processor for `config`; fails for a rate or channel count it cannot handle.
    pub fn new(config: CaptureConfig) -> Result<Self, CaptureError> {
        if config.input_rate == 0 || config.input_rate > MAX_INPUT_RATE {
            return Err(CaptureError::InvalidRate(config.input_rate));
        }
        if config.input_channels == 0 {
            return Err(CaptureError::NoChannels);
        }
        validate_gate(config.noise_gate)?;
        let resampler = if config.input_rate == SAMPLE_RATE {
            None
        } else {
            Some(
                StreamResampler::new(config.input_rate, SAMPLE_RATE, Chunking::LowLatency, true)
                    .map_err(|reason| CaptureError::Resampler {
                        rate: config.input_rate,
                        reason,
                    })?,
            )
        };
        let channels = usize::from(config.input_channels);
        let frame_len = config.frame.samples();
        let stage = BlockStage {
            block: [0.0; BLOCK],
            filled: 0,
            primed: false,
            denoiser: Denoiser::new(config.noise_suppression),
            vad: VoiceDetector::new(config.vad_hangover),
            gate: config
                .noise_gate
                .map(|t| NoiseGate::new(t, config.vad_hangover)),
            hangover: config.vad_hangover,
            agc: Agc::default(),
            agc_enabled: config.agc,
            // Room for a few frames of backlog before the queue has to grow.
            ready: VecDeque::with_capacity(16),
        };
        Ok(Self {
            channels,
            frame_len,
            partial: Vec::with_capacity(channels),
            mono: vec![0.0; MONO_CHUNK],
            resampler,
            stage,
            next_index: 0,
            config,
        })
    }

    /// The configuration, with runtime switches applied.
    pub fn config(&self) -> &CaptureConfig {
        &self.config
    }

    /// Samples per popped frame.
    pub fn frame_samples(&self) -> usize {
        self.frame_len
    }

    /// Worst-case latency added by the processing, in 48 kHz samples: how much input
    /// must follow a frame's last sample before the frame can be popped. 480 (10 ms,
    /// the noise suppressor's block) at 48 kHz; 719 at 44.1 kHz (+80 resampler delay,
    /// +159 waiting for a 160-sample resampler block). It does not change when noise
    /// suppression is switched. The frame's own duration comes on top.
    pub fn latency_samples(&self) -> usize {
        let resampler = self
            .resampler
            .as_ref()
            .map_or(0, |r| r.delay() + r.block_out() - 1);
        resampler + denoise::LATENCY
    }

    /// Switches noise suppression; the change crossfades in within 30 ms (off: 10 ms).
    pub fn set_noise_suppression(&mut self, enabled: bool) {
        self.config.noise_suppression = enabled;
        self.stage.denoiser.set_enabled(enabled);
    }

    /// Whether noise suppression is on.
    pub fn noise_suppression(&self) -> bool {
        self.stage.denoiser.enabled()
    }

    /// Sets the noise gate threshold (dBFS), or removes the gate with `None`.
    pub fn set_noise_gate(&mut self, threshold_dbfs: Option<f32>) -> Result<(), CaptureError> {
        validate_gate(threshold_dbfs)?;
        self.config.noise_gate = threshold_dbfs;
        match (threshold_dbfs, &mut self.stage.gate) {
            (None, gate) => *gate = None,
            (Some(t), Some(gate)) => gate.set_threshold(t),
            (Some(t), gate) => *gate = Some(NoiseGate::new(t, self.stage.hangover)),
        }
        Ok(())
    }

    /// Switches the automatic gain control (it keeps what it learnt while off).
    pub fn set_agc(&mut self, enabled: bool) {
        self.config.agc = enabled;
        self.stage.agc_enabled = enabled;
    }

    /// Feeds interleaved device samples, any amount (a device frame may even be split
    /// across calls). Processes every complete 10 ms block at once; the frames wait for
    /// [`CaptureProcessor::pop_frame`].
    pub fn push(&mut self, mut interleaved: &[f32]) {
        // Complete a device frame left over from the previous call.
        if !self.partial.is_empty() {
            let take = (self.channels - self.partial.len()).min(interleaved.len());
            self.partial.extend_from_slice(&interleaved[..take]);
            interleaved = &interleaved[take..];
            if self.partial.len() < self.channels {
                return;
            }
            let mixed = downmix_frame(&self.partial);
            self.partial.clear();
            self.feed_mono_sample(mixed);
        }
        let whole = interleaved.len() - interleaved.len() % self.channels;
        let (frames, rest) = interleaved.split_at(whole);
        for chunk in frames.chunks(MONO_CHUNK * self.channels) {
            let n = chunk.len() / self.channels;
            let mono = &mut self.mono[..n];
            if self.channels == 1 {
                for (m, &x) in mono.iter_mut().zip(chunk) {
                    *m = if x.is_finite() { x } else { 0.0 };
                }
            } else {
                for (m, frame) in mono.iter_mut().zip(chunk.chunks_exact(self.channels)) {
                    *m = downmix_frame(frame);
                }
            }
            let stage = &mut self.stage;
            match &mut self.resampler {
                Some(resampler) => resampler.process(&self.mono[..n], |s| stage.feed(s)),
                None => stage.feed(&self.mono[..n]),
            }
        }
        self.partial.extend_from_slice(rest);
    }

    fn feed_mono_sample(&mut self, sample: f32) {
        let stage = &mut self.stage;
        match &mut self.resampler {
            Some(resampler) => resampler.process(&[sample], |s| stage.feed(s)),
            None => stage.feed(&[sample]),
        }
    }

    /// Frames ready to pop.
    pub fn available_frames(&self) -> usize {
        self.stage.ready.len() / (self.frame_len / BLOCK)
    }

    /// Writes the next 48 kHz mono frame into `out[..frame_samples()]`, if one is ready
    /// (and `out` is long enough), and says what it holds.
    pub fn pop_frame(&mut self, out: &mut [f32]) -> Option<FrameInfo> {
        let blocks = self.frame_len / BLOCK;
        if self.stage.ready.len() < blocks || out.len() < self.frame_len {
            return None;
        }
        let mut sum_of_mean_squares = 0.0;
        let mut voice = false;
        for chunk in out[..self.frame_len].chunks_exact_mut(BLOCK) {
            let block = self.stage.ready.pop_front()?;
            chunk.copy_from_slice(&block.samples);
            sum_of_mean_squares += block.mean_square;
            voice |= block.voice;
        }
        let info = FrameInfo {
            level_dbfs: dbfs(sum_of_mean_squares / blocks as f32),
            voice,
            sample_index: self.next_index,
        };
        self.next_index += self.frame_len as u64;
        Some(info)
    }
}

/// The average of one interleaved device frame; non-finite samples count as silence.
fn downmix_frame(frame: &[f32]) -> f32 {
    let sum: f32 = frame
        .iter()
        .map(|&x| if x.is_finite() { x } else { 0.0 })
        .sum();
    sum / frame.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet_config(rate: u32, channels: u16) -> CaptureConfig {
        CaptureConfig {
            noise_suppression: false,
            agc: false,
            ..CaptureConfig::new(rate, channels)
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert_eq!(
            CaptureProcessor::new(CaptureConfig::new(0, 1)).err(),
            Some(CaptureError::InvalidRate(0))
        );
        assert_eq!(
            CaptureProcessor::new(CaptureConfig::new(48_000, 0)).err(),
            Some(CaptureError::NoChannels)
        );
        let gate = CaptureConfig {
            noise_gate: Some(3.0),
            ..CaptureConfig::default()
        };
        assert_eq!(
            CaptureProcessor::new(gate).err(),
            Some(CaptureError::InvalidGateThreshold(3.0))
        );
        let mut p = CaptureProcessor::new(CaptureConfig::default()).expect("processor");
        assert!(p.set_noise_gate(Some(f32::NAN)).is_err());
        assert!(p.set_noise_gate(Some(-45.0)).is_ok());
        assert_eq!(p.config().noise_gate, Some(-45.0));
    }

    #[test]
    fn at_48k_output_is_the_input_aligned_on_the_sample_clock() {
        let mut p = CaptureProcessor::new(quiet_config(48_000, 1)).expect("processor");
        assert_eq!(p.latency_samples(), 480);
        let input: Vec<f32> = (0..48_000)
            .map(|i| ((i % 100) as f32 - 50.0) / 100.0)
            .collect();
        let mut out = vec![0.0; 960];
        let mut popped = Vec::new();
        // Odd chunk sizes, popping as we go.
        for chunk in input.chunks(333) {
            p.push(chunk);
            while let Some(info) = p.pop_frame(&mut out) {
                assert_eq!(info.sample_index, popped.len() as u64);
                popped.extend_from_slice(&out);
            }
        }
        // All but the last latency's worth came out, unchanged.
        assert_eq!(popped.len(), 48_000 - 960);
        assert_eq!(popped[..], input[..popped.len()]);
    }

    #[test]
    fn stereo_frames_split_across_pushes_are_downmixed() {
        let mut p = CaptureProcessor::new(quiet_config(48_000, 2)).expect("processor");
        let input: Vec<f32> = (0..4800)
            .flat_map(|i| [0.25, if i % 2 == 0 { 0.25 } else { -0.25 }])
            .collect();
        for chunk in input.chunks(7) {
            p.push(chunk);
        }
        let mut out = vec![0.0; 960];
        assert_eq!(p.available_frames(), 4);
        p.pop_frame(&mut out).expect("frame");
        for (i, &x) in out.iter().enumerate() {
            assert_eq!(x, if i % 2 == 0 { 0.25 } else { 0.0 });
        }
        // A too-short output buffer gets nothing and loses nothing.
        assert_eq!(p.pop_frame(&mut [0.0; 10]), None);
        assert_eq!(p.available_frames(), 3);
    }

    #[test]
    fn ten_ms_frames_and_latency_at_44k() {
        let config = CaptureConfig {
            frame: FrameDuration::Ms10,
            ..quiet_config(44_100, 1)
        };
        let mut p = CaptureProcessor::new(config).expect("processor");
        assert_eq!(p.latency_samples(), 480 + 80 + 159);
        assert_eq!(p.frame_samples(), 480);
        p.push(&vec![0.1; 44_100]);
        let mut out = [0.0; 480];
        let mut n = 0;
        while p.pop_frame(&mut out).is_some() {
            n += 1;
        }
        // 1 s of input minus what is still in flight: at most the latency and a frame
        // not yet complete (here 80 + 400 + 480 = 960 samples).
        assert_eq!(n, 98);
        assert!(n * 480 + p.latency_samples() + 479 >= 48_000, "{n}");
    }
}
