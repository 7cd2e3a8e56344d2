//! The listener's output queue stays small whatever the device does: a device that
//! stalls (and so takes nothing for a while) must not leave the playout thread's frames
//! queued behind it for the rest of the session, which would add the stall to every
//! later word. Runs against a real server with a real speaker; the device is a model of
//! a playback device (10 ms periods taken in real time, 20 ms of silence queued at the
//! start) because a real device cannot be made to stall on demand.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use salon_audio_io::{AudioSink, Pacing, WavSampleFormat, WavSink, WavSource};
use salon_client::proto::room::Visibility;
use salon_client::{VoiceConfig, VoiceSession};
use support::{registered, start_server};

const RATE: u32 = 48_000;
const PERIOD: usize = RATE as usize / 100;
const CAPACITY: usize = RATE as usize / 2;
const PREFILL: usize = RATE as usize / 50;

/// What the device model saw.
#[derive(Debug)]
struct DeviceState {
    /// Start of the next period the device takes.
    next_period: Instant,
    /// Samples written and not yet taken.
    queued: usize,
    /// The device takes nothing until then.
    stalled_until: Option<Instant>,
    /// Per write of audio (not silence): when, and the queue after it, in samples.
    writes: Vec<(Instant, usize)>,
    /// Per write of audio: its RMS.
    levels: Vec<(Instant, f32)>,
    /// Calls to `queued_frames`: how often the playout thread looked.
    polls: u64,
}

impl DeviceState {
    fn advance(&mut self, now: Instant) {
        let period = Duration::from_millis(10);
        if let Some(until) = self.stalled_until {
            if now < until {
                self.next_period = until;
                return;
            }
            self.stalled_until = None;
        }
        while self.next_period <= now {
            self.queued = self.queued.saturating_sub(PERIOD);
            self.next_period += period;
        }
    }
}

#[derive(Clone)]
struct Device(Arc<Mutex<DeviceState>>);

impl Device {
    fn new() -> Self {
        Device(Arc::new(Mutex::new(DeviceState {
            next_period: Instant::now(),
            queued: PREFILL,
            stalled_until: None,
            writes: Vec::new(),
            levels: Vec::new(),
            polls: 0,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DeviceState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AudioSink for Device {
    fn write(&mut self, samples: &[f32]) -> usize {
        let now = Instant::now();
        let mut state = self.state();
        state.advance(now);
        let n = samples.len().min(CAPACITY - state.queued);
        state.queued += n;
        let taken = &samples[..n];
        if taken.iter().any(|&x| x != 0.0) {
            let queued = state.queued;
            state.writes.push((now, queued));
            let rms = (taken.iter().map(|x| x * x).sum::<f32>() / n as f32).sqrt();
            state.levels.push((now, rms));
        }
        n
    }

    fn sample_rate(&self) -> u32 {
        RATE
    }

    fn channels(&self) -> u16 {
        1
    }

    fn queued_frames(&mut self) -> Option<usize> {
        let mut state = self.state();
        state.polls += 1;
        state.advance(Instant::now());
        Some(state.queued)
    }
}

fn write_tone(path: &Path, seconds: u32) {
    let mut sink = WavSink::create(path, RATE, 1, WavSampleFormat::F32).expect("create WAV");
    let samples: Vec<f32> = (0..RATE * seconds)
        .map(|i| 0.2 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / RATE as f32).sin())
        .collect();
    assert_eq!(sink.write(&samples), samples.len());
}

fn ms(samples: usize) -> f64 {
    samples as f64 * 1000.0 / f64::from(RATE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_stall_does_not_leave_audio_queued() {
    support::init_tracing();
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (host, _host_profile) = registered(&url, "qhost", "Host").await;
    let (guest, _guest_profile) = registered(&url, "qguest", "Guest").await;
    let room = host
        .create_room("Output queue", Visibility::Public)
        .await
        .unwrap();
    host.join_room(room).await.unwrap();
    guest.join_room(room).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    write_tone(&tone, 2);
    // A pure tone is not speech: no noise suppression in the way.
    let config = VoiceConfig {
        noise_suppression: false,
        ..VoiceConfig::default()
    };
    let device = Device::new();
    let listening =
        VoiceSession::start(guest.clone(), None, Some(Box::new(device.clone())), config).unwrap();
    let source = WavSource::open(&tone, Pacing::RealTime, true).unwrap();
    let speaking = VoiceSession::start(host.clone(), Some(Box::new(source)), None, config).unwrap();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let stall_start = Instant::now();
    device.state().stalled_until = Some(stall_start + Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(300 + 1500)).await;
    let _ = speaking.stop().await;
    let heard = listening.stop().await;

    let state = device.state();
    assert!(
        state.writes.len() > 50,
        "audio written {} times; {heard:?}",
        state.writes.len()
    );
    // A frame is mixed only when the queue is under 12 ms, so after the write it holds
    // under 12 ms plus one 20 ms frame, before, during and after the stall. (Writing a
    // frame every 20 ms by the wall clock, the queue grew by the whole stall and kept it.)
    let worst = state.writes.iter().map(|w| w.1).max().unwrap_or(0);
    assert!(
        ms(worst) < 32.0,
        "the queue reached {:.1} ms; {heard:?}",
        ms(worst)
    );
    // Playback went on after the stall, at the tone's level.
    let resumed = stall_start + Duration::from_millis(300 + 500);
    let after: Vec<f32> = state
        .levels
        .iter()
        .filter(|(at, _)| *at >= resumed)
        .map(|(_, rms)| *rms)
        .collect();
    assert!(after.len() > 20, "{} writes after the stall", after.len());
    let mut sorted = after.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!(median > 0.1, "median level after the stall {median}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_room_keeps_the_device_fed_without_spinning() {
    support::init_tracing();
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (host, _host_profile) = registered(&url, "ihost", "Host").await;
    let room = host.create_room("Quiet", Visibility::Public).await.unwrap();
    host.join_room(room).await.unwrap();
    let device = Device::new();
    let listening = VoiceSession::start(
        host.clone(),
        None,
        Some(Box::new(device.clone())),
        VoiceConfig::default(),
    )
    .unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = listening.stop().await;
    let elapsed = started.elapsed();
    let state = device.state();
    // The thread looks at the queue about twice per 2 ms poll while nobody speaks; a
    // loop that waited only until the queue reached its mark looked millions of times.
    let per_ms = state.polls as f64 / elapsed.as_secs_f64() / 1000.0;
    assert!(per_ms < 3.0, "{} looks in {elapsed:?}", state.polls);
    assert!(state.polls > 100, "{} looks in {elapsed:?}", state.polls);
    assert!(state.writes.is_empty(), "nothing but silence was written");
}
