//! `salon-bench latency`: mouth-to-ear delay through a real server, measured on the
//! audio itself.
//!
//! A speaker client (the real [`VoiceSession`]: capture processing, Opus, WebSocket)
//! speaks looped speech into a room on a `salon-server` process; a listener client (its
//! jitter buffers, decoders, mixer) plays the room out. Each 60 ms stretch of speech is
//! an event: it is found again in what the listener played by cross-correlation, and
//! its delay is the time its first sample was played minus the time it was spoken.
//!
//! Two sets of devices:
//! - **virtual**: the mouth is a WAV file paced in real time (the audio-io
//!   [`WavSource`], 10 ms ticks like a device), the ear a virtual speaker that plays in
//!   real time like a device with 10 ms periods, a 200 ms queue and 20 ms of initial
//!   silence (the defaults of a real playback stream): the instant of every sample on
//!   both sides is known exactly.
//! - **pulse**: the real devices of a PulseAudio server (see [`crate::pulse`]).
//!
//! Where the time goes comes from the client's own meters (capture → encode, jitter
//! wait), a third client in the room that only timestamps arriving frames (encode →
//! arrival: network and server), the output queue seen at each write, and the codec's
//! fixed delays; what remains is decoding and mixing.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use salon_audio_io::{AudioSink, AudioSource, Pacing, WavSource};
use salon_client::proto::room::Visibility;
use salon_client::{Client, ClientConfig, ClientHandle, KeyStore, VoiceConfig, VoiceSession};
use salon_voice::analysis;
use salon_voice::capture::{CaptureConfig, CaptureProcessor};
use salon_voice::codec::{Encoder, EncoderConfig};
use salon_voice::frame::{FrameDuration, SAMPLE_RATE};
use serde::Serialize;

use crate::histogram::Histogram;
use crate::pulse;
use crate::server::ServerProcess;

/// Events are this far apart: each is the instant of one sample of speech.
const EVENT: usize = SAMPLE_RATE as usize * 60 / 1000;
/// The speech from an event's instant on that is looked for in the output: long enough
/// that a pitch period or a repeated syllable cannot match at the wrong place.
const CONTEXT: usize = SAMPLE_RATE as usize / 4;
/// Events quieter than this (RMS) are pauses, not speech.
const EVENT_MIN_RMS: f32 = 0.02;
/// Matches weaker than this are not counted (noise suppression and Opus change the
/// waveform, but speech stays well above it).
const MIN_CORRELATION: f32 = 0.5;
/// Longest delay searched for.
const MAX_DELAY: Duration = Duration::from_millis(400);
/// Speech before the first counted event: the jitter buffers settle.
const SETTLE: Duration = Duration::from_secs(2);

/// Which devices carry the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Devices {
    /// A WAV file paced in real time and a virtual real-time speaker.
    Virtual,
    /// PulseAudio null sinks through cpal, the devices the app uses.
    Pulse,
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct LatencyConfig {
    pub(crate) frame: FrameDuration,
    pub(crate) seconds: f64,
    pub(crate) devices: Devices,
    pub(crate) server: PathBuf,
    pub(crate) signal: PathBuf,
}

/// Where the median delay goes, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Stages {
    /// The microphone's buffer: spoken → read by the voice session (virtual devices
    /// only; on real devices it is part of the remainder).
    pub(crate) input_buffer_ms: f64,
    /// One frame of audio collected, the capture processing block (noise suppression)
    /// and Opus' lookahead: fixed by the format.
    pub(crate) framing_lookahead_ms: f64,
    /// Capture device → encoded packet, beyond the framing and processing block.
    pub(crate) encode_ms: f64,
    /// Encoded packet → arrival at a listener: send queue, socket, server, socket.
    pub(crate) network_server_ms: f64,
    /// Arrival → taken out of the jitter buffer.
    pub(crate) jitter_buffer_ms: f64,
    /// The rest of the median: decoding and mixing, and on real devices also the
    /// devices' own buffers and the network (medians of different stages do not add
    /// exactly, so this can come out slightly negative).
    pub(crate) decode_mix_ms: f64,
    /// Written to the output → played.
    pub(crate) output_buffer_ms: f64,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LatencyReport {
    pub(crate) devices: Devices,
    pub(crate) frame_ms: u32,
    pub(crate) events: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// Speech stretches that were not found again (a correlation below 0.5).
    pub(crate) unmatched: u64,
    pub(crate) stages: Stages,
    pub(crate) frames_sent: u64,
    pub(crate) frames_received: u64,
    pub(crate) concealed: u64,
    /// Device periods the virtual speaker found its queue short (virtual devices only).
    pub(crate) output_underruns: u64,
}

