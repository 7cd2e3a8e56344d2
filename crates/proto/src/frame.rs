//! The binary audio frame: a fixed 13-byte header and an opaque payload.
//!
//! Audio is the hot path: the server reads only this header (to check who may send and
//! to stamp the stream id) and forwards the very same bytes to every listener, so the
//! header is fixed-size, big-endian, and parsed without allocation. The payload is an
//! Opus packet, or an SFrame-protected Opus packet when the `E2EE` flag is set; the
//! server never looks inside it.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | kind (`1` = audio) |
//! | 1 | 1 | flags (bit 0 end-to-end encrypted, bit 1 DTX, bit 2 carries FEC) |
//! | 2 | 2 | stream id, room-local (clients send 0; the server stamps it) |
//! | 4 | 4 | sequence number, +1 per frame, wrapping |
//! | 8 | 4 | media timestamp in 48 kHz samples, wrapping |
//! | 12 | 1 | audio level: bit 7 voice activity, bits 0–6 level in -dBov (RFC 6464) |
//! | 13 | n | payload, at most [`MAX_FRAME_PAYLOAD`] bytes |

use crate::StreamId;
pub use crate::limits::MAX_FRAME_PAYLOAD;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 13;

/// Largest whole frame.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_FRAME_PAYLOAD;

/// What a binary frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// One packet of audio.
    Audio = 1,
}

impl FrameKind {
    fn from_byte(byte: u8) -> Result<Self, FrameError> {
        match byte {
            1 => Ok(FrameKind::Audio),
            other => Err(FrameError::UnknownKind(other)),
        }
    }
}

/// The flag bits of a frame. Unknown bits are kept as they are, so a server forwards
/// frames from newer clients unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// The payload is SFrame-protected (end-to-end encrypted room).
    pub const E2EE: u8 = 0b0000_0001;
    /// The sender is in discontinuous transmission: silence, a comfort-noise packet.
    pub const DTX: u8 = 0b0000_0010;
    /// The Opus packet carries in-band FEC for the previous frame.
    pub const FEC: u8 = 0b0000_0100;

    /// Whether every bit of `mask` is set.
    pub fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// These flags with the bits of `mask` set or cleared.
    #[must_use]
    pub fn with(self, mask: u8, on: bool) -> Self {
        if on {
            Self(self.0 | mask)
        } else {
            Self(self.0 & !mask)
        }
    }
}

/// Audio level as RFC 6464 carries it: the loudness of this frame in -dBov (0 loudest,
/// 127 silence) and whether the sender's voice-activity detector fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioLevel {
    /// Loudness in -dBov, 0 to 127.
    dbov: u8,
    /// Voice activity.
    pub voice: bool,
}

impl AudioLevel {
    /// The level for silence.
    pub const SILENT: AudioLevel = AudioLevel {
        dbov: 127,
        voice: false,
    };

    /// A level of `dbov` -dBov (clamped to 0..=127).
    pub fn new(dbov: u8, voice: bool) -> Self {
        Self {
            dbov: dbov.min(127),
            voice,
        }
    }

    /// The level in -dBov, 0 to 127.
    pub fn dbov(self) -> u8 {
        self.dbov
    }

    fn to_byte(self) -> u8 {
        (u8::from(self.voice) << 7) | self.dbov
    }

    fn from_byte(byte: u8) -> Self {
        Self {
            dbov: byte & 0x7f,
            voice: byte & 0x80 != 0,
        }
    }
}

/// The fixed header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// What the frame carries.
    pub kind: FrameKind,
    /// Flag bits.
    pub flags: Flags,
    /// Room-local stream id (0 from clients, stamped by the server).
    pub stream: StreamId,
    /// Sequence number, +1 per frame, wrapping at 2³².
    pub sequence: u32,
    /// Media timestamp in 48 kHz samples, wrapping at 2³².
    pub timestamp: u32,
    /// Loudness and voice activity.
    pub level: AudioLevel,
}

/// A decoded frame borrowing its payload from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: FrameHeader,
    /// The opaque payload.
    pub payload: &'a [u8],
}

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header.
    #[error("frame of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// A kind byte this build does not know.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The payload exceeds [`MAX_FRAME_PAYLOAD`].
    #[error("payload of {len} bytes exceeds the limit of {MAX_FRAME_PAYLOAD}")]
    PayloadTooLarge {
        /// Payload bytes.
        len: usize,
    },
}

impl FrameHeader {
    /// A header for an audio frame as a client sends it (stream id 0).
    pub fn audio(sequence: u32, timestamp: u32, level: AudioLevel, flags: Flags) -> Self {
        Self {
            kind: FrameKind::Audio,
            flags,
            stream: StreamId(0),
            sequence,
            timestamp,
            level,
        }
    }

    /// Writes the header.
    pub fn write(&self, out: &mut [u8; HEADER_LEN]) {
        out[0] = self.kind as u8;
        out[1] = self.flags.0;
        out[2..4].copy_from_slice(&self.stream.0.to_be_bytes());
        out[4..8].copy_from_slice(&self.sequence.to_be_bytes());
        out[8..12].copy_from_slice(&self.timestamp.to_be_bytes());
        out[12] = self.level.to_byte();
    }

