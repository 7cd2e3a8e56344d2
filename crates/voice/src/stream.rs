//! One incoming voice stream: jitter buffer plus decoder, one frame of PCM per tick.
//!
//! The jitter buffer decides *what* to play each frame period ([`Playout`]); this turns
//! the decision into samples: a normal decode, FEC recovery of a lost frame from the next
//! packet, packet loss concealment, or silence while the sender is in DTX. Keeping the
//! two together per stream means the decoder sees exactly the sequence of frames the
//! listener hears, which Opus needs (its PLC and FEC work from the decoder's history).
//!
//! A packet that fails to decode (corrupt, or of another frame duration) is concealed
//! and counted rather than reported: the playout clock must get a frame every period.

use std::time::{Duration, Instant};

use crate::codec::{CodecError, Decoder};
use crate::frame::FrameDuration;
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, Packet, Playout, PushOutcome};

/// How the samples of a [`PulledFrame`] were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Decoded from the frame's own packet.
    Decoded,
    /// The packet was lost; recovered from the in-band FEC of the next packet.
    Fec,
    /// The packet was lost, late or undecodable; extrapolated by Opus' concealment.
    Concealed,
    /// The sender was silent (DTX): zeros.
    Silence,
}

/// What [`StreamReceiver::pull`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PulledFrame {
    /// How the frame was produced.
    pub kind: FrameKind,
    /// When the frame's first sample was captured at the sender, if the packet said so
    /// (for an FEC frame, one frame before the packet it was recovered from).
    pub captured_at: Option<Instant>,
    /// How long the frame's packet waited in the jitter buffer, from arrival to now;
    /// only for [`FrameKind::Decoded`].
    pub jitter_wait: Option<Duration>,
}

/// The jitter buffer's statistics plus what the decoder made of its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// The jitter buffer's own counters and delays.
    pub jitter: JitterStats,
    /// Frames decoded from their own packet.
    pub decoded: u64,
    /// Frames recovered with FEC.
    pub fec: u64,
    /// Frames concealed, including those whose packet failed to decode.
    pub concealed: u64,
    /// Frames of DTX silence.
    pub silence: u64,
    /// Packets that failed to decode (and were concealed instead).
    pub decode_errors: u64,
}

/// Arrival times of buffered packets, by sequence number, for [`PulledFrame::jitter_wait`].
/// A fixed ring: a packet whose slot was reused before playout just reports no wait.
#[derive(Debug)]
struct Arrivals {
    slots: Box<[Option<(u32, Instant)>]>,
}

impl Arrivals {
    fn new(max_delay_frames: u32) -> Self {
        // Room for everything the jitter buffer can hold (twice its maximum delay).
        let len = (2 * max_delay_frames.clamp(1, 1024) as usize + 16).next_power_of_two();
        Self {
            slots: vec![None; len].into_boxed_slice(),
        }
    }

    fn slot(&mut self, sequence: u32) -> &mut Option<(u32, Instant)> {
        let index = sequence as usize & (self.slots.len() - 1);
        &mut self.slots[index]
    }

    fn insert(&mut self, sequence: u32, arrival: Instant) {
        *self.slot(sequence) = Some((sequence, arrival));
    }

    fn take(&mut self, sequence: u32) -> Option<Instant> {
        let slot = self.slot(sequence);
        match *slot {
            Some((seq, arrival)) if seq == sequence => {
                *slot = None;
                Some(arrival)
            }
            _ => None,
        }
    }

    fn clear(&mut self) {
        self.slots.fill(None);
    }
}

/// Receives one remote speaker: packets in as they arrive, one frame out per period.
#[derive(Debug)]
pub struct StreamReceiver {
    jitter: JitterBuffer,
    decoder: Decoder,
    frame: FrameDuration,
    arrivals: Arrivals,
    decoded: u64,
    fec: u64,
    concealed: u64,
    silence: u64,
    decode_errors: u64,
}

