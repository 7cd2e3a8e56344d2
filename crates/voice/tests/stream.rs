//! `StreamReceiver` end to end: real Opus packets from the speech fixture, pushed with
//! scripted arrival times, come out as the right kinds of frames with the right times.

mod common;

use std::time::{Duration, Instant};

use common::*;
use salon_voice::codec::{EncodedPacket, Encoder, EncoderConfig};
use salon_voice::frame::FrameDuration;
use salon_voice::jitter::{JitterConfig, Packet, PushOutcome};
use salon_voice::stream::{FrameKind, PulledFrame, StreamReceiver};

const FRAME: FrameDuration = FrameDuration::Ms20;
const N: usize = FRAME.samples();

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Speech encoded as a sender with a 10 % loss hint would (so packets carry FEC).
fn speech_packets(signal: &[f32]) -> Vec<EncodedPacket> {
    let mut encoder = Encoder::new(EncoderConfig {
        frame: FRAME,
        packet_loss_percent: 10,
        ..EncoderConfig::default()
    })
    .unwrap();
    encode_all(&mut encoder, signal)
}

/// A sender: frame `i` is captured at `t0 + 20 ms * i`; sequence numbers count sent
/// packets only, timestamps count every frame.
struct Sender {
    t0: Instant,
    packets: Vec<EncodedPacket>,
}

impl Sender {
    fn packet(&self, frame: usize, sequence: u32) -> Packet {
        let p = &self.packets[frame];
        Packet {
            sequence,
            timestamp: (frame * N) as u32,
            payload: p.bytes.clone(),
            fec: p.fec,
            dtx: p.dtx,
            captured_at: Some(self.t0 + FRAME.duration() * frame as u32),
        }
    }
}

/// What [`play`] heard.
struct Played {
    /// One entry per pull.
    frames: Vec<Option<PulledFrame>>,
    /// The PCM of every pull, concatenated.
    pcm: Vec<f32>,
    /// Every push, in order.
    outcomes: Vec<(u32, PushOutcome)>,
}

/// Runs the playout clock: pulls at `t0 + offset + 20 ms * k` for `k` in `0..pulls`,
/// first pushing every arrival due by then.
fn play(
    rx: &mut StreamReceiver,
    t0: Instant,
    mut arrivals: Vec<(Instant, Packet)>,
    offset: Duration,
    pulls: usize,
) -> Played {
    arrivals.sort_by_key(|(at, _)| *at);
    let mut arrivals = arrivals.into_iter().peekable();
    let mut played = Played {
        frames: Vec::new(),
        pcm: vec![0.0; pulls * N],
        outcomes: Vec::new(),
    };
    for (k, out) in played.pcm.chunks_mut(N).enumerate() {
        let now = t0 + offset + FRAME.duration() * k as u32;
        while let Some((at, packet)) = arrivals.next_if(|(at, _)| *at <= now) {
            let sequence = packet.sequence;
            played.outcomes.push((sequence, rx.push(packet, at)));
        }
        played.frames.push(rx.pull(now, out));
    }
    played
}

fn kinds(frames: &[Option<PulledFrame>]) -> String {
    frames
        .iter()
        .map(|f| match f.map(|f| f.kind) {
            None => "-",
            Some(FrameKind::Decoded) => "D",
            Some(FrameKind::Fec) => "F",
            Some(FrameKind::Concealed) => "C",
            Some(FrameKind::Silence) => "S",
        })
        .collect::<Vec<_>>()
        .join("")
}

/// The frame kinds as a string, one letter per pull: `-` nothing (buffering),
/// `D` decoded, `F` FEC, `C` concealed, `S` silence.
fn expected(per_frame: impl Iterator<Item = char>, tail: &str) -> String {
    std::iter::once('-')
        .chain(per_frame)
        .chain(tail.chars())
        .collect()
}

