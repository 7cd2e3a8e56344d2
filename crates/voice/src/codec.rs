//! Opus encoding and decoding of one 48 kHz mono frame at a time.
//!
//! Why a wrapper instead of the `opus` crate directly: the rest of the engine thinks in
//! [`FrameDuration`]s, never in "however many samples the slice happens to hold", so every
//! entry point here takes or fills *exactly one frame* and turns a wrong length into a
//! [`CodecError`] rather than a libopus surprise (libopus happily decodes fewer samples
//! than asked for, or conceals when handed an empty packet). The settings Salon relies on
//! are applied in one place: `VOIP` application with a voice signal hint (keeps Opus in
//! its SILK/hybrid modes, the only ones that carry in-band FEC), bitrate, complexity,
//! in-band FEC, DTX, and the expected packet loss.
//!
//! Two libopus facts shape the API:
//! - In-band FEC is only *encoded* while the packet-loss hint is high enough (above 0 %
//!   at 20 ms; 10 ms frames need about 10 %). Listeners do not report their loss back to
//!   the speaker, so the hint starts at [`DEFAULT_LOSS_HINT_PERCENT`], where FEC is on
//!   at both frame sizes, and the client may raise it from the loss it sees itself
//!   ([`Encoder::set_packet_loss_percent`]).
//! - FEC data travels in the packet *after* the lost one, so recovering frame `n` needs
//!   packet `n + 1`: [`Decoder::decode_fec`] takes that next packet, and the caller then
//!   decodes the same packet normally for frame `n + 1`.

use std::time::Duration;

use crate::frame::{FrameDuration, SAMPLE_RATE};

/// The largest packet one Opus frame can produce: a TOC byte plus 1275 bytes of payload
/// (RFC 6716 §3.2.1). A buffer this large never truncates [`Encoder::encode_into`].
pub const MAX_PACKET_BYTES: usize = 1276;

/// Packets this short carry no audio: Opus emits them in DTX (discontinuous transmission)
/// and they need not be sent (libopus documentation of `opus_encode`).
pub const DTX_MAX_BYTES: usize = 2;

/// The packet-loss hint a new encoder starts with: the lowest at which libopus 1.6
/// encodes in-band FEC at both 10 and 20 ms frames (measured by the codec tests).
pub const DEFAULT_LOSS_HINT_PERCENT: u8 = 10;

/// Lowest bitrate accepted in [`EncoderConfig::bitrate_bps`]: Opus' own floor for speech.
pub const MIN_BITRATE_BPS: u32 = 6_000;

/// Highest bitrate accepted in [`EncoderConfig::bitrate_bps`]: Opus' maximum for one channel.
pub const MAX_BITRATE_BPS: u32 = 510_000;

/// Everything that can go wrong while encoding or decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A PCM buffer was not exactly one frame long.
    #[error("expected exactly one frame of {expected} samples, got {actual}")]
    FrameSize {
        /// Samples in one frame of the codec's [`FrameDuration`].
        expected: usize,
        /// Samples in the buffer that was passed.
        actual: usize,
    },
    /// A packet holds a different duration of audio than the decoder's frame.
    #[error("packet holds {actual} samples, the decoder expects frames of {expected}")]
    PacketDuration {
        /// Samples in one frame of the decoder's [`FrameDuration`].
        expected: usize,
        /// Samples the packet decodes to.
        actual: usize,
    },
    /// An empty packet was passed to [`Decoder::decode`]; a lost frame goes to
    /// [`Decoder::conceal`] instead.
    #[error("empty packet (use conceal() for a lost frame)")]
    EmptyPacket,
    /// A setting is outside the range Opus accepts.
    #[error("{setting} = {value} is outside {min}..={max}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// The rejected value.
        value: u32,
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
    },
    /// libopus reported an error, for example a corrupt packet.
    #[error("libopus {function}: {message}")]
    Opus {
        /// The libopus function that failed.
        function: &'static str,
        /// libopus' description of the error.
        message: &'static str,
    },
}

impl From<opus::Error> for CodecError {
    fn from(error: opus::Error) -> Self {
        CodecError::Opus {
            function: error.function(),
            message: error.description(),
        }
    }
}

fn check_frame(frame: FrameDuration, actual: usize) -> Result<(), CodecError> {
    let expected = frame.samples();
    if actual == expected {
        Ok(())
    } else {
        Err(CodecError::FrameSize { expected, actual })
    }
}

fn check_range(setting: &'static str, value: u32, min: u32, max: u32) -> Result<(), CodecError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(CodecError::InvalidSetting {
            setting,
            value,
            min,
            max,
        })
    }
}

