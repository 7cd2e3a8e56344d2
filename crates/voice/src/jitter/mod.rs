//! The per-stream adaptive jitter buffer: packets in, in arrival order and at arrival
//! time; one playout decision out per frame period.
//!
//! # Why it looks like this
//!
//! Latency is the product, so the buffer holds as little audio as the link allows: a
//! 2 ms margin on a clean link (not a frame: a packet that is here when its frame is due
//! is played at once), more only while arrivals show it is needed, and never more than
//! the configured maximum. It is a state machine without I/O or clocks: the caller
//! passes arrival times to [`JitterBuffer::push`] and the playout clock's time to
//! [`JitterBuffer::pop`], which makes every behaviour below testable with scripted
//! timings (see the tests at the bottom of this file).
//!
//! # Model
//!
//! Packets are RTP-like. Sequence numbers count the frames the sender actually sent;
//! timestamps count samples on the sender's clock, also across silences in which nothing
//! is sent. Both are 32-bit and wrap; they are extended to `u64` on arrival (see
//! `seq.rs`). A missing sequence number is a loss; a timestamp jump without one is the
//! sender being silent (DTX), which is played as [`Playout::Silence`] and is not a loss.
//! A packet flagged [`Packet::dtx`] announces such a silence: when nothing follows it in
//! the buffer, the frames after it are played as silence rather than concealed.
//!
//! Playout walks the sender's timeline one frame per [`JitterBuffer::pop`]. The frame due
//! is played if its packet is here; if a later packet is here the frame was lost (or it
//! was silence, told apart by the sequence gap) and is recovered with FEC from that next
//! packet when the frame is the one right before it, or concealed; if nothing is here at
//! all it is concealed (or silence, after a DTX packet) and the walk moves on, so a
//! packet that turns up after its frame was played is dropped as late.
//!
//! # Delay adaptation
//!
//! `delay.rs` learns from arrivals the *base* (the smallest recent transit, arrival minus
//! sender time) and the *target delay* (the lateness of the late packets over the last
//! two seconds plus a 2 ms margin, at least the configured minimum; rising at once and
//! decaying over seconds).
//! A frame is *due* at `base + its sender time + target`; the *lag* of the playout
//! position is how far past its due time it is played. Playout keeps the lag near zero:
//!
//! - **Growing** (lag below zero: playout is ahead of the target, because the target
//!   rose or the playout clock woke up early): the buffer
//!   waits where waiting is free or unavoidable: when the frame due is silence, or its
//!   packet is not here. It then repeats [`Playout::Silence`] or [`Playout::Conceal`]
//!   without advancing, so the packet has one more frame to arrive. A frame whose packet
//!   is here is always played: good audio is never replaced by concealment to add delay.
//! - **Shrinking** (lag of a frame or more, because the target fell, the base dropped or
//!   the playout clock runs slow): silent frames are skipped first, as many as needed,
//!   since nobody hears that. In speech, from one and a half frames of lag, one frame
//!   is dropped, at most every 200 ms. Between zero and one and a half frames nothing
//!   is done, so the clock's own jitter cannot make playout oscillate (and below zero
//!   only a frame that is not here anyway waits).
//! - **Catching up** (lag of four frames or more, after a stall of the playout clock or a
//!   burst far beyond the buffer): playout jumps straight to the frame due now and drops
//!   everything before it; one discontinuity instead of playing stale audio or a long
//!   stretch of sped-up glitches. Delay never accumulates: a network stall is concealed
//!   frame by frame as it happens and the burst that follows it arrives late and is
//!   dropped, so playout resumes at the target delay; the buffer holds at most
//!   `2 * max_delay_frames + 16` packets and drops the oldest beyond that.
//!
//! After two seconds with nothing to play, the buffer goes back to buffering
//! ([`JitterBuffer::pop`] returns `None`) and restarts at the next packet, once it has
//! waited the target delay.
//!
//! # Resets
//!
//! A packet more than 128 sequence numbers behind playout, more than 2^15 away from the
//! stream, or timestamped more than `max(1 s, 2 * max delay)` before the playout
//! position is [`PushOutcome::TooOld`]. The third in a row means the sender restarted
//! its counters: the buffer resets itself and takes that packet as the first of a new
//! stream ([`PushOutcome::Accepted`]).
//!
//! # Cost
//!
//! Packets live in a ring allocated once, indexed by sequence number; payloads are moved
//! in and out, never copied, except the one clone [`Playout::Fec`] needs. Bookkeeping is
//! fixed-size bit sets and arrays, so a steady stream allocates nothing per packet.

mod delay;
mod seq;

use std::time::{Duration, Instant};

use crate::frame::{FrameDuration, SAMPLE_RATE};
use delay::DelayEstimator;
use seq::{HISTORY, SeqLedger, Unwrapper};

/// How a [`JitterBuffer`] sizes its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JitterConfig {
    /// The frame length the sender uses (timestamps advance by its samples per packet).
    pub frame: FrameDuration,
    /// The least delay held, in frames, whatever the link. Default 0: a clean link
    /// holds only the small margin the playout clock needs (2 ms).
    pub min_delay_frames: u32,
    /// The most delay ever held, in frames. Default 25 (500 ms at 20 ms). Values below
    /// `min_delay_frames` are raised to it; both are capped at 1024 frames.
    pub max_delay_frames: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            frame: FrameDuration::Ms20,
            min_delay_frames: 0,
            max_delay_frames: 25,
        }
    }
}

/// One received audio packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// +1 for every frame the sender sent, wrapping at 2^32.
    pub sequence: u32,
    /// The first sample of the frame on the sender's 48 kHz clock, wrapping at 2^32.
    pub timestamp: u32,
    /// The codec payload, handed back untouched.
    pub payload: Vec<u8>,
    /// The payload also carries in-band FEC for the previous frame.
    pub fec: bool,
    /// The sender entered DTX with this frame: what does not follow is silence.
    pub dtx: bool,
    /// Sender-side capture time when known, for latency accounting; passed through.
    pub captured_at: Option<Instant>,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushOutcome {
    /// Buffered for playout.
    Accepted,
    /// A copy of a packet already buffered or played; dropped.
    Duplicate,
    /// Its frame was already played (or concealed); dropped.
    Late,
    /// Beyond any sane window (e.g. the sender restarted its counters); dropped. The
    /// third in a row resets the buffer, which then accepts that packet.
    TooOld,
}

/// What to play for one frame period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode normally.
    Packet(Packet),
    /// The frame due is missing but the next packet is here and carries FEC: decode this
    /// packet's payload with `fec = true` to recover the missing frame. The same packet
    /// comes again as [`Playout::Packet`] at the next pop.
    Fec(Packet),
    /// Lost (or not here in time): run packet loss concealment.
    Conceal,
    /// The sender was silent (DTX or not sending): play silence or comfort noise. Not a
    /// loss.
    Silence,
}

/// Counters and the current state of the delay, for the UI and the encoder's hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// The delay the buffer aims for: minimum plus observed lateness.
    pub target_delay: Duration,
    /// The delay held at the last pop: how long after its best-case arrival time the
    /// frame was played. Zero while buffering.
    pub current_delay: Duration,
    /// Smoothed inter-arrival jitter (RFC 3550 §6.4.1).
    pub jitter: Duration,
    /// Packets that arrived, on time or late (not duplicates or too-old ones).
    pub received: u64,
    /// Sequence numbers that had not arrived when playout passed them. One that turns up
    /// even later is counted in `late` too.
    pub lost: u64,
    /// Packets dropped because their frame had already been played or concealed.
    pub late: u64,
    /// Copies dropped.
    pub duplicates: u64,
    /// [`Playout::Conceal`] frames returned.
    pub concealed: u64,
    /// [`Playout::Fec`] frames returned.
    pub fec_recovered: u64,
    /// [`Playout::Silence`] frames returned.
    pub silence_frames: u64,
    /// Percentage of the last 100 sequence numbers that did not reach playout in time
    /// (lost or late), for the encoder's packet-loss hint.
    pub loss_percent: u8,
}

