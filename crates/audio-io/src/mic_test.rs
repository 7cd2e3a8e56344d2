//! The mic test: a person hears themselves, as the room would, before joining one.
//!
//! Why it exists: "can they hear me, and how do I sound?" is the first question of every
//! voice app, and only the real path answers it. So the test runs the same stages a room
//! does — capture processing (downmix, resampling, noise suppression, level, VAD, AGC),
//! Opus encoding and decoding (DTX packets too) and the mixer — and plays the result back
//! locally after a deliberate delay (1 s by default: long enough that the playback does
//! not talk over, or echo into, the talker), with the live level meter alongside.
//!
//! It runs on a thread of its own, not in an audio callback: it allocates at start, then
//! reuses its buffers. It sleeps a couple of milliseconds whenever the source has
//! nothing or the sink is full, and never spins.
//!
//! It also measures the pipeline: [`MicTest::latency`] reports capture → encoded
//! ([`Stage::CaptureToEncode`]) and capture → heard ([`Stage::EndToEnd`]) *without* the
//! deliberate delay, which is reported on its own as [`Stage::JitterWait`] (in a room
//! that is where the jitter buffer holds a frame). A frame's capture time is when its
//! last sample was read from the source, less how long before that read it was captured
//! (the samples read after it, at the source's rate); "heard" is when its last sample was
//! handed to the sink plus what the sink still had queued ahead of it, where the sink
//! knows ([`AudioSink::queued_frames`]), plus the codec's and the mixer's own delays.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use salon_voice::capture::{CaptureConfig, CaptureError, CaptureProcessor, FrameInfo};
use salon_voice::codec::{CodecError, Decoder, Encoder, EncoderConfig, MAX_PACKET_BYTES};
use salon_voice::frame::{FrameDuration, SAMPLE_RATE};
use salon_voice::latency::{CaptureClock, LatencyMeter, LatencyReport, Stage};
use salon_voice::mixer::{Mixer, MixerError};

use crate::io::{AudioSink, AudioSource};

/// How long the thread sleeps when the source has nothing or the sink is full.
const POLL: Duration = Duration::from_millis(2);
/// Frames between updates of the shared latency meter (one lock per update).
const METER_EVERY: u32 = 5;
/// How much audio the sink may hold beyond one frame before frames are skipped to catch
/// up (input that arrived in a burst would otherwise stay queued, as latency, for good).
/// About two device buffers: enough to ride out this thread's scheduling.
const QUEUE_SLACK: Duration = Duration::from_millis(20);
/// What the level meter shows before the first frame.
const SILENCE_DBFS: f32 = -120.0;

/// How the mic test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicTestConfig {
    /// Frame length through the whole path (it overrides `encoder.frame`).
    pub frame: FrameDuration,
    /// The deliberate delay before playback, rounded to whole frames. Default 1 s: long
    /// enough that the playback does not echo into the talker.
    pub delay: Duration,
    /// RNNoise noise suppression, as in a room.
    pub noise_suppression: bool,
    /// The Opus settings, as in a room.
    pub encoder: EncoderConfig,
}

impl Default for MicTestConfig {
    fn default() -> Self {
        Self {
            frame: FrameDuration::Ms20,
            delay: Duration::from_secs(1),
            noise_suppression: true,
            encoder: EncoderConfig::default(),
        }
    }
}