/// A signal with the instant each of its samples was spoken or played.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    pub(crate) samples: Vec<f32>,
    /// `(first sample index, instant of that sample)` per chunk, in order; within a
    /// chunk samples follow at 48 kHz.
    pub(crate) chunks: Vec<(usize, Instant)>,
}

impl Timeline {
    /// The instant sample `index` was played (or spoken).
    pub(crate) fn instant(&self, index: usize) -> Option<Instant> {
        let at = self.chunks.partition_point(|(start, _)| *start <= index);
        let (start, instant) = *self.chunks.get(at.checked_sub(1)?)?;
        Some(instant + samples_to_duration(index - start))
    }

    /// The first sample played at or after `instant`.
    pub(crate) fn index_at(&self, instant: Instant) -> Option<usize> {
        let at = self.chunks.partition_point(|(_, t)| *t <= instant);
        match at.checked_sub(1) {
            None => self.chunks.first().map(|(start, _)| *start),
            Some(i) => {
                let (start, t) = self.chunks[i];
                let offset = duration_to_samples(instant.duration_since(t));
                let end = self.chunks.get(i + 1).map_or(self.samples.len(), |c| c.0);
                Some((start + offset).min(end))
            }
        }
    }
}

pub(crate) fn samples_to_duration(samples: usize) -> Duration {
    Duration::from_nanos(samples as u64 * 1_000_000_000 / u64::from(SAMPLE_RATE))
}

fn duration_to_samples(duration: Duration) -> usize {
    (duration.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000) as usize
}

/// Finds every speech event of `spoken` in `played`; records each delay.
/// Answers (events, unmatched).
pub(crate) fn match_events(
    spoken: &Timeline,
    played: &Timeline,
    from: Instant,
    delays: &Histogram,
) -> (u64, u64) {
    let (mut events, mut unmatched) = (0, 0);
    let max_lag = duration_to_samples(MAX_DELAY);
    for start in (0..spoken.samples.len().saturating_sub(CONTEXT)).step_by(EVENT) {
        let segment = &spoken.samples[start..start + CONTEXT];
        let head = &segment[..EVENT];
        let rms = (head.iter().map(|x| x * x).sum::<f32>() / EVENT as f32).sqrt();
        let Some(said) = spoken.instant(start) else {
            continue;
        };
        if rms < EVENT_MIN_RMS || said < from {
            continue;
        }
        let Some(lo) = played.index_at(said) else {
            continue;
        };
        let Some(window) = played.samples.get(lo..lo + max_lag + CONTEXT) else {
            continue; // the recording ended before this event could be heard
        };
        let Some((lag, corr)) = analysis::best_lag(segment, window, max_lag) else {
            continue;
        };
        if corr < MIN_CORRELATION {
            unmatched += 1;
            continue;
        }
        let Some(heard) = played.instant(lo + lag) else {
            continue;
        };
        let delay = heard.saturating_duration_since(said);
        if std::env::var_os("SALON_BENCH_DEBUG").is_some() {
            eprintln!(
                "event at {start}: {:.1} ms (correlation {corr:.2})",
                delay.as_secs_f64() * 1000.0
            );
        }
        delays.record(delay);
        events += 1;
    }
    (events, unmatched)
}

/// A virtual speaker: plays in real time like a device with 10 ms periods, a 200 ms
/// queue and 20 ms of silence queued at the start, and remembers when each sample
/// played.
#[derive(Debug)]
struct VirtualSpeaker {
    record: Arc<Mutex<SpeakerRecord>>,
}

#[derive(Debug)]
struct SpeakerRecord {
    timeline: Timeline,
    /// Start of the next device period.
    next_period: Instant,
    /// Samples queued and not yet taken by the device.
    queued: usize,
    /// Output queue delay seen by each write, in microseconds.
    queue_delays: Vec<u64>,
    underruns: u64,
}

const PERIOD: usize = SAMPLE_RATE as usize / 100;
const QUEUE_CAPACITY: usize = SAMPLE_RATE as usize / 5;
const PREFILL: usize = SAMPLE_RATE as usize / 50;