/// Greatest common divisor, to convert samples to nanoseconds exactly.
const fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}
const NANOS_PER_SEC: u64 = 1_000_000_000;
const NS_GCD: u64 = gcd(NANOS_PER_SEC, SAMPLE_RATE as u64);
/// Nanoseconds per sample, as the fraction `NS_NUM / NS_DEN` (62 500 / 3 at 48 kHz).
const NS_NUM: i64 = (NANOS_PER_SEC / NS_GCD) as i64;
const NS_DEN: i64 = (SAMPLE_RATE as u64 / NS_GCD) as i64;

/// Farther than this from the highest sequence number seen is not the same stream.
const SEQ_SANE: u64 = 1 << 15;
/// This many [`PushOutcome::TooOld`] in a row reset the buffer.
const TOO_OLD_RESET: u32 = 3;
/// In speech, at most one frame is dropped per this much time to shrink the delay.
const DROP_SPACING_NS: i64 = 200_000_000;
/// Lag (in frames) from which playout jumps to the frame due now.
const JUMP_FRAMES: i64 = 4;
/// Lag (in half frames) from which one speech frame is dropped.
const DROP_HALF_FRAMES: i64 = 3;
/// With nothing to play for this long, go back to buffering.
const IDLE_REBUFFER_NS: i64 = 2_000_000_000;
/// Hard cap on the configured delays, in frames.
const MAX_FRAMES: u32 = 1024;

/// A buffered packet with its extended sequence number and timestamp.
#[derive(Debug)]
struct Slot {
    seq: u64,
    ts: u64,
    packet: Packet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing received since creation or reset.
    Empty,
    /// Waiting for the first packet to be due.
    Buffering,
    Playing,
}

/// What the frame due at the playout position is.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// Its packet is the oldest buffered.
    Here,
    /// Missing while a later packet is here, and the sequence gap says it was sent.
    Lost { fec: bool },
    /// The sender was silent: a timestamp gap without a sequence gap, or nothing
    /// buffered after a DTX packet.
    Silent,
    /// Nothing buffered and no DTX announced: lost, late or silent, nobody knows yet.
    Unknown,
}

/// An adaptive jitter buffer for one incoming audio stream. See the module docs.
pub struct JitterBuffer {
    frame_samples: u64,
    frame_ns: i64,
    /// Timestamps this far before the playout position are [`PushOutcome::TooOld`].
    too_old_samples: u64,
    slots: Box<[Option<Slot>]>,
    mask: u64,
    buffered: usize,
    phase: Phase,
    /// Playout has started since the last reset, so `ledger.next()` is fixed.
    anchored: bool,
    epoch: Option<Instant>,
    seqs: Unwrapper,
    stamps: Unwrapper,
    /// The extended timestamp of the stream's first packet: sender time zero.
    ts_origin: u64,
    ledger: SeqLedger,
    delay: DelayEstimator,
    /// The extended timestamp of the next frame to play.
    play_ts: u64,
    last_dtx: bool,
    fec_pending: bool,
    since_drop_ns: i64,
    idle_ns: i64,
    too_old_run: u32,
    current_delay_ns: i64,
    lost_before_reset: u64,
    received: u64,
    late: u64,
    duplicates: u64,
    concealed: u64,
    fec_recovered: u64,
    silence_frames: u64,
    discarded: u64,
}

impl std::fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("phase", &self.phase)
            .field("buffered", &self.buffered)
            .field("next_seq", &self.ledger.next())
            .field("play_ts", &self.play_ts)
            .field("target_ns", &self.delay.target())
            .field("current_delay_ns", &self.current_delay_ns)
            .field("discarded", &self.discarded)
            .finish_non_exhaustive()
    }
}

impl JitterBuffer {
    /// A buffer for one stream; allocates its packet ring once, here.
    pub fn new(config: JitterConfig) -> Self {
        let min_frames = config.min_delay_frames.min(MAX_FRAMES);
        let max_frames = config.max_delay_frames.clamp(min_frames, MAX_FRAMES);
        let frame_ns = config.frame.duration().as_nanos() as i64;
        let frame_samples = config.frame.samples() as u64;
        let capacity = (2 * max_frames as usize + 16).next_power_of_two();
        let slots = std::iter::repeat_with(|| None).take(capacity).collect();
        JitterBuffer {
            frame_samples,
            frame_ns,
            too_old_samples: u64::from(SAMPLE_RATE).max(2 * u64::from(max_frames) * frame_samples),
            slots,
            mask: capacity as u64 - 1,
            buffered: 0,
            phase: Phase::Empty,
            anchored: false,
            epoch: None,
            seqs: Unwrapper::default(),
            stamps: Unwrapper::default(),
            ts_origin: 0,
            ledger: SeqLedger::new(0),
            delay: DelayEstimator::new(
                i64::from(min_frames) * frame_ns,
                i64::from(max_frames) * frame_ns,
            ),
            play_ts: 0,
            last_dtx: false,
            fec_pending: false,
            since_drop_ns: DROP_SPACING_NS,
            idle_ns: 0,
            too_old_run: 0,
            current_delay_ns: 0,
            lost_before_reset: 0,
            received: 0,
            late: 0,
            duplicates: 0,
            concealed: 0,
            fec_recovered: 0,
            silence_frames: 0,
            discarded: 0,
        }
    }