#[test]
fn losses_late_and_duplicate_packets_on_a_scripted_network() {
    let signal = speech();
    let t0 = Instant::now();
    let sender = Sender {
        t0,
        packets: speech_packets(&signal),
    };
    let n = sender.packets.len();
    // Every packet takes 5 ms, except: 40 is lost (41 carries FEC); 60 and 61 are lost
    // (62 carries FEC for 61 only); 80 is 100 ms late (81 carries FEC); 90 comes twice.
    for i in [41, 62, 81] {
        assert!(sender.packets[i].fec, "packet {i} has no FEC");
    }
    let mut arrivals = Vec::new();
    for i in (0..n).filter(|i| ![40, 60, 61].contains(i)) {
        let mut at = t0 + FRAME.duration() * i as u32 + ms(5);
        if i == 80 {
            at += ms(100);
        }
        arrivals.push((at, sender.packet(i, i as u32)));
        if i == 90 {
            arrivals.push((at + ms(1), sender.packet(i, i as u32)));
        }
    }
    let mut rx = StreamReceiver::new(JitterConfig::default()).unwrap();
    // The playout clock ticks 5 ms after each send time, one frame behind.
    let Played {
        frames,
        pcm,
        outcomes,
    } = play(&mut rx, t0, arrivals, ms(5), n + 2);

    let want = expected(
        (0..n).map(|i| match i {
            40 | 61 | 80 => 'F',
            60 => 'C',
            _ => 'D',
        }),
        // After the last packet: nothing left, concealed.
        "C",
    );
    assert_eq!(kinds(&frames), want);
    let rejected: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| *o != PushOutcome::Accepted)
        .collect();
    assert_eq!(
        rejected,
        [&(80, PushOutcome::Late), &(90, PushOutcome::Duplicate)]
    );

    // Capture times follow the frames through; the jitter wait is the 20 ms target.
    for (k, frame) in frames.iter().enumerate().skip(1).take(n) {
        let frame = frame.unwrap();
        let captured = t0 + FRAME.duration() * (k - 1) as u32;
        match frame.kind {
            FrameKind::Decoded => {
                assert_eq!(frame.captured_at, Some(captured));
                assert_eq!(frame.jitter_wait, Some(ms(20)));
            }
            FrameKind::Fec => {
                assert_eq!(frame.captured_at, Some(captured));
                assert_eq!(frame.jitter_wait, None);
            }
            FrameKind::Concealed | FrameKind::Silence => assert_eq!(frame.captured_at, None),
        }
    }

    let stats = rx.stats();
    assert_eq!(
        (
            stats.decoded,
            stats.fec,
            stats.concealed,
            stats.silence,
            stats.decode_errors
        ),
        (n as u64 - 4, 3, 2, 0, 0)
    );
    assert_eq!(stats.jitter.lost, 4);
    assert_eq!((stats.jitter.late, stats.jitter.duplicates), (1, 1));
    assert_eq!(stats.jitter.fec_recovered, 3);

    // Four frames lost in 3 s barely dent the speech: measured 0.954 (0.957 without).
    let lag = best_lag(&signal, &pcm, N..=N + 480);
    let corr = correlation_at(&signal, &pcm, lag);
    eprintln!("played speech with 4 losses: lag {lag}, correlation {corr:.4}");
    assert!(corr >= 0.9, "correlation {corr:.4}");
}

#[test]
fn clean_link_plays_the_speech() {
    let signal = speech();
    let t0 = Instant::now();
    let sender = Sender {
        t0,
        packets: speech_packets(&signal),
    };
    let n = sender.packets.len();
    // Arrival jitter of 0..=12 ms, within the buffer's reach after adaptation.
    let arrivals = (0..n)
        .map(|i| {
            let jitter = ms((i as u64 * 7) % 13);
            (
                t0 + FRAME.duration() * i as u32 + jitter,
                sender.packet(i, i as u32),
            )
        })
        .collect();
    let mut rx = StreamReceiver::new(JitterConfig::default()).unwrap();
    let Played { frames, pcm, .. } = play(&mut rx, t0, arrivals, ms(13), n + 3);
    let stats = rx.stats();
    // The buffer starts with no delay to spare and learns the jitter from the first
    // late packets (within two of its 100 ms windows); from then on everything plays.
    let kinds = kinds(&frames);
    let settled = 1 + 200 / 20;
    assert!(
        kinds[settled..].starts_with(&"D".repeat(n - settled)),
        "{kinds}"
    );
    assert!(stats.jitter.late <= 4, "{stats:?}");
    assert_eq!(
        (stats.decoded + stats.jitter.late, stats.decode_errors),
        (n as u64, 0),
        "{stats:?}"
    );
    assert_eq!(stats.jitter.lost, 0, "{stats:?}");
    let lag = best_lag(&signal, &pcm, 0..=4 * N);
    let corr = correlation_at(&signal, &pcm, lag);
    // Measured 0.955 when the buffer held a frame from the start; the few frames
    // concealed while it learns the jitter leave it there (measured 0.955 again).
    eprintln!("jittery link: lag {lag}, correlation {corr:.4}");
    assert!(corr >= 0.9, "correlation {corr:.4}");
}