/// Encoder settings. The defaults are Salon's: 20 ms frames at 32 kb/s, high complexity,
/// FEC and DTX on, and a loss hint of [`DEFAULT_LOSS_HINT_PERCENT`] so FEC is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Audio per packet.
    pub frame: FrameDuration,
    /// Target bitrate in bits per second, [`MIN_BITRATE_BPS`]..=[`MAX_BITRATE_BPS`].
    pub bitrate_bps: u32,
    /// CPU effort, 0..=10: higher is better quality for more CPU.
    pub complexity: u8,
    /// Add in-band forward error correction (only while the loss hint is above 0 %).
    pub fec: bool,
    /// Discontinuous transmission: near-empty packets while the speaker is silent.
    pub dtx: bool,
    /// Expected packet loss, 0..=100 %, steering how much redundancy FEC spends.
    pub packet_loss_percent: u8,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            frame: FrameDuration::Ms20,
            bitrate_bps: 32_000,
            complexity: 9,
            fec: true,
            dtx: true,
            packet_loss_percent: DEFAULT_LOSS_HINT_PERCENT,
        }
    }
}

impl EncoderConfig {
    /// Checks every value against the range Opus accepts.
    pub fn validate(&self) -> Result<(), CodecError> {
        check_range(
            "bitrate_bps",
            self.bitrate_bps,
            MIN_BITRATE_BPS,
            MAX_BITRATE_BPS,
        )?;
        check_range("complexity", u32::from(self.complexity), 0, 10)?;
        check_range(
            "packet_loss_percent",
            u32::from(self.packet_loss_percent),
            0,
            100,
        )
    }
}

/// One encoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    /// The Opus packet.
    pub bytes: Vec<u8>,
    /// Opus produced a DTX packet (at most [`DTX_MAX_BYTES`] bytes): the speaker is
    /// silent and the packet need not be sent.
    pub dtx: bool,
    /// The packet carries in-band FEC for the previous frame ([`packet_has_fec`]); this
    /// is what a receiver's jitter buffer needs to know to ask for FEC recovery.
    pub fec: bool,
}

/// Whether an Opus packet carries in-band FEC (SILK LBRR data) for the frame before it.
///
/// The encoder decides per packet (it needs FEC on, a loss hint above 0 %, enough
/// bitrate and a SILK or hybrid mode), so the sender reads the answer off the packet.
/// The same test as libopus' `opus_packet_has_lbrr`: the LBRR flag follows the VAD
/// flags in the first bits of the first frame's SILK layer, coded as plain bits.
pub fn packet_has_fec(packet: &[u8]) -> bool {
    let Some(&toc) = packet.first() else {
        return false;
    };
    // TOC configurations 16..=31 are CELT-only, which has no LBRR.
    if toc >> 3 >= 16 {
        return false;
    }
    let first_byte = if toc & 0x3 == 0 {
        // Code 0, one frame: the only kind the encoder here produces.
        packet.get(1).copied()
    } else {
        opus::packet::parse(packet).ok().and_then(|parsed| {
            parsed
                .frames
                .first()
                .and_then(|frame| frame.first().copied())
        })
    };
    let Some(byte) = first_byte else {
        return false;
    };
    // One VAD flag per 20 ms SILK frame precedes the LBRR flag.
    let samples = opus::packet::get_samples_per_frame(packet, SAMPLE_RATE).unwrap_or(0);
    let silk_frames = (samples / 960).max(1) as u32;
    let stereo = toc & 0x4 != 0;
    let mid = (byte >> (7 - silk_frames)) & 1 == 1;
    let side = stereo && (byte >> (6 - 2 * silk_frames)) & 1 == 1;
    mid || side
}

/// A 48 kHz mono Opus encoder for one outgoing stream.
#[derive(Debug)]
pub struct Encoder {
    inner: opus::Encoder,
    config: EncoderConfig,
    lookahead_samples: usize,
    scratch: Box<[u8; MAX_PACKET_BYTES]>,
}

impl Encoder {
    /// Creates an encoder with `config`, rejecting out-of-range settings.
    pub fn new(config: EncoderConfig) -> Result<Self, CodecError> {
        config.validate()?;
        let mut inner =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        inner.set_signal(opus::Signal::Voice)?;
        inner.set_bitrate(opus::Bitrate::Bits(config.bitrate_bps as i32))?;
        inner.set_complexity(i32::from(config.complexity))?;
        inner.set_inband_fec(config.fec)?;
        inner.set_dtx(config.dtx)?;
        inner.set_packet_loss_perc(i32::from(config.packet_loss_percent))?;
        let lookahead_samples = usize::try_from(inner.get_lookahead()?).unwrap_or(0);
        Ok(Self {
            inner,
            config,
            lookahead_samples,
            scratch: Box::new([0; MAX_PACKET_BYTES]),
        })
    }

