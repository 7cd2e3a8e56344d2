//! One live, logged-in (or about to log in) connection: sends requests and matches
//! their replies, follows the room from snapshot and deltas, passes events and audio
//! on, and notices when the connection has died.
//!
//! The server answers a connection's requests in order, one reply each, and queues the
//! events a request causes right after its reply. Everything here runs on one task in
//! arrival order, so the room state is always updated before the events that follow a
//! reply are looked at. On a new connection the session first re-sends what the
//! previous one had established (rejoin the room, fetch the MLS mailbox) before any
//! request from the handle, so those cannot be overtaken.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use salon_proto::frame::{FrameHeader, HEADER_LEN};
use salon_proto::{
    ClientEnvelope, ClientRequest, DecodeError, ErrorCode, Reply, RequestId, RoomId, ServerMessage,
    close,
};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

mod events;
mod replies;
mod room;

use super::handshake::login_request;
use super::levels::LevelsThrottle;
use super::mls::MlsInbox;
use super::transport::Transport;
use super::{Command, Live};
use crate::audio::IncomingFrame;
use crate::room::RoomView;
use crate::shared::Shared;
use crate::store::Account;
use crate::{ClientError, ClientEvent, ConnectionState, OfflineReason, Result};

/// How often the connection is probed with a WebSocket ping.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Silence after which the connection is taken for dead.
const DEAD_AFTER: Duration = Duration::from_secs(15);

/// Why a session ended.
#[derive(Debug)]
pub(super) enum SessionEnd {
    /// Told to stop (`done` answers the caller of `shutdown`).
    Shutdown(Option<oneshot::Sender<()>>),
    /// The server will not take this device back (close 4004).
    Ended(OfflineReason),
    /// The connection dropped: reconnect, no sooner than `floor`.
    Dropped {
        floor: Option<Duration>,
        flooded: bool,
    },
}

/// What a request in flight is, so its reply can be routed and applied.
#[derive(Debug)]
enum Pending {
    /// From the handle: apply what the reply means for local state, then answer.
    Caller {
        effect: Effect,
        reply: oneshot::Sender<Result<Reply>>,
    },
    /// `register`, `authenticate` or `link_device` from the handle.
    Login {
        reply: oneshot::Sender<Result<Reply>>,
    },
    /// Joining the room again after a reconnect.
    Rejoin { previous: RoomView },
    /// A fresh snapshot after a skipped delta version.
    Resync,
    /// Resuming MLS delivery.
    MlsFetch,
    /// Restoring something of this client's own (its mute, its hand): only failures
    /// are reported.
    Restore,
}

/// The local consequence of a successful request from the handle.
#[derive(Debug, Clone, Copy)]
enum Effect {
    None,
    Join,
    Leave(RoomId),
    Snapshot(RoomId),
    Ack(u64),
}

impl Effect {
    fn of(request: &ClientRequest) -> Self {
        match request {
            ClientRequest::JoinRoom { .. } => Effect::Join,
            ClientRequest::LeaveRoom { room } | ClientRequest::EndRoom { room } => {
                Effect::Leave(*room)
            }
            ClientRequest::GetSnapshot { room } => Effect::Snapshot(*room),
            ClientRequest::MlsAck { seq } => Effect::Ack(*seq),
            _ => Effect::None,
        }
    }
}

pub(super) struct Session<'a> {
    shared: &'a Arc<Shared>,
    transport: Transport,
    nonce: salon_proto::Nonce,
    next_id: RequestId,
    pending: HashMap<RequestId, Pending>,
    account: Option<Account>,
    inbox: &'a mut MlsInbox,
    levels: LevelsThrottle,
    resyncing: bool,
    last_heard: Instant,
    floor: Option<Duration>,
    closed: Option<(Option<u16>, String)>,
}

impl<'a> Session<'a> {
    pub(super) fn new(shared: &'a Arc<Shared>, live: Live, inbox: &'a mut MlsInbox) -> Self {
        Self {
            shared,
            transport: live.transport,
            nonce: live.nonce,
            next_id: live.next_id,
            pending: HashMap::new(),
            account: live.account,
            inbox,
            levels: LevelsThrottle::new(shared.config.levels_interval),
            resyncing: false,
            last_heard: Instant::now(),
            floor: None,
            closed: None,
        }
    }

