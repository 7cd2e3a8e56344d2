//! Noise suppression with RNNoise (the `nnnoiseless` port), switchable while running.
//!
//! Why RNNoise: a small recurrent network that removes stationary and most
//! non-stationary noise (fans, hum, keyboard rumble) at a few percent of one core, with a
//! fixed 10 ms delay, and that also estimates the probability that a block holds speech,
//! which the voice detector uses.
//!
//! RNNoise works on [`BLOCK`] = 480 samples (10 ms at 48 kHz) scaled to the i16 range.
//! Its output lags its input by exactly one block (analysis windows overlap by half), so
//! [`Denoiser`] always delays by one block, even when suppression is off: the capture
//! latency and the sample clock stay the same whichever way the switch is set, and
//! switching crossfades between two time-aligned signals without a click.
//!
//! Switching on warms the network up for [`WARM_UP_BLOCKS`] blocks on the live signal
//! before its output is faded in over one block; switching off fades it out over one block
//! and then stops running it, so "off" costs nothing but a copy.

use nnnoiseless::DenoiseState;

/// Samples per RNNoise block: 10 ms at 48 kHz. Every 48 kHz stage works in these blocks.
pub(crate) const BLOCK: usize = DenoiseState::FRAME_SIZE;

/// Delay added by this stage, in 48 kHz samples, on or off.
pub(crate) const LATENCY: usize = BLOCK;

/// Blocks the network runs on live input before its output is used (its state is
/// stale after a pause, and the first output after a fresh start has fade-in artifacts).
pub(crate) const WARM_UP_BLOCKS: u8 = 2;

/// RNNoise expects samples in the i16 range.
const I16_SCALE: f32 = 32_768.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    WarmUp(u8),
    FadeIn,
    On,
    FadeOut,
}

/// One-block-delay noise suppressor.
pub(crate) struct Denoiser {
    state: Box<DenoiseState<'static>>,
    mode: Mode,
    /// The previous input block: the dry output, time-aligned with the denoised one.
    delayed: [f32; BLOCK],
    scaled: [f32; BLOCK],
    wet: [f32; BLOCK],
    /// Voice probability of the previous RNNoise frame.
    last_probability: f32,
}

