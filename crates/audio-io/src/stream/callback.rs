//! The bodies of the cpal data callbacks, the only code that runs on the audio thread.
//!
//! Each one copies between the device buffer and a pre-sized SPSC ring, converting to or
//! from `f32` in place when the device uses another format, and counts what did not fit.
//! Nothing here allocates, locks, logs or blocks; whole frames only, so channels never
//! slip. [`in_audio_callback`] lets a test's counting allocator see that it holds.

use std::cell::Cell;
use std::sync::Arc;

use cpal::{FromSample, Sample};
use rtrb::{Consumer, Producer};

use super::counters::{Counters, StreamHealth};

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside one of this crate's audio callbacks.
///
/// For tests and debug checks: a counting global allocator can use it to prove the
/// callbacks never allocate.
pub fn in_audio_callback() -> bool {
    IN_CALLBACK.with(Cell::get)
}

/// Marks the current thread as inside a callback until dropped.
struct CallbackScope;

impl CallbackScope {
    fn enter() -> Self {
        IN_CALLBACK.with(|flag| flag.set(true));
        CallbackScope
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|flag| flag.set(false));
    }
}

/// `len` rounded down to whole frames.
fn whole_frames(len: usize, channels: usize) -> usize {
    len - len % channels
}

/// Device → ring.
pub(crate) struct CaptureCallback {
    pub(crate) ring: Producer<f32>,
    pub(crate) channels: usize,
    pub(crate) counters: Arc<Counters>,
    pub(crate) health: Arc<StreamHealth>,
}

impl CaptureCallback {
    /// An `f32` device: a plain copy.
    pub(crate) fn push_f32(&mut self, data: &[f32]) {
        let _scope = CallbackScope::enter();
        self.health.beat();
        let n = whole_frames(data.len().min(self.ring.slots()), self.channels);
        let (pushed, _) = self.ring.push_partial_slice(&data[..n]);
        self.count_rest(data.len() - pushed.len());
    }

    /// Any other format: converted sample by sample into the ring's free slots.
    pub(crate) fn push_converted<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let _scope = CallbackScope::enter();
        self.health.beat();
        let n = whole_frames(data.len().min(self.ring.slots()), self.channels);
        let pushed = match self.ring.write_chunk_uninit(n) {
            Ok(chunk) => chunk.fill_from_iter(data[..n].iter().map(|&s| f32::from_sample_(s))),
            Err(_) => 0,
        };
        self.count_rest(data.len() - pushed);
    }

    fn count_rest(&self, dropped: usize) {
        if dropped > 0 {
            self.counters.overrun(dropped);
        }
    }
}

/// Ring → device; silence when the ring runs short.
pub(crate) struct PlaybackCallback {
    pub(crate) ring: Consumer<f32>,
    pub(crate) channels: usize,
    pub(crate) counters: Arc<Counters>,
    pub(crate) health: Arc<StreamHealth>,
}

impl PlaybackCallback {
    /// An `f32` device: a plain copy.
    pub(crate) fn pull_f32(&mut self, out: &mut [f32]) {
        let _scope = CallbackScope::enter();
        self.health.beat();
        let n = whole_frames(out.len().min(self.ring.slots()), self.channels);
        let (popped, rest) = self.ring.pop_partial_slice(&mut out[..n]);
        debug_assert!(rest.is_empty() && popped.len() == n);
        self.silence(&mut out[n..], 0.0);
    }

    /// Any other format: converted sample by sample out of the ring.
    pub(crate) fn pull_converted<T>(&mut self, out: &mut [T])
    where
        T: Sample + FromSample<f32>,
    {
        let _scope = CallbackScope::enter();
        self.health.beat();
        let n = whole_frames(out.len().min(self.ring.slots()), self.channels);
        let mut filled = 0;
        if let Ok(chunk) = self.ring.read_chunk(n) {
            for (slot, sample) in out.iter_mut().zip(chunk) {
                *slot = T::from_sample_(sample);
                filled += 1;
            }
        }
        self.silence(&mut out[filled..], T::EQUILIBRIUM);
    }

    fn silence<T: Copy>(&self, rest: &mut [T], equilibrium: T) {
        if !rest.is_empty() {
            rest.fill(equilibrium);
            self.counters.underrun();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(capacity: usize, channels: usize) -> (CaptureCallback, Consumer<f32>) {
        let (ring, consumer) = rtrb::RingBuffer::new(capacity);
        let callback = CaptureCallback {
            ring,
            channels,
            counters: Arc::default(),
            health: Arc::default(),
        };
        (callback, consumer)
    }

    fn playback(samples: &[f32], channels: usize) -> PlaybackCallback {
        let (mut producer, ring) = rtrb::RingBuffer::new(64);
        producer.push_entire_slice(samples).unwrap();
        PlaybackCallback {
            ring,
            channels,
            counters: Arc::default(),
            health: Arc::default(),
        }
    }

    #[test]
    fn capture_keeps_whole_frames_and_counts_the_rest() {
        let (mut callback, mut consumer) = capture(5, 2);
        callback.push_f32(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
        assert_eq!(
            consumer.slots(),
            4,
            "two whole stereo frames fit in five slots"
        );
        assert_eq!(consumer.pop().unwrap(), 0.1);
        assert_eq!(callback.counters.overruns(), 1);
        assert_eq!(callback.counters.dropped(), 2);
        assert_eq!(callback.health.callbacks(), 1);
        assert!(!in_audio_callback(), "the scope ends with the callback");
    }

    #[test]
    fn capture_converts_integer_samples() {
        let (mut callback, mut consumer) = capture(8, 1);
        callback.push_converted::<i16>(&[i16::MIN, 0, 16_384]);
        let got: Vec<f32> = std::iter::from_fn(|| consumer.pop().ok()).collect();
        assert_eq!(got, vec![-1.0, 0.0, 0.5]);
        assert_eq!(callback.counters.overruns(), 0);
    }

    #[test]
    fn playback_pads_with_silence_and_counts_underruns_once_primed() {
        let mut callback = playback(&[0.5, -0.5], 1);
        let mut out = [1.0f32; 4];
        callback.pull_f32(&mut out);
        assert_eq!(out, [0.5, -0.5, 0.0, 0.0]);
        assert_eq!(callback.counters.underruns(), 0, "nothing was written yet");
        callback.counters.prime();
        callback.pull_f32(&mut out);
        assert_eq!(callback.counters.underruns(), 1);
    }

    #[test]
    fn playback_converts_to_integer_devices() {
        let mut callback = playback(&[1.0, -1.0, 0.5, 0.25], 2);
        let mut out = [7i16; 6];
        callback.pull_converted(&mut out);
        assert_eq!(out, [i16::MAX, i16::MIN, 16_384, 8_192, 0, 0]);
        let mut unsigned = [7u8; 2];
        callback.pull_converted(&mut unsigned);
        assert_eq!(unsigned, [128, 128], "unsigned silence is the midpoint");
    }
}
