//! The listener's side of a voice session against a real server: each speaker is heard
//! at the volume set for them (and the volume is remembered), a speaker who leaves is
//! forgotten with their decoder, and an output device that goes away is reported on the
//! client's event stream while playback carries on.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use salon_audio_io::{
    AudioSink, DeviceEvent, Direction, Pacing, Playback, StreamOptions, WavSampleFormat, WavSink,
    WavSource, list_devices,
};
use salon_client::proto::room::Visibility;
use salon_client::{Client, ClientEvent, ClientHandle, VoiceConfig, VoiceSession};
use support::{eventually, registered, start_server, wait_for};

const RATE: u32 = 48_000;
const AMPLITUDE: f32 = 0.2;

/// Everything the playout thread writes, kept in memory.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<f32>>>);

impl Recorder {
    /// RMS of the last `seconds` written.
    fn recent_rms(&self, seconds: f32) -> f32 {
        let samples = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = ((RATE as f32 * seconds) as usize).min(samples.len());
        if n == 0 {
            return 0.0;
        }
        let tail = &samples[samples.len() - n..];
        (tail.iter().map(|x| x * x).sum::<f32>() / n as f32).sqrt()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl AudioSink for Recorder {
    fn write(&mut self, samples: &[f32]) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(samples);
        samples.len()
    }

    fn sample_rate(&self) -> u32 {
        RATE
    }

    fn channels(&self) -> u16 {
        1
    }
}

/// A steady 440 Hz tone: its level after the whole path tells the gain applied.
fn write_tone(path: &Path, seconds: u32) {
    let mut sink = WavSink::create(path, RATE, 1, WavSampleFormat::F32).expect("create WAV");
    let samples: Vec<f32> = (0..RATE * seconds)
        .map(|i| AMPLITUDE * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / RATE as f32).sin())
        .collect();
    assert_eq!(sink.write(&samples), samples.len());
}

/// The tone as a speaker sends it: noise suppression and AGC would treat a pure tone
/// as noise or level it, so both are off.
fn tone_config() -> VoiceConfig {
    VoiceConfig {
        noise_suppression: false,
        ..VoiceConfig::default()
    }
}

/// A host speaking a looping tone and a listener recording the room.
async fn host_and_listener(
    url: &str,
    tone: &Path,
) -> (
    ClientHandle,
    ClientHandle,
    support::Profile,
    VoiceSession,
    VoiceSession,
    Recorder,
) {
    let (host, _host_profile) = registered(url, "phost", "Host").await;
    let (guest, guest_profile) = registered(url, "pguest", "Guest").await;
    let room = host
        .create_room("Volumes", Visibility::Public)
        .await
        .unwrap();
    host.join_room(room).await.unwrap();
    guest.join_room(room).await.unwrap();
    let recorder = Recorder::default();
    let listening = VoiceSession::start(
        guest.clone(),
        None,
        Some(Box::new(recorder.clone())),
        tone_config(),
    )
    .unwrap();
    let source = WavSource::open(tone, Pacing::RealTime, true).unwrap();
    let speaking =
        VoiceSession::start(host.clone(), Some(Box::new(source)), None, tone_config()).unwrap();
    (host, guest, guest_profile, speaking, listening, recorder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_speaker_is_heard_at_their_volume_and_it_is_remembered() {
    support::init_tracing();
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    write_tone(&tone, 2);
    let (host, guest, guest_profile, speaking, listening, recorder) =
        host_and_listener(&url, &tone).await;
    let speaker = host.account().expect("logged in").user;
    assert_eq!(guest.volume(speaker), 100, "never set: full volume");

    // At 100 %: the tone, at whatever level the speaker's AGC settled on, once the
    // jitter buffer has learnt the link (it starts with no delay to spare, so on a busy
    // machine its first late packets are concealed, which lowers the level).
    eventually("the tone is heard", || recorder.recent_rms(0.5) > 0.03).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let full = recorder.recent_rms(0.5);
    println!("RMS at 100 %: {full:.4}");

    // At 0 %: silence within a few frames.
    guest.set_volume(speaker, 0).await.unwrap();
    eventually("silence at volume 0", || recorder.recent_rms(0.2) < 1e-4).await;

    // At 200 %: twice as loud (the limiter only acts near full scale).
    guest.set_volume(speaker, 200).await.unwrap();
    eventually("the tone is back", || recorder.recent_rms(0.2) > 0.05).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let double = recorder.recent_rms(0.5);
    println!("RMS at 200 %: {double:.4} ({:.2}×)", double / full);
    assert!(
        (1.7..=2.3).contains(&(double / full)),
        "200 % gave {double} against {full} at 100 %"
    );

    // A speaker who leaves is forgotten, decoder and all.
    assert_eq!(listening.stats().active_streams, 1);
    drop(speaking);
    host.leave_room().await.unwrap();
    eventually("the departed stream is forgotten", || {
        listening.stats().active_streams == 0
    })
    .await;
    let stats = listening.stop().await;
    assert_eq!(stats.streams, 1, "one stream heard in all: {stats:?}");
    assert!(
        recorder.len() > RATE as usize,
        "recorded {}",
        recorder.len()
    );

    // The volume is remembered by the profile.
    guest.shutdown().await;
    let again = Client::connect(guest_profile.config(&url)).await.unwrap();
    assert_eq!(again.volume(speaker), 200);
    again.shutdown().await;
}

/// `pactl` against the test's PulseAudio server.
fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl")
        .args(args)
        .output()
        .expect("pactl runs (PulseAudio tools are installed by `cargo xtask test`)");
    assert!(
        out.status.success(),
        "pactl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_output_is_reported_and_playback_carries_on() {
    support::init_tracing();
    assert!(
        Command::new("pactl")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success()),
        "this test needs a PulseAudio server: run it through `cargo xtask test`"
    );
    let name = format!("salon_client_test_{}", std::process::id());
    let module = pactl(&[
        "load-module",
        "module-null-sink",
        &format!("sink_name={name}"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let device = loop {
        let found = list_devices()
            .expect("list devices")
            .into_iter()
            .find(|d| d.direction == Direction::Output && d.id.name() == name);
        if let Some(found) = found {
            break found.id;
        }
        assert!(Instant::now() < deadline, "{name} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    };

    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (guest, _profile) = registered(&url, "pdev", "Guest").await;
    let mut events = guest.events();
    let playback = Playback::open(StreamOptions::on(Some(device.clone()))).unwrap();
    let listening =
        VoiceSession::start(guest.clone(), None, Some(Box::new(playback)), tone_config()).unwrap();

    pactl(&["unload-module", &module]);
    let event = wait_for(&mut events, "the device event", |event| match event {
        ClientEvent::AudioDevice { direction, event } => Some((*direction, event.clone())),
        _ => None,
    })
    .await;
    assert_eq!(event.0, Direction::Output);
    match event.1 {
        DeviceEvent::FellBackToDefault { lost, .. } => assert_eq!(lost, device),
        other => panic!("expected a fallback, got {other:?}"),
    }
    listening.stop().await;
    guest.shutdown().await;
}