    /// The current settings.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The frame duration every [`Encoder::encode`] call must supply.
    pub fn frame(&self) -> FrameDuration {
        self.config.frame
    }

    /// The encoder's algorithmic delay (lookahead) in samples: decoded audio lags the
    /// input by this much, and it counts against the latency budget.
    pub fn lookahead_samples(&self) -> usize {
        self.lookahead_samples
    }

    /// The encoder's algorithmic delay as a duration.
    pub fn lookahead(&self) -> Duration {
        Duration::from_micros(self.lookahead_samples as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }

    /// Encodes exactly one frame of PCM (nominally -1.0..=1.0) into a new packet.
    pub fn encode(&mut self, pcm: &[f32]) -> Result<EncodedPacket, CodecError> {
        check_frame(self.config.frame, pcm.len())?;
        let len = self.inner.encode_float(pcm, &mut self.scratch[..])?;
        let bytes = self.scratch[..len].to_vec();
        Ok(EncodedPacket {
            dtx: len <= DTX_MAX_BYTES,
            fec: packet_has_fec(&bytes),
            bytes,
        })
    }

    /// Encodes exactly one frame of PCM into `out`, returning the packet length; a length
    /// of at most [`DTX_MAX_BYTES`] is a DTX packet. With `out` shorter than
    /// [`MAX_PACKET_BYTES`] Opus lowers the bitrate of this frame to fit.
    pub fn encode_into(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, CodecError> {
        check_frame(self.config.frame, pcm.len())?;
        Ok(self.inner.encode_float(pcm, out)?)
    }

    /// Sets the expected packet loss (0..=100 %), normally the listeners' reported loss.
    /// FEC is only encoded while this is above 0.
    pub fn set_packet_loss_percent(&mut self, percent: u8) -> Result<(), CodecError> {
        check_range("packet_loss_percent", u32::from(percent), 0, 100)?;
        self.inner.set_packet_loss_perc(i32::from(percent))?;
        self.config.packet_loss_percent = percent;
        Ok(())
    }

    /// Sets the target bitrate in bits per second.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError> {
        check_range("bitrate_bps", bitrate_bps, MIN_BITRATE_BPS, MAX_BITRATE_BPS)?;
        self.inner
            .set_bitrate(opus::Bitrate::Bits(bitrate_bps as i32))?;
        self.config.bitrate_bps = bitrate_bps;
        Ok(())
    }

    /// Forgets all history, as for a new stream; the settings stay.
    pub fn reset(&mut self) -> Result<(), CodecError> {
        Ok(self.inner.reset_state()?)
    }
}

/// A 48 kHz mono Opus decoder for one incoming stream.
#[derive(Debug)]
pub struct Decoder {
    inner: opus::Decoder,
    frame: FrameDuration,
}

impl Decoder {
    /// Creates a decoder for packets of `frame` duration.
    pub fn new(frame: FrameDuration) -> Result<Self, CodecError> {
        Ok(Self {
            inner: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)?,
            frame,
        })
    }

    /// The frame duration every packet and output buffer must have.
    pub fn frame(&self) -> FrameDuration {
        self.frame
    }

    /// Checks the output buffer and that `packet` holds exactly one frame.
    fn check(&self, packet: &[u8], out: &[f32]) -> Result<(), CodecError> {
        check_frame(self.frame, out.len())?;
        if packet.is_empty() {
            return Err(CodecError::EmptyPacket);
        }
        let expected = self.frame.samples();
        let actual = self.inner.get_nb_samples(packet)?;
        if actual != expected {
            return Err(CodecError::PacketDuration { expected, actual });
        }
        Ok(())
    }

    /// Decodes `packet` into `out`, which must be exactly one frame; returns the number of
    /// samples written (always one frame).
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, CodecError> {
        self.check(packet, out)?;
        Ok(self.inner.decode_float(packet, out, false)?)
    }

    /// Recovers the frame *before* `next_packet`, which was lost, from the in-band FEC
    /// that `next_packet` carries. If it carries none (FEC off, no loss hint at the
    /// sender, or a CELT-only packet), libopus conceals instead. Decode `next_packet`
    /// itself with [`Decoder::decode`] afterwards.
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [f32]) -> Result<usize, CodecError> {
        self.check(next_packet, out)?;
        Ok(self.inner.decode_float(next_packet, out, true)?)
    }

    /// Conceals one lost frame (packet loss concealment, extrapolated from the history).
    pub fn conceal(&mut self, out: &mut [f32]) -> Result<usize, CodecError> {
        check_frame(self.frame, out.len())?;
        Ok(self.inner.decode_float(&[], out, false)?)
    }

    /// Forgets all history, as for a new stream.
    pub fn reset(&mut self) -> Result<(), CodecError> {
        Ok(self.inner.reset_state()?)
    }
}