#[test]
fn dtx_gaps_play_as_silence() {
    // Speech, a second of digital silence, and half the speech again; the sender sends
    // the first DTX packet of a run (flagged) and skips the rest, as a client would.
    let mut signal = speech();
    let half = signal.len() / 2;
    signal.extend(std::iter::repeat_n(0.0, 48_000));
    signal.extend_from_within(..half);
    let t0 = Instant::now();
    let sender = Sender {
        t0,
        packets: speech_packets(&signal),
    };
    let n = sender.packets.len();
    let sent: Vec<bool> = (0..n)
        .map(|i| !(i > 0 && sender.packets[i].dtx && sender.packets[i - 1].dtx))
        .collect();
    let arrivals = (0..n)
        .filter(|&i| sent[i])
        .enumerate()
        .map(|(sequence, i)| {
            let at = t0 + FRAME.duration() * i as u32 + ms(5);
            (at, sender.packet(i, sequence as u32))
        })
        .collect();
    let skipped = sent.iter().filter(|s| !**s).count();
    assert!(skipped >= 30, "only {skipped} frames skipped in DTX");

    let mut rx = StreamReceiver::new(JitterConfig::default()).unwrap();
    let Played { frames, pcm, .. } = play(&mut rx, t0, arrivals, ms(5), n + 2);
    let want = expected(sent.iter().map(|&s| if s { 'D' } else { 'S' }), "S");
    assert_eq!(kinds(&frames), want);
    for (frame, out) in frames.iter().zip(pcm.chunks(N)) {
        if frame.map(|f| f.kind) == Some(FrameKind::Silence) {
            assert!(out.iter().all(|&x| x == 0.0));
        }
    }
    let stats = rx.stats();
    assert_eq!(stats.silence, skipped as u64 + 1);
    assert_eq!((stats.concealed, stats.jitter.lost), (0, 0));
}

#[test]
fn undecodable_packets_are_concealed_and_counted() {
    let signal = speech();
    let t0 = Instant::now();
    let sender = Sender {
        t0,
        packets: speech_packets(&signal[..20 * N]),
    };
    let mut arrivals: Vec<_> = (0..20)
        .map(|i| (t0 + FRAME.duration() * i as u32, sender.packet(i, i as u32)))
        .collect();
    // 5: malformed (code 3 without its count byte). 10: a 10 ms packet in a 20 ms stream.
    arrivals[5].1.payload = vec![0x03];
    let mut ten_ms = Encoder::new(EncoderConfig {
        frame: FrameDuration::Ms10,
        ..EncoderConfig::default()
    })
    .unwrap();
    arrivals[10].1.payload = ten_ms.encode(&[0.1; 480]).unwrap().bytes;
    let mut rx = StreamReceiver::new(JitterConfig::default()).unwrap();
    let Played { frames, .. } = play(&mut rx, t0, arrivals, Duration::ZERO, 21);
    let want = expected(
        (0..20).map(|i| if i == 5 || i == 10 { 'C' } else { 'D' }),
        "",
    );
    assert_eq!(kinds(&frames), want);
    // A concealed packet still says when it was captured.
    assert_eq!(
        frames[6].unwrap().captured_at,
        Some(t0 + FRAME.duration() * 5)
    );
    let stats = rx.stats();
    assert_eq!(
        (stats.decode_errors, stats.concealed, stats.decoded),
        (2, 2, 18)
    );
}

#[test]
fn wrong_output_length_writes_silence_and_takes_nothing() {
    let t0 = Instant::now();
    let sender = Sender {
        t0,
        packets: speech_packets(&speech()[..4 * N]),
    };
    let mut rx = StreamReceiver::new(JitterConfig::default()).unwrap();
    for i in 0..4 {
        assert_eq!(
            rx.push(sender.packet(i, i as u32), t0 + FRAME.duration() * i as u32),
            PushOutcome::Accepted
        );
    }
    // Buffering: nothing to play yet, and silence written.
    let mut out = vec![1.0; N];
    assert_eq!(rx.pull(t0, &mut out), None);
    assert!(out.iter().all(|&x| x == 0.0));
    // A buffer of the wrong size is refused without consuming the frame due.
    for len in [0, N - 1, N + 1] {
        let mut out = vec![1.0; len];
        assert_eq!(rx.pull(t0 + ms(20), &mut out), None);
        assert!(out.iter().all(|&x| x == 0.0));
    }
    let frame = rx.pull(t0 + ms(20), &mut out).unwrap();
    assert_eq!(
        (frame.kind, frame.captured_at),
        (FrameKind::Decoded, Some(t0))
    );
    assert_eq!(rx.frame(), FRAME);

    rx.reset();
    assert_eq!(rx.pull(t0 + ms(40), &mut out), None);
    assert_eq!(rx.stats().decoded, 1, "counters survive a reset");
}