impl std::fmt::Debug for Denoiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Denoiser")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Denoiser {
    /// A denoiser, suppressing from the first block when `enabled` (the first output
    /// block is the one-block delay's silence, which the caller drops anyway).
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            state: DenoiseState::new(),
            mode: if enabled { Mode::On } else { Mode::Off },
            delayed: [0.0; BLOCK],
            scaled: [0.0; BLOCK],
            wet: [0.0; BLOCK],
            last_probability: 0.0,
        }
    }

    /// Whether suppression is (or is being switched) on.
    pub(crate) fn enabled(&self) -> bool {
        matches!(self.mode, Mode::WarmUp(_) | Mode::FadeIn | Mode::On)
    }

    /// Switches suppression; takes effect smoothly over the next blocks.
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.mode = match (enabled, self.mode) {
            (true, Mode::Off) => Mode::WarmUp(WARM_UP_BLOCKS),
            // Every block ends fully dry or fully wet, so a fade can start from any
            // block boundary.
            (true, Mode::FadeOut) => Mode::FadeIn,
            (false, Mode::WarmUp(_)) => Mode::Off,
            (false, Mode::FadeIn | Mode::On) => Mode::FadeOut,
            (_, mode) => mode,
        };
    }

    /// Processes one block in place. On return `block` holds the previous input block,
    /// denoised or not. Returns RNNoise's probability that the returned block holds
    /// speech, when the network's output is in use.
    pub(crate) fn process(&mut self, block: &mut [f32; BLOCK]) -> Option<f32> {
        let probability = if self.mode == Mode::Off {
            None
        } else {
            for (scaled, &x) in self.scaled.iter_mut().zip(block.iter()) {
                *scaled = (x * I16_SCALE).clamp(-I16_SCALE, I16_SCALE - 1.0);
            }
            let p = self.state.process_frame(&mut self.wet, &self.scaled);
            for w in &mut self.wet {
                *w *= 1.0 / I16_SCALE;
            }
            // Frame k's analysis window spans input blocks k-1 and k, and the output block
            // (k-1) is made of frames k-1 and k: take the larger of their two estimates.
            let combined = p.max(self.last_probability);
            self.last_probability = p;
            Some(combined)
        };
        // The dry path: out goes the previous block, in comes this one.
        std::mem::swap(&mut self.delayed, block);
        let step = 1.0 / BLOCK as f32;
        match self.mode {
            Mode::Off | Mode::WarmUp(_) => {}
            Mode::On => block.copy_from_slice(&self.wet),
            Mode::FadeIn => {
                for (i, (out, &wet)) in block.iter_mut().zip(&self.wet).enumerate() {
                    let t = (i + 1) as f32 * step;
                    *out += (wet - *out) * t;
                }
            }
            Mode::FadeOut => {
                for (i, (out, &wet)) in block.iter_mut().zip(&self.wet).enumerate() {
                    let t = (i + 1) as f32 * step;
                    *out = wet + (*out - wet) * t;
                }
            }
        }
        let in_use = matches!(self.mode, Mode::FadeIn | Mode::On | Mode::FadeOut);
        self.mode = match self.mode {
            Mode::WarmUp(n) if n > 1 => Mode::WarmUp(n - 1),
            Mode::WarmUp(_) => Mode::FadeIn,
            Mode::FadeIn => Mode::On,
            Mode::FadeOut => Mode::Off,
            mode => mode,
        };
        if in_use { probability } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: &mut u32) -> f32 {
        *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (*seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    }

    #[test]
    fn off_is_a_pure_one_block_delay() {
        let mut d = Denoiser::new(false);
        let mut seed = 1;
        let mut previous = [0.0f32; BLOCK];
        for _ in 0..5 {
            let mut block = [0.0f32; BLOCK];
            block.iter_mut().for_each(|x| *x = noise(&mut seed) * 0.1);
            let input = block;
            assert_eq!(d.process(&mut block), None);
            assert_eq!(block, previous);
            previous = input;
        }
    }

    #[test]
    fn rnnoise_output_is_aligned_with_the_dry_path() {
        // A 300 Hz tone (voice-like enough to pass) through the network must line up
        // with the one-block-delayed input: correlation peaks at lag 0.
        let mut d = Denoiser::new(true);
        let tone: Vec<f32> = (0..BLOCK * 40)
            .map(|i| 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 300.0 / 48_000.0).sin())
            .collect();
        let mut out = Vec::new();
        for chunk in tone.chunks_exact(BLOCK) {
            let mut block = [0.0; BLOCK];
            block.copy_from_slice(chunk);
            d.process(&mut block);
            out.extend_from_slice(&block);
        }
        let (dry, wet) = (&tone[BLOCK * 10..BLOCK * 38], &out[BLOCK * 11..BLOCK * 39]);
        let corr =
            |lag: usize| -> f32 { dry.iter().zip(&wet[lag..]).map(|(a, b)| a * b).sum::<f32>() };
        // 300 Hz has a 160-sample period: compare lag 0 to the half-period lags.
        assert!(
            corr(0) > 0.0 && corr(0) > corr(80).abs(),
            "{} {}",
            corr(0),
            corr(80)
        );
    }

    #[test]
    fn switching_is_continuous() {
        // A steady tone switched off and on again: no sample jumps further than the
        // tone's own slope allows.
        let mut d = Denoiser::new(true);
        let mut out = Vec::new();
        let mut phase = 0usize;
        for n in 0..60 {
            if n == 20 {
                d.set_enabled(false);
            }
            if n == 35 {
                d.set_enabled(true);
            }
            let mut block = [0.0; BLOCK];
            for x in &mut block {
                *x = 0.3 * (phase as f32 * 2.0 * std::f32::consts::PI * 200.0 / 48_000.0).sin();
                phase += 1;
            }
            d.process(&mut block);
            out.extend_from_slice(&block);
        }
        let max_step = out[BLOCK * 10..]
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        // The tone's own largest step is 0.3 · 2π · 200 / 48000 ≈ 0.008.
        assert!(max_step < 0.02, "largest step {max_step}");
        assert!(d.enabled());
    }
}
