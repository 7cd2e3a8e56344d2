//! The voice session: a microphone (or a file) into the room, the room into a speaker
//! (or a file), through the voice engine and the client's audio hooks.
//!
//! Two threads, each allocating at start and then reusing its buffers, each sleeping a
//! couple of milliseconds when it has nothing to do and never spinning:
//!
//! - The send thread reads the source in 10 ms chunks into the [`CaptureProcessor`];
//!   every frame it gives is encoded and sent while [`ClientHandle::may_speak`] holds
//!   (nothing is encoded otherwise). The frame timestamp is the frame's first sample on
//!   the capture's 48 kHz clock, so it advances over silence and muted stretches; the
//!   sequence counts sent frames only. Of a silent (DTX) stretch only the first packet is
//!   sent. Capture → encode latency is recorded.
//! - The playout thread takes the room's frames ([`ClientHandle::audio_frames`]) into one
//!   [`StreamReceiver`] per stream id and, every frame period, pulls one frame from each,
//!   mixes them and writes the mix to the sink (without a sink the frames are still
//!   pulled, so the jitter buffers drain). The worst loss any receiver sees becomes the
//!   encoder's loss hint (never below the default).
//! - A sink that reports its queue (a device) sets the pace: the next frame is mixed when
//!   the queue falls under one device period plus a margin ([`OUTPUT_LOW_WATER`]), so
//!   the queue never holds more than that plus a frame, whatever happened before (after
//!   a stall the device plays a gap and playout goes on at the same small queue; missed
//!   frames are never written late and kept queued). While no stream is playing, the
//!   queue is topped up with [`IDLE_CHUNK`]s of silence instead of whole frames, so a
//!   stream that starts is written as soon as its first frame is due. Other sinks (a
//!   file) and no sink follow the wall clock, one frame per period.
//! - Each stream is mixed at its speaker's volume ([`ClientHandle::set_volume`]). The
//!   client mirrors volumes in memory and counts changes to them and to the room, so the
//!   playout thread maps streams to people and recomputes gains only when that count
//!   moved, never waiting on the store.
//! - A stream whose speaker has left the room (or that has been silent for a minute) is
//!   forgotten with its decoder, so a long session does not collect them.
//! - Device events of the source and sink (a device unplugged, back, failed) go onto the
//!   client's event stream as [`ClientEvent::AudioDevice`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use salon_audio_io::{AudioSink, AudioSource, DeviceEvent, Direction};
use salon_proto::StreamId;
use salon_proto::frame::{AudioLevel, Flags, FrameHeader};
use salon_voice::capture::{CaptureConfig, CaptureProcessor, FrameInfo};
use salon_voice::codec::{
    DEFAULT_LOSS_HINT_PERCENT, DTX_MAX_BYTES, Encoder, EncoderConfig, MAX_PACKET_BYTES,
    packet_has_fec,
};
use salon_voice::frame::{FrameDuration, SAMPLE_RATE};
use salon_voice::jitter::{JitterConfig, Packet};
use salon_voice::latency::{CaptureClock, LatencyMeter, LatencyReport, Stage};
use salon_voice::mixer::Mixer;
use salon_voice::stream::StreamReceiver;

use crate::{AudioFrames, ClientError, ClientEvent, ClientHandle};

/// How long a thread sleeps when the source has nothing or the sink is full.
const POLL: Duration = Duration::from_millis(2);

/// A stream whose speaker is no longer in the room is forgotten after this much silence
/// (frames can arrive a little before the room says who joined, so not at once).
const DEPARTED_AFTER: Duration = Duration::from_secs(2);

/// Any stream silent this long is forgotten; if it speaks again it starts afresh.
const IDLE_AFTER: Duration = Duration::from_secs(60);

/// How often streams are checked for departure and idleness when nothing else changed.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A sink that reports its queue gets the next frame when the queue is under this: the
/// device period audio-io asks for (10 ms), which must be there when the device next
/// takes a period, plus a margin for this thread's wake-up ([`POLL`]).
const OUTPUT_LOW_WATER: Duration = Duration::from_millis(12);

/// Silence written per poll while no stream plays, to a sink that reports its queue:
/// one poll's worth, so idle playout writes in real time at most.
const IDLE_CHUNK: Duration = POLL;

/// How a voice session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceConfig {
    /// Frame length of the whole path (it overrides `encoder.frame` and `jitter.frame`).
    pub frame: FrameDuration,
    /// The Opus settings.
    pub encoder: EncoderConfig,
    /// RNNoise noise suppression on the captured audio.
    pub noise_suppression: bool,
    /// The jitter buffers' delay bounds.
    pub jitter: JitterConfig,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            frame: FrameDuration::Ms20,
            encoder: EncoderConfig::default(),
            noise_suppression: true,
            jitter: JitterConfig::default(),
        }
    }
}

