//! The mic test end to end: speech from a WAV file comes out of the sink delayed and
//! intact, with the level meter moving; and on real devices under PulseAudio, a tone
//! arrives through it at the right frequency with a pipeline latency in bounds.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{NullSink, Tone, frequency, require_pulse, silent_blocks, wait_until};
use salon_audio_io::{
    AudioSource, Capture, DeviceId, Direction, MicTest, MicTestConfig, Pacing, Playback,
    StreamOptions, WavSampleFormat, WavSink, WavSource, list_devices,
};
use salon_voice::analysis;
use salon_voice::frame::FrameDuration;
use salon_voice::latency::StageSummary;

const RATE: u32 = 48_000;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../voice/tests/fixtures/speech-48k-mono.wav")
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut source = WavSource::open(path, Pacing::AsFastAsPossible, false).expect("open WAV");
    assert_eq!((source.sample_rate(), source.channels()), (RATE, 1));
    let mut samples = vec![0.0; RATE as usize * 10];
    let n = source.read(&mut samples);
    samples.truncate(n);
    samples
}

/// The lag at which `b` best matches `a`, and the correlation there.
fn best_lag(a: &[f32], b: &[f32], max_lag: usize) -> (usize, f32) {
    analysis::best_lag(a, b, max_lag).expect("both signals have samples")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn describe(summary: Option<&StageSummary>) -> String {
    summary.map_or("none".into(), |s| {
        format!(
            "p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} frames",
            ms(s.p50),
            ms(s.p95),
            ms(s.max),
            s.window
        )
    })
}

#[test]
fn speech_from_a_file_comes_back_delayed_and_intact_with_the_meter_moving() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("mic-test.wav");
    let source = WavSource::open(fixture(), Pacing::RealTime, false).expect("open the fixture");
    let sink = WavSink::create(&out_path, RATE, 1, WavSampleFormat::F32).expect("create sink");
    let delay = Duration::from_millis(200);
    let config = MicTestConfig {
        delay,
        noise_suppression: false,
        ..MicTestConfig::default()
    };
    let mic = MicTest::start(Box::new(source), Box::new(sink), config).expect("start");
    assert_eq!(mic.delay(), delay);

    let (mut loudest, mut voiced) = (f32::NEG_INFINITY, false);
    let finished = wait_until(Duration::from_secs(15), || {
        loudest = loudest.max(mic.level_dbfs());
        voiced |= mic.voice();
        std::thread::sleep(Duration::from_millis(5));
        mic.is_finished()
    });
    let report = mic.latency();
    mic.stop().expect("stop");
    assert!(finished, "the 3 s file did not finish playing within 15 s");

    let input = read_wav(&fixture());
    let output = read_wav(&out_path);
    let (lag, r) = best_lag(&input, &output, RATE as usize / 2);
    let lag_ms = lag as f64 * 1000.0 / f64::from(RATE);
    println!(
        "mic test (WAV, 20 ms, 200 ms delay): lag {lag_ms:.2} ms, correlation {r:.3}, \
         loudest {loudest:.1} dBFS; capture→encode {}; end to end without the delay {}; \
         delay held {}",
        describe(report.capture_to_encode.as_ref()),
        describe(report.end_to_end.as_ref()),
        describe(report.jitter_wait.as_ref()),
    );
    assert!(
        output.len() >= input.len() + lag,
        "the sink got {} samples, fewer than the input's {} after the {lag}-sample lag",
        output.len(),
        input.len()
    );
    // The delay plus Opus' lookahead (6.5 ms); the capture processing trims its own.
    assert!(
        (200.0..=230.0).contains(&lag_ms),
        "the output lags the input by {lag_ms:.2} ms, not the 200 ms delay plus the codec's"
    );
    assert!(r >= 0.85, "correlation {r:.3} at the best lag {lag}");
    assert!(loudest > -40.0, "the meter peaked at {loudest} dBFS");
    assert!(voiced, "voice() never reported speech");
    assert!(report.capture_to_encode.is_some() && report.end_to_end.is_some());
}

