//! Signals and measurements shared by the voice integration tests.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::Path;

use salon_voice::codec::{Decoder, EncodedPacket, Encoder};
use salon_voice::frame::SAMPLE_RATE;

/// The committed speech fixture (see `tests/fixtures/README.md`), as f32 in -1.0..1.0.
pub(crate) fn speech() -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speech-48k-mono.wav");
    let mut reader = hound::WavReader::open(&path).expect("open speech fixture");
    let spec = reader.spec();
    assert_eq!(spec.sample_rate, SAMPLE_RATE);
    assert_eq!(spec.channels, 1);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("read sample")) / 32_768.0)
        .collect()
}

/// `seconds` of a sine of `freq` Hz at amplitude `amp`.
pub(crate) fn sine(freq: f32, seconds: f32, amp: f32) -> Vec<f32> {
    let n = (seconds * SAMPLE_RATE as f32) as usize;
    (0..n)
        .map(|i| amp * (std::f32::consts::TAU * freq * i as f32 / SAMPLE_RATE as f32).sin())
        .collect()
}

/// The signal cut into whole frames of `frame` samples (a partial tail is padded with zeros).
pub(crate) fn frames(signal: &[f32], frame: usize) -> Vec<Vec<f32>> {
    signal
        .chunks(frame)
        .map(|chunk| {
            let mut f = chunk.to_vec();
            f.resize(frame, 0.0);
            f
        })
        .collect()
}

/// Encodes the whole signal, frame by frame.
pub(crate) fn encode_all(encoder: &mut Encoder, signal: &[f32]) -> Vec<EncodedPacket> {
    frames(signal, encoder.frame().samples())
        .iter()
        .map(|f| encoder.encode(f).expect("encode"))
        .collect()
}

/// Decodes every packet in order, concatenating the frames.
pub(crate) fn decode_all(decoder: &mut Decoder, packets: &[EncodedPacket]) -> Vec<f32> {
    let n = decoder.frame().samples();
    let mut out = vec![0.0; n * packets.len()];
    for (packet, frame) in packets.iter().zip(out.chunks_mut(n)) {
        assert_eq!(decoder.decode(&packet.bytes, frame).expect("decode"), n);
    }
    out
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    // An index loop: iterator adaptors are slow in unoptimised test builds.
    let mut sum = 0.0;
    for i in 0..a.len().min(b.len()) {
        sum += f64::from(a[i]) * f64::from(b[i]);
    }
    sum
}

/// Normalised cross-correlation of `reference[i]` with `decoded[i + lag]`.
pub(crate) fn correlation_at(reference: &[f32], decoded: &[f32], lag: usize) -> f64 {
    let n = reference.len().min(decoded.len().saturating_sub(lag));
    let (r, d) = (&reference[..n], &decoded[lag..lag + n]);
    dot(r, d) / (dot(r, r) * dot(d, d)).sqrt().max(f64::MIN_POSITIVE)
}

/// The lag (in samples, within `lags`) by which `decoded` trails `reference`: the codec
/// delay, found as the peak of the normalised cross-correlation. Only the first second
/// of `reference` is used, which keeps this fast in unoptimised test builds.
pub(crate) fn best_lag(
    reference: &[f32],
    decoded: &[f32],
    lags: std::ops::RangeInclusive<usize>,
) -> usize {
    let max_lag = *lags.end();
    let n = reference
        .len()
        .min(SAMPLE_RATE as usize)
        .min(decoded.len().saturating_sub(max_lag));
    let reference = &reference[..n];
    let ref_energy = dot(reference, reference);
    let mut best = (f64::NEG_INFINITY, 0);
    for lag in lags {
        let d = &decoded[lag..lag + n];
        let corr = dot(reference, d) / (ref_energy * dot(d, d)).sqrt().max(f64::MIN_POSITIVE);
        if corr > best.0 {
            best = (corr, lag);
        }
    }
    best.1
}

/// Signal-to-noise ratio in dB of `decoded[lag..]` against `reference`, where the noise is
/// the difference between them.
pub(crate) fn snr_db(reference: &[f32], decoded: &[f32], lag: usize) -> f64 {
    let n = reference.len().min(decoded.len().saturating_sub(lag));
    let (r, d) = (&reference[..n], &decoded[lag..lag + n]);
    let noise: f64 = r
        .iter()
        .zip(d)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    10.0 * (dot(r, r) / noise.max(f64::MIN_POSITIVE)).log10()
}

/// Sum of squared differences between `reference[range]` and the decoded samples that
/// correspond to it: `decoded` trails `reference` by `lag` and starts at sample `start`
/// of the decoded timeline.
pub(crate) fn error_energy(
    reference: &[f32],
    decoded: &[f32],
    lag: usize,
    start: usize,
    range: std::ops::Range<usize>,
) -> f64 {
    range
        .map(|i| (f64::from(reference[i]) - f64::from(decoded[i + lag - start])).powi(2))
        .sum()
}

/// Energy of `signal[range]`.
pub(crate) fn energy(signal: &[f32], range: std::ops::Range<usize>) -> f64 {
    dot(&signal[range.clone()], &signal[range])
}