/// What a voice session has done so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceStats {
    /// Frames handed to the client and queued for the room.
    pub frames_sent: u64,
    /// Frames received from the room.
    pub frames_received: u64,
    /// Streams (speakers) heard since the start.
    pub streams: usize,
    /// Streams being played now (departed and long-silent ones are forgotten).
    pub active_streams: usize,
    /// Frames the receivers had to conceal (lost or undecodable).
    pub concealed: u64,
    /// Capture → encode and jitter-buffer wait.
    pub latency: LatencyReport,
}

/// What the threads share with the handle.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    source_finished: AtomicBool,
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
    streams: AtomicUsize,
    active_streams: AtomicUsize,
    concealed: AtomicU64,
    /// The worst loss the receivers see, for the encoder.
    loss_percent: AtomicU8,
    meter: Mutex<LatencyMeter>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn record(&self, stage: Stage, duration: Duration) {
        self.meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(stage, duration);
    }
}

/// A running voice session; dropping it stops its threads (without waiting).
#[derive(Debug)]
pub struct VoiceSession {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl VoiceSession {
    /// Starts sending `source` (if any) while allowed to speak, and playing the room into
    /// `sink` (if any).
    pub fn start(
        client: ClientHandle,
        source: Option<Box<dyn AudioSource>>,
        sink: Option<Box<dyn AudioSink>>,
        config: VoiceConfig,
    ) -> Result<VoiceSession, ClientError> {
        let voice = |e: &dyn std::fmt::Display| ClientError::Voice(e.to_string());
        let shared = Arc::new(Shared::default());
        let device_events: Vec<_> = [
            (
                Direction::Input,
                source.as_ref().and_then(|s| s.device_events()),
            ),
            (
                Direction::Output,
                sink.as_ref().and_then(|s| s.device_events()),
            ),
        ]
        .into_iter()
        .filter_map(|(direction, events)| Some((direction, events?)))
        .collect();
        let sender = match source {
            Some(source) => Some(Sender::new(
                client.clone(),
                source,
                &config,
                Arc::clone(&shared),
            )?),
            None => {
                shared.source_finished.store(true, Ordering::Release);
                None
            }
        };
        let jitter = JitterConfig {
            frame: config.frame,
            ..config.jitter
        };
        // Checks that a receiver can be made before any thread starts.
        StreamReceiver::new(jitter).map_err(|e| voice(&e))?;
        let mixer = match &sink {
            Some(sink) => Some(
                Mixer::new(sink.sample_rate(), sink.channels(), config.frame)
                    .map_err(|e| voice(&e))?,
            ),
            None => None,
        };
        let player = Player {
            client: client.clone(),
            device_events,
            gains_version: None,
            last_sweep: Instant::now(),
            concealed_before: 0,
            frames: client.audio_frames(),
            jitter,
            receivers: HashMap::new(),
            mixed: Vec::with_capacity(mixer.as_ref().map_or(0, Mixer::max_output_len)),
            mixer,
            sink,
            shared: Arc::clone(&shared),
        };
        let mut session = VoiceSession {
            shared,
            threads: Vec::with_capacity(2),
        };
        let thread = std::thread::Builder::new()
            .name("salon-voice-play".into())
            .spawn(move || player.run())
            .map_err(|e| voice(&e))?;
        session.threads.push(thread);
        if let Some(sender) = sender {
            let thread = std::thread::Builder::new()
                .name("salon-voice-send".into())
                .spawn(move || sender.run())
                .map_err(|e| voice(&e))?;
            session.threads.push(thread);
        }
        Ok(session)
    }

    /// The session's counters and latency so far.
    pub fn stats(&self) -> VoiceStats {
        let shared = &self.shared;
        VoiceStats {
            frames_sent: shared.frames_sent.load(Ordering::Relaxed),
            frames_received: shared.frames_received.load(Ordering::Relaxed),
            streams: shared.streams.load(Ordering::Relaxed),
            active_streams: shared.active_streams.load(Ordering::Relaxed),
            concealed: shared.concealed.load(Ordering::Relaxed),
            latency: shared
                .meter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .report(),
        }
    }

    /// The source ended (a WAV file that does not loop) and all of it has been sent
    /// (or, while not allowed to speak, skipped). True without a source.
    pub fn source_finished(&self) -> bool {
        self.shared.source_finished.load(Ordering::Acquire)
    }