/// Why a mic test could not start or did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum MicTestError {
    /// The source's rate or channel count cannot be processed.
    #[error("cannot process the source's audio")]
    Capture(#[from] CaptureError),
    /// The Opus encoder or decoder refused the settings.
    #[error("cannot set up Opus")]
    Codec(#[from] CodecError),
    /// The sink's rate or channel count cannot be mixed for.
    #[error("cannot mix for the sink")]
    Mixer(#[from] MixerError),
    /// The operating system would not start the thread.
    #[error("could not start the mic test thread")]
    Thread(#[source] std::io::Error),
    /// The thread panicked.
    #[error("the mic test thread stopped unexpectedly")]
    ThreadDied,
}

/// What the thread shares with the handle.
#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    finished: AtomicBool,
    level_bits: AtomicU32,
    voice: AtomicBool,
    skipped: AtomicU64,
    meter: Mutex<LatencyMeter>,
}

/// A running mic test; dropping it stops it too.
#[derive(Debug)]
pub struct MicTest {
    shared: Arc<Shared>,
    delay: Duration,
    thread: Option<JoinHandle<()>>,
}

impl MicTest {
    /// Sets up every stage for the source's and the sink's formats, then starts the
    /// thread that moves audio from `source` to `sink` until [`stop`](Self::stop) or the
    /// source ends.
    pub fn start(
        source: Box<dyn AudioSource>,
        sink: Box<dyn AudioSink>,
        config: MicTestConfig,
    ) -> Result<Self, MicTestError> {
        let frame_len = config.frame.samples();
        let processor = new_processor(&*source, &config)?;
        let encoder = Encoder::new(EncoderConfig {
            frame: config.frame,
            ..config.encoder
        })?;
        let decoder = Decoder::new(config.frame)?;
        let mixer = Mixer::new(sink.sample_rate(), sink.channels(), config.frame)?;
        let frames = (config.delay.as_secs_f64() / config.frame.duration().as_secs_f64()).round();
        let delay_frames = frames as usize;
        let now = Instant::now();
        let slot = || Slot {
            samples: vec![0.0; frame_len],
            captured: None,
            entered: now,
        };
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            level_bits: AtomicU32::new(SILENCE_DBFS.to_bits()),
            voice: AtomicBool::new(false),
            skipped: AtomicU64::new(0),
            meter: Mutex::new(LatencyMeter::default()),
        });
        let engine = Engine {
            clock: CaptureClock::new(source.sample_rate(), Instant::now()),
            channels: source.channels(),
            read_buf: vec![0.0; read_chunk(&*source)],
            frame: vec![0.0; frame_len],
            packet: vec![0; MAX_PACKET_BYTES],
            decoded: slot(),
            line: (0..delay_frames).map(|_| slot()).collect(),
            next: 0,
            mixed: Vec::with_capacity(mixer.max_output_len()),
            pending: Pending::default(),
            codec_delay: encoder.lookahead(),
            flushing: false,
            config,
            source,
            sink,
            processor,
            encoder,
            decoder,
            mixer,
            shared: Arc::clone(&shared),
        };
        let thread = std::thread::Builder::new()
            .name("salon-mic-test".into())
            .spawn(move || engine.run())
            .map_err(MicTestError::Thread)?;
        Ok(Self {
            shared,
            delay: config.frame.duration() * delay_frames as u32,
            thread: Some(thread),
        })
    }

    /// The microphone's level in dBFS (after noise suppression, before gain control) of
    /// the latest frame, for the meter; −120 for silence.
    pub fn level_dbfs(&self) -> f32 {
        f32::from_bits(self.shared.level_bits.load(Ordering::Relaxed))
    }

    /// Whether the latest frame was speech (or within the hangover after it).
    pub fn voice(&self) -> bool {
        self.shared.voice.load(Ordering::Relaxed)
    }

    /// The pipeline's latency: [`Stage::CaptureToEncode`], [`Stage::EndToEnd`] without
    /// the deliberate delay, and the time frames actually spent in the delay as
    /// [`Stage::JitterWait`]. Updated every few frames.
    pub fn latency(&self) -> LatencyReport {
        self.shared
            .meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .report()
    }

    /// Frames not played because the sink already held more than a frame and a little:
    /// how often the test caught up with a backlog (the input arrived in a burst).
    pub fn skipped_frames(&self) -> u64 {
        self.shared.skipped.load(Ordering::Relaxed)
    }

    /// The deliberate delay, rounded to whole frames.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The source ended and everything it gave has been played (or the thread stopped).
    pub fn is_finished(&self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }

    /// Stops the thread and waits for it; the source and sink are dropped with it.
    pub fn stop(mut self) -> Result<(), MicTestError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), MicTestError> {
        self.shared.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| MicTestError::ThreadDied),
            None => Ok(()),
        }
    }
}