impl VirtualSpeaker {
    fn new() -> (Self, Arc<Mutex<SpeakerRecord>>) {
        let record = Arc::new(Mutex::new(SpeakerRecord {
            timeline: Timeline::default(),
            next_period: Instant::now(),
            queued: PREFILL,
            queue_delays: Vec::new(),
            underruns: 0,
        }));
        (
            Self {
                record: Arc::clone(&record),
            },
            record,
        )
    }
}

impl SpeakerRecord {
    /// Lets the device take every period due by `now`.
    fn advance(&mut self, now: Instant) {
        let period = samples_to_duration(PERIOD);
        while self.next_period <= now {
            if self.queued < PERIOD {
                self.underruns += 1;
            }
            self.queued = self.queued.saturating_sub(PERIOD);
            self.next_period += period;
        }
    }
}

impl AudioSink for VirtualSpeaker {
    fn write(&mut self, samples: &[f32]) -> usize {
        let now = Instant::now();
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        record.advance(now);
        let n = samples.len().min(QUEUE_CAPACITY - record.queued);
        if n == 0 {
            return 0;
        }
        // The device takes the next period at `next_period`; queued samples play first.
        let plays_at = record.next_period + samples_to_duration(record.queued);
        let start = record.timeline.samples.len();
        record.timeline.chunks.push((start, plays_at));
        record.timeline.samples.extend_from_slice(&samples[..n]);
        // The queue ahead of what is heard: silence written while nobody speaks is
        // not counted.
        if samples[..n].iter().any(|&x| x != 0.0) {
            let delay = plays_at.saturating_duration_since(now).as_micros() as u64;
            record.queue_delays.push(delay);
        }
        record.queued += n;
        n
    }

    fn queued_frames(&mut self) -> Option<usize> {
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        record.advance(Instant::now());
        Some(record.queued)
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn channels(&self) -> u16 {
        1
    }
}

/// A source that remembers what it gave, with the instant each sample was spoken.
struct RecordingSource {
    inner: Box<dyn AudioSource>,
    record: Arc<Mutex<Timeline>>,
    /// Per read: how long ago its last sample was spoken, in microseconds.
    read_delays: Arc<Mutex<Vec<u64>>>,
    /// When sample 0 was spoken (a paced file: when its pacer started).
    spoken_from: Instant,
}

impl AudioSource for RecordingSource {
    fn read(&mut self, out: &mut [f32]) -> usize {
        let n = self.inner.read(out);
        if n > 0 {
            let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
            if record.chunks.is_empty() {
                record.chunks.push((0, self.spoken_from));
            }
            record.samples.extend_from_slice(&out[..n]);
            let newest = self.spoken_from + samples_to_duration(record.samples.len() - 1);
            self.read_delays
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Instant::now().saturating_duration_since(newest).as_micros() as u64);
        }
        n
    }

    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    fn channels(&self) -> u16 {
        self.inner.channels()
    }
}

/// Three clients in a room on a fresh server: the speaker (host), the listener, and a
/// probe that only timestamps arriving frames.
struct Room {
    _server: ServerProcess,
    _profiles: tempfile::TempDir,
    speaker: ClientHandle,
    listener: ClientHandle,
    probe: ClientHandle,
}

async fn client(url: &str, profiles: &std::path::Path, name: &str) -> anyhow::Result<ClientHandle> {
    let dir = profiles.join(name);
    std::fs::create_dir_all(&dir)?;
    let config = ClientConfig::new(url, &dir, KeyStore::File(dir.join("device.key")));
    let client = Client::connect(config).await?;
    client.register(name, name, None).await?;
    Ok(client)
}

async fn room(server_binary: &std::path::Path) -> anyhow::Result<Room> {
    let server = ServerProcess::start(server_binary, 16)?;
    let url = format!("ws://{}/v1/ws", server.addr());
    let profiles = tempfile::Builder::new().prefix("salon-bench-").tempdir()?;
    let speaker = client(&url, profiles.path(), "bench_speaker").await?;
    let listener = client(&url, profiles.path(), "bench_listener").await?;
    let probe = client(&url, profiles.path(), "bench_probe").await?;
    let room = speaker
        .create_room("Latency benchmark", Visibility::Public)
        .await?;
    speaker.join_room(room).await?;
    listener.join_room(room).await?;
    probe.join_room(room).await?;
    anyhow::ensure!(speaker.may_speak(), "the host is on stage");
    Ok(Room {
        _server: server,
        _profiles: profiles,
        speaker,
        listener,
        probe,
    })
}

