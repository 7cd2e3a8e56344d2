//! Salon's voice engine, without devices, threads or clocks of its own.
//!
//! Everything here is a state machine: samples, packets and the current time go in;
//! samples, packets and statistics come out. Devices live in `salon-audio-io` and the
//! network in `salon-client`, so every stage of the audio path can be tested here
//! deterministically, with scripted timings, and benchmarked in isolation.
//!
//! The path, speaker to listener:
//! [`capture`] (resample, downmix, noise suppression, level and voice activity, gate,
//! gain) → [`codec::Encoder`] (Opus) → network → [`jitter::JitterBuffer`] (one per
//! stream) → [`stream::StreamReceiver`] (decoding, FEC and concealment) → [`mixer`]
//! (per-person gain, soft limiter, device rate) → speakers. [`latency`] follows each
//! frame's capture time through it.

pub mod analysis;
pub mod capture;
pub mod codec;
pub mod frame;
pub mod jitter;
pub mod latency;
pub mod mixer;
pub mod stream;
