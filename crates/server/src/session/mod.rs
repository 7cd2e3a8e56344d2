//! One WebSocket connection: the handshake, login, and every request after it.
//!
//! This file holds the connection loop and the dispatch; the requests themselves are
//! answered in `accounts` (login, devices, invites, profiles), `rooms` (rooms and the
//! stage) and `mls` (the MLS delivery service).
//!
//! A connection moves through three phases: waiting for `hello`, anonymous (may
//! register, log in or ask to link a device), and logged in. The reader task handles
//! requests one at a time and answers each with exactly one reply; a writer task drains
//! the connection's [`Outbox`], writing the whole frames queued there ([`crate::ws`]). Nothing a peer sends can crash the server: every
//! decoding or validation failure becomes an `error` reply with a stable code, and only
//! persistent abuse (floods, repeated protocol violations) closes the connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use rand::RngCore;
use rand::rngs::OsRng;
use salon_proto::frame::{self, FrameKind};
use salon_proto::{
    ClientEnvelope, ClientRequest, ErrorBody, ErrorCode, Handle, Nonce, PROTOCOL_VERSION, Reply,
    ReplyEnvelope, RoomId, close,
};

use crate::hub::{Hub, Peer};
use crate::limiter::TokenBucket;
use crate::metrics::bump;
use crate::outbox::{Closing, Next, Outbox};
use crate::rooms::{Action, Deliveries};
use crate::store::StoreError;
use crate::ws::{self, Io};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

/// Time allowed between connecting and `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Control messages: burst and steady rate per connection.
const CONTROL_BURST: u32 = 50;
const CONTROL_PER_SECOND: f64 = 20.0;
/// Refused control messages in a row before the connection is closed as a flood.
const FLOOD_STRIKES: u32 = 100;
/// Audio frames: burst and steady rate per connection (10 ms frames are 100/s).
const AUDIO_BURST: u32 = 200;
const AUDIO_PER_SECOND: f64 = 120.0;
/// Key package stock below which a device is told to publish more.
const LOW_KEY_PACKAGES: u32 = 10;
/// Most mailbox messages in one `mls_batch`.
const MAX_FETCH: u16 = 500;

mod accounts;
mod mls;
mod rooms;

type Outcome = Result<Reply, ErrorBody>;

fn fail(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(code, message)
}

/// A retry hint in whole milliseconds, rounded up so that obeying it always works.
fn retry_ms(wait: Duration) -> u32 {
    wait.as_micros()
        .div_ceil(1000)
        .clamp(1, u128::from(u32::MAX)) as u32
}

fn random_16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn internal(err: StoreError) -> ErrorBody {
    tracing::error!(%err, "store failure");
    fail(
        ErrorCode::Internal,
        "the server could not complete this; try again",
    )
}

/// Who is on this connection.
#[derive(Debug)]
enum Phase {
    AwaitHello,
    Anonymous { nonce: Nonce },
    LoggedIn(Arc<Peer>),
}

struct Session {
    hub: Arc<Hub>,
    conn: u64,
    outbox: Arc<Outbox>,
    phase: Phase,
    /// The logged-in account's handle and current display name.
    account: Option<(Handle, String)>,
    /// The room this connection is in (one at a time).
    room: Option<RoomId>,
    /// The id of the request being handled.
    current: Option<u32>,
    /// Whether the current request's reply was already queued (room changes queue the
    /// reply and their events together, under the rooms lock, so every member sees
    /// versions in order).
    replied: bool,
    /// Events caused by the current request, sent right after its reply.
    after_reply: Deliveries,
    /// Rooms whose membership the current request may have changed.
    touched: Vec<RoomId>,
    control: TokenBucket,
    audio: TokenBucket,
    strikes: u32,
}

