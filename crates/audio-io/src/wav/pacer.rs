//! The real-time pacing thread: moves a file's samples into a ring at the file's own
//! rate, like a device callback would, so that whoever reads the ring sees a microphone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rtrb::{Consumer, Producer, RingBuffer};

use super::decoder::Decoder;
use crate::error::WavError;

/// How often the thread wakes; samples due are computed from the start time, so the
/// pace does not drift with the sleeps.
const TICK: Duration = Duration::from_millis(10);
/// How much audio the ring holds before samples drop (the reader is that late).
const RING: Duration = Duration::from_secs(1);

/// The reading side of a paced file.
#[derive(Debug)]
pub(crate) struct Paced {
    pub(crate) ring: Consumer<f32>,
    state: Arc<PacerState>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct PacerState {
    stop: AtomicBool,
    finished: AtomicBool,
    overruns: AtomicU64,
}

impl Paced {
    pub(crate) fn start(decoder: Decoder) -> Result<Self, WavError> {
        let channels = usize::from(decoder.channels);
        let capacity =
            (decoder.sample_rate as usize * RING.as_millis() as usize / 1000).max(1) * channels;
        let (producer, ring) = RingBuffer::new(capacity);
        let state = Arc::new(PacerState::default());
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("salon-wav-pacer".into())
            .spawn(move || pace(decoder, producer, &thread_state))
            .map_err(WavError::Thread)?;
        Ok(Self {
            ring,
            state,
            thread: Some(thread),
        })
    }

    /// The file ended and everything it held has been read.
    pub(crate) fn is_finished(&self) -> bool {
        self.state.finished.load(Ordering::Acquire) && self.ring.is_empty()
    }

    /// Times the reader was so late that samples were dropped.
    pub(crate) fn overruns(&self) -> u64 {
        self.state.overruns.load(Ordering::Relaxed)
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn pace(mut decoder: Decoder, mut ring: Producer<f32>, state: &PacerState) {
    let channels = usize::from(decoder.channels);
    let rate = f64::from(decoder.sample_rate);
    let chunk_frames = (decoder.sample_rate as usize / 100).max(1);
    let mut chunk = vec![0.0f32; chunk_frames * channels];
    let start = Instant::now();
    let mut moved: u64 = 0;
    while !state.stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while moved < due {
            let frames = ((due - moved) as usize).min(chunk_frames);
            let n = match decoder.fill(&mut chunk[..frames * channels]) {
                Ok(n) => n,
                Err(error) => {
                    tracing::warn!(%error, "reading the WAV file failed; ending it here");
                    0
                }
            };
            let (pushed, _) = ring.push_partial_slice(&chunk[..n]);
            if pushed.len() < n {
                state.overruns.fetch_add(1, Ordering::Relaxed);
            }
            moved += (n / channels) as u64;
            if n < frames * channels {
                state.finished.store(true, Ordering::Release);
                return;
            }
        }
        std::thread::sleep(TICK);
    }
}
