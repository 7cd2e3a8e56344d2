//! Device streams: [`Capture`] and [`Playback`], each a ring end in the user's hands, a
//! cpal stream feeding or draining the other end, and a watcher thread that moves the
//! stream between devices as they come and go.

mod build;
mod callback;
mod capture;
mod counters;
mod events;
mod plan;
mod playback;
mod watcher;

use std::time::Duration;

pub use callback::in_audio_callback;
pub use capture::Capture;
pub use events::DeviceEvent;
pub use playback::Playback;

use crate::device::DeviceId;

/// What to open. `Default` asks for the voice engine's format (48 kHz mono) with 10 ms
/// device buffers on the system default device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// The device to use; `None` follows the system default. An id that does not exist
    /// (any more) opens the default device and reports
    /// [`DeviceEvent::FellBackToDefault`]; the stream moves back when the id appears.
    pub device: Option<DeviceId>,
    /// Preferred frames per second; used when the device offers it.
    pub sample_rate: u32,
    /// Preferred interleaved channels; used when the device offers it.
    pub channels: u16,
    /// Audio per device callback. Always requested as a fixed size (clamped to what the
    /// device allows), never the backend default, which is about 100 ms on ALSA.
    pub buffer: Duration,
    /// Capacity of the ring between the callback and the handle: how late the reader of
    /// a capture may be before samples drop, or how far ahead a playback may be written.
    pub ring: Duration,
    /// Playback only: silence queued before the first callback, so the first writes have
    /// time to arrive before the device needs them.
    pub prefill: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            device: None,
            sample_rate: 48_000,
            channels: 1,
            buffer: Duration::from_millis(10),
            ring: Duration::from_millis(200),
            prefill: Duration::from_millis(20),
        }
    }
}

impl StreamOptions {
    /// The default options on `device` (`None`: the system default).
    pub fn on(device: Option<DeviceId>) -> Self {
        Self {
            device,
            ..Self::default()
        }
    }
}

/// The format of the samples a handle reads or writes: always interleaved `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Frames per device callback (the fixed buffer size granted).
    pub buffer_frames: u32,
    /// The device's own sample format, converted from or to `f32` in the callback.
    pub device_format: cpal::SampleFormat,
}

/// Where a stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Streaming on the chosen device (or on the default, when following it).
    Running,
    /// The chosen device is away; streaming on the default until it returns.
    FallenBack,
    /// No device at the moment; the watcher retries every half second.
    NoDevice,
}

/// A snapshot of a stream, from [`Capture::status`] or [`Playback::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStatus {
    /// Where the stream stands.
    pub state: StreamState,
    /// The device streaming now.
    pub device: Option<DeviceId>,
    /// Its format.
    pub format: Option<StreamFormat>,
    /// How many times the stream was reopened (device moves and restarts after errors).
    pub reopens: u64,
}
