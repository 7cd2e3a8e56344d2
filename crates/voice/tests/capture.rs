//! Capture processing on real signals: resampling keeps pitch, level and timing; RNNoise
//! removes noise and keeps speech; the VAD follows speech with its hangover; the AGC and
//! the gate do what they promise without clipping.
//!
//! Speech is `tests/fixtures/speech-48k-mono.wav` (3 s of espeak-ng, 48 kHz mono i16,
//! made by the codec tests' author; see `tests/fixtures/`). Noise is a seeded uniform
//! white noise, so every run measures the same figures.

use std::time::Duration;

use salon_voice::capture::{CaptureConfig, CaptureProcessor, FrameInfo};
use salon_voice::frame::{FrameDuration, SAMPLE_RATE};

const RATE: usize = SAMPLE_RATE as usize;
const BLOCK: usize = 480;

fn speech() -> Vec<f32> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/speech-48k-mono.wav"
    );
    let mut reader = hound::WavReader::open(path).expect("speech fixture");
    assert_eq!(reader.spec().sample_rate, SAMPLE_RATE);
    assert_eq!(reader.spec().channels, 1);
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32_768.0)
        .collect()
}

/// Seeded uniform white noise with the given RMS.
fn white_noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
    let mut state = seed;
    let amplitude = rms * 3f32.sqrt();
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amplitude
        })
        .collect()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

fn rms(x: &[f32]) -> f32 {
    (energy(x) / x.len() as f64).sqrt() as f32
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    dot / (energy(a) * energy(b)).sqrt()
}

/// Runs `input` (interleaved device samples) through a processor in device chunks of
/// `chunk` samples, popping frames as they come; returns the 48 kHz output and the
/// frame infos. The sample clock must advance by exactly one frame per frame.
fn run(config: CaptureConfig, input: &[f32], chunk: usize) -> (Vec<f32>, Vec<FrameInfo>) {
    let mut processor = CaptureProcessor::new(config).expect("processor");
    let mut frame = vec![0.0; processor.frame_samples()];
    let (mut out, mut infos) = (Vec::new(), Vec::new());
    for piece in input.chunks(chunk) {
        processor.push(piece);
        while let Some(info) = processor.pop_frame(&mut frame) {
            assert_eq!(info.sample_index, out.len() as u64);
            assert!(frame.iter().all(|x| x.abs() <= 1.0), "over full scale");
            out.extend_from_slice(&frame);
            infos.push(info);
        }
    }
    (out, infos)
}

fn plain(rate: u32, channels: u16) -> CaptureConfig {
    CaptureConfig {
        noise_suppression: false,
        agc: false,
        ..CaptureConfig::new(rate, channels)
    }
}

/// Frequency by linear interpolation of rising zero crossings.
fn frequency(signal: &[f32]) -> f64 {
    let crossings: Vec<f64> = signal
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + f64::from(w[0] / (w[0] - w[1])))
        .collect();
    let span = crossings[crossings.len() - 1] - crossings[0];
    (crossings.len() - 1) as f64 * RATE as f64 / span
}

#[test]
fn resampling_44k_stereo_keeps_frequency_level_and_timing() {
    // 2 s of 1 kHz: 0.6 on the left, 0.4 on the right, so the downmix is 0.5.
    let device_rate = 44_100;
    let input: Vec<f32> = (0..2 * device_rate)
        .flat_map(|i| {
            let s = (i as f32 * std::f32::consts::TAU * 1000.0 / device_rate as f32).sin();
            [0.6 * s, 0.4 * s]
        })
        .collect();
    // 10 ms device buffers (441 frames).
    let (out, infos) = run(plain(device_rate as u32, 2), &input, 882);
    assert!(out.len() >= 2 * RATE - 2 * 960, "{}", out.len());
    let steady = &out[RATE / 10..];
    let f = frequency(steady);
    assert!((f - 1000.0).abs() < 0.1, "frequency {f}");
    let level = 20.0 * f64::from(rms(steady) / (0.5 / 2f32.sqrt())).log10();
    assert!(level.abs() < 0.05, "level off by {level} dB");
    // On the sample clock: output sample k is the input at k / 48000 s (within a sample).
    let ideal: Vec<f32> = (0..out.len())
        .map(|k| 0.5 * (k as f32 * std::f32::consts::TAU * 1000.0 / RATE as f32).sin())
        .collect();
    let best = (0..=4)
        .max_by(|&a, &b| {
            correlation(
                &out[RATE / 10..],
                &ideal[RATE / 10 - 2 + a..][..steady.len() - 4],
            )
            .total_cmp(&correlation(
                &out[RATE / 10..],
                &ideal[RATE / 10 - 2 + b..][..steady.len() - 4],
            ))
        })
        .map(|lag| lag as i32 - 2)
        .expect("lag");
    assert!(best.abs() <= 1, "timing off by {best} samples");
    // The frame level is the RMS in dBFS: a 0.5 sine is −9.03 dBFS.
    let last = infos.last().expect("frames");
    assert!((last.level_dbfs + 9.03).abs() < 0.1, "{}", last.level_dbfs);
}