    /// Takes one packet that arrived at `arrival`.
    pub fn push(&mut self, packet: Packet, arrival: Instant) -> PushOutcome {
        let epoch = *self.epoch.get_or_insert(arrival);
        let arrival = signed_ns(epoch, arrival);
        if self.phase == Phase::Empty {
            self.start_stream(packet, arrival);
            return PushOutcome::Accepted;
        }
        let seq = self.seqs.extend(packet.sequence);
        let ts = self.stamps.extend(packet.timestamp);
        let highest = self.seqs.highest().unwrap_or(seq);
        if seq.abs_diff(highest) > SEQ_SANE {
            return self.too_old(packet, arrival);
        }

        let next = self.ledger.next();
        if seq < next {
            if !self.anchored && highest - seq < self.mask {
                // From before the first packet, and playout has not started: start there.
                self.ledger.rewind_unanchored(seq);
            } else if next - seq > HISTORY {
                return self.too_old(packet, arrival);
            } else if self.ledger.seen(seq) {
                self.duplicates += 1;
                return PushOutcome::Duplicate;
            } else {
                self.ledger.mark_seen(seq);
                return self.late(ts, arrival);
            }
        }
        if self.slot(seq).is_some() || self.ledger.seen(seq) {
            self.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if self.phase == Phase::Playing && ts < self.play_ts {
            if self.play_ts - ts > self.too_old_samples {
                return self.too_old(packet, arrival);
            }
            self.ledger.mark_seen(seq);
            return self.late(ts, arrival);
        }
        if seq - self.ledger.next() > self.mask {
            self.make_room(seq);
        }
        self.accept(seq, ts, packet, arrival);
        PushOutcome::Accepted
    }

    /// Called by the playout clock once per frame period, with that clock's time: what
    /// to play now. `None` while (re)buffering before the first frame is due.
    ///
    /// `now` should advance by one frame per call; the buffer measures its delay against
    /// it, so pulling several frames with the same `now` reads as running ahead.
    pub fn pop(&mut self, now: Instant) -> Option<Playout> {
        let now = signed_ns(self.epoch?, now);
        match self.phase {
            Phase::Empty => return None,
            Phase::Buffering => {
                let head_ts = self.head()?.ts;
                if now < self.due(head_ts) {
                    return None;
                }
                self.play_ts = head_ts;
                self.phase = Phase::Playing;
                self.anchored = true;
                self.fec_pending = false;
                self.since_drop_ns = DROP_SPACING_NS;
                self.idle_ns = 0;
            }
            Phase::Playing => {}
        }
        if self.buffered == 0 {
            self.idle_ns += self.frame_ns;
            if self.idle_ns >= IDLE_REBUFFER_NS {
                self.phase = Phase::Buffering;
                self.fec_pending = false;
                self.current_delay_ns = 0;
                return None;
            }
        } else {
            self.idle_ns = 0;
        }
        Some(self.play(now))
    }

    /// Counters and delays so far.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_delay: duration(self.delay.target()),
            current_delay: duration(self.current_delay_ns),
            jitter: duration(self.delay.jitter()),
            received: self.received,
            lost: self.lost_before_reset + self.ledger.lost(),
            late: self.late,
            duplicates: self.duplicates,
            concealed: self.concealed,
            fec_recovered: self.fec_recovered,
            silence_frames: self.silence_frames,
            loss_percent: self.ledger.loss_percent(),
        }
    }

    /// Drops everything buffered and forgets the stream's numbering and timing, as if
    /// new; the next packet starts a new stream. The counters in [`JitterStats`] keep
    /// counting across resets; the delay estimate and the loss window start over.
    pub fn reset(&mut self) {
        for slot in self.slots.iter_mut() {
            *slot = None;
        }
        self.buffered = 0;
        self.phase = Phase::Empty;
        self.anchored = false;
        self.seqs = Unwrapper::default();
        self.stamps = Unwrapper::default();
        self.lost_before_reset += self.ledger.lost();
        self.ledger = SeqLedger::new(0);
        self.delay.reset();
        self.last_dtx = false;
        self.fec_pending = false;
        self.since_drop_ns = DROP_SPACING_NS;
        self.idle_ns = 0;
        self.too_old_run = 0;
        self.current_delay_ns = 0;
    }

    // ---- push helpers ----

    fn start_stream(&mut self, packet: Packet, arrival: i64) {
        let seq = self.seqs.extend(packet.sequence);
        let ts = self.stamps.extend(packet.timestamp);
        self.ts_origin = ts;
        self.ledger = SeqLedger::new(seq);
        self.phase = Phase::Buffering;
        self.anchored = false;
        self.accept(seq, ts, packet, arrival);
    }

    fn accept(&mut self, seq: u64, ts: u64, packet: Packet, arrival: i64) {
        self.seqs.commit(seq);
        self.stamps.commit(ts);
        self.observe(ts, arrival);
        let index = (seq & self.mask) as usize;
        debug_assert!(self.slots[index].is_none());
        self.slots[index] = Some(Slot { seq, ts, packet });
        self.buffered += 1;
        self.received += 1;
        self.too_old_run = 0;
    }

    fn late(&mut self, ts: u64, arrival: i64) -> PushOutcome {
        // A late packet is the best evidence that more delay is needed: learn from it.
        self.observe(ts, arrival);
        self.late += 1;
        self.received += 1;
        self.too_old_run = 0;
        PushOutcome::Late
    }

    fn too_old(&mut self, packet: Packet, arrival: i64) -> PushOutcome {
        self.too_old_run += 1;
        if self.too_old_run < TOO_OLD_RESET {
            return PushOutcome::TooOld;
        }
        self.reset();
        self.start_stream(packet, arrival);
        PushOutcome::Accepted
    }

    fn observe(&mut self, ts: u64, arrival: i64) {
        let transit = arrival.saturating_sub(self.sender_ns(ts));
        self.delay.observe(arrival, transit);
    }

    /// `seq` is too far ahead for the ring: drop the oldest packets (and pass the
    /// sequence numbers never received) until it fits.
    fn make_room(&mut self, seq: u64) {
        let new_next = seq - self.mask;
        while let Some(head) = self.head() {
            if head.seq >= new_next {
                break;
            }
            self.discard_head();
        }
        self.ledger.pass_gap(new_next);
    }

    // ---- pop helpers ----

    fn play(&mut self, now: i64) -> Playout {
        let frame = self.frame_ns;
        let fec_pending = std::mem::take(&mut self.fec_pending);
        let mut lag = now.saturating_sub(self.due(self.play_ts));
        if !fec_pending {
            if lag >= JUMP_FRAMES * frame {
                let frames = lag / frame;
                self.skip(frames as u64);
                lag -= frames * frame;
            } else if 2 * lag >= DROP_HALF_FRAMES * frame && self.since_drop_ns >= DROP_SPACING_NS {
                self.skip(1);
                lag -= frame;
                self.since_drop_ns = 0;
            }
        }
        self.since_drop_ns = self.since_drop_ns.saturating_add(frame);
        // Ahead of the target: a frame whose packet is not here yet is waited for.
        let hold = lag < 0;
        loop {
            self.current_delay_ns = lag.saturating_add(self.delay.target()).max(0);
            match self.classify() {
                Due::Here => {
                    let slot = self.take_head();
                    self.ledger.pass(slot.seq);
                    self.play_ts = self.play_ts.max(slot.ts) + self.frame_samples;
                    self.last_dtx = slot.packet.dtx;
                    return Playout::Packet(slot.packet);
                }
                Due::Lost { fec } => {
                    if !hold {
                        self.play_ts += self.frame_samples;
                        if fec {
                            self.fec_pending = true;
                            self.fec_recovered += 1;
                            let packet = self.head().map(|s| s.packet.clone());
                            return Playout::Fec(packet.expect("Due::Lost with FEC has a head"));
                        }
                    }
                    self.concealed += 1;
                    return Playout::Conceal;
                }
                Due::Silent => {
                    if !hold && lag >= frame {
                        // Nobody hears a silent frame skipped: shed delay here first.
                        self.skip(1);
                        lag -= frame;
                        continue;
                    }
                    if !hold {
                        self.play_ts += self.frame_samples;
                    }
                    self.silence_frames += 1;
                    return Playout::Silence;
                }
                Due::Unknown => {
                    if !hold {
                        self.play_ts += self.frame_samples;
                    }
                    self.concealed += 1;
                    return Playout::Conceal;
                }
            }
        }
    }

    fn classify(&self) -> Due {
        let Some(head) = self.head() else {
            return if self.last_dtx {
                Due::Silent
            } else {
                Due::Unknown
            };
        };
        if head.ts < self.play_ts + self.frame_samples {
            return Due::Here;
        }
        // The frames from the playout position up to the head's, and the packets sent
        // that are not here. The missing packets are taken to be the ones right before
        // the head; the frames before those were silence.
        let frames = (head.ts - self.play_ts) / self.frame_samples;
        let next = self.ledger.next();
        let missing = head.seq - next - self.ledger.seen_ahead_before(head.seq);
        if frames <= missing {
            Due::Lost {
                fec: frames == 1 && head.packet.fec,
            }
        } else {
            Due::Silent
        }
    }

    /// Moves the playout position `frames` ahead, dropping what it passes.
    fn skip(&mut self, frames: u64) {
        self.play_ts = self
            .play_ts
            .saturating_add(frames.saturating_mul(self.frame_samples));
        while let Some(head) = self.head() {
            if head.ts >= self.play_ts {
                break;
            }
            self.discard_head();
        }
    }

    fn discard_head(&mut self) {
        let slot = self.take_head();
        self.ledger.pass(slot.seq);
        self.last_dtx = slot.packet.dtx;
        if self.phase == Phase::Playing {
            self.play_ts = self.play_ts.max(slot.ts + self.frame_samples);
        }
        self.discarded += 1;
    }

    // ---- the ring and the clocks ----

    fn slot(&self, seq: u64) -> Option<&Slot> {
        self.slots[(seq & self.mask) as usize]
            .as_ref()
            .filter(|s| s.seq == seq)
    }

    /// The buffered packet with the lowest sequence number. Every buffered packet lies
    /// in `[ledger.next(), ledger.next() + capacity)`.
    fn head(&self) -> Option<&Slot> {
        if self.buffered == 0 {
            return None;
        }
        let next = self.ledger.next();
        (next..=next + self.mask).find_map(|seq| self.slot(seq))
    }

    fn take_head(&mut self) -> Slot {
        let seq = self
            .head()
            .map(|s| s.seq)
            .expect("take_head on an empty ring");
        self.buffered -= 1;
        self.slots[(seq & self.mask) as usize]
            .take()
            .expect("head slot is occupied")
    }

    /// Sender time of an extended timestamp, in nanoseconds from the stream's start.
    fn sender_ns(&self, ts: u64) -> i64 {
        let samples = ts as i64 - self.ts_origin as i64;
        samples.saturating_mul(NS_NUM) / NS_DEN
    }

    /// When the frame at `ts` is due for playout, on the buffer's clock.
    fn due(&self, ts: u64) -> i64 {
        self.delay
            .base()
            .saturating_add(self.sender_ns(ts))
            .saturating_add(self.delay.target())
    }
}