/// Serves one upgraded WebSocket until it closes; incoming messages may be up to
/// `max_message` bytes.
pub(crate) async fn serve(hub: Arc<Hub>, io: Io, max_message: usize) {
    let outbox = Arc::new(Outbox::new(
        hub.config.audio_queue_frames,
        hub.metrics.clone(),
    ));
    let (mut stream, mut sink) = ws::split(io, outbox.clone(), max_message).await;
    let conn = hub.connect(outbox.clone());
    let writer_outbox = outbox.clone();
    let mut writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        loop {
            match writer_outbox.next_batch(&mut batch).await {
                Next::Frames => {
                    if ws::write_all(&mut sink, &mut batch).await.is_err() {
                        return;
                    }
                }
                Next::Close(Closing::Frame(code, reason)) => {
                    let mut last = vec![ws::close(code, reason)];
                    if ws::write_all(&mut sink, &mut last).await.is_ok() {
                        let _ = sink.shutdown().await;
                    }
                    return;
                }
            }
        }
    });

    let now = Instant::now();
    let mut session = Session {
        hub: hub.clone(),
        conn,
        outbox: outbox.clone(),
        phase: Phase::AwaitHello,
        account: None,
        room: None,
        current: None,
        replied: false,
        after_reply: Vec::new(),
        touched: Vec::new(),
        control: TokenBucket::new(CONTROL_BURST, CONTROL_PER_SECOND, now),
        audio: TokenBucket::new(AUDIO_BURST, AUDIO_PER_SECOND, now),
        strikes: 0,
    };
    let hello_deadline = tokio::time::sleep(HELLO_TIMEOUT);
    tokio::pin!(hello_deadline);
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => session.on_text(text.as_str()).await,
                Some(Ok(Message::Binary(bytes))) => session.on_binary(bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            _ = &mut hello_deadline, if matches!(session.phase, Phase::AwaitHello) => {
                outbox.close(close::HANDSHAKE_TIMEOUT, "no hello in time");
            }
            _ = &mut writer => break,
        }
    }
    session.leave_current_room(true);
    let left = std::mem::take(&mut session.touched);
    hub.persist_rooms(&left).await;
    let user = match &session.phase {
        Phase::LoggedIn(peer) => Some(peer.user),
        _ => None,
    };
    hub.disconnect(conn, user);
    outbox.close(1000, "goodbye");
    if !writer.is_finished() {
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    }
}

impl Session {
    fn reply(&self, re: Option<u32>, reply: Reply) {
        let envelope = ReplyEnvelope { re, reply };
        self.outbox.push_text(ws::text(&envelope.to_json()));
    }

    fn refuse(&mut self, re: Option<u32>, error: ErrorBody) {
        self.hub.metrics.reject(error.code);
        self.reply(re, Reply::Error(error));
    }

    async fn on_text(&mut self, text: &str) {
        if let Err(wait) = self.control.take(Instant::now()) {
            self.strikes += 1;
            if self.strikes >= FLOOD_STRIKES {
                self.outbox.close(close::FLOOD, "too many requests");
                return;
            }
            let id = ClientEnvelope::from_json(text).ok().map(|e| e.id);
            let mut error = fail(ErrorCode::RateLimited, "too many requests; slow down");
            error.retry_after_ms = Some(retry_ms(wait));
            self.refuse(id, error);
            return;
        }
        self.strikes = 0;
        match ClientEnvelope::from_json(text) {
            Ok(envelope) => {
                self.current = Some(envelope.id);
                self.replied = false;
                let outcome = self.handle(envelope.request).await;
                match outcome {
                    Ok(_) if self.replied => {}
                    Ok(reply) => self.reply(Some(envelope.id), reply),
                    Err(error) => self.refuse(Some(envelope.id), error),
                }
                self.hub.deliver(std::mem::take(&mut self.after_reply));
                let touched = std::mem::take(&mut self.touched);
                for room in &touched {
                    self.hub.sync_wire(*room);
                }
                self.hub.persist_rooms(&touched).await;
            }
            Err(err) => self.refuse(err.request_id(), err.to_error_body()),
        }
    }

    fn on_binary(&mut self, bytes: Bytes) {
        let metrics = &self.hub.metrics;
        let (Phase::LoggedIn(peer), Some(room)) = (&self.phase, self.room) else {
            bump(&metrics.audio_rejected);
            return;
        };
        if self.audio.take(Instant::now()).is_err() {
            bump(&metrics.audio_rejected);
            return;
        }
        let header = match frame::decode(&bytes) {
            Ok(frame) if frame.header.kind == FrameKind::Audio => frame.header,
            _ => {
                bump(&metrics.audio_rejected);
                return;
            }
        };
        let Some(stream) = self.hub.rooms().audio_sender(room, peer.user) else {
            bump(&metrics.audio_rejected);
            return;
        };
        // The WebSocket frame every listener gets: header, then the audio frame with the
        // sender's stream id stamped in.
        let mut stamped = BytesMut::with_capacity(ws::MAX_HEADER_LEN + bytes.len());
        ws::binary_header(&mut stamped, bytes.len());
        let at = stamped.len();
        stamped.extend_from_slice(&bytes);
        if frame::stamp_stream(&mut stamped[at..], stream).is_err() {
            return;
        }
        let level = (header.level.dbov(), header.level.voice);
        self.hub
            .fan_out(room, peer.user, stream, stamped.freeze(), level);
    }

