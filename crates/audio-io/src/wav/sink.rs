//! [`WavSink`]: a WAV file as a speaker that records what it is given.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use hound::{WavSpec, WavWriter};

use super::WavSampleFormat;
use crate::error::WavError;
use crate::io::AudioSink;

/// Writes every sample it receives to a WAV file, at once. It needs no pacing: whoever
/// writes to it (a mixer, a decoder) already keeps time, and a file cannot underrun.
///
/// [`finish`](Self::finish) completes the header and reports any write error; dropping
/// the sink completes the header too but ignores errors.
pub struct WavSink {
    writer: Option<WavWriter<BufWriter<File>>>,
    format: WavSampleFormat,
    sample_rate: u32,
    channels: u16,
    /// The first write error: later samples are dropped and `finish` returns it.
    error: Option<hound::Error>,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("format", &self.format)
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl WavSink {
    /// Creates (or truncates) `path`.
    pub fn create(
        path: impl AsRef<Path>,
        sample_rate: u32,
        channels: u16,
        format: WavSampleFormat,
    ) -> Result<Self, WavError> {
        if channels == 0 || sample_rate == 0 {
            return Err(WavError::EmptyFormat);
        }
        let (bits_per_sample, sample_format) = match format {
            WavSampleFormat::F32 => (32, hound::SampleFormat::Float),
            WavSampleFormat::I16 => (16, hound::SampleFormat::Int),
        };
        let spec = WavSpec {
            channels,
            sample_rate,
            bits_per_sample,
            sample_format,
        };
        let path = path.as_ref();
        let writer = WavWriter::create(path, spec).map_err(|source| WavError::Create {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            writer: Some(writer),
            format,
            sample_rate,
            channels,
            error: None,
        })
    }

    /// Completes the file's header and flushes it.
    pub fn finish(mut self) -> Result<(), WavError> {
        if let Some(error) = self.error.take() {
            return Err(WavError::Io(error));
        }
        match self.writer.take() {
            Some(writer) => writer.finalize().map_err(WavError::Io),
            None => Ok(()),
        }
    }

    fn write_all(&mut self, samples: &[f32]) -> Result<(), hound::Error> {
        let Some(writer) = &mut self.writer else {
            return Ok(());
        };
        match self.format {
            WavSampleFormat::F32 => {
                for &sample in samples {
                    writer.write_sample(sample)?;
                }
            }
            WavSampleFormat::I16 => {
                for &sample in samples {
                    writer.write_sample(to_i16(sample))?;
                }
            }
        }
        Ok(())
    }
}

/// The inverse of reading 16-bit PCM as `k / 32768`, clamped.
fn to_i16(sample: f32) -> i16 {
    (sample * 32_768.0)
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

impl AudioSink for WavSink {
    /// Takes every whole frame of `samples`.
    fn write(&mut self, samples: &[f32]) -> usize {
        let channels = usize::from(self.channels);
        let n = samples.len() / channels * channels;
        if self.error.is_none()
            && let Err(error) = self.write_all(&samples[..n])
        {
            tracing::warn!(%error, "writing the WAV file failed; dropping what follows");
            self.error = Some(error);
        }
        n
    }

    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::to_i16;

    #[test]
    fn i16_conversion_inverts_16_bit_reading_and_clamps() {
        for k in [i16::MIN, -12_345, -1, 0, 1, 12_345, i16::MAX] {
            assert_eq!(to_i16(f32::from(k) / 32_768.0), k);
        }
        assert_eq!(to_i16(1.5), i16::MAX);
        assert_eq!(to_i16(-1.5), i16::MIN);
    }
}
