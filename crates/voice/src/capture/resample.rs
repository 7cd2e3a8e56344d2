//! Streaming sample-rate conversion on top of rubato, for any chunk size in.
//!
//! Why this wrapper: devices run at whatever rate they like (44.1 kHz built-in cards,
//! 16 kHz headsets, 96 kHz interfaces) and hand over whatever buffer size they like, while
//! the engine runs at 48 kHz; the mixer must in turn give the output device its own rate.
//! rubato works on fixed-size chunks, so this keeps an input accumulator sized at
//! construction: pushing any number of samples never allocates.
//!
//! Which resampler: the synchronous FFT resampler (`rubato::Fft`) whenever the two rates
//! share a block of at most 20 ms (every standard rate: 8, 11.025, 16, 22.05, 24, 32,
//! 44.1, 88.2, 96, 176.4, 192 kHz). It is the cheapest and, with blocks of at least
//! [`MIN_FFT_BLOCK`] samples, keeps the anti-aliasing cutoff near 0.9 of Nyquist. Odd
//! rates whose common block would be longer (and the delay with it) get rubato's
//! asynchronous sinc resampler instead.
//!
//! Latency: the FFT resampler delays its output by half its output block
//! ([`StreamResampler::delay`]); on top of it, a sample waits until its block is full
//! (up to [`StreamResampler::block_out`] output samples). Capture trims the delay off the
//! start of the stream so that output sample `k` lines up with input instant `k`. The
//! reported delay is exact for even input blocks (16, 32, 96 kHz) and within a sample
//! otherwise (an impulse measured at 79.4 samples for the 80 reported at 44.1 kHz).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

/// Smallest FFT block on either side. rubato's cutoff for a block of n samples is
/// `1 / (1 + 13.7/n + 122/n² + 5964/n³)` of Nyquist (Blackman-Harris²): 0.89 at 128,
/// but only 0.5 at 27, which at 8 kHz would cut the voice band at 2 kHz.
pub(crate) const MIN_FFT_BLOCK: usize = 128;

/// How the resampler cuts the stream into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunking {
    /// The smallest blocks that keep the cutoff high: lowest latency, for capture.
    LowLatency,
    /// A fixed input chunk of this many samples (one mixer frame); the output length
    /// follows the ratio and may vary by a block from call to call.
    FixedInput(usize),
}