impl Drop for MicTest {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn new_processor(
    source: &dyn AudioSource,
    config: &MicTestConfig,
) -> Result<CaptureProcessor, CaptureError> {
    CaptureProcessor::new(CaptureConfig {
        frame: config.frame,
        noise_suppression: config.noise_suppression,
        ..CaptureConfig::new(source.sample_rate(), source.channels())
    })
}

/// 10 ms of the source's audio: what one read takes at most.
fn read_chunk(source: &dyn AudioSource) -> usize {
    (source.sample_rate() as usize / 100).max(1) * usize::from(source.channels())
}

/// One decoded frame, in the delay line or on its way out.
#[derive(Debug)]
struct Slot {
    samples: Vec<f32>,
    /// When its last sample was captured (`None` for silence the test made up).
    captured: Option<Instant>,
    /// When it entered the delay line.
    entered: Instant,
}

/// Latency records waiting for the next (locked) update of the shared meter: three per
/// frame at most.
#[derive(Debug)]
struct Pending {
    records: [(Stage, Duration); 3 * METER_EVERY as usize],
    len: usize,
    frames: u32,
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            records: [(Stage::EndToEnd, Duration::ZERO); 3 * METER_EVERY as usize],
            len: 0,
            frames: 0,
        }
    }
}

struct Engine {
    source: Box<dyn AudioSource>,
    sink: Box<dyn AudioSink>,
    config: MicTestConfig,
    processor: CaptureProcessor,
    encoder: Encoder,
    decoder: Decoder,
    mixer: Mixer,
    shared: Arc<Shared>,
    clock: CaptureClock,
    /// The source's channel count the processor was made for.
    channels: u16,
    read_buf: Vec<f32>,
    frame: Vec<f32>,
    packet: Vec<u8>,
    /// The frame just decoded, then (swapped with the delay line's oldest) the one to play.
    decoded: Slot,
    /// The deliberate delay: a ring of decoded frames, silence at first.
    line: Vec<Slot>,
    next: usize,
    mixed: Vec<f32>,
    pending: Pending,
    codec_delay: Duration,
    /// Pushing the tail out after the source ended: no latency is recorded.
    flushing: bool,
}