/// The id of the listed device called `name` in `direction`, waiting for it to appear.
fn device_named(name: &str, direction: Direction) -> DeviceId {
    let mut found = None;
    let appeared = wait_until(Duration::from_secs(10), || {
        found = list_devices()
            .expect("list devices")
            .into_iter()
            .find(|d| d.direction == direction && d.id.name() == name)
            .map(|d| d.id);
        found.is_some() || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(appeared, "{name} ({direction}) never appeared");
    found.unwrap()
}

/// A tone played into a second null sink, whose monitor is the mic test's microphone;
/// the mic test plays to the default sink, whose monitor this test records. (Using the
/// default sink's monitor as the microphone too would be a feedback loop.)
#[test]
fn a_tone_goes_through_the_mic_test_on_real_devices() {
    require_pulse();
    for frame in [FrameDuration::Ms20, FrameDuration::Ms10] {
        tone_through_devices(frame);
    }
}

fn tone_through_devices(frame: FrameDuration) {
    const HZ: f32 = 440.0;
    let mic_sink = NullSink::load(&format!(
        "salon_mic_{}_{}",
        std::process::id(),
        frame.millis()
    ));
    let speaker = device_named(&mic_sink.name, Direction::Output);
    let microphone = device_named(&format!("{}.monitor", mic_sink.name), Direction::Input);

    let mut talker = Playback::open(StreamOptions::on(Some(speaker))).expect("open the talker");
    let mic_in = Capture::open(StreamOptions::on(Some(microphone))).expect("open the mic");
    let mic_out = Playback::open(StreamOptions::default()).expect("open the default output");
    let mut ear = Capture::open(StreamOptions::default()).expect("open the default input");
    let config = MicTestConfig {
        frame,
        delay: Duration::from_millis(200),
        // RNNoise takes a steady tone for noise; this test is about the path, not it.
        noise_suppression: false,
        ..MicTestConfig::default()
    };
    let mic = MicTest::start(Box::new(mic_in), Box::new(mic_out), config).expect("start");

    let channels = usize::from(talker.channels());
    let mut tone = Tone::new(HZ, 0.5, talker.sample_rate());
    let mut buffer = vec![0.0f32; RATE as usize];
    let mut heard = Vec::new();
    let mut onset = None;
    let window = RATE as usize;
    let started = Instant::now();
    let done = wait_until(Duration::from_secs(20), || {
        let free = talker.free().min(buffer.len());
        tone.fill(&mut buffer[..free], channels);
        talker.write(&buffer[..free]);
        let ear_channels = usize::from(ear.channels());
        loop {
            let n = ear.read(&mut buffer);
            if n == 0 {
                break;
            }
            heard.extend(buffer[..n].iter().step_by(ear_channels).copied());
        }
        std::thread::sleep(Duration::from_millis(5));
        onset = onset.or_else(|| heard.iter().position(|s| s.abs() > 0.1));
        // A second of the tone, after half a second to settle (AGC, device ramp-in), and
        // at least 3 s of running so the latency window is not only the start.
        onset.is_some_and(|at| heard.len() >= at + RATE as usize / 2 + window)
            && started.elapsed() > Duration::from_secs(3)
    });
    let report = mic.latency();
    let level = mic.level_dbfs();
    let skipped = mic.skipped_frames();
    mic.stop().expect("stop");
    assert!(
        done,
        "{} ms frames: the tone did not come through within 20 s (heard {} samples, onset \
         {onset:?}, level {level} dBFS)",
        frame.millis(),
        heard.len()
    );
    let start = onset.unwrap() + RATE as usize / 2;
    let steady = &heard[start..start + window];
    let hz = frequency(steady, ear.sample_rate());
    let gaps = silent_blocks(steady, ear.sample_rate());
    let end_to_end = report.end_to_end.expect("end-to-end latency recorded");
    println!(
        "mic test on PulseAudio, {} ms frames: tone at {hz:.1} Hz, level {level:.1} dBFS, \
         {skipped} frames skipped to catch up, {gaps} silent 10 ms blocks in 1 s; pipeline latency without the 200 ms delay: end to end {}; capture→encode {}; \
         delay held {}",
        frame.millis(),
        describe(Some(&end_to_end)),
        describe(report.capture_to_encode.as_ref()),
        describe(report.jitter_wait.as_ref()),
    );
    assert!(
        (HZ * 0.98..=HZ * 1.02).contains(&hz),
        "{} ms frames: heard {hz} Hz, not {HZ} Hz ±2%",
        frame.millis()
    );
    assert!(
        end_to_end.p95 < Duration::from_millis(200),
        "{} ms frames: pipeline latency p95 {:?} is not below 200 ms",
        frame.millis(),
        end_to_end.p95
    );
}
