//! The voice session against a real server: a host speaks a WAV file into the room, a
//! listener records the room into a WAV file, and the recording must be the speech,
//! delayed by the whole pipeline (capture processing, Opus, the socket, the server, the
//! jitter buffer, the mixer) but without any device.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use salon_audio_io::{AudioSource, Pacing, WavSampleFormat, WavSink, WavSource};
use salon_client::proto::room::Visibility;
use salon_client::{VoiceConfig, VoiceSession};
use salon_voice::analysis;
use support::{TIMEOUT, eventually, registered, start_server};

const RATE: u32 = 48_000;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../voice/tests/fixtures/speech-48k-mono.wav")
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut source = WavSource::open(path, Pacing::AsFastAsPossible, false).expect("open WAV");
    assert_eq!((source.sample_rate(), source.channels()), (RATE, 1));
    let mut samples = vec![0.0; RATE as usize * 30];
    let n = source.read(&mut samples);
    samples.truncate(n);
    samples
}

/// The lag at which `b` best matches `a`, and the correlation there.
fn best_lag(a: &[f32], b: &[f32], max_lag: usize) -> (usize, f32) {
    analysis::best_lag(a, b, max_lag).expect("both signals have samples")
}

/// Per 500 ms segment of `a` with speech in it: the best lag within `around ± 200 ms`
/// and the correlation there. The jitter buffer may shift playout by a frame while it
/// adapts, which one lag over the whole file cannot follow; each segment can.
fn segment_matches(a: &[f32], b: &[f32], around: usize) -> Vec<(usize, f32)> {
    const SEGMENT: usize = RATE as usize / 2;
    const SPAN: usize = RATE as usize / 5;
    a.chunks_exact(SEGMENT)
        .enumerate()
        .filter(|(_, seg)| {
            let rms = (seg.iter().map(|x| x * x).sum::<f32>() / seg.len() as f32).sqrt();
            rms > 0.01
        })
        .filter_map(|(i, seg)| {
            let lo = (i * SEGMENT + around).saturating_sub(SPAN);
            let b = b.get(lo..)?;
            let (lag, corr) = best_lag(seg, b, 2 * SPAN);
            Some((lo + lag - i * SEGMENT, corr))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_goes_from_the_host_through_the_room_to_the_listener() {
    support::init_tracing();
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (host, _host_profile) = registered(&url, "vhost", "Host").await;
    let (guest, _guest_profile) = registered(&url, "vguest", "Guest").await;
    let room = host
        .create_room("Voice check", Visibility::Public)
        .await
        .unwrap();
    host.join_room(room).await.unwrap();
    assert!(host.may_speak());
    guest.join_room(room).await.unwrap();
    assert!(!guest.may_speak(), "the listener is in the audience");

    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("heard.wav");
    let sink = WavSink::create(&recording, RATE, 1, WavSampleFormat::F32).unwrap();
    let listening = VoiceSession::start(
        guest.clone(),
        None,
        Some(Box::new(sink)),
        VoiceConfig::default(),
    )
    .unwrap();
    let source = WavSource::open(fixture(), Pacing::RealTime, false).unwrap();
    let speaking = VoiceSession::start(
        host.clone(),
        Some(Box::new(source)),
        None,
        VoiceConfig::default(),
    )
    .unwrap();

    let started = Instant::now();
    eventually("the source is sent", || speaking.source_finished()).await;
    assert!(started.elapsed() < TIMEOUT);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = speaking.stop().await;
    let heard = listening.stop().await;
    println!("speaker: {sent:?}");
    println!("listener: {heard:?}");

    // 3 s of speech at 20 ms: about 150 frames, fewer with DTX over the pauses.
    assert!(sent.frames_sent > 50, "frames sent: {}", sent.frames_sent);
    assert_eq!(sent.frames_received, 0, "nobody else spoke");
    assert!(sent.latency.capture_to_encode.is_some());
    assert_eq!(heard.frames_sent, 0, "a listener sends nothing");
    assert_eq!(heard.streams, 1);
    assert!(
        heard.frames_received >= sent.frames_sent * 9 / 10,
        "received {} of {}",
        heard.frames_received,
        sent.frames_sent
    );

    let original = read_wav(&fixture());
    let recorded = read_wav(&recording);
    assert!(
        recorded.len() > original.len(),
        "recorded {}",
        recorded.len()
    );
    let (lag, corr) = best_lag(&original, &recorded, RATE as usize);
    println!(
        "mouth-to-ear lag {:.1} ms ({lag} samples), correlation {corr:.3}",
        lag as f64 * 1000.0 / f64::from(RATE)
    );
    let segments = segment_matches(&original, &recorded, lag);
    for (lag, corr) in &segments {
        println!(
            "  segment: lag {:.1} ms, correlation {corr:.3}",
            *lag as f64 * 1000.0 / f64::from(RATE)
        );
    }
    let mut corrs: Vec<f32> = segments.iter().map(|s| s.1).collect();
    corrs.sort_by(f32::total_cmp);
    assert!(corrs.len() >= 3, "speech segments: {}", corrs.len());
    let median = corrs[corrs.len() / 2];
    println!("median segment correlation {median:.3}");
    // Measured on the 2-core dev box (debug build): median 0.94 (segments 0.77..0.95)
    // in 3 runs, at a lag of 46.4 ms when the jitter buffer held a frame on a clean
    // link, 26.4 ms since it holds 2 ms over the lateness it sees (sometimes later
    // segments a frame further on, the jitter buffer adapting). Over the whole file one lag gave 0.81..0.92 in those runs but
    // as little as 0.08 under load, where playout shifts by a frame mid-file, hence the
    // per-segment bound, set with margin.
    assert!(median >= 0.6, "median segment correlation {median}");

    // A listener (not on stage) with a source sends nothing.
    let source = WavSource::open(fixture(), Pacing::RealTime, false).unwrap();
    let muted = VoiceSession::start(
        guest.clone(),
        Some(Box::new(source)),
        None,
        VoiceConfig::default(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!guest.may_speak());
    let stats = muted.stop().await;
    assert_eq!(stats.frames_sent, 0, "a listener sends nothing");
    assert!(stats.latency.capture_to_encode.is_none(), "nor encodes");
}
