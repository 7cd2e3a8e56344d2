//! [`Playback`]: the writing end of a speaker.

use std::sync::mpsc;

use rtrb::Producer;

use super::build::open_output;
use super::watcher::{self, WatcherLink};
use super::{DeviceEvent, StreamFormat, StreamOptions, StreamStatus};
use crate::device::Direction;
use crate::error::DeviceError;
use crate::io::AudioSink;

/// A running playback stream. [`write`](Self::write) queues interleaved `f32` samples in
/// a ring that the device callback drains; when the ring runs dry the device plays
/// silence and [`underruns`](Self::underruns) counts it.
///
/// The handle stays valid across device changes: when the watcher reopens the stream on
/// another device, the next call adopts the new ring (already holding a little silence).
/// What was queued for the lost device is gone with it.
#[derive(Debug)]
pub struct Playback {
    ring: Producer<f32>,
    format: StreamFormat,
    link: WatcherLink<Producer<f32>>,
}

impl Playback {
    /// Opens the playback stream and starts watching its device.
    pub fn open(options: StreamOptions) -> Result<Self, DeviceError> {
        let (link, first) = watcher::start(Direction::Output, options, open_output)?;
        Ok(Self {
            ring: first.end,
            format: first.format,
            link,
        })
    }

    /// Queues as many whole frames of `samples` as fit; returns how many samples were
    /// taken. Never blocks.
    pub fn write(&mut self, samples: &[f32]) -> usize {
        self.adopt();
        let channels = usize::from(self.format.channels);
        let n = samples.len().min(self.ring.slots()) / channels * channels;
        let (pushed, _) = self.ring.push_partial_slice(&samples[..n]);
        if n > 0 {
            self.link.shared.counters.prime();
        }
        pushed.len()
    }

    /// Samples (whole frames) that [`write`](Self::write) would take now.
    pub fn free(&mut self) -> usize {
        self.adopt();
        let channels = usize::from(self.format.channels);
        self.ring.slots() / channels * channels
    }

    /// Samples queued and not yet played: the latency this handle adds.
    pub fn queued(&mut self) -> usize {
        self.adopt();
        self.ring.buffer().capacity() - self.ring.slots()
    }

    /// Frames per second [`write`](Self::write) expects.
    pub fn sample_rate(&self) -> u32 {
        self.format.sample_rate
    }

    /// Interleaved channels [`write`](Self::write) expects.
    pub fn channels(&self) -> u16 {
        self.format.channels
    }

    /// The full format, including the device buffer size granted.
    pub fn format(&self) -> StreamFormat {
        self.format
    }

    /// Device callbacks that found the ring short and played (partly) silence, counted
    /// from the first write on.
    pub fn underruns(&self) -> u64 {
        self.link.shared.counters.underruns()
    }

    /// Over- and underruns the audio backend itself reported.
    pub fn xruns(&self) -> u64 {
        self.link.shared.counters.xruns()
    }

    /// Where the stream stands.
    pub fn status(&self) -> StreamStatus {
        self.link.shared.status()
    }

    /// The next device event for this handle's own queue, if any.
    pub fn try_event(&self) -> Option<DeviceEvent> {
        self.link.events.try_recv().ok()
    }

    /// A new channel that receives every device event from now on.
    pub fn subscribe(&self) -> mpsc::Receiver<DeviceEvent> {
        self.link.shared.events.subscribe()
    }

    fn adopt(&mut self) {
        if let Some(next) = self.link.latest() {
            self.ring = next.end;
            self.format = next.format;
        }
    }
}

impl AudioSink for Playback {
    fn write(&mut self, samples: &[f32]) -> usize {
        Playback::write(self, samples)
    }

    fn sample_rate(&self) -> u32 {
        Playback::sample_rate(self)
    }

    fn channels(&self) -> u16 {
        Playback::channels(self)
    }

    fn queued_frames(&mut self) -> Option<usize> {
        let queued = Playback::queued(self);
        Some(queued / usize::from(self.format.channels))
    }

    fn device_events(&self) -> Option<mpsc::Receiver<DeviceEvent>> {
        Some(self.subscribe())
    }
}
