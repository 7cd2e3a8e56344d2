//! A deliberately small WebSocket client (RFC 6455) for thousands of benchmark
//! connections in one process.
//!
//! The fan-out benchmark needs listeners that cost far less than the server they
//! measure, on the same two cores. A full client (tungstenite, the client core) parses
//! and copies every message; this one reads whole socket buffers and walks the frames in
//! place: a binary frame is a header check and a few loads, a text frame is skipped
//! unless the caller asks for it. It speaks exactly what a Salon server sends: unmasked,
//! unfragmented frames, no extensions. It is a measuring instrument, not a client.

use std::net::SocketAddr;

use anyhow::{Context as _, bail, ensure};
use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Opcodes of the frames this client handles.
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Most bytes one server message may have (a snapshot of a full room is about 1 MB).
const MAX_MESSAGE: usize = 8 << 20;

/// One received message, borrowing the read buffer.
#[derive(Debug)]
pub(crate) enum Incoming<'a> {
    /// A text message (JSON control message), not read by the fan-out benchmark.
    Text,
    /// A binary message (an audio frame).
    Binary(&'a [u8]),
    /// A ping, pong or other control frame that needs no answer here.
    Control,
    /// The server closed the connection.
    Closed,
}

/// The reading half: a socket and the bytes read but not yet consumed.
#[derive(Debug)]
pub(crate) struct Reader {
    socket: OwnedReadHalf,
    buf: BytesMut,
}

/// The writing half.
#[derive(Debug)]
pub(crate) struct Writer {
    socket: OwnedWriteHalf,
    out: Vec<u8>,
    mask_seed: u32,
}

/// Opens a WebSocket to `ws://addr/path`.
pub(crate) async fn connect(addr: SocketAddr, path: &str) -> anyhow::Result<(Reader, Writer)> {
    let socket = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    socket.set_nodelay(true)?;
    let (read, mut write) = socket.into_split();
    // A fixed key is fine: the accept value only proves the server speaks WebSocket,
    // which the 101 status already tells this client.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    write.write_all(request.as_bytes()).await?;
    let mut reader = Reader {
        socket: read,
        buf: BytesMut::with_capacity(8 * 1024),
    };
    let end = loop {
        if let Some(end) = find(&reader.buf, b"\r\n\r\n") {
            break end + 4;
        }
        ensure!(reader.buf.len() < 16 * 1024, "HTTP response head too long");
        reader.fill().await?;
    };
    let head = String::from_utf8_lossy(&reader.buf[..end]).into_owned();
    ensure!(
        head.starts_with("HTTP/1.1 101"),
        "the server refused the WebSocket upgrade: {}",
        head.lines().next().unwrap_or_default()
    );
    reader.buf.advance(end);
    let writer = Writer {
        socket: write,
        out: Vec::with_capacity(256),
        mask_seed: rand::random(),
    };
    Ok((reader, writer))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where one complete frame sits in the buffer.
struct FrameAt {
    opcode: u8,
    payload: std::ops::Range<usize>,
}

/// The first complete frame in `buf`, `Ok(None)` when more bytes are needed.
fn parse(buf: &[u8]) -> anyhow::Result<Option<FrameAt>> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    ensure!(
        b0 & 0x80 != 0,
        "fragmented message (not sent by a Salon server)"
    );
    ensure!(b0 & 0x70 == 0, "frame with reserved bits set");
    ensure!(b1 & 0x80 == 0, "masked frame from the server");
    let (len, head) = match b1 & 0x7f {
        126 => {
            let Some(ext) = buf.get(2..4) else {
                return Ok(None);
            };
            (usize::from(u16::from_be_bytes([ext[0], ext[1]])), 4)
        }
        127 => {
            let Some(ext) = buf.get(2..10) else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(ext.try_into().expect("8 bytes"));
            (usize::try_from(len).unwrap_or(usize::MAX), 10)
        }
        len => (usize::from(len), 2),
    };
    ensure!(len <= MAX_MESSAGE, "message of {len} bytes");
    if buf.len() < head + len {
        return Ok(None);
    }
    Ok(Some(FrameAt {
        opcode: b0 & 0x0f,
        payload: head..head + len,
    }))
}