    pub(super) async fn run(
        mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> SessionEnd {
        self.restore();
        if self.shared.state() != ConnectionState::Connected {
            self.shared.set_state(ConnectionState::Connected);
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut tick = tokio::time::interval(self.shared.config.levels_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = self.transport.incoming.next() => match message {
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        self.on_message(message).await;
                    }
                    Some(Err(err)) => {
                        tracing::debug!(%err, "connection lost");
                        return self.dropped();
                    }
                    None => return self.dropped(),
                },
                command = commands.recv() => match command {
                    Some(Command::Shutdown { done }) => return self.shut_down(Some(done)).await,
                    None => return self.shut_down(None).await,
                    Some(command) => self.on_command(command),
                },
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > DEAD_AFTER || !self.transport.ping() {
                        tracing::debug!("connection silent for too long");
                        return self.dropped();
                    }
                }
                _ = tick.tick() => {
                    if let Some((room, levels)) = self.levels.flush(Instant::now()) {
                        self.shared.emit(ClientEvent::SpeakingLevels { room, levels });
                    }
                }
            }
        }
    }

    /// Re-establishes what the previous connection had: the room, the mailbox.
    fn restore(&mut self) {
        if self.account.is_none() {
            return;
        }
        if let Some(previous) = self.shared.room() {
            let request = ClientRequest::JoinRoom {
                room: previous.room(),
            };
            self.send(request, Pending::Rejoin { previous });
        }
        self.fetch_mls(None);
    }

    async fn shut_down(mut self, done: Option<oneshot::Sender<()>>) -> SessionEnd {
        self.fail_pending(|| ClientError::ShutDown);
        self.transport.close().await;
        SessionEnd::Shutdown(done)
    }

    fn dropped(mut self) -> SessionEnd {
        self.fail_pending(|| ClientError::ConnectionLost);
        match self.closed.take() {
            Some((Some(close::SESSION_ENDED), message)) => {
                SessionEnd::Ended(OfflineReason::SessionEnded { message })
            }
            Some((Some(close::FLOOD), _)) => SessionEnd::Dropped {
                floor: self.floor,
                flooded: true,
            },
            _ => SessionEnd::Dropped {
                floor: self.floor,
                flooded: false,
            },
        }
    }

    fn fail_pending(&mut self, err: impl Fn() -> ClientError) {
        for (_, pending) in self.pending.drain() {
            match pending {
                Pending::Caller { reply, .. } | Pending::Login { reply } => {
                    let _ = reply.send(Err(err()));
                }
                Pending::Rejoin { .. } | Pending::Resync | Pending::MlsFetch | Pending::Restore => {
                }
            }
        }
    }

    /// Sends a request; false when the connection is already gone.
    fn send(&mut self, request: ClientRequest, pending: Pending) -> bool {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        if self.transport.send(&ClientEnvelope::new(id, request)) {
            self.pending.insert(id, pending);
            true
        } else {
            if let Pending::Caller { reply, .. } | Pending::Login { reply } = pending {
                let _ = reply.send(Err(ClientError::ConnectionLost));
            }
            false
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { request, reply } => {
                if matches!(
                    request,
                    ClientRequest::Hello { .. }
                        | ClientRequest::Register { .. }
                        | ClientRequest::Authenticate { .. }
                        | ClientRequest::LinkDevice { .. }
                ) {
                    let _ = reply.send(Err(ClientError::InvalidArgument(
                        "hello and logins are signed by the client: use register(), login() \
                         or link_device()"
                            .into(),
                    )));
                    return;
                }
                if let ClientRequest::SetMuted { room, muted: true } = request {
                    // Muting takes effect at once, here too: the audio session stops on
                    // `may_speak` before the server's confirmation arrives.
                    self.mute_locally(room);
                }
                let effect = Effect::of(&request);
                self.send(request, Pending::Caller { effect, reply });
            }
            Command::Login {
                purpose,
                handle,
                display_name,
                invite,
                reply,
            } => {
                let request = login_request(
                    &self.shared.key,
                    &self.nonce,
                    purpose,
                    handle,
                    display_name,
                    invite,
                );
                self.send(request, Pending::Login { reply });
            }
            Command::Shutdown { done } => {
                // Handled by the loop; never routed here.
                let _ = done.send(());
            }
        }
    }

    async fn on_message(&mut self, message: Message) {
        match message {
            Message::Text(text) => match ServerMessage::from_json(text.as_str()) {
                Ok(ServerMessage::Reply(envelope)) => {
                    let pending = envelope.re.and_then(|id| self.pending.remove(&id));
                    match pending {
                        Some(pending) => self.on_reply(pending, envelope.reply).await,
                        None => {
                            if let Reply::Error(body) = envelope.reply {
                                self.report(body.code, body.message);
                            }
                        }
                    }
                }
                Ok(ServerMessage::Event(event)) => self.on_event(event),
                Err(DecodeError::UnknownType { type_name, .. }) => {
                    tracing::debug!(
                        type_name,
                        "skipping an event type this client does not know"
                    );
                }
                Err(err) => {
                    tracing::warn!(%err, "undecodable message from the server");
                    self.report(ErrorCode::Malformed, format!("the server sent {err}"));
                }
            },
            Message::Binary(bytes) => match FrameHeader::read(&bytes) {
                Ok(header) => self.shared.deliver_audio(IncomingFrame {
                    header,
                    payload: bytes.slice(HEADER_LEN..),
                    received_at: Instant::now(),
                }),
                Err(err) => tracing::debug!(%err, "dropping an invalid audio frame"),
            },
            Message::Close(frame) => {
                self.closed = Some((
                    frame.as_ref().map(|f| u16::from(f.code)),
                    frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                ));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }

    /// A background failure for the UI.
    fn report(&self, code: ErrorCode, message: String) {
        self.shared.emit(ClientEvent::Error { code, message });
    }
}
