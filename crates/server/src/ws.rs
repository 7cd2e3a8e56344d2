//! The WebSocket layer, kept in the server's hands so that a frame is encoded once and
//! written to many connections as it is.
//!
//! A room's audio goes to thousands of listeners unchanged. A WebSocket library that
//! owns each connection frames every message again for every socket; here the fan-out
//! builds one buffer holding the frame header and the payload, and each connection's
//! writer writes those shared bytes, all it has queued in one vectored write. The
//! upgrade is RFC 6455's handshake (the accept key comes from tungstenite), and incoming
//! frames are still parsed by tungstenite, reading through [`ReadSide`]: what
//! tungstenite itself has to send back (a pong, the answer to a close) is queued in the
//! connection's outbox as ready bytes, like everything else the server sends.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::outbox::Outbox;

/// An upgraded connection (plain TCP or TLS).
pub(crate) type Io = TokioIo<Upgraded>;

/// The incoming side of a connection, as tungstenite reads it.
pub(crate) type Incoming = WebSocketStream<ReadSide>;

/// Longest header of a frame the server sends (unmasked, 64-bit length).
pub(crate) const MAX_HEADER_LEN: usize = 10;

/// Frames written in one system call at most.
const SLICES_PER_WRITE: usize = 64;

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

/// Why an upgrade request was refused: the status, a header telling the client what
/// would work, and a sentence.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    hint: Option<(HeaderName, &'static str)>,
    message: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message).into_response();
        if let Some((name, value)) = self.hint {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

fn refuse(status: StatusCode, message: &'static str) -> Refusal {
    Refusal {
        status,
        hint: None,
        message,
    }
}

/// Checks a WebSocket upgrade request (HTTP/1.1, RFC 6455 section 4.2.1). Answers the
/// `101 Switching Protocols` response and what resolves to the connection once that
/// response is out; or why the request is refused.
pub(crate) fn accept(request: &mut Request) -> Result<(Response, OnUpgrade), Refusal> {
    if request.method() != Method::GET {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "WebSocket upgrades use GET",
        ));
    }
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return Err(Refusal {
            hint: Some((header::UPGRADE, "websocket")),
            ..refuse(
                StatusCode::UPGRADE_REQUIRED,
                "this endpoint speaks WebSocket only",
            )
        });
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(Refusal {
            hint: Some((header::SEC_WEBSOCKET_VERSION, "13")),
            ..refuse(
                StatusCode::BAD_REQUEST,
                "unsupported WebSocket version; this server speaks 13",
            )
        });
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"));
    };
    let accept = derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded (WebSocket needs HTTP/1.1)",
        ));
    };
    let response = (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "upgrade".to_owned()),
            (header::UPGRADE, "websocket".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response();
    Ok((response, on_upgrade))
}

/// Splits an upgraded connection: tungstenite reads the incoming frames (messages up to
/// `max_message` bytes), the returned half is for [`write_all`].
pub(crate) async fn split(
    io: Io,
    outbox: Arc<Outbox>,
    max_message: usize,
) -> (Incoming, WriteHalf<Io>) {
    let (read, write) = tokio::io::split(io);
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let side = ReadSide { read, outbox };
    let incoming = WebSocketStream::from_raw_socket(side, Role::Server, Some(config)).await;
    (incoming, write)
}

fn header_into(out: &mut BytesMut, opcode: OpCode, len: usize) {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut bytes = [0u8; MAX_HEADER_LEN];
    let mut cursor = io::Cursor::new(&mut bytes[..]);
    header
        .format(len as u64, &mut cursor)
        .expect("an unmasked header fits in 10 bytes");
    let written = cursor.position() as usize;
    out.put_slice(&bytes[..written]);
}

/// Appends the header of a binary frame of `len` payload bytes; the payload follows.
pub(crate) fn binary_header(out: &mut BytesMut, len: usize) {
    header_into(out, OpCode::Data(Data::Binary), len);
}

/// A whole text frame.
pub(crate) fn text(text: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(MAX_HEADER_LEN + text.len());
    header_into(&mut out, OpCode::Data(Data::Text), text.len());
    out.put_slice(text.as_bytes());
    out.freeze()
}

/// A whole close frame.
pub(crate) fn close(code: u16, reason: &str) -> Bytes {
    let frame = Frame::close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }));
    let mut out = Vec::with_capacity(frame.len());
    frame
        .format(&mut out)
        .expect("formatting into a Vec cannot fail");
    Bytes::from(out)
}

/// Writes every buffer of `batch` in order, as few system calls as the kernel allows,
/// and empties it.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    out: &mut W,
    batch: &mut Vec<Bytes>,
) -> io::Result<()> {
    let mut first = 0;
    let mut offset = 0;
    while first < batch.len() {
        let mut slices = [IoSlice::new(&[]); SLICES_PER_WRITE];
        let mut count = 0;
        for (n, bytes) in batch[first..].iter().take(SLICES_PER_WRITE).enumerate() {
            let skip = if n == 0 { offset } else { 0 };
            slices[n] = IoSlice::new(&bytes[skip..]);
            count += 1;
        }
        let mut written = out.write_vectored(&slices[..count]).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let left = batch[first].len() - offset;
            if written >= left {
                written -= left;
                first += 1;
                offset = 0;
            } else {
                offset += written;
                written = 0;
            }
        }
    }
    batch.clear();
    out.flush().await
}

/// What tungstenite reads from and writes to: the socket's reading half, and the
/// connection's outbox for the frames tungstenite sends on its own (it writes whole
/// frames, and every write is accepted at once, so none is split).
#[derive(Debug)]
pub(crate) struct ReadSide {
    read: ReadHalf<Io>,
    outbox: Arc<Outbox>,
}

impl AsyncRead for ReadSide {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadSide {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.outbox.push_text(Bytes::copy_from_slice(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_encoded_as_rfc_6455_says() {
        let short = text("hi");
        assert_eq!(&short[..], b"\x81\x02hi");
        let mut medium = BytesMut::new();
        binary_header(&mut medium, 300);
        assert_eq!(&medium[..], &[0x82, 126, 0x01, 0x2c]);
        let mut long = BytesMut::new();
        binary_header(&mut long, 70_000);
        assert_eq!(&long[..], &[0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]);
        assert_eq!(&close(4000, "slow")[..], b"\x88\x06\x0f\xa0slow");
    }

    #[tokio::test]
    async fn a_batch_is_written_whole_even_in_small_pieces() {
        let (mut client, server) = tokio::io::duplex(7);
        let mut batch: Vec<Bytes> = (0..50u8).map(|n| Bytes::from(vec![n; 5])).collect();
        let expected: Vec<u8> = batch.iter().flat_map(|b| b.to_vec()).collect();
        let writer = tokio::spawn(async move {
            let mut server = server;
            write_all(&mut server, &mut batch)
                .await
                .map(|()| batch.len())
        });
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap_or_default();
        assert_eq!(writer.await.ok().and_then(Result::ok), Some(0));
        assert_eq!(got, expected);
    }
}
