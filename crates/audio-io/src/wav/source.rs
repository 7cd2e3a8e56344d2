//! [`WavSource`]: a WAV file as a microphone.

use std::path::Path;
use std::time::Duration;

use super::Pacing;
use super::decoder::Decoder;
use super::pacer::Paced;
use crate::error::WavError;
use crate::io::AudioSource;

/// A WAV file read as interleaved `f32` samples (8- to 32-bit integer or 32-bit float
/// files), either paced in real time or as fast as it is read, optionally looping.
#[derive(Debug)]
pub struct WavSource {
    inner: Inner,
    sample_rate: u32,
    channels: u16,
    duration: Duration,
}

#[derive(Debug)]
enum Inner {
    Direct(Decoder),
    Paced(Paced),
}

impl WavSource {
    /// Opens `path`. With [`Pacing::RealTime`] a thread starts moving samples at the
    /// file's rate right away; with `looping` the file starts over at its end, forever.
    pub fn open(path: impl AsRef<Path>, pacing: Pacing, looping: bool) -> Result<Self, WavError> {
        let decoder = Decoder::open(path.as_ref(), looping)?;
        let (sample_rate, channels) = (decoder.sample_rate, decoder.channels);
        let duration =
            Duration::from_secs_f64(f64::from(decoder.frames()) / f64::from(sample_rate));
        let inner = match pacing {
            Pacing::AsFastAsPossible => Inner::Direct(decoder),
            Pacing::RealTime => Inner::Paced(Paced::start(decoder)?),
        };
        Ok(Self {
            inner,
            sample_rate,
            channels,
            duration,
        })
    }

    /// The length of one pass through the file.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Real-time pacing only: how often the reader was so late (over a second) that
    /// samples were dropped.
    pub fn overruns(&self) -> u64 {
        match &self.inner {
            Inner::Direct(_) => 0,
            Inner::Paced(paced) => paced.overruns(),
        }
    }
}

impl AudioSource for WavSource {
    /// As fast as possible: fills `out` from the file (less only at its end). Real time:
    /// whatever the pacing thread has delivered so far.
    fn read(&mut self, out: &mut [f32]) -> usize {
        match &mut self.inner {
            Inner::Direct(decoder) => decoder.fill(out).unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the WAV file failed; ending it here");
                0
            }),
            Inner::Paced(paced) => {
                let channels = usize::from(self.channels);
                let n = out.len().min(paced.ring.slots()) / channels * channels;
                let (popped, _) = paced.ring.pop_partial_slice(&mut out[..n]);
                popped.len()
            }
        }
    }

    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Direct(decoder) => decoder.ended(),
            Inner::Paced(paced) => paced.is_finished(),
        }
    }
}