impl StreamReceiver {
    /// A receiver for a stream of `config.frame` packets.
    pub fn new(config: JitterConfig) -> Result<Self, CodecError> {
        Ok(Self {
            jitter: JitterBuffer::new(config),
            decoder: Decoder::new(config.frame)?,
            frame: config.frame,
            arrivals: Arrivals::new(config.max_delay_frames),
            decoded: 0,
            fec: 0,
            concealed: 0,
            silence: 0,
            decode_errors: 0,
        })
    }

    /// The frame duration [`StreamReceiver::pull`] produces.
    pub fn frame(&self) -> FrameDuration {
        self.frame
    }

    /// Hands a packet that arrived at `arrival` to the jitter buffer.
    pub fn push(&mut self, packet: Packet, arrival: Instant) -> PushOutcome {
        let sequence = packet.sequence;
        let outcome = self.jitter.push(packet, arrival);
        if outcome == PushOutcome::Accepted {
            self.arrivals.insert(sequence, arrival);
        }
        outcome
    }

    /// Writes the next frame of audio into `out`, which must be exactly one frame long;
    /// call once per frame period. Returns `None`, with `out` filled with zeros, while
    /// the stream is buffering or idle, or if `out` is not one frame long.
    pub fn pull(&mut self, now: Instant, out: &mut [f32]) -> Option<PulledFrame> {
        if out.len() != self.frame.samples() {
            out.fill(0.0);
            return None;
        }
        let Some(playout) = self.jitter.pop(now) else {
            out.fill(0.0);
            return None;
        };
        let frame = match playout {
            Playout::Packet(packet) => {
                let arrival = self.arrivals.take(packet.sequence);
                if self.decoder.decode(&packet.payload, out).is_ok() {
                    self.decoded += 1;
                    PulledFrame {
                        kind: FrameKind::Decoded,
                        captured_at: packet.captured_at,
                        jitter_wait: arrival.map(|at| now.saturating_duration_since(at)),
                    }
                } else {
                    self.decode_errors += 1;
                    self.conceal(out, packet.captured_at)
                }
            }
            Playout::Fec(next) => {
                let captured_at = next
                    .captured_at
                    .and_then(|at| at.checked_sub(self.frame.duration()));
                if self.decoder.decode_fec(&next.payload, out).is_ok() {
                    self.fec += 1;
                    PulledFrame {
                        kind: FrameKind::Fec,
                        captured_at,
                        jitter_wait: None,
                    }
                } else {
                    // The packet itself will fail again when it comes as `Packet`;
                    // count the error then.
                    self.conceal(out, captured_at)
                }
            }
            Playout::Conceal => self.conceal(out, None),
            Playout::Silence => {
                out.fill(0.0);
                self.silence += 1;
                PulledFrame {
                    kind: FrameKind::Silence,
                    captured_at: None,
                    jitter_wait: None,
                }
            }
        };
        Some(frame)
    }

    fn conceal(&mut self, out: &mut [f32], captured_at: Option<Instant>) -> PulledFrame {
        // `out` has been checked to be one frame, the only way concealment can fail.
        if self.decoder.conceal(out).is_err() {
            out.fill(0.0);
        }
        self.concealed += 1;
        PulledFrame {
            kind: FrameKind::Concealed,
            captured_at,
            jitter_wait: None,
        }
    }

    /// The jitter buffer's statistics and the decode counters.
    pub fn stats(&self) -> StreamStats {
        StreamStats {
            jitter: self.jitter.stats(),
            decoded: self.decoded,
            fec: self.fec,
            concealed: self.concealed,
            silence: self.silence,
            decode_errors: self.decode_errors,
        }
    }

    /// Starts over, as for a new stream: empties the buffer and the decoder's history.
    /// The counters keep counting, as the jitter buffer's do.
    pub fn reset(&mut self) {
        self.jitter.reset();
        // Resetting a valid decoder state cannot fail; if it ever did, the next packets
        // would merely decode with stale history.
        let _ = self.decoder.reset();
        self.arrivals.clear();
    }
}