/// Arrival of each frame at the probe, minus the capture of the frame's last sample.
fn probe_thread(
    probe: &ClientHandle,
    spoken_from: Instant,
    frame: FrameDuration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<u64>> {
    let mut frames = probe.audio_frames();
    std::thread::spawn(move || {
        let mut delays = Vec::new();
        let frame_samples = frame.samples() as u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            while let Some(incoming) = frames.try_recv() {
                let end = u64::from(incoming.header.timestamp) + frame_samples;
                let captured = spoken_from + samples_to_duration(end as usize);
                if let Some(d) = incoming.received_at.checked_duration_since(captured) {
                    delays.push(d.as_micros() as u64);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        delays
    })
}

fn median_us(values: &mut [u64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    *values.select_nth_unstable(mid).1 as f64 / 1000.0
}

/// Fixed delays of the format: a frame, the capture processing block, Opus' lookahead.
fn fixed_delays(config: &VoiceConfig) -> anyhow::Result<(f64, f64)> {
    let processor = CaptureProcessor::new(CaptureConfig {
        frame: config.frame,
        noise_suppression: config.noise_suppression,
        ..CaptureConfig::new(SAMPLE_RATE, 1)
    })?;
    let encoder = Encoder::new(EncoderConfig {
        frame: config.frame,
        ..config.encoder
    })?;
    let block = samples_to_duration(processor.latency_samples()).as_secs_f64() * 1000.0;
    let framing = config.frame.duration().as_secs_f64() * 1000.0;
    Ok((
        framing + block + encoder.lookahead().as_secs_f64() * 1000.0,
        block,
    ))
}

/// Runs the benchmark.
pub(crate) async fn run(config: &LatencyConfig) -> anyhow::Result<LatencyReport> {
    let voice = VoiceConfig {
        frame: config.frame,
        ..VoiceConfig::default()
    };
    let room = room(&config.server).await?;
    let delays = Histogram::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run_for = Duration::from_secs_f64(config.seconds) + SETTLE;

    let read_delays = Arc::new(Mutex::new(Vec::new()));
    let mut output_underruns = 0;
    let (spoken, played, spoken_from, output_queue, speaking, listening, probe) =
        match config.devices {
            Devices::Virtual => {
                let (speaker_device, played) = VirtualSpeaker::new();
                let listening = VoiceSession::start(
                    room.listener.clone(),
                    None,
                    Some(Box::new(speaker_device)),
                    voice,
                )?;
                let spoken = Arc::new(Mutex::new(Timeline::default()));
                let spoken_from = Instant::now();
                let file = WavSource::open(&config.signal, Pacing::RealTime, true)
                    .with_context(|| format!("cannot open {}", config.signal.display()))?;
                if (file.sample_rate(), file.channels()) != (SAMPLE_RATE, 1) {
                    bail!("the signal must be 48 kHz mono");
                }
                let source = RecordingSource {
                    inner: Box::new(file),
                    record: Arc::clone(&spoken),
                    read_delays: Arc::clone(&read_delays),
                    spoken_from,
                };
                let probe = probe_thread(&room.probe, spoken_from, config.frame, Arc::clone(&stop));
                let speaking =
                    VoiceSession::start(room.speaker.clone(), Some(Box::new(source)), None, voice)?;
                tokio::time::sleep(run_for).await;
                let speaking = speaking.stop().await;
                tokio::time::sleep(MAX_DELAY).await;
                let listening = listening.stop().await;
                let spoken =
                    std::mem::take(&mut *spoken.lock().unwrap_or_else(PoisonError::into_inner));
                let mut record = played.lock().unwrap_or_else(PoisonError::into_inner);
                let played = std::mem::take(&mut record.timeline);
                let output_queue = median_us(&mut record.queue_delays);
                output_underruns = record.underruns;
                drop(record);
                (
                    spoken,
                    played,
                    spoken_from,
                    output_queue,
                    speaking,
                    listening,
                    probe,
                )
            }
            Devices::Pulse => {
                let devices = pulse::Rig::start(&config.signal)?;
                let listening = VoiceSession::start(
                    room.listener.clone(),
                    None,
                    Some(Box::new(devices.ear()?)),
                    voice,
                )?;
                let spoken_from = Instant::now();
                let probe = probe_thread(&room.probe, spoken_from, config.frame, Arc::clone(&stop));
                let speaking = VoiceSession::start(
                    room.speaker.clone(),
                    Some(Box::new(devices.mic()?)),
                    None,
                    voice,
                )?;
                tokio::time::sleep(run_for).await;
                let speaking = speaking.stop().await;
                tokio::time::sleep(MAX_DELAY).await;
                let listening = listening.stop().await;
                let recorded = devices.finish()?;
                (
                    recorded.spoken,
                    recorded.played,
                    spoken_from,
                    recorded.output_queue_ms,
                    speaking,
                    listening,
                    probe,
                )
            }
        };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut arrivals = probe
        .join()
        .map_err(|_| anyhow::anyhow!("the probe thread panicked"))?;
    let _ = spoken_from;
    let (events, unmatched) = match_events(
        &spoken,
        &played,
        spoken.chunks.first().map_or(Instant::now(), |c| c.1) + SETTLE,
        &delays,
    );
    if events == 0 {
        bail!(
            "no speech was found again in the output ({unmatched} stretches did not match; \
             frames sent {}, received {})",
            speaking.frames_sent,
            listening.frames_received
        );
    }
    let p = delays.percentiles();
    let (fixed_ms, block_ms) = fixed_delays(&voice)?;
    let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let capture_to_encode = ms(speaking.latency.capture_to_encode.map(|s| s.p50));
    let jitter = ms(listening.latency.jitter_wait.map(|s| s.p50));
    let arrival = median_us(&mut arrivals);
    let input_buffer = median_us(&mut read_delays.lock().unwrap_or_else(PoisonError::into_inner));
    let mut stages = Stages {
        input_buffer_ms: input_buffer,
        framing_lookahead_ms: fixed_ms,
        encode_ms: (capture_to_encode - block_ms).max(0.0),
        // The probe's frames carry the speaker's capture positions; only the virtual
        // microphone's positions map to known instants.
        network_server_ms: if config.devices == Devices::Virtual {
            (arrival - capture_to_encode).max(0.0)
        } else {
            0.0
        },
        jitter_buffer_ms: jitter,
        decode_mix_ms: 0.0,
        output_buffer_ms: output_queue,
    };
    stages.decode_mix_ms = p.p50_ms
        - (stages.input_buffer_ms
            + stages.framing_lookahead_ms
            + stages.encode_ms
            + stages.network_server_ms
            + stages.jitter_buffer_ms
            + stages.output_buffer_ms);
    for client in [&room.speaker, &room.listener, &room.probe] {
        client.shutdown().await;
    }
    Ok(LatencyReport {
        devices: config.devices,
        frame_ms: config.frame.duration().as_millis() as u32,
        events,
        p50_ms: p.p50_ms,
        p95_ms: p.p95_ms,
        p99_ms: p.p99_ms,
        max_ms: p.max_ms,
        unmatched,
        stages,
        frames_sent: speaking.frames_sent,
        frames_received: listening.frames_received,
        concealed: listening.concealed,
        output_underruns,
    })
}

/// Prints the human summary.
pub(crate) fn print(report: &LatencyReport) {
    let s = &report.stages;
    println!(
        "latency ({:?} devices, {} ms frames): {} events, mouth-to-ear p50 {:.1} ms, p95 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms ({} stretches unmatched)",
        report.devices,
        report.frame_ms,
        report.events,
        report.p50_ms,
        report.p95_ms,
        report.p99_ms,
        report.max_ms,
        report.unmatched
    );
    let total = report.p50_ms.max(f64::EPSILON);
    for (name, value) in [
        ("input buffer", s.input_buffer_ms),
        ("framing + lookahead", s.framing_lookahead_ms),
        ("encode", s.encode_ms),
        ("network + server", s.network_server_ms),
        ("jitter buffer", s.jitter_buffer_ms),
        ("rest (decode, mix, …)", s.decode_mix_ms),
        ("output buffer", s.output_buffer_ms),
    ] {
        println!(
            "latency:   {name:<26} {value:6.1} ms  {:3.0} %",
            100.0 * value / total
        );
    }
    println!(
        "latency:   frames sent {}, received {}, concealed {}, output underruns {}",
        report.frames_sent, report.frames_received, report.concealed, report.output_underruns
    );
}