    /// Stops both threads, waits for them (the source and sink are dropped with them, so
    /// a [`WavSink`](salon_audio_io::WavSink) is complete afterwards) and returns the
    /// final stats.
    pub async fn stop(mut self) -> VoiceStats {
        self.shared.stop.store(true, Ordering::Relaxed);
        let threads = std::mem::take(&mut self.threads);
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    tracing::warn!("a voice session thread panicked");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!("could not wait for the voice session threads");
        }
        self.stats()
    }
}

impl Drop for VoiceSession {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// The send thread's state.
struct Sender {
    client: ClientHandle,
    source: Box<dyn AudioSource>,
    channels: u16,
    processor: CaptureProcessor,
    encoder: Encoder,
    shared: Arc<Shared>,
    clock: CaptureClock,
    read_buf: Vec<f32>,
    frame: Vec<f32>,
    packet: Vec<u8>,
    /// Sequence number of the next frame sent.
    sequence: u32,
    /// The last frame sent was DTX: further DTX frames are not sent.
    in_dtx: bool,
    /// The loss hint the encoder has now.
    loss_hint: u8,
    /// Pushing the processor's tail out after the source ended: no latency recorded.
    flushing: bool,
}

impl Sender {
    fn new(
        client: ClientHandle,
        source: Box<dyn AudioSource>,
        config: &VoiceConfig,
        shared: Arc<Shared>,
    ) -> Result<Self, ClientError> {
        let voice = |e: &dyn std::fmt::Display| ClientError::Voice(e.to_string());
        let (rate, channels) = (source.sample_rate(), source.channels());
        let processor = CaptureProcessor::new(CaptureConfig {
            frame: config.frame,
            noise_suppression: config.noise_suppression,
            ..CaptureConfig::new(rate, channels)
        })
        .map_err(|e| voice(&e))?;
        let encoder = Encoder::new(EncoderConfig {
            frame: config.frame,
            ..config.encoder
        })
        .map_err(|e| voice(&e))?;
        let chunk = (rate as usize / 100).max(1) * usize::from(channels.max(1));
        Ok(Self {
            client,
            source,
            channels: channels.max(1),
            processor,
            loss_hint: encoder.config().packet_loss_percent,
            encoder,
            shared,
            clock: CaptureClock::new(rate, Instant::now()),
            read_buf: vec![0.0; chunk],
            frame: vec![0.0; config.frame.samples()],
            packet: vec![0; MAX_PACKET_BYTES],
            sequence: 0,
            in_dtx: false,
            flushing: false,
        })
    }

    fn run(mut self) {
        while !self.shared.stopping() {
            let got = self.source.read(&mut self.read_buf);
            if got == 0 {
                if self.source.is_finished() {
                    self.flush();
                    self.shared.source_finished.store(true, Ordering::Release);
                    break;
                }
                std::thread::sleep(POLL);
                continue;
            }
            self.clock
                .record_read((got / usize::from(self.channels)) as u64, Instant::now());
            self.processor.push(&self.read_buf[..got]);
            self.drain_processor();
            if got < self.read_buf.len() {
                std::thread::sleep(POLL);
            }
        }
    }

    /// The source ended: push the processor's tail out with silence.
    fn flush(&mut self) {
        self.flushing = true;
        let rate = u64::from(self.clock.rate());
        let tail = (self.processor.latency_samples() + self.frame.len()) as u64;
        let frames = (tail * rate).div_ceil(u64::from(SAMPLE_RATE)) as usize;
        self.processor
            .push(&vec![0.0; frames * usize::from(self.channels)]);
        self.drain_processor();
    }

    fn drain_processor(&mut self) {
        while !self.shared.stopping() {
            let Some(info) = self.processor.pop_frame(&mut self.frame) else {
                break;
            };
            self.send_frame(info);
        }
    }

    fn update_loss_hint(&mut self) {
        let wanted = self
            .shared
            .loss_percent
            .load(Ordering::Relaxed)
            .clamp(DEFAULT_LOSS_HINT_PERCENT, 100);
        if wanted != self.loss_hint && self.encoder.set_packet_loss_percent(wanted).is_ok() {
            self.loss_hint = wanted;
        }
    }