impl Engine {
    fn run(mut self) {
        while !self.stopping() {
            let got = self.source.read(&mut self.read_buf);
            if got == 0 {
                if self.source.is_finished() {
                    self.flush();
                    break;
                }
                std::thread::sleep(POLL);
                continue;
            }
            let now = Instant::now();
            self.follow_source_format(now);
            self.clock
                .record_read((got / usize::from(self.channels)) as u64, now);
            self.processor.push(&self.read_buf[..got]);
            self.drain_processor();
            if got < self.read_buf.len() {
                // Read everything there was: wait for more.
                std::thread::sleep(POLL);
            }
        }
        self.update_meter();
        self.shared.finished.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    fn drain_processor(&mut self) {
        while !self.stopping() {
            let Some(info) = self.processor.pop_frame(&mut self.frame) else {
                break;
            };
            self.frame_through(Some(info));
        }
    }

    /// A device that moved may come back with another format: start the processing over.
    fn follow_source_format(&mut self, now: Instant) {
        let (rate, channels) = (self.source.sample_rate(), self.source.channels());
        if (rate, channels) == (self.clock.rate(), self.channels) {
            return;
        }
        match new_processor(&*self.source, &self.config) {
            Ok(processor) => {
                self.processor = processor;
                self.clock = CaptureClock::new(rate, now);
                self.channels = channels;
                self.read_buf.resize(read_chunk(&*self.source), 0.0);
            }
            Err(error) => tracing::warn!(%error, "the mic test cannot follow the new input"),
        }
    }

    /// One frame: meter, encode, decode, delay, play.
    fn frame_through(&mut self, info: Option<FrameInfo>) {
        let frame_len = self.frame.len() as u64;
        let captured = info.map(|info| self.clock.captured(info.sample_index + frame_len));
        if let Some(info) = info.filter(|_| !self.flushing) {
            let bits = info.level_dbfs.to_bits();
            self.shared.level_bits.store(bits, Ordering::Relaxed);
            self.shared.voice.store(info.voice, Ordering::Relaxed);
        }
        let len = self
            .encoder
            .encode_into(&self.frame, &mut self.packet)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "mic test: encoding failed");
                0
            });
        if let Some(captured) = captured.filter(|_| !self.flushing) {
            self.pending
                .push(Stage::CaptureToEncode, captured.elapsed());
        }
        let out = &mut self.decoded.samples;
        if len == 0 || self.decoder.decode(&self.packet[..len], out).is_err() {
            // Lost or unreadable: what a listener's decoder would do.
            if self.decoder.conceal(out).is_err() {
                out.fill(0.0);
            }
        }
        self.decoded.captured = captured.filter(|_| !self.flushing);
        self.decoded.entered = Instant::now();
        if !self.line.is_empty() {
            std::mem::swap(&mut self.decoded, &mut self.line[self.next]);
            self.next = (self.next + 1) % self.line.len();
        }
        self.play();
        self.pending.frames += 1;
        if self.pending.frames >= METER_EVERY {
            self.update_meter();
        }
    }

    /// Mixes `decoded` for the sink and writes all of it, waiting while the sink is full;
    /// skips it instead when the sink holds a backlog.
    fn play(&mut self) {
        let left = Instant::now();
        self.follow_sink_format();
        let rate = f64::from(self.mixer.output_rate());
        let limit = self.config.frame.duration() + QUEUE_SLACK;
        let queued = self.sink.queued_frames();
        if queued.is_some_and(|q| q as f64 / rate > limit.as_secs_f64()) {
            self.shared.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.mixer
            .mix(&[(0, &self.decoded.samples)], &mut self.mixed);
        let mut rest = &self.mixed[..];
        while !rest.is_empty() {
            let n = self.sink.write(rest);
            rest = &rest[n..];
            if !rest.is_empty() {
                if self.stopping() {
                    return;
                }
                std::thread::sleep(POLL);
            }
        }
        let handed = Instant::now();
        if let Some(captured) = self.decoded.captured {
            let queued = self.sink.queued_frames().unwrap_or(0) + self.mixer.latency_samples();
            let heard = handed + Duration::from_secs_f64(queued as f64 / rate) + self.codec_delay;
            let held = left.saturating_duration_since(self.decoded.entered);
            let total = heard.saturating_duration_since(captured);
            self.pending.push(Stage::JitterWait, held);
            self.pending
                .push(Stage::EndToEnd, total.saturating_sub(held));
        }
    }

    fn follow_sink_format(&mut self) {
        let (rate, channels) = (self.sink.sample_rate(), self.sink.channels());
        if (rate, channels) == (self.mixer.output_rate(), self.mixer.output_channels()) {
            return;
        }
        match Mixer::new(rate, channels, self.config.frame) {
            Ok(mixer) => {
                self.mixed = Vec::with_capacity(mixer.max_output_len());
                self.mixer = mixer;
            }
            Err(error) => tracing::warn!(%error, "the mic test cannot follow the new output"),
        }
    }

    /// The source ended: push what the processor and the delay still hold to the sink.
    fn flush(&mut self) {
        self.flushing = true;
        let rate = u64::from(self.clock.rate());
        let tail = (self.processor.latency_samples() + self.frame.len()) as u64;
        let frames = (tail * rate).div_ceil(u64::from(SAMPLE_RATE)) as usize;
        self.processor
            .push(&vec![0.0; frames * usize::from(self.channels)]);
        self.drain_processor();
        for _ in 0..self.line.len() {
            if self.stopping() {
                return;
            }
            self.frame.fill(0.0);
            self.frame_through(None);
        }
    }

    fn update_meter(&mut self) {
        let mut meter = self
            .shared
            .meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for &(stage, duration) in &self.pending.records[..self.pending.len] {
            meter.record(stage, duration);
        }
        self.pending.len = 0;
        self.pending.frames = 0;
    }
}

impl Pending {
    fn push(&mut self, stage: Stage, duration: Duration) {
        if let Some(slot) = self.records.get_mut(self.len) {
            *slot = (stage, duration);
            self.len += 1;
        }
    }
}
