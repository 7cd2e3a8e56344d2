//! The audio format every stage agrees on: 48 kHz mono, in frames of 10 or 20 ms.

/// The engine's sample rate, in Hz. Opus runs natively at it.
pub const SAMPLE_RATE: u32 = 48_000;

/// How much audio one packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FrameDuration {
    /// 10 ms: low-latency mode.
    Ms10,
    /// 20 ms: the default, better compression and resilience.
    #[default]
    Ms20,
}

impl FrameDuration {
    /// Samples per frame at [`SAMPLE_RATE`].
    pub const fn samples(self) -> usize {
        match self {
            FrameDuration::Ms10 => 480,
            FrameDuration::Ms20 => 960,
        }
    }

    /// Milliseconds per frame.
    pub const fn millis(self) -> u32 {
        match self {
            FrameDuration::Ms10 => 10,
            FrameDuration::Ms20 => 20,
        }
    }

    /// The frame length as a duration.
    pub const fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis() as u64)
    }
}
