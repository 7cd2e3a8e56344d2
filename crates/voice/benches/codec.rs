//! Opus cost per frame: encode and decode (plus FEC and concealment) of one 20 ms and
//! one 10 ms frame of real speech, with the real-time factor per stream (frame duration
//! over cost: how many streams one core could keep up with).
//!
//! `cargo bench -p salon-voice --bench codec` (add `-- --measurement-time 2` for a quick
//! run). Criterion prints the time per call and frames per second; the summary at the
//! end adds the real-time factors from a short measurement of its own.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use salon_voice::codec::{Decoder, Encoder, EncoderConfig};
use salon_voice::frame::FrameDuration;

/// The speech fixture as whole frames.
fn speech_frames(frame: FrameDuration) -> Vec<Vec<f32>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speech-48k-mono.wav");
    let samples: Vec<f32> = hound::WavReader::open(path)
        .expect("open speech fixture")
        .samples::<i16>()
        .map(|s| f32::from(s.expect("read sample")) / 32_768.0)
        .collect();
    samples
        .chunks_exact(frame.samples())
        .map(<[f32]>::to_vec)
        .collect()
}

/// Salon's default settings, with a loss hint so that packets carry FEC (the costlier
/// case, and the one `decode_fec` needs).
fn config(frame: FrameDuration) -> EncoderConfig {
    EncoderConfig {
        frame,
        packet_loss_percent: 10,
        ..EncoderConfig::default()
    }
}

fn packets(frame: FrameDuration, frames: &[Vec<f32>]) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(config(frame)).expect("encoder");
    frames
        .iter()
        .map(|f| encoder.encode(f).expect("encode").bytes)
        .collect()
}

/// The operations measured, each over the whole fixture, one frame per call.
#[derive(Debug, Clone, Copy)]
enum Op {
    Encode,
    Decode,
    DecodeFec,
    DecodeConceal,
}

impl Op {
    const ALL: [Op; 4] = [Op::Encode, Op::Decode, Op::DecodeFec, Op::DecodeConceal];

    fn name(self) -> &'static str {
        match self {
            Op::Encode => "encode",
            Op::Decode => "decode",
            Op::DecodeFec => "decode_fec",
            Op::DecodeConceal => "decode+conceal",
        }
    }

    /// Frames of audio one call produces.
    fn frames_per_call(self) -> u32 {
        match self {
            Op::DecodeConceal => 2,
            _ => 1,
        }
    }
}

/// State for running one [`Op`] repeatedly, cycling through the fixture.
struct Runner {
    op: Op,
    frames: Vec<Vec<f32>>,
    packets: Vec<Vec<u8>>,
    encoder: Encoder,
    decoder: Decoder,
    out: Vec<f32>,
    next: usize,
}

impl Runner {
    fn new(op: Op, frame: FrameDuration) -> Self {
        let frames = speech_frames(frame);
        let packets = packets(frame, &frames);
        Runner {
            op,
            encoder: Encoder::new(config(frame)).expect("encoder"),
            decoder: Decoder::new(frame).expect("decoder"),
            out: vec![0.0; frame.samples()],
            frames,
            packets,
            next: 0,
        }
    }

    fn run_once(&mut self) {
        let i = self.next;
        self.next = (i + 1) % self.frames.len();
        match self.op {
            Op::Encode => {
                black_box(
                    self.encoder
                        .encode(black_box(&self.frames[i]))
                        .expect("encode"),
                );
            }
            Op::Decode => {
                self.decoder
                    .decode(black_box(&self.packets[i]), &mut self.out)
                    .expect("decode");
            }
            Op::DecodeFec => {
                self.decoder
                    .decode_fec(black_box(&self.packets[i]), &mut self.out)
                    .expect("decode_fec");
            }
            Op::DecodeConceal => {
                // Conceal a frame after each decoded one, as a lossy stream would.
                self.decoder
                    .decode(&self.packets[i], &mut self.out)
                    .expect("decode");
                self.decoder.conceal(&mut self.out).expect("conceal");
            }
        }
        black_box(&self.out);
    }
}

fn label(frame: FrameDuration) -> String {
    format!("{}ms", frame.millis())
}

fn bench(c: &mut Criterion) {
    for op in Op::ALL {
        let mut group = c.benchmark_group(op.name());
        for frame in [FrameDuration::Ms20, FrameDuration::Ms10] {
            // Elements are frames of audio produced.
            group.throughput(Throughput::Elements(u64::from(op.frames_per_call())));
            let mut runner = Runner::new(op, frame);
            group.bench_function(label(frame), |b| b.iter(|| runner.run_once()));
        }
        group.finish();
    }
}

/// Time per call of `op`, from a short run of its own.
fn cost_per_frame(op: Op, frame: FrameDuration) -> Duration {
    let mut runner = Runner::new(op, frame);
    for _ in 0..50 {
        runner.run_once();
    }
    let mut calls = 0u32;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        for _ in 0..50 {
            runner.run_once();
        }
        calls += 50;
    }
    start.elapsed() / calls
}

fn summary() {
    println!("\nreal-time factor per stream (audio produced / cost; decode+conceal is per pair):");
    for op in Op::ALL {
        for frame in [FrameDuration::Ms20, FrameDuration::Ms10] {
            let cost = cost_per_frame(op, frame);
            println!(
                "  {:>14} {:>4}: {:>7.1} µs/call, {:>6.0}x real time",
                op.name(),
                label(frame),
                cost.as_secs_f64() * 1e6,
                (frame.duration() * op.frames_per_call()).as_secs_f64() / cost.as_secs_f64()
            );
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    summary();
}
