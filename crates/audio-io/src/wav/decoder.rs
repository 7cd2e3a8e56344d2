//! Reading a WAV file as interleaved `f32`, whatever its sample format, and starting
//! over at the end when asked to loop.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use crate::error::WavError;

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Float,
    /// Integer PCM, scaled by this to [-1, 1).
    Int(f32),
}

pub(crate) struct Decoder {
    reader: WavReader<BufReader<File>>,
    encoding: Encoding,
    pub(crate) sample_rate: u32,
    pub(crate) channels: u16,
    looping: bool,
    ended: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("looping", &self.looping)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    pub(crate) fn open(path: &Path, looping: bool) -> Result<Self, WavError> {
        let reader = WavReader::open(path).map_err(|source| WavError::Open {
            path: path.to_owned(),
            source,
        })?;
        let spec = reader.spec();
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(WavError::EmptyFormat);
        }
        let encoding = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Float, 32) => Encoding::Float,
            (SampleFormat::Int, bits @ 1..=32) => Encoding::Int(1.0 / (1u64 << (bits - 1)) as f32),
            (format, bits) => {
                return Err(WavError::Unsupported(format!("{bits}-bit {format:?}")));
            }
        };
        Ok(Self {
            encoding,
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            // Looping an empty file would spin forever.
            looping: looping && reader.duration() > 0,
            ended: false,
            reader,
        })
    }

    /// Frames in one pass through the file.
    pub(crate) fn frames(&self) -> u32 {
        self.reader.duration()
    }

    /// Whether the file has ended for good.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// Fills `out` (rounded down to whole frames) and returns the samples written; fewer
    /// only at the end of a file that does not loop.
    pub(crate) fn fill(&mut self, out: &mut [f32]) -> Result<usize, WavError> {
        let channels = usize::from(self.channels);
        let want = out.len() / channels * channels;
        let mut n = 0;
        while n < want && !self.ended {
            let got = self.read_some(&mut out[n..want])?;
            n += got;
            if got == 0 {
                if self.looping {
                    self.reader.seek(0).map_err(|e| WavError::Io(e.into()))?;
                } else {
                    self.ended = true;
                }
            }
        }
        Ok(n)
    }

    fn read_some(&mut self, out: &mut [f32]) -> Result<usize, WavError> {
        let mut n = 0;
        match self.encoding {
            Encoding::Float => {
                for (slot, sample) in out.iter_mut().zip(self.reader.samples::<f32>()) {
                    *slot = sample.map_err(WavError::Io)?;
                    n += 1;
                }
            }
            Encoding::Int(scale) => {
                for (slot, sample) in out.iter_mut().zip(self.reader.samples::<i32>()) {
                    *slot = sample.map_err(WavError::Io)? as f32 * scale;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}
