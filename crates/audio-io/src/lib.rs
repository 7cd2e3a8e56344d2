//! Salon's audio devices and files: everything that touches a sound card or a WAV file.
//!
//! The voice engine (`salon-voice`) is sans-I/O: it turns samples into packets and back.
//! This crate is the other half, the only place with real-time threads, so the rules of
//! the audio path live here and nowhere else:
//!
//! - The cpal callbacks only copy (and, for non-`f32` devices, convert) samples between the
//!   device and a pre-sized lock-free SPSC ring ([`rtrb`]). They never allocate, lock, log
//!   or block; trouble (overruns, underruns, stream errors) is counted in atomics.
//! - Device buffers are always fixed and small ([`StreamOptions::buffer`], 10 ms by
//!   default), never the backend default (about 100 ms on ALSA).
//! - Devices come and go. A watcher thread per stream polls the device list and the
//!   stream's health; when the device in use disappears it reopens on the default device
//!   and re-attaches a fresh ring behind the same [`Capture`] or [`Playback`] handle, then
//!   moves back when the chosen device returns, reporting each move as a [`DeviceEvent`].
//! - WAV files ([`WavSource`], [`WavSink`]) sit behind the same [`AudioSource`] /
//!   [`AudioSink`] traits as devices, so a headless bot streams a file in real time through
//!   exactly the code a person's microphone goes through.
//! - [`UiSounds`] plays short synthesised chimes (join, leave, hand raised, invited to
//!   speak) through rodio, off the caller's thread.
//! - [`MicTest`] runs a source through the voice engine (processing, Opus both ways, the
//!   mixer) back to a sink after a short delay, with the level meter, so a person hears
//!   themselves before joining a room.
//!
//! On Linux cpal talks to PulseAudio (or PipeWire's PulseAudio server) natively when one
//! is running, which names every sink and source; without one it uses ALSA.

mod device;
mod error;
mod io;
mod mic_test;
mod stream;
mod ui_sounds;
mod wav;

pub use cpal::SampleFormat;
pub use device::{DeviceFormat, DeviceId, DeviceInfo, Direction, list_devices};
pub use error::{DeviceError, WavError};
pub use io::{AudioSink, AudioSource};
pub use mic_test::{MicTest, MicTestConfig, MicTestError};
pub use stream::{
    Capture, DeviceEvent, Playback, StreamFormat, StreamOptions, StreamState, StreamStatus,
    in_audio_callback,
};
pub use ui_sounds::{Sound, UiSounds};
pub use wav::{Pacing, WavSampleFormat, WavSink, WavSource};