/// A mono resampler that accepts any number of samples per call.
pub(crate) struct StreamResampler {
    inner: Box<dyn Resampler<f32>>,
    /// Input collected towards the next chunk; sized for the largest chunk.
    pending: Vec<f32>,
    filled: usize,
    /// One chunk of output; sized for the largest chunk.
    out: Vec<f32>,
    /// Output samples still to drop from the start (the resampler's delay).
    skip: usize,
    kind: &'static str,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("kind", &self.kind)
            .field("input_chunk", &self.inner.input_frames_next())
            .field("delay", &self.inner.output_delay())
            .field("filled", &self.filled)
            .finish()
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl StreamResampler {
    /// A resampler from `input_rate` to `output_rate` (Hz, both > 0). With
    /// `trim_delay`, the resampler's own delay is dropped from the start of the output,
    /// so output and input stay aligned sample for sample.
    pub(crate) fn new(
        input_rate: u32,
        output_rate: u32,
        chunking: Chunking,
        trim_delay: bool,
    ) -> Result<Self, String> {
        if input_rate == 0 || output_rate == 0 {
            return Err("sample rates must be positive".to_owned());
        }
        let (rate_in, rate_out) = (input_rate as usize, output_rate as usize);
        let common = gcd(rate_in, rate_out);
        let (min_in, min_out) = (rate_in / common, rate_out / common);
        // The shortest block on which both rates meet must fit in 20 ms of input.
        let fft_fits = min_in * 50 <= rate_in;
        let (inner, kind): (Box<dyn Resampler<f32>>, _) = if fft_fits {
            let resampler = match chunking {
                Chunking::LowLatency => {
                    let blocks = MIN_FFT_BLOCK
                        .div_ceil(min_in)
                        .max(MIN_FFT_BLOCK.div_ceil(min_out));
                    Fft::<f32>::new_custom(
                        rate_in,
                        rate_out,
                        blocks * min_in,
                        1,
                        1,
                        WindowFunction::BlackmanHarris2,
                        FixedSync::Both,
                    )
                }
                Chunking::FixedInput(chunk) => {
                    // As many sub-blocks as possible (short delay) while each one is a
                    // whole number of common blocks, so the output length never varies.
                    let sub_chunks = (1..=chunk)
                        .rev()
                        .find(|&s| {
                            let sub_in = chunk / s;
                            chunk % s == 0
                                && sub_in % min_in == 0
                                && sub_in >= MIN_FFT_BLOCK
                                && sub_in / min_in * min_out >= MIN_FFT_BLOCK
                        })
                        .unwrap_or((chunk / 256).max(1));
                    Fft::<f32>::new_custom(
                        rate_in,
                        rate_out,
                        chunk,
                        sub_chunks,
                        1,
                        WindowFunction::BlackmanHarris2,
                        FixedSync::Input,
                    )
                }
            };
            (
                Box::new(resampler.map_err(|e| e.to_string())?) as Box<_>,
                "fft",
            )
        } else {
            let chunk = match chunking {
                // 5 ms of input.
                Chunking::LowLatency => (rate_in / 200).max(1),
                Chunking::FixedInput(chunk) => chunk,
            };
            let parameters = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: None,
                oversampling_factor: 128,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            let resampler = Async::<f32>::new_sinc(
                rate_out as f64 / rate_in as f64,
                1.0,
                &parameters,
                chunk,
                1,
                FixedAsync::Input,
            )
            .map_err(|e| e.to_string())?;
            (Box::new(resampler) as Box<_>, "sinc")
        };
        let pending = vec![0.0; inner.input_frames_max()];
        let out = vec![0.0; inner.output_frames_max()];
        let skip = if trim_delay { inner.output_delay() } else { 0 };
        Ok(Self {
            inner,
            pending,
            filled: 0,
            out,
            skip,
            kind,
        })
    }

    /// The resampler's delay, in output samples.
    pub(crate) fn delay(&self) -> usize {
        self.inner.output_delay()
    }

    /// Input samples per chunk.
    pub(crate) fn block_in(&self) -> usize {
        self.inner.input_frames_max()
    }

    /// The most output samples one chunk yields.
    pub(crate) fn block_out(&self) -> usize {
        self.inner.output_frames_max()
    }

    /// Feeds `input`; every completed chunk of output goes to `sink`, in order.
    pub(crate) fn process(&mut self, mut input: &[f32], mut sink: impl FnMut(&[f32])) {
        while !input.is_empty() {
            let need = self.inner.input_frames_next();
            let take = (need - self.filled).min(input.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled < need {
                break;
            }
            self.filled = 0;
            let produced = self.run_chunk(need);
            let skip = self.skip.min(produced);
            self.skip -= skip;
            if produced > skip {
                sink(&self.out[skip..produced]);
            }
        }
    }

    /// Resamples one full chunk of `pending` into `out`; returns the output length.
    fn run_chunk(&mut self, frames_in: usize) -> usize {
        let frames_out = self.inner.output_frames_next();
        let produced = match (
            InterleavedSlice::new(&self.pending[..], 1, frames_in),
            InterleavedSlice::new_mut(&mut self.out[..], 1, frames_out),
        ) {
            (Ok(input), Ok(mut output)) => self
                .inner
                .process_into_buffer(&input, &mut output, None)
                .ok()
                .map(|(_, written)| written),
            _ => None,
        };
        // The buffers are sized from the resampler itself, so a failure is a bug; keep
        // the sample clock running with silence rather than stall the stream.
        debug_assert!(produced.is_some(), "resampler rejected its own chunk sizes");
        produced.unwrap_or_else(|| {
            self.out[..frames_out].fill(0.0);
            frames_out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(resampler: &mut StreamResampler, input: &[f32], step: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for chunk in input.chunks(step) {
            resampler.process(chunk, |s| out.extend_from_slice(s));
        }
        out
    }

    #[test]
    fn trimmed_output_is_aligned_with_the_input() {
        // A click at input sample 4410 (100 ms at 44.1 kHz) must come out at 4800.
        let mut resampler =
            StreamResampler::new(44_100, 48_000, Chunking::LowLatency, true).expect("resampler");
        let mut input = vec![0.0f32; 44_100];
        input[4410] = 1.0;
        let out = run(&mut resampler, &input, 100);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i)
            .expect("output");
        // Within a sample: the FFT filter's true delay is (147 - 1) / 2 input samples,
        // 79.5 output samples, half a sample (10 µs) less than the 80 rubato reports.
        assert!(
            peak.abs_diff(4800) <= 1,
            "peak at {peak}, {:?}",
            &out[4796..4804]
        );
    }

    #[test]
    fn low_latency_blocks_for_common_rates() {
        for (rate, block_in, block_out, delay) in [
            (44_100, 147, 160, 80),
            (16_000, 128, 384, 192),
            (96_000, 256, 128, 64),
            (8_000, 128, 768, 384),
        ] {
            let r =
                StreamResampler::new(rate, 48_000, Chunking::LowLatency, true).expect("resampler");
            assert_eq!(
                (r.block_in(), r.block_out(), r.delay()),
                (block_in, block_out, delay),
                "{rate} Hz"
            );
            assert_eq!(r.kind, "fft");
        }
    }

    #[test]
    fn odd_rates_fall_back_to_sinc() {
        let mut r =
            StreamResampler::new(44_056, 48_000, Chunking::LowLatency, true).expect("resampler");
        assert_eq!(r.kind, "sinc");
        let out = run(&mut r, &vec![0.25; 44_056], 333);
        // One second in, one second out, less what is still in flight.
        assert!((47_000..=48_000).contains(&out.len()), "{}", out.len());
    }

    #[test]
    fn fixed_input_output_length_is_constant_for_44k() {
        let mut r = StreamResampler::new(48_000, 44_100, Chunking::FixedInput(960), false)
            .expect("resampler");
        for _ in 0..10 {
            let mut n = 0;
            r.process(&[0.1; 960], |s| n += s.len());
            assert_eq!(n, 882);
        }
    }
}