/// Clean speech padded with 1 s of silence on both sides, and the same with white noise
/// at the given SNR (against the speech clip's RMS).
fn noisy_speech(snr_db: f32) -> (Vec<f32>, Vec<f32>) {
    let speech = speech();
    let mut clean = vec![0.0; RATE];
    clean.extend_from_slice(&speech);
    clean.extend(std::iter::repeat_n(0.0, RATE));
    let noise_rms = rms(&speech) / 10f32.powf(snr_db / 20.0);
    let noise = white_noise(clean.len(), noise_rms, 42);
    let noisy = clean.iter().zip(&noise).map(|(s, n)| s + n).collect();
    (clean, noisy)
}

/// Indices of the 10 ms blocks of `clean` that are silent, and of those that are speech
/// (above −40 dBFS), skipping the first `skip` blocks and any block past `len`.
fn classify_blocks(clean: &[f32], skip: usize, len: usize) -> (Vec<usize>, Vec<usize>) {
    let (mut silent, mut speech) = (Vec::new(), Vec::new());
    for b in skip..len / BLOCK {
        let block = &clean[b * BLOCK..(b + 1) * BLOCK];
        let level = db(energy(block) / BLOCK as f64);
        if energy(block) == 0.0 {
            silent.push(b);
        } else if level > -40.0 {
            speech.push(b);
        }
    }
    (silent, speech)
}

fn gather(signal: &[f32], blocks: &[usize]) -> Vec<f32> {
    blocks
        .iter()
        .flat_map(|&b| signal[b * BLOCK..(b + 1) * BLOCK].iter().copied())
        .collect()
}

#[test]
fn noise_suppression_removes_white_noise_and_keeps_speech() {
    let (clean, noisy) = noisy_speech(10.0);
    let denoised = run(
        CaptureConfig {
            agc: false,
            ..CaptureConfig::default()
        },
        &noisy,
        480,
    )
    .0;
    let passed = run(plain(SAMPLE_RATE, 1), &noisy, 480).0;
    assert_eq!(denoised.len(), passed.len());
    // Measured from the speech onset (1 s) on: on steady noise alone RNNoise adapts slowly
    // (measured 7 dB less noise in the first second, ~15 dB after 4 s); once it has
    // heard speech it takes the noise down by 30 dB within 100 ms of the speech ending.
    let (silent, speech_blocks) = classify_blocks(&clean, RATE / BLOCK, denoised.len());
    assert!(silent.len() > 80 && speech_blocks.len() > 150);

    let noise_in = gather(&noisy, &silent);
    let noise_out = gather(&denoised, &silent);
    let reduction = db(energy(&noise_in) / energy(&noise_out));

    let clean_speech = gather(&clean, &speech_blocks);
    let noisy_speech = gather(&noisy, &speech_blocks);
    let out_speech = gather(&denoised, &speech_blocks);
    let kept = db(energy(&out_speech) / energy(&clean_speech));
    let corr_in = correlation(&noisy_speech, &clean_speech);
    let corr_out = correlation(&out_speech, &clean_speech);
    // The error against the clean speech, as an SNR, before and after.
    let residual = |x: &[f32]| -> f64 {
        let err: Vec<f32> = x.iter().zip(&clean_speech).map(|(a, b)| a - b).collect();
        db(energy(&clean_speech) / energy(&err))
    };
    eprintln!(
        "noise reduction {reduction:.1} dB; speech energy kept {kept:+.2} dB; \
         correlation with clean speech {corr_in:.3} -> {corr_out:.3}; \
         speech-block SNR {:.1} -> {:.1} dB",
        residual(&noisy_speech),
        residual(&out_speech)
    );
    // Off means untouched (time-aligned: the processor trims its own delay).
    assert_eq!(passed[..], noisy[..passed.len()]);
    // Measured: 26.7 dB less noise where there is no speech, speech-block energy −0.1 dB
    // against the clean speech, correlation with the clean speech 0.963 -> 0.988 (the
    // speech blocks' SNR 11.1 -> 16.1 dB). The bounds leave margin for other CPUs' float
    // rounding and a future nnnoiseless, not for a broken pipeline.
    assert!(reduction > 20.0, "noise reduced by only {reduction:.1} dB");
    assert!(
        kept > -2.0 && kept < 1.0,
        "speech energy changed by {kept:.2} dB"
    );
    assert!(
        corr_out > 0.975,
        "correlation with the clean speech {corr_out:.3}"
    );
    assert!(corr_out > corr_in + 0.01);
}