/// `t - epoch` in nanoseconds, negative when `t` is earlier.
fn signed_ns(epoch: Instant, t: Instant) -> i64 {
    match t.checked_duration_since(epoch) {
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        None => -i64::try_from((epoch - t).as_nanos()).unwrap_or(i64::MAX),
    }
}

fn duration(ns: i64) -> Duration {
    Duration::from_nanos(ns.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u32 = 960;
    const MS: Duration = Duration::from_millis(1);
    const ONE_FRAME: JitterConfig = JitterConfig {
        frame: FrameDuration::Ms20,
        min_delay_frames: 1,
        max_delay_frames: 25,
    };

    fn pkt(seq: u32, ts: u32) -> Packet {
        Packet {
            sequence: seq,
            timestamp: ts,
            payload: vec![seq as u8],
            fec: false,
            dtx: false,
            captured_at: None,
        }
    }

    fn fec(mut p: Packet) -> Packet {
        p.fec = true;
        p
    }

    fn dtx(mut p: Packet) -> Packet {
        p.dtx = true;
        p
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A scripted run: packets arrive at given times; the playout clock pops every
    /// `period` ms. Arrivals at a pop's time are pushed before it, in the order given.
    struct Sim {
        jb: JitterBuffer,
        t0: Instant,
        arrivals: Vec<(u64, Packet)>,
        pushed: usize,
        next_pop: u64,
        period: u64,
        out: Vec<String>,
        outcomes: Vec<(u32, PushOutcome)>,
    }

    impl Sim {
        fn new(config: JitterConfig) -> Self {
            Sim {
                jb: JitterBuffer::new(config),
                t0: Instant::now(),
                arrivals: Vec::new(),
                pushed: 0,
                next_pop: 0,
                period: u64::from(config.frame.millis()),
                out: Vec::new(),
                outcomes: Vec::new(),
            }
        }

        /// With a floor of one frame, so the playout order and timing of the scripted
        /// runs below do not depend on the margin; the default floor (none) has tests
        /// of its own.
        fn default() -> Self {
            Sim::new(ONE_FRAME)
        }

        fn send(&mut self, at_ms: u64, packet: Packet) {
            self.arrivals.push((at_ms, packet));
            // Stable: arrivals at the same time keep their order.
            self.arrivals[self.pushed..].sort_by_key(|(t, _)| *t);
        }

        fn push_until(&mut self, t: u64) {
            while self.pushed < self.arrivals.len() && self.arrivals[self.pushed].0 <= t {
                let (at, packet) = self.arrivals[self.pushed].clone();
                let seq = packet.sequence;
                let outcome = self.jb.push(packet, self.t0 + ms(at));
                self.outcomes.push((seq, outcome));
                self.pushed += 1;
            }
        }

        /// Pops at every period up to and including `end_ms`.
        fn run_to(&mut self, end_ms: u64) -> &mut Self {
            while self.next_pop <= end_ms {
                let t = self.next_pop;
                self.push_until(t);
                let token = match self.jb.pop(self.t0 + ms(t)) {
                    None => "-".to_string(),
                    Some(Playout::Packet(p)) => format!("P{}", p.sequence),
                    Some(Playout::Fec(p)) => format!("F{}", p.sequence),
                    Some(Playout::Conceal) => "C".to_string(),
                    Some(Playout::Silence) => "S".to_string(),
                };
                self.out.push(token);
                self.next_pop += self.period;
            }
            self
        }

        /// Moves the playout clock without popping (a stalled playout thread).
        fn stall_to(&mut self, t: u64) {
            self.push_until(t.saturating_sub(1));
            self.next_pop = t;
        }

        fn out(&self) -> String {
            self.out.join(" ")
        }

        fn outcome(&self, seq: u32) -> Vec<PushOutcome> {
            self.outcomes
                .iter()
                .filter(|(s, _)| *s == seq)
                .map(|(_, o)| *o)
                .collect()
        }

        fn stats(&self) -> JitterStats {
            self.jb.stats()
        }
    }

    /// Sends seq `i` with timestamp `i` frames at `20 * i` ms, for `i` in `range`,
    /// except those `skip` rejects.
    fn steady(sim: &mut Sim, range: std::ops::Range<u32>, skip: impl Fn(u32) -> bool) {
        for i in range {
            if !skip(i) {
                sim.send(u64::from(i) * 20, pkt(i, i * F));
            }
        }
    }

    #[test]
    fn clean_link_plays_in_order_one_frame_behind() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..11, |_| false);
        sim.run_to(200);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 P5 P6 P7 P8 P9");
        let s = sim.stats();
        assert_eq!(s.target_delay, 20 * MS);
        assert_eq!(s.current_delay, 20 * MS);
        assert_eq!(s.jitter, Duration::ZERO);
        assert_eq!((s.received, s.lost, s.late, s.concealed), (11, 0, 0, 0));
        assert_eq!(s.loss_percent, 0);
    }

    #[test]
    fn clean_link_with_playout_clock_out_of_phase() {
        let mut sim = Sim::default();
        sim.next_pop = 10;
        steady(&mut sim, 0..200, |_| false);
        sim.run_to(3990);
        assert_eq!(sim.out[..4].join(" "), "- P0 P1 P2");
        assert!(sim.out[1..].iter().all(|t| t.starts_with('P')));
        // One frame of target plus the clock's 10 ms phase.
        assert_eq!(sim.stats().current_delay, 30 * MS);
    }

    #[test]
    fn ten_ms_frames() {
        let mut sim = Sim::new(JitterConfig {
            frame: FrameDuration::Ms10,
            ..JitterConfig::default()
        });
        for i in 0..6 {
            sim.send(u64::from(i) * 10, pkt(i, i * 480));
        }
        sim.run_to(60);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 P5");
        assert_eq!(sim.stats().current_delay, 10 * MS);
    }

    #[test]
    fn reordered_within_the_window() {
        // Three frames of minimum delay leave room to reorder.
        let mut sim = Sim::new(JitterConfig {
            min_delay_frames: 3,
            ..JitterConfig::default()
        });
        steady(&mut sim, 0..10, |i| i == 4 || i == 7);
        sim.send(110, pkt(4, 4 * F)); // after 5 (at 100)
        sim.send(165, pkt(7, 7 * F)); // after 8 (at 160)
        sim.run_to(240);
        assert_eq!(sim.out(), "- - - P0 P1 P2 P3 P4 P5 P6 P7 P8 P9");
        assert_eq!(sim.outcome(4), [PushOutcome::Accepted]);
        assert_eq!(sim.outcome(7), [PushOutcome::Accepted]);
        assert_eq!(sim.stats().late, 0);

        // Swapped packets arriving together just in time, at one frame of delay.
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |i| i == 2 || i == 3);
        sim.send(60, pkt(3, 3 * F));
        sim.send(60, pkt(2, 2 * F));
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 P5");
    }

    #[test]
    fn reordered_before_playout_starts() {
        let mut sim = Sim::default();
        sim.send(0, pkt(1, F));
        sim.send(5, pkt(0, 0));
        steady(&mut sim, 2..6, |_| false);
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 P5");
        assert_eq!(sim.outcome(0), [PushOutcome::Accepted]);
    }

    #[test]
    fn duplicates_are_dropped() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |_| false);
        sim.send(25, pkt(1, F)); // 1 is buffered
        sim.send(30, pkt(0, 0)); // 0 was played at 20
        sim.send(60, pkt(3, 3 * F)); // together with the original
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 P5");
        assert_eq!(
            sim.outcome(1),
            [PushOutcome::Accepted, PushOutcome::Duplicate]
        );
        assert_eq!(
            sim.outcome(0),
            [PushOutcome::Accepted, PushOutcome::Duplicate]
        );
        assert_eq!(
            sim.outcome(3),
            [PushOutcome::Accepted, PushOutcome::Duplicate]
        );
        let s = sim.stats();
        assert_eq!((s.received, s.duplicates, s.lost), (6, 3, 0));
    }

    #[test]
    fn late_packet_is_dropped_and_its_frame_concealed() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |i| i == 2);
        sim.send(61, pkt(2, 2 * F)); // due at 60
        sim.send(62, pkt(2, 2 * F)); // and a copy of it
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 C P3 P4 P5");
        assert_eq!(sim.outcome(2), [PushOutcome::Late, PushOutcome::Duplicate]);
        let s = sim.stats();
        assert_eq!((s.late, s.lost, s.concealed, s.received), (1, 0, 1, 6));
        assert_eq!(s.loss_percent, 17); // 1 of 6 missed playout
    }

    #[test]
    fn late_after_its_successor_played() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |i| i == 2);
        sim.send(90, pkt(2, 2 * F));
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 C P3 P4 P5");
        assert_eq!(sim.outcome(2), [PushOutcome::Late]);
        let s = sim.stats();
        // Counted lost when playout passed it, and late when it turned up.
        assert_eq!((s.late, s.lost), (1, 1));
    }

    #[test]
    fn single_loss_with_fec() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |i| i == 2 || i == 3);
        sim.send(60, fec(pkt(3, 3 * F)));
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 F3 P3 P4 P5");
        let s = sim.stats();
        assert_eq!((s.lost, s.fec_recovered, s.concealed), (1, 1, 0));
    }

    #[test]
    fn fec_hands_back_the_same_packet_twice() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        let mut third = fec(pkt(2, 2 * F));
        third.payload = vec![7, 7, 7];
        third.captured_at = Some(t0);
        jb.push(pkt(0, 0), t0);
        assert_eq!(jb.pop(t0 + ms(20)), Some(Playout::Packet(pkt(0, 0))));
        jb.push(third.clone(), t0 + ms(40));
        assert_eq!(jb.pop(t0 + ms(40)), Some(Playout::Fec(third.clone())));
        assert_eq!(jb.pop(t0 + ms(60)), Some(Playout::Packet(third)));
    }

    #[test]
    fn single_loss_without_fec() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |i| i == 2);
        sim.run_to(120);
        assert_eq!(sim.out(), "- P0 P1 C P3 P4 P5");
        let s = sim.stats();
        assert_eq!((s.lost, s.fec_recovered, s.concealed), (1, 0, 1));
    }

    #[test]
    fn burst_loss() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..9, |i| (2..=5).contains(&i));
        sim.send(100, fec(pkt(5, 5 * F)));
        sim.run_to(160);
        assert_eq!(sim.out(), "- P0 P1 C C F5 P5 P6 P7");
        let s = sim.stats();
        assert_eq!((s.lost, s.concealed, s.fec_recovered), (3, 2, 1));

        let mut sim = Sim::default();
        steady(&mut sim, 0..9, |i| (2..=4).contains(&i));
        sim.run_to(160);
        assert_eq!(sim.out(), "- P0 P1 C C C P5 P6 P7");
        assert_eq!(sim.stats().lost, 3);
    }

    #[test]
    fn dtx_gap_is_silence_not_loss() {
        // 0..=4 speech (4 announces DTX), then nothing for 5 frames, then 5.. with the
        // timestamp 5 frames further on and no sequence gap.
        let mut sim = Sim::default();
        for i in 0..5 {
            let p = pkt(i, i * F);
            sim.send(u64::from(i) * 20, if i == 4 { dtx(p) } else { p });
        }
        for i in 5..8 {
            sim.send(u64::from(i + 5) * 20, pkt(i, (i + 5) * F));
        }
        sim.run_to(260);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 S S S S S P5 P6 P7");
        let s = sim.stats();
        assert_eq!((s.silence_frames, s.lost, s.concealed), (5, 0, 0));
        assert_eq!(s.loss_percent, 0);
    }

    #[test]
    fn dtx_gap_without_announcement_is_known_only_when_speech_resumes() {
        // Without the DTX flag the silence is indistinguishable from loss until the
        // next packet shows no sequence gap: concealed until then, never counted lost.
        let mut sim = Sim::default();
        steady(&mut sim, 0..5, |_| false);
        for i in 5..8 {
            sim.send(u64::from(i + 5) * 20, pkt(i, (i + 5) * F));
        }
        sim.run_to(260);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 C C C C S P5 P6 P7");
        let s = sim.stats();
        assert_eq!((s.silence_frames, s.lost, s.concealed), (1, 0, 4));
    }

    #[test]
    fn loss_inside_a_dtx_gap_is_placed_before_the_next_packet() {
        // 4 announces DTX, 5 (first frame of new speech, timestamp frame 10) is lost,
        // 6 arrives with FEC: silence, then the FEC for 5.
        let mut sim = Sim::default();
        for i in 0..5 {
            let p = pkt(i, i * F);
            sim.send(u64::from(i) * 20, if i == 4 { dtx(p) } else { p });
        }
        sim.send(220, fec(pkt(6, 11 * F)));
        sim.send(240, pkt(7, 12 * F));
        sim.run_to(260);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 S S S S S F6 P6 P7");
        assert_eq!(sim.stats().lost, 1);
    }

    #[test]
    fn sequence_and_timestamp_wrap_around() {
        let seq0 = u32::MAX - 2;
        let ts0 = 0u32.wrapping_sub(2 * F); // wraps between the 2nd and 3rd frame
        let mut sim = Sim::default();
        for i in 0..11u32 {
            let p = pkt(seq0.wrapping_add(i), ts0.wrapping_add(i * F));
            match i {
                2..=4 => {}
                5 => sim.send(100, fec(p)),
                _ => sim.send(u64::from(i) * 20, p),
            }
        }
        // 3 (seq 0) overtakes 2 (seq u32::MAX) across the wrap; 4 (seq 1) is lost.
        sim.send(60, pkt(0, ts0.wrapping_add(3 * F)));
        sim.send(60, pkt(u32::MAX, ts0.wrapping_add(2 * F)));
        sim.run_to(220);
        assert_eq!(
            sim.out(),
            "- P4294967293 P4294967294 P4294967295 P0 F2 P2 P3 P4 P5 P6 P7"
        );
        let s = sim.stats();
        assert_eq!((s.lost, s.late, s.fec_recovered), (1, 0, 1));
        assert_eq!(s.current_delay, 20 * MS);
        assert_eq!(s.target_delay, 20 * MS);
    }

    #[test]
    fn long_stream_across_both_wraps_stays_clean() {
        let seq0 = u32::MAX - 100;
        let ts0 = u32::MAX - 150 * F;
        let mut sim = Sim::default();
        for i in 0..400u32 {
            sim.send(
                u64::from(i) * 20,
                pkt(seq0.wrapping_add(i), ts0.wrapping_add(i * F)),
            );
        }
        sim.run_to(400 * 20);
        let played: Vec<u32> = sim.out[1..400]
            .iter()
            .map(|t| t[1..].parse().unwrap())
            .collect();
        let expected: Vec<u32> = (0..399).map(|i| seq0.wrapping_add(i)).collect();
        assert_eq!(played, expected);
        let s = sim.stats();
        assert_eq!((s.lost, s.late, s.concealed), (0, 0, 0));
        assert_eq!(s.current_delay, 20 * MS);
    }

    #[test]
    fn jitter_raises_the_target_quickly_and_calm_lowers_it_slowly() {
        let mut sim = Sim::default();
        // 0-3 s clean; 3-6 s every other packet 60 ms late; 6-20 s clean.
        for i in 0..1000u32 {
            let t = u64::from(i) * 20;
            let extra = if (3000..6000).contains(&t) && i % 2 == 1 {
                60
            } else {
                0
            };
            sim.send(t + extra, pkt(i, i * F));
        }
        sim.run_to(3000);
        assert_eq!(sim.stats().target_delay, 20 * MS);
        assert_eq!(sim.stats().current_delay, 20 * MS);

        sim.run_to(3300);
        let s = sim.stats();
        assert_eq!(s.target_delay, 62 * MS, "rises within 300 ms");
        sim.run_to(3500);
        let (late, concealed) = (sim.stats().late, sim.stats().concealed);
        assert!(late <= 5, "{late}");
        sim.run_to(6000);
        let s = sim.stats();
        // Once the delay has grown, everything arrives in time.
        assert_eq!((s.late, s.concealed), (late, concealed));
        assert!(sim.out[175..].iter().all(|t| t.starts_with('P')));
        assert_eq!(s.target_delay, 62 * MS);
        assert!(s.current_delay >= 60 * MS, "{:?}", s.current_delay);
        assert!(s.jitter >= 20 * MS, "{:?}", s.jitter);

        // Calm: held while the jittery arrivals are in the 2 s window...
        sim.run_to(7500);
        assert_eq!(sim.stats().target_delay, 62 * MS);
        // ...then decaying over seconds.
        sim.run_to(9000);
        let t = sim.stats().target_delay;
        assert!(t > 30 * MS && t < 62 * MS, "{t:?}");
        sim.run_to(19_980);
        let s = sim.stats();
        assert!(s.target_delay <= 21 * MS, "{:?}", s.target_delay);
        assert!(s.target_delay >= 20 * MS);
        // The delay followed down by dropping a frame (one, at 11.46 s), nothing
        // concealed; the last frame of excess waits for a silence.
        assert_eq!(s.current_delay, 40 * MS, "{s:?}");
        assert_eq!(s.concealed, concealed);
        assert!(sim.out[300..].iter().all(|t| t.starts_with('P')));
        assert!(s.late <= late);
    }

    /// A small deterministic generator for scripted jitter (xorshift).
    fn jitter_ms(state: &mut u64, max: u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state % (max + 1)
    }

    #[test]
    fn clean_stream_holds_the_margin_not_a_frame() {
        // Whatever the phase of the playout clock against the arrivals, a clean stream
        // is played at the first pop at least the margin (2 ms) after its packet came:
        // the delay held is the clock's phase, never a frame on top of it.
        for phase in 0..20u64 {
            let mut sim = Sim::new(JitterConfig::default());
            sim.next_pop = phase;
            steady(&mut sim, 0..250, |_| false);
            sim.run_to(4990);
            let s = sim.stats();
            let expected = if phase >= 2 { phase } else { phase + 20 };
            assert_eq!(s.current_delay, ms(expected), "phase {phase} ms");
            assert_eq!(s.target_delay, 2 * MS, "phase {phase} ms");
            assert_eq!((s.concealed, s.late, s.lost), (0, 0, 0), "phase {phase} ms");
            let played = sim.out.iter().filter(|t| t.starts_with('P')).count();
            assert!(played >= 248, "phase {phase} ms: {played} played");
        }
    }

    #[test]
    fn ten_ms_frames_hold_the_margin_too() {
        let mut sim = Sim::new(JitterConfig {
            frame: FrameDuration::Ms10,
            ..JitterConfig::default()
        });
        sim.next_pop = 3;
        for i in 0..300 {
            sim.send(u64::from(i) * 10, pkt(i, i * 480));
        }
        sim.run_to(2993);
        let s = sim.stats();
        assert_eq!(s.current_delay, 3 * MS);
        assert_eq!((s.concealed, s.late), (0, 0));
    }

    #[test]
    fn uniform_jitter_up_to_40_ms_grows_the_delay_with_few_concealed_frames() {
        let mut sim = Sim::new(JitterConfig::default());
        sim.next_pop = 7;
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..500u32 {
            let extra = jitter_ms(&mut rng, 40);
            sim.send(u64::from(i) * 20 + extra, pkt(i, i * F));
        }
        sim.run_to(10_007);
        let s = sim.stats();
        // The late packets of the first moments teach the estimator; from then on
        // (nearly) everything is on time.
        assert!(s.concealed <= 10, "{s:?}");
        assert!(s.late <= 10, "{s:?}");
        assert!(
            s.target_delay >= 30 * MS && s.target_delay <= 45 * MS,
            "{s:?}"
        );
        let after_first_second = sim.out[50..].iter().filter(|t| *t == "C").count();
        assert!(after_first_second <= 3, "{after_first_second} concealed");
        assert!(s.current_delay <= s.target_delay + 30 * MS, "{s:?}");
    }

    #[test]
    fn small_jitter_is_waited_for_even_when_it_is_less_than_half_a_frame() {
        // A clean start with the clock 3 ms after the arrivals (1 ms past the target),
        // then 0-8 ms of jitter: the target rises by less than half a frame, and
        // playout still moves back to it (one frame of waiting) instead of concealing
        // every packet more than 3 ms late.
        let mut sim = Sim::new(JitterConfig::default());
        sim.next_pop = 3;
        let mut rng = 0x0123_4567_89AB_CDEFu64;
        for i in 0..500u32 {
            let extra = if i < 100 { 0 } else { jitter_ms(&mut rng, 8) };
            sim.send(u64::from(i) * 20 + extra, pkt(i, i * F));
        }
        sim.run_to(2003);
        assert_eq!(sim.stats().current_delay, 3 * MS);
        sim.run_to(10_003);
        let s = sim.stats();
        assert!(
            s.target_delay >= 8 * MS && s.target_delay <= 11 * MS,
            "{s:?}"
        );
        // (Waiting only from half a frame behind, as before, concealed 218 of 400.)
        assert!(s.concealed <= 10, "{s:?}");
        assert!(s.current_delay <= s.target_delay + 20 * MS, "{s:?}");
    }

    #[test]
    fn delay_comes_back_down_after_the_jitter_stops() {
        // 4 s of 0-40 ms jitter, 10 s clean, a second of DTX silence, 2 s clean.
        let mut sim = Sim::new(JitterConfig::default());
        sim.next_pop = 5;
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..200u32 {
            let extra = jitter_ms(&mut rng, 40);
            sim.send(u64::from(i) * 20 + extra, pkt(i, i * F));
        }
        for i in 200..700u32 {
            let p = pkt(i, i * F);
            sim.send(u64::from(i) * 20, if i == 699 { dtx(p) } else { p });
        }
        for i in 700..800u32 {
            // Resumes after 50 frames of silence.
            sim.send(u64::from(i + 50) * 20, pkt(i, (i + 50) * F));
        }
        sim.run_to(4005);
        let jittery = sim.stats();
        assert!(jittery.target_delay >= 30 * MS, "{jittery:?}");
        sim.run_to(14_005);
        let calm = sim.stats();
        assert!(calm.target_delay <= 3 * MS, "{calm:?}");
        // In speech the lag is shed a frame at a time down to one and a half frames...
        assert!(calm.current_delay < calm.target_delay + 30 * MS, "{calm:?}");
        // ...without concealing anything more.
        assert!(calm.concealed <= jittery.concealed + 1, "{calm:?}");
        sim.run_to(16_005);
        let s = sim.stats();
        // ...and a silence sheds the rest: back to the clock's phase.
        assert_eq!(s.current_delay, 5 * MS, "{s:?}");
        assert_eq!(s.concealed, calm.concealed, "{s:?}");
    }

    #[test]
    fn target_is_capped_at_the_maximum() {
        let mut sim = Sim::default();
        for i in 0..300u32 {
            let extra = if i % 2 == 1 { 900 } else { 0 };
            sim.send(u64::from(i) * 20 + extra, pkt(i, i * F));
        }
        sim.run_to(6000);
        let s = sim.stats();
        assert_eq!(s.target_delay, 500 * MS);
        assert!(
            s.current_delay <= 500 * MS + 20 * MS,
            "{:?}",
            s.current_delay
        );
    }

    #[test]
    fn network_stall_is_concealed_and_playout_resumes_at_the_target() {
        // Everything sent from 2000 to 2980 ms arrives in one burst at 3000 ms.
        let mut sim = Sim::default();
        for i in 0..250u32 {
            let t = u64::from(i) * 20;
            let at = if (2000..3000).contains(&t) { 3000 } else { t };
            sim.send(at, pkt(i, i * F));
        }
        sim.run_to(5000);
        // Pop k plays frame k - 1: frames 100..=148 were due during the stall.
        assert!(sim.out[101..150].iter().all(|t| t == "C"));
        assert_eq!(sim.out[150..154].join(" "), "P149 P150 P151 P152");
        assert!(sim.out[150..250].iter().all(|t| t.starts_with('P')));
        let s = sim.stats();
        assert_eq!((s.late, s.lost, s.concealed), (49, 0, 49));
        assert_eq!(s.current_delay, 20 * MS);
        assert_eq!(
            s.target_delay,
            20 * MS,
            "one stall does not inflate the delay"
        );
    }

    #[test]
    fn playout_stall_catches_up_at_once() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..300, |_| false);
        sim.run_to(2000);
        assert_eq!(sim.out.last().unwrap(), "P99");
        // The playout thread stalls for a second while packets keep arriving.
        sim.stall_to(3000);
        sim.run_to(3040);
        assert_eq!(sim.out[sim.out.len() - 3..].join(" "), "P149 P150 P151");
        let s = sim.stats();
        assert_eq!(s.current_delay, 20 * MS);
        assert_eq!((s.lost, s.late, s.concealed), (0, 0, 0));

        // Longer than the ring holds: the oldest packets make room, same outcome.
        sim.stall_to(5000);
        sim.run_to(5020);
        assert_eq!(sim.out[sim.out.len() - 2..].join(" "), "P249 P250");
        assert_eq!(sim.stats().current_delay, 20 * MS);
        assert_eq!(sim.stats().lost, 0);
    }

    #[test]
    fn slow_playout_clock_is_absorbed_in_silence() {
        // The playout clock ticks every 20.5 ms: the buffer deepens by 0.5 ms a frame.
        // Under one and a half frames of excess nothing is dropped from speech; the
        // first silence sheds it.
        let mut jb = JitterBuffer::new(ONE_FRAME);
        let t0 = Instant::now();
        let mut arrivals: Vec<(u64, Packet)> = (0..51u32)
            .map(|i| {
                let p = pkt(i, i * F);
                (u64::from(i) * 20_000, if i == 50 { dtx(p) } else { p })
            })
            .collect();
        // Ten silent frames, then speech again.
        arrivals.extend((51..55u32).map(|i| (u64::from(i + 10) * 20_000, pkt(i, (i + 10) * F))));
        let mut next = 0;
        let mut out = Vec::new();
        let mut delay_before_silence = Duration::ZERO;
        for k in 0..65u64 {
            let now = k * 20_500; // microseconds
            while next < arrivals.len() && arrivals[next].0 <= now {
                let (at, p) = arrivals[next].clone();
                jb.push(p, t0 + Duration::from_micros(at));
                next += 1;
            }
            out.push(match jb.pop(t0 + Duration::from_micros(now)) {
                None => "-".to_string(),
                Some(Playout::Packet(p)) => format!("P{}", p.sequence),
                Some(other) => format!("{other:?}"),
            });
            if k == 51 {
                delay_before_silence = jb.stats().current_delay;
            }
        }
        let speech: Vec<String> = (0..51).map(|i| format!("P{i}")).collect();
        assert_eq!(out[0], "-");
        assert_eq!(out[1..52], speech[..]);
        assert_eq!(
            out[52..61],
            vec!["Silence"; 9][..],
            "one silent frame skipped"
        );
        assert_eq!(out[61..].join(" "), "P51 P52 P53 P54");
        assert_eq!(delay_before_silence, Duration::from_micros(45_500));
        assert_eq!(jb.stats().current_delay, Duration::from_micros(32_000));
        assert_eq!(jb.stats().silence_frames, 9);
    }

    #[test]
    fn loss_percent_reflects_ten_percent_loss() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..300, |i| i % 10 == 3);
        sim.run_to(300 * 20);
        let s = sim.stats();
        assert_eq!(s.loss_percent, 10);
        assert_eq!(s.lost, 30);
        assert_eq!(s.concealed, 30);
        assert_eq!(s.received, 270);
    }

    #[test]
    fn sender_restart_resets_after_repeated_too_old() {
        let mut sim = Sim::default();
        for i in 0..10u32 {
            sim.send(u64::from(i) * 20, pkt(1000 + i, 50_000 + i * F));
        }
        // The sender restarts its counters.
        for k in 0..6u32 {
            sim.send(200 + u64::from(k) * 20, pkt(5 + k, 777 + k * F));
        }
        sim.run_to(320);
        assert_eq!(
            sim.out(),
            "- P1000 P1001 P1002 P1003 P1004 P1005 P1006 P1007 P1008 P1009 C - P7 P8 P9 P10"
        );
        assert_eq!(sim.outcome(5), [PushOutcome::TooOld]);
        assert_eq!(sim.outcome(6), [PushOutcome::TooOld]);
        assert_eq!(sim.outcome(7), [PushOutcome::Accepted]);
    }

    #[test]
    fn absurd_sequence_jump_is_too_old() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..5, |_| false);
        sim.send(50, pkt(1 << 20, 5 * F));
        sim.send(200, pkt(5, 5 * F));
        sim.run_to(120);
        assert_eq!(sim.outcome(1 << 20), [PushOutcome::TooOld]);
        assert_eq!(sim.out(), "- P0 P1 P2 P3 P4 C");
    }

    #[test]
    fn idle_stream_goes_back_to_buffering() {
        let mut sim = Sim::default();
        for i in 0..5u32 {
            let p = pkt(i, i * F);
            sim.send(u64::from(i) * 20, if i == 4 { dtx(p) } else { p });
        }
        // Silent for 5 s.
        for i in 5..8u32 {
            sim.send(5100 + u64::from(i - 5) * 20, pkt(i, (i + 250) * F));
        }
        sim.run_to(5200);
        let silent = sim.out.iter().filter(|t| *t == "S").count();
        assert_eq!(silent, 99, "2 s of silence frames, then buffering");
        assert_eq!(sim.out[105], "-");
        assert_eq!(sim.out[5100 / 20], "-");
        assert_eq!(sim.out[5120 / 20..].join(" "), "P5 P6 P7 C C");
        let s = sim.stats();
        assert_eq!((s.lost, s.concealed), (0, 2));
    }

    #[test]
    fn reset_starts_over_but_keeps_counting() {
        let mut sim = Sim::default();
        steady(&mut sim, 0..6, |i| i == 2);
        sim.run_to(120);
        sim.jb.reset();
        assert_eq!(sim.jb.pop(sim.t0 + ms(140)), None);
        let t = sim.t0 + ms(150);
        assert_eq!(sim.jb.push(pkt(900, 3), t), PushOutcome::Accepted);
        assert_eq!(sim.jb.pop(t + ms(10)), None);
        assert_eq!(sim.jb.pop(t + ms(20)), Some(Playout::Packet(pkt(900, 3))));
        let s = sim.stats();
        assert_eq!((s.received, s.lost), (6, 1));
    }

    #[test]
    fn pop_before_any_packet_is_none() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        assert_eq!(jb.pop(Instant::now()), None);
        assert_eq!(
            jb.stats(),
            JitterStats {
                target_delay: 2 * MS,
                ..JitterStats::default()
            }
        );
    }

    #[test]
    fn config_is_normalised() {
        let jb = JitterBuffer::new(JitterConfig {
            frame: FrameDuration::Ms20,
            min_delay_frames: 4,
            max_delay_frames: 2,
        });
        assert_eq!(jb.stats().target_delay, 80 * MS);
        let jb = JitterBuffer::new(JitterConfig {
            frame: FrameDuration::Ms10,
            min_delay_frames: 0,
            max_delay_frames: u32::MAX,
        });
        assert_eq!(jb.stats().target_delay, 2 * MS, "no floor: the margin");
        assert_eq!(jb.slots.len(), 4096);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        struct Arrival {
            extra_ms: u64,
            lost: bool,
            duplicate: bool,
            fec: bool,
        }

        fn arrival() -> impl Strategy<Value = Arrival> {
            (
                prop_oneof![4 => 0u64..5, 1 => 0u64..120, 1 => 0u64..600],
                proptest::bool::weighted(0.05),
                proptest::bool::weighted(0.03),
                any::<bool>(),
            )
                .prop_map(|(extra_ms, lost, duplicate, fec)| Arrival {
                    extra_ms,
                    lost,
                    duplicate,
                    fec,
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the network does: frames come out in order, each at most once
            /// (FEC aside), every FEC is followed by its packet, counters add up and the
            /// delay stays bounded.
            #[test]
            fn playout_invariants(
                seq0 in any::<u32>(),
                ts0 in any::<u32>(),
                arrivals in proptest::collection::vec(arrival(), 1..300),
                stall in proptest::option::of((0usize..300, 1u64..1500)),
            ) {
                let mut sim = Sim::default();
                let mut sent = 0u64;
                for (i, a) in arrivals.iter().enumerate() {
                    let i = i as u32;
                    let mut p = pkt(seq0.wrapping_add(i), ts0.wrapping_add(i * F));
                    p.fec = a.fec;
                    if a.lost {
                        continue;
                    }
                    let at = u64::from(i) * 20 + a.extra_ms;
                    sim.send(at, p.clone());
                    sent += 1;
                    if a.duplicate {
                        sim.send(at + 7, p);
                        sent += 1;
                    }
                }
                let end = arrivals.len() as u64 * 20 + 700;
                if let Some((at, len)) = stall {
                    let at = (at as u64 * 20).min(end);
                    sim.run_to(at);
                    sim.stall_to(at + len);
                }
                sim.run_to(end);
                sim.push_until(u64::MAX);

                let index = |s: u32| s.wrapping_sub(seq0);
                let mut last: Option<u32> = None;
                let mut pending_fec: Option<u32> = None;
                for token in &sim.out {
                    let (kind, n) = token.split_at(1);
                    match kind {
                        "P" => {
                            let i = index(n.parse().unwrap());
                            if let Some(f) = pending_fec.take() {
                                prop_assert_eq!(f, i, "FEC must be followed by its packet");
                            }
                            if let Some(l) = last {
                                prop_assert!(i > l, "out of order or repeated: {} after {}", i, l);
                            }
                            last = Some(i);
                        }
                        "F" => {
                            prop_assert!(pending_fec.is_none());
                            let i = index(n.parse().unwrap());
                            prop_assert!(arrivals[i as usize].fec);
                            pending_fec = Some(i);
                        }
                        _ => prop_assert!(pending_fec.is_none(), "FEC followed by {}", token),
                    }
                }
                let s = sim.stats();
                let outcomes = &sim.outcomes;
                prop_assert_eq!(outcomes.len() as u64, sent);
                let count = |o: PushOutcome| outcomes.iter().filter(|(_, x)| *x == o).count() as u64;
                prop_assert_eq!(count(PushOutcome::TooOld), 0);
                prop_assert_eq!(s.received, count(PushOutcome::Accepted) + count(PushOutcome::Late));
                prop_assert_eq!(s.late, count(PushOutcome::Late));
                prop_assert_eq!(s.duplicates, count(PushOutcome::Duplicate));
                let played = sim.out.iter().filter(|t| t.starts_with('P')).count() as u64;
                prop_assert!(played <= count(PushOutcome::Accepted));
                prop_assert!(s.target_delay >= 20 * MS && s.target_delay <= 500 * MS);
                prop_assert!(s.loss_percent <= 100);
            }

            /// While the playout clock ticks regularly, the delay held stays within a
            /// few frames of the target.
            #[test]
            fn delay_stays_near_target(
                extras in proptest::collection::vec(prop_oneof![3 => 0u64..5, 1 => 0u64..200], 50..400),
            ) {
                let mut sim = Sim::default();
                for (i, extra) in extras.iter().enumerate() {
                    let i = i as u32;
                    sim.send(u64::from(i) * 20 + extra, pkt(i, i * F));
                }
                let mut t = 0;
                while t < extras.len() as u64 * 20 {
                    sim.run_to(t);
                    let s = sim.stats();
                    prop_assert!(
                        s.current_delay < s.target_delay + 4 * 20 * MS,
                        "at {} ms: {:?}", t, s
                    );
                    t += 20;
                }
            }
        }
    }
}
