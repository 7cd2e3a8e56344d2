//! Logging benchmark connections in and putting them in a room, over [`crate::wire`].
//!
//! Each benchmark connection is a real account with its own Ed25519 device key, logged
//! in by the signed transcript like any client. Replies are matched by request id; the
//! events that arrive in between (room deltas of other people joining) are skipped. A
//! `joined` reply carries the whole room, which for thousands of members is a megabyte
//! of JSON: only its envelope is read, never the member list.

use std::net::SocketAddr;

use anyhow::{Context as _, anyhow, bail};
use ed25519_dalek::{Signer as _, SigningKey};
use salon_proto::auth::{self, Purpose};
use salon_proto::room::Visibility;
use salon_proto::{
    ClientEnvelope, ClientRequest, Handle, PROTOCOL_VERSION, PublicKey, Reply, RoomId,
    ServerMessage, Signature, UserId, WS_PATH,
};
use serde::Deserialize;

use crate::wire::{self, Reader, Writer};

/// A logged-in benchmark connection.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) reader: Reader,
    pub(crate) writer: Writer,
    pub(crate) user: UserId,
    next_id: u32,
}

/// Just enough of a server message to match it to a request.
#[derive(Debug, Deserialize)]
struct Head {
    #[serde(default)]
    re: Option<u32>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl Session {
    /// Connects and registers a new account `handle`.
    pub(crate) async fn register(addr: SocketAddr, handle: &str) -> anyhow::Result<Session> {
        let (reader, writer) = wire::connect(addr, WS_PATH).await?;
        let mut session = Session {
            reader,
            writer,
            user: UserId::from_bytes([0; 16]),
            next_id: 1,
        };
        let welcome = session
            .request(ClientRequest::Hello {
                version: PROTOCOL_VERSION,
                client: concat!("salon-bench/", env!("CARGO_PKG_VERSION")).into(),
            })
            .await?;
        let Reply::Welcome { nonce, .. } = welcome else {
            bail!("expected welcome, got {welcome:?}");
        };
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let device_key = PublicKey(key.verifying_key().to_bytes());
        let handle = Handle::parse(handle).map_err(|e| anyhow!("handle {handle:?}: {e}"))?;
        let transcript = auth::transcript(Purpose::Register, &nonce, &handle, &device_key);
        let signature = Signature(key.sign(&transcript).to_bytes());
        let reply = session
            .request(ClientRequest::Register {
                display_name: handle.as_str().to_owned(),
                handle,
                device_key,
                invite: None,
                signature,
            })
            .await?;
        let Reply::Authenticated { user, .. } = reply else {
            bail!("expected authenticated, got {reply:?}");
        };
        session.user = user;
        Ok(session)
    }

    /// Sends a request and waits for its reply, decoded in full.
    pub(crate) async fn request(&mut self, request: ClientRequest) -> anyhow::Result<Reply> {
        let text = self.exchange(request).await?;
        match ServerMessage::from_json(&text)? {
            ServerMessage::Reply(envelope) => match envelope.reply {
                Reply::Error(error) => Err(anyhow!("{}: {}", error.code.as_str(), error.message)),
                reply => Ok(reply),
            },
            ServerMessage::Event(_) => unreachable!("exchange returns replies only"),
        }
    }

    /// Sends a request and waits for its reply; answers the reply's `type` only (for
    /// replies too large to be worth decoding).
    pub(crate) async fn request_kind(&mut self, request: ClientRequest) -> anyhow::Result<String> {
        let text = self.exchange(request).await?;
        let head: Head = serde_json::from_str(&text)?;
        if head.kind == "error" {
            bail!(
                "{}: {}",
                head.code.unwrap_or_default(),
                head.message.unwrap_or_default()
            );
        }
        Ok(head.kind)
    }

    async fn exchange(&mut self, request: ClientRequest) -> anyhow::Result<String> {
        let id = self.next_id;
        self.next_id += 1;
        let name = request.type_name();
        self.writer
            .send_text(&ClientEnvelope::new(id, request).to_json())
            .await?;
        loop {
            let text = self
                .reader
                .next_text()
                .await
                .with_context(|| format!("waiting for the reply to {name}"))?;
            let head: Head = serde_json::from_str(&text)
                .with_context(|| format!("unreadable server message {text:.200}"))?;
            if head.re == Some(id) {
                return Ok(text);
            }
            if head.re.is_some() {
                bail!("reply to an unknown request: {text:.200}");
            }
        }
    }

    /// Creates a public room and joins it as its host (on stage, unmuted).
    pub(crate) async fn host_room(&mut self, title: &str) -> anyhow::Result<RoomId> {
        let reply = self
            .request(ClientRequest::CreateRoom {
                title: title.into(),
                visibility: Visibility::Public,
            })
            .await?;
        let Reply::RoomCreated { room } = reply else {
            bail!("expected room_created, got {reply:?}");
        };
        self.join(room).await?;
        Ok(room)
    }

    /// Joins `room` (in the audience).
    pub(crate) async fn join(&mut self, room: RoomId) -> anyhow::Result<()> {
        let kind = self.request_kind(ClientRequest::JoinRoom { room }).await?;
        if kind != "joined" {
            bail!("expected joined, got {kind}");
        }
        Ok(())
    }
}
