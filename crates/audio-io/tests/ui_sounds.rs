//! UI sounds reach the output device without blocking the caller: each chime played to
//! the default output (the null sink) is heard on its monitor.

mod common;

use std::time::{Duration, Instant};

use common::{require_pulse, rms, wait_until};
use salon_audio_io::{Capture, Sound, StreamOptions, UiSounds};

#[test]
fn chimes_play_on_the_default_output_without_blocking() {
    require_pulse();
    let mut capture = Capture::open(StreamOptions::default()).unwrap();
    let sounds = UiSounds::open(None).expect("open the output for UI sounds");
    let mut buffer = vec![0.0; 4_800];

    for sound in [
        Sound::Joined,
        Sound::Left,
        Sound::HandRaised,
        Sound::InvitedToSpeak,
    ] {
        // Quiet first, so what is heard next is this sound.
        while capture.read(&mut buffer) > 0 {}
        let started = Instant::now();
        sounds.play(sound);
        let returned = started.elapsed();
        assert!(
            returned < Duration::from_millis(50),
            "play({sound:?}) blocked for {returned:?}"
        );
        let heard = wait_until(Duration::from_secs(5), || {
            let n = capture.read(&mut buffer);
            std::thread::sleep(Duration::from_millis(5));
            buffer[..n].chunks(480).any(|block| rms(block) > 0.02)
        });
        assert!(heard, "{sound:?} was not heard on the monitor within 5 s");
        // Let it ring out before the next one.
        std::thread::sleep(Duration::from_millis(600));
    }
}
