//! The two traits every audio endpoint implements, devices and files alike, so that the
//! code above (the client's encoder and mixer threads, a bot) does not care which it has.
//! Modelled on a backend table such as librespot's `Sink`: one small trait, several
//! implementations.

use std::sync::mpsc;

use crate::DeviceEvent;

/// Something that produces interleaved `f32` samples: a [`Capture`](crate::Capture) or a
/// [`WavSource`](crate::WavSource).
pub trait AudioSource: Send {
    /// Moves up to `out.len()` samples (whole frames) into `out` and returns how many.
    /// Never blocks: zero means nothing is ready now (or, see
    /// [`is_finished`](Self::is_finished), nothing ever will be).
    fn read(&mut self, out: &mut [f32]) -> usize;

    /// Frames per second.
    fn sample_rate(&self) -> u32;

    /// Interleaved channels per frame.
    fn channels(&self) -> u16;

    /// Whether the source has ended for good (a file that does not loop). Devices never
    /// end.
    fn is_finished(&self) -> bool {
        false
    }

    /// A new subscription to the device's events (it went away, came back, failed),
    /// for sources that sit on a device; `None` for files.
    fn device_events(&self) -> Option<mpsc::Receiver<DeviceEvent>> {
        None
    }
}

/// Something that consumes interleaved `f32` samples: a [`Playback`](crate::Playback) or
/// a [`WavSink`](crate::WavSink).
pub trait AudioSink: Send {
    /// Takes as many samples (whole frames) as it can now and returns how many. Never
    /// blocks.
    fn write(&mut self, samples: &[f32]) -> usize;

    /// Frames per second expected.
    fn sample_rate(&self) -> u32;

    /// Interleaved channels per frame expected.
    fn channels(&self) -> u16;

    /// Frames accepted by [`write`](Self::write) and not played yet, where the sink knows
    /// (a device's queue): the latency it adds. `None` where it does not (a file).
    fn queued_frames(&mut self) -> Option<usize> {
        None
    }

    /// A new subscription to the device's events (it went away, came back, failed),
    /// for sinks that sit on a device; `None` for files.
    fn device_events(&self) -> Option<mpsc::Receiver<DeviceEvent>> {
        None
    }
}