#[test]
fn vad_follows_speech_with_hangover() {
    let hangover = Duration::from_millis(300);
    for noise_suppression in [true, false] {
        // Speech at 20 dB SNR; with suppression on, the network's probability is used too.
        let (clean, noisy) = noisy_speech(20.0);
        let config = CaptureConfig {
            noise_suppression,
            vad_hangover: hangover,
            ..CaptureConfig::default()
        };
        let infos = run(config, &noisy, 441).1;
        let voice_at = |seconds: f64| infos[(seconds * 50.0) as usize].voice;
        let flags: String = infos
            .iter()
            .map(|i| if i.voice { '|' } else { '.' })
            .collect();
        eprintln!("noise suppression {noise_suppression}: {flags}");
        // Noise before the speech: no voice (after the first 200 ms of adaptation).
        assert!(!infos[10..50].iter().any(|i| i.voice), "{flags}");
        // Speech starts at 1.0 s.
        assert!(voice_at(1.05) && voice_at(1.5) && voice_at(3.5), "{flags}");
        // The last speech block, on the clean signal.
        let last = clean
            .chunks(BLOCK)
            .rposition(|b| db(energy(b) / BLOCK as f64) > -45.0)
            .expect("speech")
            * BLOCK
            + BLOCK;
        let last_s = last as f64 / RATE as f64;
        // Still voice through the hangover, silent 100 ms after it ends.
        assert!(
            voice_at(last_s + 0.25),
            "hangover at {last_s:.2} s: {flags}"
        );
        assert!(
            !voice_at(last_s + 0.42),
            "after hangover at {last_s:.2} s: {flags}"
        );
        assert!(!infos[infos.len() - 20..].iter().any(|i| i.voice));
    }
    // Digital silence: no voice, the meter at its floor.
    let (_, infos) = run(CaptureConfig::default(), &vec![0.0; RATE], 480);
    assert!(infos.iter().all(|i| !i.voice && i.level_dbfs <= -119.0));
}

#[test]
fn agc_brings_a_quiet_voice_up_and_never_amplifies_noise_or_clips() {
    // A quiet talker (speech 20 dB down, about −41 dBFS) in a −65 dBFS room: 4 times the
    // clip with 1 s of room between, 16 s.
    let speech = speech();
    let mut clean = Vec::new();
    for _ in 0..4 {
        clean.extend(std::iter::repeat_n(0.0, RATE));
        clean.extend(speech.iter().map(|s| s * 0.1));
    }
    let noise = white_noise(clean.len(), 10f32.powf(-65.0 / 20.0), 7);
    let input: Vec<f32> = clean.iter().zip(&noise).map(|(s, n)| s + n).collect();
    let config = CaptureConfig {
        noise_suppression: false,
        ..CaptureConfig::default()
    };
    let (out, _) = run(config, &input, 960);
    let clip = RATE + speech.len();
    let level = |x: &[f32]| db(energy(x) / x.len() as f64);
    // The speech in the last repetition against the first: louder, near the target.
    // Speech blocks of one repetition (quiet speech: above −60 dBFS on the clean signal).
    let active = |rep: usize| -> Vec<usize> {
        (rep * clip / BLOCK + RATE / BLOCK..((rep + 1) * clip).min(out.len()) / BLOCK)
            .filter(|&b| level(&clean[b * BLOCK..(b + 1) * BLOCK]) > -60.0)
            .collect()
    };
    let gain_first = level(&gather(&out, &active(0))) - level(&gather(&input, &active(0)));
    let gain_last = level(&gather(&out, &active(3))) - level(&gather(&input, &active(3)));
    let out_level_last = level(&gather(&out, &active(3)));
    // The room between repetitions, from 400 ms after the speech (past the hangover).
    let room: Vec<usize> = (1..4)
        .flat_map(|rep| (rep * clip / BLOCK + 40..rep * clip / BLOCK + 95).collect::<Vec<_>>())
        .collect();
    let room_gain = level(&gather(&out, &room)) - level(&gather(&input, &room));
    eprintln!(
        "AGC: speech gain {gain_first:.1} dB in the first pass, {gain_last:.1} dB in the \
         last (speech at {out_level_last:.1} dBFS); room gain {room_gain:.2} dB"
    );
    // Measured: +8.4 dB over the first pass (the gain rises at 6 dB/s), +20.0 dB (the
    // limit) in the last, which puts the speech at −19.7 dBFS; the room 0.00 dB.
    assert!(gain_last > gain_first + 5.0);
    assert!(gain_last <= 20.0 + 0.1, "{gain_last}");
    // Near the −20 dBFS target (the AGC averages block levels in dB, this is energy).
    assert!((-24.0..-16.0).contains(&out_level_last), "{out_level_last}");
    // Noise between sentences is not pulled up.
    assert!(room_gain < 0.5, "room amplified by {room_gain:.2} dB");

    // A loud talker driving the input past full scale: never over full scale (checked in
    // `run`), and turned down.
    let loud: Vec<f32> = speech.iter().map(|s| s * 2.0).collect();
    let (out, _) = run(CaptureConfig::default(), &loud, 480);
    assert!(out.iter().all(|x| x.abs() <= 1.0));
    assert!(rms(&out) < rms(&loud));
}