    fn send_frame(&mut self, info: FrameInfo) {
        if !self.client.may_speak() {
            // Nothing is encoded while muted; the next packet starts a new stretch.
            self.in_dtx = false;
            return;
        }
        self.update_loss_hint();
        let len = match self.encoder.encode_into(&self.frame, &mut self.packet) {
            Ok(len) => len,
            Err(error) => {
                tracing::warn!(%error, "voice: encoding failed");
                return;
            }
        };
        if !self.flushing {
            let end = info.sample_index + self.frame.len() as u64;
            let captured = self.clock.captured(end);
            self.shared
                .record(Stage::CaptureToEncode, captured.elapsed());
        }
        let payload = &self.packet[..len];
        let dtx = len <= DTX_MAX_BYTES;
        if dtx && self.in_dtx {
            return;
        }
        self.in_dtx = dtx;
        let fec = packet_has_fec(payload);
        let dbov = (-info.level_dbfs).clamp(0.0, 127.0) as u8;
        let header = FrameHeader::audio(
            self.sequence,
            info.sample_index as u32,
            AudioLevel::new(dbov, info.voice),
            Flags::default().with(Flags::DTX, dtx).with(Flags::FEC, fec),
        );
        let mut bytes = Vec::with_capacity(salon_proto::frame::HEADER_LEN + len);
        if let Err(error) = salon_proto::frame::encode(&header, payload, &mut bytes) {
            tracing::warn!(%error, "voice: cannot frame a packet");
            return;
        }
        if self.client.send_audio(Bytes::from(bytes)) {
            self.sequence = self.sequence.wrapping_add(1);
            self.shared.frames_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One stream being played: its receiver and its latest frame.
#[derive(Debug)]
struct Incoming {
    receiver: StreamReceiver,
    samples: Vec<f32>,
    /// When its last packet arrived.
    last_packet: Instant,
}

/// The playout thread's state.
struct Player {
    client: ClientHandle,
    /// Subscriptions to the source's and the sink's device events.
    device_events: Vec<(Direction, mpsc::Receiver<DeviceEvent>)>,
    /// The client's playback version the gains were computed at (`None`: recompute).
    gains_version: Option<u64>,
    /// When streams were last checked for departure and idleness.
    last_sweep: Instant,
    /// Frames concealed by receivers since forgotten.
    concealed_before: u64,
    frames: AudioFrames,
    jitter: JitterConfig,
    receivers: HashMap<StreamId, Incoming>,
    mixer: Option<Mixer>,
    mixed: Vec<f32>,
    sink: Option<Box<dyn AudioSink>>,
    shared: Arc<Shared>,
}

impl Player {
    fn run(mut self) {
        let period = self.jitter.frame.duration();
        let mut next_tick = Instant::now() + period;
        while !self.shared.stopping() {
            self.take_frames();
            let now = Instant::now();
            if let Some(queued) = self.output_queue() {
                // The device sets the pace. Every wait is a whole poll: waiting only
                // until the queue reaches the mark would spin while it sits just above.
                if queued >= OUTPUT_LOW_WATER {
                    std::thread::sleep(POLL);
                    continue;
                }
                if !self.tick(now) {
                    // Nobody plays: a little silence per poll keeps the device fed, never
                    // faster than it plays, however fast it takes it.
                    self.write_silence(IDLE_CHUNK);
                    std::thread::sleep(POLL);
                }
                next_tick = now + period;
                continue;
            }
            if now < next_tick {
                std::thread::sleep((next_tick - now).min(POLL));
                continue;
            }
            self.tick(now);
            next_tick += period;
            if Instant::now() > next_tick + 4 * period {
                // Far behind (the machine stalled): start the clock over, do not burst.
                next_tick = Instant::now() + period;
            }
        }
    }

    /// How much audio the sink holds ahead of the device, if it is a sink that says.
    fn output_queue(&mut self) -> Option<Duration> {
        let (Some(mixer), Some(sink)) = (&self.mixer, &mut self.sink) else {
            return None;
        };
        let frames = sink.queued_frames()? as u64;
        let rate = u64::from(mixer.output_rate().max(1));
        Some(Duration::from_nanos(
            frames.saturating_mul(1_000_000_000) / rate,
        ))
    }

    /// Writes `duration` of silence to the sink (what it takes now; never waits).
    fn write_silence(&mut self, duration: Duration) {
        let (Some(mixer), Some(sink)) = (&self.mixer, &mut self.sink) else {
            return;
        };
        let channels = usize::from(mixer.output_channels().max(1));
        let frames =
            (u128::from(mixer.output_rate()) * duration.as_nanos() / 1_000_000_000).max(1) as usize;
        self.mixed.clear();
        self.mixed.resize(frames * channels, 0.0);
        sink.write(&self.mixed);
    }

    /// Moves every queued frame into its stream's receiver.
    fn take_frames(&mut self) {
        while let Some(frame) = self.frames.try_recv() {
            self.shared.frames_received.fetch_add(1, Ordering::Relaxed);
            let stream = frame.header.stream;
            if !self.receivers.contains_key(&stream) {
                match StreamReceiver::new(self.jitter) {
                    Ok(receiver) => {
                        self.receivers.insert(
                            stream,
                            Incoming {
                                receiver,
                                samples: vec![0.0; self.jitter.frame.samples()],
                                last_packet: frame.received_at,
                            },
                        );
                        self.shared.streams.fetch_add(1, Ordering::Relaxed);
                        self.shared
                            .active_streams
                            .store(self.receivers.len(), Ordering::Relaxed);
                        self.gains_version = None;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "voice: cannot decode a stream");
                        continue;
                    }
                }
            }
            let Some(incoming) = self.receivers.get_mut(&stream) else {
                continue;
            };
            incoming.last_packet = frame.received_at;
            let flags = frame.header.flags;
            incoming.receiver.push(
                Packet {
                    sequence: frame.header.sequence,
                    timestamp: frame.header.timestamp,
                    payload: frame.payload.to_vec(),
                    fec: flags.contains(Flags::FEC),
                    dtx: flags.contains(Flags::DTX),
                    captured_at: None,
                },
                frame.received_at,
            );
        }
    }

    /// Passes the devices' events on to the client's event stream.
    fn forward_device_events(&mut self) {
        for (direction, events) in &self.device_events {
            while let Ok(event) = events.try_recv() {
                self.client.emit(ClientEvent::AudioDevice {
                    direction: *direction,
                    event,
                });
            }
        }
    }

    /// When the room or a volume changed: each stream's gain from its speaker's volume,
    /// and streams whose speaker left (and fell silent) or that idled too long dropped.
    fn update_streams(&mut self, now: Instant) {
        let version = self.client.playback_version();
        let sweep_due = now.duration_since(self.last_sweep) >= SWEEP_EVERY;
        if self.gains_version == Some(version) && !sweep_due {
            return;
        }
        self.gains_version = Some(version);
        self.last_sweep = now;
        let mut gone = Vec::new();
        for (stream, incoming) in &self.receivers {
            let speaker = self.client.speaker_of(*stream);
            let silent = now.duration_since(incoming.last_packet);
            if (speaker.is_none() && silent >= DEPARTED_AFTER) || silent >= IDLE_AFTER {
                gone.push(*stream);
                continue;
            }
            if let (Some(speaker), Some(mixer)) = (speaker, self.mixer.as_mut()) {
                let percent = self.client.volume(speaker);
                mixer.set_gain(stream.0, f32::from(percent) / 100.0);
            }
        }
        for stream in gone {
            if let Some(incoming) = self.receivers.remove(&stream) {
                self.concealed_before += incoming.receiver.stats().concealed;
            }
            if let Some(mixer) = self.mixer.as_mut() {
                mixer.remove_stream(stream.0);
            }
        }
        self.shared
            .active_streams
            .store(self.receivers.len(), Ordering::Relaxed);
    }

    /// One frame period: a frame from every stream, mixed into the sink. Answers whether
    /// any stream played (without, nothing is written to a sink that reports its queue:
    /// the caller tops it up with a little silence instead).
    fn tick(&mut self, now: Instant) -> bool {
        self.forward_device_events();
        self.update_streams(now);
        let (mut concealed, mut loss, mut playing) = (self.concealed_before, 0, false);
        for incoming in self.receivers.values_mut() {
            if let Some(pulled) = incoming.receiver.pull(now, &mut incoming.samples) {
                playing = true;
                if let Some(wait) = pulled.jitter_wait {
                    self.shared.record(Stage::JitterWait, wait);
                }
            }
            let stats = incoming.receiver.stats();
            concealed += stats.concealed;
            loss = loss.max(stats.jitter.loss_percent);
        }
        self.shared.concealed.store(concealed, Ordering::Relaxed);
        self.shared.loss_percent.store(loss, Ordering::Relaxed);
        let (Some(mixer), Some(sink)) = (&mut self.mixer, &mut self.sink) else {
            return playing;
        };
        if !playing && sink.queued_frames().is_some() {
            return false;
        }
        let inputs: Vec<(u16, &[f32])> = self
            .receivers
            .iter()
            .map(|(stream, incoming)| (stream.0, &incoming.samples[..]))
            .collect();
        mixer.mix(&inputs, &mut self.mixed);
        let mut rest = &self.mixed[..];
        while !rest.is_empty() {
            let n = sink.write(rest);
            rest = &rest[n..];
            if !rest.is_empty() {
                if self.shared.stopping() {
                    return playing;
                }
                std::thread::sleep(POLL);
            }
        }
        playing
    }
}
