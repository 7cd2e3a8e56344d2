//! Cost of the jitter buffer per packet: one push and one pop of one stream.
//!
//! Every listener runs one buffer per speaker, and a big room has many speakers, so
//! this is per-packet overhead multiplied by the room. Payload buffers are recycled (the
//! popped packet's `Vec` carries the next packet) so the figure is the buffer's own
//! cost, not the allocator's.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use salon_voice::jitter::{JitterBuffer, JitterConfig, Packet, Playout};

const FRAME: u64 = 20_000_000; // ns
const SAMPLES: u32 = 960;

fn packet(i: u64, payload: Vec<u8>, fec: bool) -> Packet {
    Packet {
        sequence: i as u32,
        timestamp: (i as u32).wrapping_mul(SAMPLES),
        payload,
        fec,
        dtx: false,
        captured_at: None,
    }
}

/// Takes the payload back out of whatever the buffer returned, if anything.
fn recycle(out: Option<Playout>, spare: &mut Vec<Vec<u8>>) {
    if let Some(Playout::Packet(p)) = out {
        spare.push(p.payload);
    }
}

fn steady(c: &mut Criterion) {
    let mut group = c.benchmark_group("jitter");
    group.throughput(Throughput::Elements(1));

    group.bench_function("push_pop_steady_20ms", |b| {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        let mut spare = vec![vec![0u8; 80]; 4];
        let mut i = 0u64;
        b.iter(|| {
            let now = t0 + Duration::from_nanos(i * FRAME);
            let payload = spare.pop().unwrap_or_default();
            black_box(jb.push(packet(i, payload, false), now));
            recycle(black_box(jb.pop(now)), &mut spare);
            i += 1;
        });
    });

    // Arrival jitter of 0 to 40 ms and 1 % loss with FEC: exercises reordering, the
    // delay estimator's growth and the loss paths.
    group.bench_function("push_pop_jittered_20ms", |b| {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        let mut spare = vec![vec![0u8; 80]; 8];
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut held: Option<(u64, Packet)> = None;
        let mut i = 0u64;
        b.iter(|| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let now = t0 + Duration::from_nanos(i * FRAME);
            // Some packets are held back by up to two frames (they arrive after later
            // ones); 1 in 100 never arrives.
            if let Some((due, p)) = held.take() {
                if due <= i {
                    black_box(jb.push(p, now));
                } else {
                    held = Some((due, p));
                }
            }
            let payload = spare.pop().unwrap_or_default();
            let p = packet(i, payload, true);
            match rng % 100 {
                0 => spare.push(p.payload),
                1..=15 if held.is_none() => held = Some((i + 1 + rng % 2, p)),
                _ => {
                    black_box(jb.push(p, now));
                }
            }
            recycle(black_box(jb.pop(now)), &mut spare);
            i += 1;
        });
    });
    group.finish();
}

criterion_group!(benches, steady);
criterion_main!(benches);
