//! One WebSocket to the server: opening it (`ws://`, or `wss://` through rustls with the
//! ring provider, the system's root certificates and any extra ones the configuration
//! names), and the writer task that owns its sending half.
//!
//! The writer takes control messages from an unbounded channel (they are never dropped:
//! the server relies on every request arriving) and audio frames from the client's
//! drop-oldest queue, always control first, so a burst of audio can delay a request by at
//! most the one frame being written, and a slow socket never blocks the audio producer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use rustls_pki_types::CertificateDer;
use salon_proto::limits::MAX_SERVER_MESSAGE_BYTES;
use salon_proto::{ClientEnvelope, WS_PATH};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::audio::DropOldest;
use crate::{ClientError, Result};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The receiving half of the socket.
pub(crate) type Incoming = SplitStream<Socket>;

/// `ws://HOST[:PORT]` or `wss://…`, with the protocol's path added when none is given.
pub(crate) fn normalize_url(url: &str) -> Result<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| ClientError::BadUrl(url.to_owned()))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ClientError::BadUrl(url.to_owned()));
    }
    Ok(match rest.find('/') {
        None => format!("{url}{WS_PATH}"),
        Some(at) if rest[at..] == *"/" => format!("{}{WS_PATH}", url.trim_end_matches('/')),
        Some(_) => url.to_owned(),
    })
}

/// The TLS settings for `wss://`: ring (the workspace's one provider), the system's
/// roots plus `extra_roots` (DER).
fn tls_config(extra_roots: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        tracing::debug!(errors = ?native.errors, "some system root certificates were unreadable");
    }
    roots.add_parsable_certificates(native.certs);
    for der in extra_roots {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|err| {
                ClientError::InvalidArgument(format!("extra root certificate: {err}"))
            })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::InvalidArgument(format!("TLS: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An open connection: the receiving half and a way to send.
#[derive(Debug)]
pub(crate) struct Transport {
    pub(crate) incoming: Incoming,
    control: mpsc::UnboundedSender<Message>,
    writer: Option<JoinHandle<()>>,
}

impl Transport {
    /// Connects to `url` within `timeout`. Audio for this connection is taken from
    /// `audio_out`.
    pub(crate) async fn open(
        url: &str,
        extra_roots: &[Vec<u8>],
        timeout: Duration,
        audio_out: Arc<DropOldest<Bytes>>,
    ) -> Result<Self> {
        let config = WebSocketConfig::default()
            // Room snapshots of big rooms may exceed the client's own 256 KiB limit.
            .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES + 1024))
            .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES + 1024));
        let connector = if url.starts_with("wss://") {
            Some(Connector::Rustls(tls_config(extra_roots)?))
        } else {
            None
        };
        let connect =
            tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector);
        let socket = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok((socket, _response))) => socket,
            Ok(Err(err)) => {
                return Err(ClientError::Connect {
                    url: url.to_owned(),
                    reason: err.to_string(),
                });
            }
            Err(_) => {
                return Err(ClientError::Connect {
                    url: url.to_owned(),
                    reason: format!("no answer within {timeout:?}"),
                });
            }
        };
        let (sink, incoming) = socket.split();
        let (control, control_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(sink, control_rx, audio_out));
        Ok(Self {
            incoming,
            control,
            writer: Some(writer),
        })
    }

    /// Queues a request. False when the writer has stopped (the connection is gone).
    pub(crate) fn send(&self, envelope: &ClientEnvelope) -> bool {
        self.control.send(Message::text(envelope.to_json())).is_ok()
    }

    /// Queues a WebSocket ping (liveness, without using the request rate limit).
    pub(crate) fn ping(&self) -> bool {
        self.control.send(Message::Ping(Bytes::new())).is_ok()
    }

    /// Says goodbye with a normal close and waits (briefly) for it to be written.
    pub(crate) async fn close(mut self) {
        let _ = self.control.send(Message::Close(None));
        if let Some(writer) = self.writer.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // A dead connection's writer must not keep taking frames from the shared queue.
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
    }
}

async fn write_loop(
    mut sink: SplitSink<Socket, Message>,
    mut control: mpsc::UnboundedReceiver<Message>,
    audio: Arc<DropOldest<Bytes>>,
) {
    let mut audio_open = true;
    loop {
        let message = tokio::select! {
            biased;
            message = control.recv() => match message {
                Some(message) => message,
                None => {
                    let _ = sink.close().await;
                    return;
                }
            },
            frame = audio.pop(), if audio_open => match frame {
                Some(frame) => Message::Binary(frame),
                None => {
                    audio_open = false;
                    continue;
                }
            },
        };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_protocol_path() {
        let ok = |url: &str| normalize_url(url).unwrap();
        assert_eq!(ok("ws://127.0.0.1:7300"), "ws://127.0.0.1:7300/v1/ws");
        assert_eq!(ok("ws://127.0.0.1:7300/"), "ws://127.0.0.1:7300/v1/ws");
        assert_eq!(ok("wss://salon.example/v1/ws"), "wss://salon.example/v1/ws");
        for bad in ["http://x", "ws://", "127.0.0.1:7300", "ws:///path"] {
            assert!(
                matches!(normalize_url(bad), Err(ClientError::BadUrl(_))),
                "{bad}"
            );
        }
    }
}