    /// Reads the header from the start of `bytes`.
    pub fn read(bytes: &[u8]) -> Result<Self, FrameError> {
        let Some(head) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(FrameError::Truncated { len: bytes.len() });
        };
        let be32 =
            |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        Ok(Self {
            kind: FrameKind::from_byte(head[0])?,
            flags: Flags(head[1]),
            stream: StreamId(u16::from_be_bytes([head[2], head[3]])),
            sequence: be32(4),
            timestamp: be32(8),
            level: AudioLevel::from_byte(head[12]),
        })
    }
}

/// Appends one frame to `out`. Fails, writing nothing, when the payload is too large.
pub fn encode(header: &FrameHeader, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_PAYLOAD {
        return Err(FrameError::PayloadTooLarge { len: payload.len() });
    }
    let mut head = [0u8; HEADER_LEN];
    header.write(&mut head);
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    Ok(())
}

/// Decodes a whole binary frame. Never panics, whatever the input.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    let header = FrameHeader::read(bytes)?;
    let payload = &bytes[HEADER_LEN..];
    if payload.len() > MAX_FRAME_PAYLOAD {
        return Err(FrameError::PayloadTooLarge { len: payload.len() });
    }
    Ok(Frame { header, payload })
}

/// Overwrites the stream id of an encoded frame in place: what the server does once per
/// received frame before sharing the same bytes with every listener.
pub fn stamp_stream(bytes: &mut [u8], stream: StreamId) -> Result<(), FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated { len: bytes.len() });
    }
    bytes[2..4].copy_from_slice(&stream.0.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_big_endian_at_documented_offsets() {
        let header = FrameHeader {
            kind: FrameKind::Audio,
            flags: Flags(Flags::E2EE | Flags::FEC),
            stream: StreamId(0x0102),
            sequence: 0x0304_0506,
            timestamp: 0x0708_090a,
            level: AudioLevel::new(30, true),
        };
        let mut out = Vec::new();
        encode(&header, &[0xde, 0xad], &mut out).unwrap();
        assert_eq!(
            out,
            [
                1,
                0b101,
                1,
                2,
                3,
                4,
                5,
                6,
                7,
                8,
                9,
                10,
                0x80 | 30,
                0xde,
                0xad
            ]
        );
        let frame = decode(&out).unwrap();
        assert_eq!(frame.header, header);
        assert_eq!(frame.payload, [0xde, 0xad]);
    }

    #[test]
    fn bounds_are_errors() {
        assert_eq!(decode(&[1; 12]), Err(FrameError::Truncated { len: 12 }));
        assert_eq!(decode(&[]), Err(FrameError::Truncated { len: 0 }));
        let mut bad_kind = vec![0u8; HEADER_LEN];
        assert_eq!(decode(&bad_kind), Err(FrameError::UnknownKind(0)));
        bad_kind[0] = 9;
        assert_eq!(decode(&bad_kind), Err(FrameError::UnknownKind(9)));

        let header = FrameHeader::audio(1, 960, AudioLevel::SILENT, Flags::default());
        let mut out = Vec::new();
        encode(&header, &[0; MAX_FRAME_PAYLOAD], &mut out).unwrap();
        assert_eq!(decode(&out).unwrap().payload.len(), MAX_FRAME_PAYLOAD);
        out.push(0);
        assert_eq!(
            decode(&out),
            Err(FrameError::PayloadTooLarge {
                len: MAX_FRAME_PAYLOAD + 1
            })
        );
        let mut untouched = vec![7];
        assert_eq!(
            encode(&header, &[0; MAX_FRAME_PAYLOAD + 1], &mut untouched),
            Err(FrameError::PayloadTooLarge {
                len: MAX_FRAME_PAYLOAD + 1
            })
        );
        assert_eq!(untouched, [7]);
    }

    #[test]
    fn stamping_changes_only_the_stream_id() {
        let header = FrameHeader::audio(42, 4800, AudioLevel::new(12, true), Flags(Flags::DTX));
        let mut out = Vec::new();
        encode(&header, b"opus", &mut out).unwrap();
        stamp_stream(&mut out, StreamId(513)).unwrap();
        let frame = decode(&out).unwrap();
        assert_eq!(
            frame.header,
            FrameHeader {
                stream: StreamId(513),
                ..header
            }
        );
        assert_eq!(frame.payload, b"opus");
        assert_eq!(
            stamp_stream(&mut [0; 3], StreamId(1)),
            Err(FrameError::Truncated { len: 3 })
        );
    }

    #[test]
    fn levels_clamp_and_flags_toggle() {
        assert_eq!(AudioLevel::new(200, false).dbov(), 127);
        let flags = Flags::default()
            .with(Flags::DTX, true)
            .with(Flags::E2EE, true);
        assert!(flags.contains(Flags::DTX | Flags::E2EE));
        assert!(!flags.with(Flags::DTX, false).contains(Flags::DTX));
    }
}
