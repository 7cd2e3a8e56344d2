//! [`Capture`]: the reading end of a microphone.

use std::sync::mpsc;

use rtrb::Consumer;

use super::build::open_input;
use super::watcher::{self, Attachment, WatcherLink};
use super::{DeviceEvent, StreamFormat, StreamOptions, StreamStatus};
use crate::device::Direction;
use crate::error::DeviceError;
use crate::io::AudioSource;

/// A running capture stream. The device callback pushes interleaved `f32` samples into a
/// ring; [`read`](Self::read) takes them out, never blocking.
///
/// The handle stays valid across device changes: when the watcher reopens the stream on
/// another device, the handle drains what is left of the old ring and then reads the new
/// one. Check [`format`](Self::format) after a [`DeviceEvent`] if the new device could
/// not give the same rate or channel count.
#[derive(Debug)]
pub struct Capture {
    ring: Consumer<f32>,
    format: StreamFormat,
    /// A new ring whose format differs, adopted once the current one is drained.
    next: Option<Attachment<Consumer<f32>>>,
    link: WatcherLink<Consumer<f32>>,
}

impl Capture {
    /// Opens the capture stream and starts watching its device.
    pub fn open(options: StreamOptions) -> Result<Self, DeviceError> {
        let (link, first) = watcher::start(Direction::Input, options, open_input)?;
        Ok(Self {
            ring: first.end,
            format: first.format,
            next: None,
            link,
        })
    }

    /// Moves up to `out.len()` captured samples (whole frames) into `out`; returns how
    /// many. Never blocks: zero means nothing has arrived yet.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        let mut n = self.pop(out);
        if let Some(next) = self.next.take().or_else(|| self.link.latest()) {
            if n == 0 || next.format == self.format {
                self.ring = next.end;
                self.format = next.format;
                n += self.pop(&mut out[n..]);
            } else {
                // Different format: hand back what the old ring had first.
                self.next = Some(next);
            }
        }
        n
    }

    /// Samples (whole frames) ready to read now.
    pub fn available(&mut self) -> usize {
        if self.ring.is_empty()
            && let Some(next) = self.next.take().or_else(|| self.link.latest())
        {
            self.ring = next.end;
            self.format = next.format;
        }
        let channels = usize::from(self.format.channels);
        self.ring.slots() / channels * channels
    }

    /// Frames per second of the samples [`read`](Self::read) returns.
    pub fn sample_rate(&self) -> u32 {
        self.format.sample_rate
    }

    /// Interleaved channels of the samples [`read`](Self::read) returns.
    pub fn channels(&self) -> u16 {
        self.format.channels
    }

    /// The full format, including the device buffer size granted.
    pub fn format(&self) -> StreamFormat {
        self.format
    }

    /// Device callbacks that found the ring full (the reader fell behind).
    pub fn overruns(&self) -> u64 {
        self.link.shared.counters.overruns()
    }

    /// Samples lost to overruns.
    pub fn dropped_samples(&self) -> u64 {
        self.link.shared.counters.dropped()
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

    fn pop(&mut self, out: &mut [f32]) -> usize {
        let channels = usize::from(self.format.channels);
        let n = out.len().min(self.ring.slots()) / channels * channels;
        let (popped, _) = self.ring.pop_partial_slice(&mut out[..n]);
        popped.len()
    }
}

impl AudioSource for Capture {
    fn read(&mut self, out: &mut [f32]) -> usize {
        Capture::read(self, out)
    }

    fn sample_rate(&self) -> u32 {
        Capture::sample_rate(self)
    }

    fn channels(&self) -> u16 {
        Capture::channels(self)
    }

    fn device_events(&self) -> Option<mpsc::Receiver<DeviceEvent>> {
        Some(self.subscribe())
    }
}
