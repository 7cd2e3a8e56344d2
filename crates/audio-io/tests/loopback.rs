//! A tone played to the default output (the null sink) comes back on the default input
//! (its monitor) at the right frequency and level: the whole device path, callbacks,
//! rings and format conversions included, against a real audio server.

mod common;

use std::time::Duration;

use common::{Pump, Tone, frequency, goertzel, require_pulse, rms, silent_blocks, wait_until};
use salon_audio_io::{Capture, Playback, StreamOptions, StreamState};

const RATE: u32 = 48_000;

#[test]
fn a_tone_played_to_the_default_output_comes_back_on_the_default_input() {
    require_pulse();
    let mut playback = Playback::open(StreamOptions::default()).expect("open the default output");
    let mut capture = Capture::open(StreamOptions::default()).expect("open the default input");
    for status in [playback.status(), capture.status()] {
        assert_eq!(status.state, StreamState::Running, "{status:?}");
    }
    assert_eq!((capture.sample_rate(), capture.channels()), (RATE, 1));
    assert_eq!((playback.sample_rate(), playback.channels()), (RATE, 1));
    let granted = capture.format().buffer_frames;
    assert!(
        (1..=960).contains(&granted),
        "capture buffer of {granted} frames is not small"
    );

    // Little flows in the first second or two: wait for the tone, then for a second of it.
    let mut pump = Pump::new(Tone::new(1_000.0, 0.5, RATE));
    let window = RATE as usize;
    let mut onset = None;
    let heard = wait_until(Duration::from_secs(15), || {
        pump.step(&mut playback, &mut capture);
        onset = onset.or_else(|| pump.captured.iter().position(|s| s.abs() > 0.25));
        onset.is_some_and(|at| pump.captured.len() >= at + RATE as usize / 10 + window)
    });
    let status = format!(
        "captured {} samples, tone at {onset:?}, {} underruns, {} overruns, {} + {} xruns",
        pump.captured.len(),
        playback.underruns(),
        capture.overruns(),
        playback.xruns(),
        capture.xruns()
    );
    assert!(heard, "the tone did not come back within 15 s: {status}");

    // Skip 100 ms after the onset: the device's ramp-in is not the steady tone.
    let start = onset.unwrap() + RATE as usize / 10;
    let steady = &pump.captured[start..start + window];
    let hz = frequency(steady, RATE);
    let level = rms(steady);
    let status = format!(
        "{status}, {} silent 10 ms blocks",
        silent_blocks(steady, RATE)
    );
    assert!(
        (980.0..=1_020.0).contains(&hz),
        "frequency {hz} Hz is not 1 kHz ±2%: {status}"
    );
    assert!(
        (0.28..=0.42).contains(&level),
        "RMS {level} is not 0.35 ±20%: {status}"
    );
    // The energy is at 1 kHz, not spread around it.
    let (on, off) = (
        goertzel(steady, 1_000.0, RATE),
        goertzel(steady, 1_100.0, RATE),
    );
    assert!(on > 100.0 * off, "1 kHz power {on} vs 1.1 kHz {off}");
    eprintln!("1 kHz tone came back at {hz:.2} Hz, RMS {level:.4}; {status}");
}
