//! WAV files behind the device traits: a round trip is sample-exact when run as fast as
//! possible, and a real-time source takes about as long as the file lasts.

use std::path::Path;
use std::time::{Duration, Instant};

use salon_audio_io::{AudioSink, AudioSource, Pacing, WavSampleFormat, WavSink, WavSource};

/// A few seconds of varied 16-bit audio (a chirp plus deterministic noise), stereo.
fn write_i16_fixture(path: &Path, rate: u32, frames: u32) -> Vec<i16> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    let mut noise = 0x2545_f491_u32;
    let mut samples = Vec::new();
    for i in 0..frames {
        let t = i as f32 / rate as f32;
        let tone = (std::f32::consts::TAU * (200.0 + 400.0 * t) * t).sin() * 20_000.0;
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let left = tone as i16;
        let right = (noise >> 16) as i16; // full-scale noise: the extremes included
        for sample in [left, right] {
            writer.write_sample(sample).unwrap();
            samples.push(sample);
        }
    }
    writer.finalize().unwrap();
    samples
}

fn copy(source: &mut impl AudioSource, sink: &mut impl AudioSink) -> usize {
    let mut buffer = vec![0.0; 1_000]; // not a multiple of anything in particular
    let mut total = 0;
    while !source.is_finished() {
        let n = source.read(&mut buffer);
        assert_eq!(sink.write(&buffer[..n]), n);
        total += n;
    }
    total
}

#[test]
fn a_16_bit_round_trip_is_sample_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.wav"), dir.path().join("out.wav"));
    let original = write_i16_fixture(&input, 44_100, 44_100 * 2 + 7);

    let mut source = WavSource::open(&input, Pacing::AsFastAsPossible, false).unwrap();
    assert_eq!((source.sample_rate(), source.channels()), (44_100, 2));
    let mut sink = WavSink::create(&output, 44_100, 2, WavSampleFormat::I16).unwrap();
    assert_eq!(copy(&mut source, &mut sink), original.len());
    sink.finish().unwrap();

    let mut reader = hound::WavReader::open(&output).unwrap();
    assert_eq!(reader.spec().channels, 2);
    let copied: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    assert!(copied == original, "the copy differs from the original");
}

#[test]
fn a_float_round_trip_is_sample_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.wav"), dir.path().join("out.wav"));
    let original: Vec<f32> = (0..48_000)
        .map(|i| ((i as f32 * 0.37).sin() * 1.3).clamp(-1.0, 1.0) / 3.0)
        .collect();
    let mut sink = WavSink::create(&input, 48_000, 1, WavSampleFormat::F32).unwrap();
    assert_eq!(sink.write(&original), original.len());
    sink.finish().unwrap();

    let mut source = WavSource::open(&input, Pacing::AsFastAsPossible, false).unwrap();
    let mut sink = WavSink::create(&output, 48_000, 1, WavSampleFormat::F32).unwrap();
    copy(&mut source, &mut sink);
    sink.finish().unwrap();

    let mut reader = hound::WavReader::open(&output).unwrap();
    let copied: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    assert!(copied == original, "the copy differs from the original");
}

#[test]
fn a_looping_source_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    let original = write_i16_fixture(&input, 8_000, 1_000);
    let mut source = WavSource::open(&input, Pacing::AsFastAsPossible, true).unwrap();
    let mut read = vec![0.0; original.len() * 5 / 2];
    assert_eq!(source.read(&mut read), read.len());
    assert!(!source.is_finished());
    for (i, sample) in read.iter().enumerate() {
        assert_eq!(*sample, f32::from(original[i % original.len()]) / 32_768.0);
    }
}

#[test]
fn real_time_pacing_takes_about_as_long_as_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    let original = write_i16_fixture(&input, 16_000, 16_000);
    let started = Instant::now();
    let mut source = WavSource::open(&input, Pacing::RealTime, false).unwrap();
    assert_eq!(source.duration(), Duration::from_secs(1));

    let mut buffer = vec![0.0; 640];
    let mut received = Vec::new();
    let mut half_at = None;
    while !source.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a one-second file is still playing after 10 s"
        );
        let n = source.read(&mut buffer);
        received.extend_from_slice(&buffer[..n]);
        if half_at.is_none() && received.len() >= original.len() / 2 {
            half_at = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "a one-second file was delivered in {elapsed:?}"
    );
    assert_eq!(received.len(), original.len());
    assert_eq!(source.overruns(), 0);
    // Paced all along, not delivered in a burst at the end.
    let half_at = half_at.unwrap();
    assert!(
        half_at >= Duration::from_millis(400),
        "half of the file had arrived after {half_at:?}"
    );
    eprintln!("one second of WAV delivered in real time in {elapsed:?}");
}

#[test]
fn a_missing_file_is_an_error() {
    let error = WavSource::open("/nonexistent/x.wav", Pacing::AsFastAsPossible, false).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/x.wav"), "{error}");
}
