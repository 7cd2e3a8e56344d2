//! The chimes, synthesised with rodio's sources: no audio assets to ship or license.
//! Each is a few bell-like notes (a sine plus a quiet octave, a 4 ms attack and a linear
//! decay), quiet enough that overlapping notes never clip.

use std::time::Duration;

use rodio::Source;
use rodio::source::SineWave;

use super::Sound;

/// A note: frequency in Hz, start and length in milliseconds.
type Note = (f32, u64, u64);

const E5: f32 = 659.25;
const A5: f32 = 880.0;
const C5: f32 = 523.25;
const G5: f32 = 783.99;
const C6: f32 = 1046.5;

/// Peak gain of one note (its octave adds a third of that).
const GAIN: f32 = 0.18;

fn notes(sound: Sound) -> &'static [Note] {
    match sound {
        // Up a fourth: someone arrived.
        Sound::Joined => &[(E5, 0, 160), (A5, 90, 240)],
        // Down a fourth: someone left.
        Sound::Left => &[(A5, 0, 160), (E5, 90, 240)],
        // Two quick high taps: a hand went up.
        Sound::HandRaised => &[(C6, 0, 110), (C6, 140, 180)],
        // A rising major arpeggio: you are invited on stage.
        Sound::InvitedToSpeak => &[(C5, 0, 160), (E5, 80, 160), (G5, 160, 320)],
    }
}

/// The sound as a finite rodio source.
pub(crate) fn chime(sound: Sound) -> Box<dyn Source + Send> {
    notes(sound)
        .iter()
        .map(|&note| bell(note))
        .reduce(|mixed, next| Box::new(mixed.mix(next)))
        .unwrap_or_else(|| Box::new(rodio::source::Empty::new()))
}

fn bell((frequency, start_ms, length_ms): Note) -> Box<dyn Source + Send> {
    let length = Duration::from_millis(length_ms);
    let partial = |frequency: f32, gain: f32| {
        SineWave::new(frequency)
            .take_duration(length)
            .fade_in(Duration::from_millis(4))
            .fade_out(length)
            .amplify(gain)
    };
    Box::new(
        partial(frequency, GAIN)
            .mix(partial(frequency * 2.0, GAIN / 3.0))
            .delay(Duration::from_millis(start_ms)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Sound; 4] = [
        Sound::Joined,
        Sound::Left,
        Sound::HandRaised,
        Sound::InvitedToSpeak,
    ];

    #[test]
    fn chimes_are_short_audible_and_never_clip() {
        for sound in ALL {
            let source = chime(sound);
            let rate = source.sample_rate().get() as f32;
            let channels = f32::from(source.channels().get());
            let samples: Vec<f32> = source.collect();
            let seconds = samples.len() as f32 / rate / channels;
            let peak = samples.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
            assert!((0.2..0.6).contains(&seconds), "{sound:?} lasts {seconds} s");
            assert!((0.1..0.9).contains(&peak), "{sound:?} peaks at {peak}");
        }
    }

    #[test]
    fn every_sound_is_different() {
        let rendered: Vec<Vec<f32>> = ALL.iter().map(|&s| chime(s).collect()).collect();
        for (i, a) in rendered.iter().enumerate() {
            for b in &rendered[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