impl Reader {
    /// Reads more bytes from the socket; an error at end of stream.
    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(64 * 1024);
        }
        let n = self.socket.read_buf(&mut self.buf).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }

    /// Reads until at least one whole message is buffered, then calls `each` for every
    /// whole message buffered (in order). Returns how many messages were handled, or an
    /// error when the socket fails or ends.
    pub(crate) async fn read_batch(
        &mut self,
        mut each: impl FnMut(Incoming<'_>),
    ) -> anyhow::Result<usize> {
        loop {
            let mut handled = 0;
            let mut used = 0;
            while let Some(frame) = parse(&self.buf[used..])? {
                let payload = &self.buf[used + frame.payload.start..used + frame.payload.end];
                match frame.opcode {
                    OP_TEXT => each(Incoming::Text),
                    OP_BINARY => each(Incoming::Binary(payload)),
                    OP_CLOSE => each(Incoming::Closed),
                    OP_PING | OP_PONG => each(Incoming::Control),
                    other => bail!("unexpected opcode {other}"),
                }
                used += frame.payload.end;
                handled += 1;
            }
            self.buf.advance(used);
            if handled > 0 {
                return Ok(handled);
            }
            self.fill().await?;
        }
    }

    /// Gives a buffer that grew for a big message (a room snapshot) back to the
    /// allocator, keeping what is not consumed yet. Thousands of idle connections would
    /// otherwise each hold a megabyte.
    pub(crate) fn shrink(&mut self) {
        if self.buf.capacity() > 64 * 1024 && self.buf.len() < 16 * 1024 {
            let mut fresh = BytesMut::with_capacity(8 * 1024);
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        }
    }

    /// The next text message, skipping binary frames. Fails on close.
    pub(crate) async fn next_text(&mut self) -> anyhow::Result<String> {
        loop {
            let mut text = None;
            let mut closed = None;
            // One message at a time, so nothing after the wanted text is consumed.
            loop {
                let Some(frame) = parse(&self.buf)? else {
                    break;
                };
                let payload = &self.buf[frame.payload.clone()];
                match frame.opcode {
                    OP_TEXT => text = Some(String::from_utf8(payload.to_vec())?),
                    OP_CLOSE => {
                        closed = Some(payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]])))
                    }
                    _ => {}
                }
                let end = frame.payload.end;
                self.buf.advance(end);
                if text.is_some() || closed.is_some() {
                    break;
                }
            }
            if let Some(code) = closed {
                bail!("the server closed the connection (code {code:?})");
            }
            if let Some(text) = text {
                return Ok(text);
            }
            self.fill().await?;
        }
    }
}

impl Writer {
    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        self.out.clear();
        self.out.push(0x80 | opcode);
        match payload.len() {
            len @ 0..=125 => self.out.push(0x80 | len as u8),
            len @ 126..=0xffff => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        // Clients must mask (RFC 6455 5.3); a cheap varying key is enough here.
        self.mask_seed = self
            .mask_seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let key = self.mask_seed.to_be_bytes();
        self.out.extend_from_slice(&key);
        self.out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, byte)| byte ^ key[i % 4]),
        );
    }

    /// Sends one text message.
    pub(crate) async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.frame(OP_TEXT, text.as_bytes());
        self.socket.write_all(&self.out).await?;
        Ok(())
    }

    /// Sends one binary message.
    pub(crate) async fn send_binary(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.frame(OP_BINARY, bytes);
        self.socket.write_all(&self.out).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_length_forms_and_waits_for_whole_frames() {
        let short = [0x82, 3, 1, 2, 3];
        let frame = parse(&short).unwrap().unwrap();
        assert_eq!((frame.opcode, frame.payload), (OP_BINARY, 2..5));
        assert!(parse(&short[..4]).unwrap().is_none());

        let mut medium = vec![0x81, 126, 0x01, 0x00];
        medium.extend(std::iter::repeat_n(b'x', 256));
        let frame = parse(&medium).unwrap().unwrap();
        assert_eq!((frame.opcode, frame.payload), (OP_TEXT, 4..260));
        assert!(parse(&medium[..259]).unwrap().is_none());

        let mut long = vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        long.extend(std::iter::repeat_n(0u8, 65_536));
        let frame = parse(&long).unwrap().unwrap();
        assert_eq!(frame.payload, 10..10 + 65_536);
    }

    #[test]
    fn refuses_what_a_salon_server_never_sends() {
        assert!(parse(&[0x02, 1, 0]).is_err(), "fragment");
        assert!(parse(&[0x82, 0x81, 0, 0, 0, 0, 0]).is_err(), "masked");
        assert!(parse(&[0xC2, 1, 0]).is_err(), "reserved bit");
    }
}