#[test]
fn gate_attenuates_noise_below_the_threshold_and_keeps_speech() {
    let (clean, _) = noisy_speech(60.0);
    let noise = white_noise(clean.len(), 10f32.powf(-55.0 / 20.0), 3);
    let input: Vec<f32> = clean.iter().zip(&noise).map(|(s, n)| s + n).collect();
    let config = CaptureConfig {
        noise_gate: Some(-45.0),
        ..plain(SAMPLE_RATE, 1)
    };
    let (out, _) = run(config, &input, 480);
    let (silent, speech_blocks) = classify_blocks(&clean, 30, out.len());
    // Only silence well past the hold (300 ms) and release.
    let quiet: Vec<usize> = silent
        .into_iter()
        .filter(|&b| {
            (b.saturating_sub(60)..b)
                .chain(b..(b + 1))
                .all(|c| energy(&clean[c * BLOCK..(c + 1) * BLOCK]) == 0.0)
        })
        .collect();
    assert!(quiet.len() > 50);
    let attenuation = db(energy(&gather(&input, &quiet)) / energy(&gather(&out, &quiet)));
    let kept = db(energy(&gather(&out, &speech_blocks)) / energy(&gather(&input, &speech_blocks)));
    eprintln!("gate: noise down {attenuation:.1} dB, speech {kept:+.2} dB");
    // Measured: 39.7 dB (the gate's range is 40 dB), speech −0.00 dB.
    assert!(attenuation > 35.0, "{attenuation}");
    assert!(kept > -0.5, "{kept}");
    // No clicks: the output never steps further than the input allows plus a little.
    let largest_step = out
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    let input_step = input
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(
        largest_step <= input_step * 1.05,
        "{largest_step} vs {input_step}"
    );
}

#[test]
fn switching_noise_suppression_keeps_the_clock_and_does_not_click() {
    let (_, noisy) = noisy_speech(10.0);
    let mut processor = CaptureProcessor::new(CaptureConfig {
        agc: false,
        ..CaptureConfig::default()
    })
    .expect("processor");
    let latency = processor.latency_samples();
    let mut frame = vec![0.0; 960];
    let mut out = Vec::new();
    for (n, piece) in noisy.chunks(960).enumerate() {
        match n {
            100 => processor.set_noise_suppression(false),
            150 => processor.set_noise_suppression(true),
            _ => {}
        }
        processor.push(piece);
        while let Some(info) = processor.pop_frame(&mut frame) {
            assert_eq!(info.sample_index, out.len() as u64);
            out.extend_from_slice(&frame);
        }
    }
    assert_eq!(processor.latency_samples(), latency);
    assert!(processor.noise_suppression());
    let largest_step = out
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    let input_step = noisy
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(largest_step <= input_step, "{largest_step} vs {input_step}");
}

#[test]
fn ten_ms_frames_carry_the_same_audio() {
    let (_, noisy) = noisy_speech(10.0);
    let config = |frame| CaptureConfig {
        frame,
        ..CaptureConfig::default()
    };
    let (a, infos_a) = run(config(FrameDuration::Ms20), &noisy, 441);
    let (b, infos_b) = run(config(FrameDuration::Ms10), &noisy, 441);
    assert_eq!(a[..], b[..a.len()]);
    // The 10 ms run may have one more frame: the last 20 ms frame lacks its second half.
    assert!(infos_b.len() - 2 * infos_a.len() <= 1);
    assert_eq!(infos_b[7].sample_index, 7 * 480);
}
