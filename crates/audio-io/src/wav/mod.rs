//! WAV files as audio endpoints: [`WavSource`] reads a file like a microphone (paced in
//! real time, or as fast as the caller reads), [`WavSink`] records what it is given.
//!
//! They implement the same [`AudioSource`](crate::AudioSource) and
//! [`AudioSink`](crate::AudioSink) traits as the device streams, so a headless bot, a
//! test or a benchmark drives the real pipeline with a file where a person has a sound
//! card.

mod decoder;
mod pacer;
mod sink;
mod source;

pub use sink::WavSink;
pub use source::WavSource;

/// How fast a [`WavSource`] delivers its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// At the file's own rate, from a background thread, like a microphone: a bot that
    /// streams a file speaks in real time.
    RealTime,
    /// As fast as the caller reads: for tests and offline processing.
    AsFastAsPossible,
}

/// How a [`WavSink`] stores samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavSampleFormat {
    /// 32-bit IEEE float: every `f32` kept exactly.
    F32,
    /// 16-bit PCM, clamped and rounded: what most tools read. A sample that came from a
    /// 16-bit file is written back bit for bit.
    I16,
}