    async fn handle(&mut self, request: ClientRequest) -> Outcome {
        if self.hub.shutting_down() {
            return Err(fail(ErrorCode::ShuttingDown, "the server is shutting down"));
        }
        match (&self.phase, request) {
            (Phase::AwaitHello, ClientRequest::Hello { version, .. }) => self.hello(version),
            (Phase::AwaitHello, _) => Err(fail(ErrorCode::HelloRequired, "send hello first")),
            (_, ClientRequest::Hello { .. }) => {
                Err(fail(ErrorCode::HelloRequired, "hello was already sent"))
            }
            (_, ClientRequest::Ping) => Ok(Reply::Pong),
            (Phase::Anonymous { nonce }, request) => {
                let nonce = *nonce;
                self.anonymous(nonce, request).await
            }
            (Phase::LoggedIn(peer), request) => {
                let peer = peer.clone();
                self.logged_in(peer, request).await
            }
        }
    }

    fn hello(&mut self, version: u16) -> Outcome {
        if version != PROTOCOL_VERSION {
            return Err(fail(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks protocol {PROTOCOL_VERSION}; update Salon"),
            ));
        }
        let mut nonce = [0u8; 32];
        OsRng.fill_bytes(&mut nonce);
        let nonce = Nonce(nonce);
        self.phase = Phase::Anonymous { nonce };
        Ok(Reply::Welcome {
            version: PROTOCOL_VERSION,
            server: concat!("salon-server/", env!("CARGO_PKG_VERSION")).into(),
            nonce,
        })
    }
    /// Answers a request from a logged-in device.
    async fn logged_in(&mut self, peer: Arc<Peer>, request: ClientRequest) -> Outcome {
        if let Some(action) = Action::from_request(&request) {
            if matches!(action, Action::End { room } if self.room == Some(room)) {
                self.room = None;
            }
            return self.act(&peer, action);
        }
        match request {
            ClientRequest::Register { .. }
            | ClientRequest::Authenticate { .. }
            | ClientRequest::LinkDevice { .. } => Err(fail(
                ErrorCode::AlreadyAuthenticated,
                "this connection is already logged in",
            )),
            ClientRequest::ApproveDevice { .. }
            | ClientRequest::RevokeDevice { .. }
            | ClientRequest::ListDevices
            | ClientRequest::ListUserDevices { .. }
            | ClientRequest::CreateInvite { .. }
            | ClientRequest::GetProfile { .. }
            | ClientRequest::UpdateProfile { .. } => self.account_request(&peer, request).await,
            ClientRequest::CreateRoom { .. }
            | ClientRequest::ListRooms { .. }
            | ClientRequest::JoinRoom { .. }
            | ClientRequest::LeaveRoom { .. }
            | ClientRequest::GetSnapshot { .. } => self.room_request(peer, request),
            ClientRequest::PublishKeyPackages { .. }
            | ClientRequest::ClaimKeyPackages { .. }
            | ClientRequest::MlsSend { .. }
            | ClientRequest::MlsAck { .. }
            | ClientRequest::MlsFetch { .. } => self.mls_request(&peer, request).await,
            other => Err(fell_through(&other)),
        }
    }
}

/// The answer for a request that reached a handler not meant for it: `hello` and `ping`
/// are answered before the phase split, stage actions through `Action::from_request`,
/// so this never happens unless dispatch and handlers disagree.
fn fell_through(request: &ClientRequest) -> ErrorBody {
    tracing::error!(
        request = request.type_name(),
        "request fell through dispatch"
    );
    fail(
        ErrorCode::Internal,
        "the server could not handle this request",
    )
}
