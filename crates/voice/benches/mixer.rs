//! What a 20 ms frame costs in the two per-frame DSP stages: mixing (1, 10 and 50
//! streams to 48 kHz stereo, and 10 to 44.1 kHz stereo with resampling) and capture
//! processing (48 kHz mono with and without RNNoise, and 44.1 kHz stereo with it).
//!
//! Real-time factor = frame duration / time per frame; per stream for the mixer, divide
//! the time by the stream count first. Run with `cargo bench -p salon-voice --bench mixer`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use salon_voice::capture::{CaptureConfig, CaptureProcessor};
use salon_voice::frame::FrameDuration;
use salon_voice::mixer::Mixer;

/// Deterministic speech-band-ish test signal: a few partials plus noise.
fn signal(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let t = i as f32 / 48_000.0;
            0.2 * (std::f32::consts::TAU * 180.0 * t).sin()
                + 0.1 * (std::f32::consts::TAU * 720.0 * t).sin()
                + 0.05 * noise
        })
        .collect()
}

fn bench_mixer(c: &mut Criterion) {
    let frame = FrameDuration::Ms20;
    let mut group = c.benchmark_group("mix_20ms");
    for (rate, streams) in [
        (48_000u32, 1usize),
        (48_000, 10),
        (48_000, 50),
        (44_100, 10),
    ] {
        let frames: Vec<Vec<f32>> = (0..streams)
            .map(|k| signal(frame.samples(), k as u64 + 1))
            .collect();
        let inputs: Vec<(u16, &[f32])> = frames
            .iter()
            .enumerate()
            .map(|(k, f)| (k as u16, f.as_slice()))
            .collect();
        let mut mixer = Mixer::new(rate, 2, frame).expect("mixer");
        for k in 0..streams as u16 {
            mixer.set_gain(k, 1.5);
        }
        let mut out = Vec::with_capacity(mixer.max_output_len());
        group.throughput(Throughput::Elements(streams as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("{}k_stereo", rate / 1000), streams),
            &inputs,
            |b, inputs| b.iter(|| black_box(mixer.mix(black_box(inputs), &mut out))),
        );
    }
    group.finish();
}

fn bench_capture(c: &mut Criterion) {
    let mut group = c.benchmark_group("capture_20ms");
    for (name, rate, channels, noise_suppression) in [
        ("48k_mono_ns_off", 48_000u32, 1u16, false),
        ("48k_mono_ns_on", 48_000, 1, true),
        ("44.1k_stereo_ns_on", 44_100, 2, true),
    ] {
        let mut processor = CaptureProcessor::new(CaptureConfig {
            noise_suppression,
            ..CaptureConfig::new(rate, channels)
        })
        .expect("processor");
        // 20 ms of device audio, interleaved.
        let device_frames = rate as usize / 50;
        let input: Vec<f32> = signal(device_frames, 9)
            .iter()
            .flat_map(|&x| std::iter::repeat_n(x, channels.into()))
            .collect();
        let mut out = vec![0.0; processor.frame_samples()];
        group.bench_function(name, |b| {
            b.iter(|| {
                processor.push(black_box(&input));
                while let Some(info) = processor.pop_frame(&mut out) {
                    black_box(info);
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench_mixer, bench_capture
}
criterion_main!(benches);
