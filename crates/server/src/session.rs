//! One WebSocket connection: the handshake, login, and every request after it.
//!
//! A connection moves through three phases: waiting for `hello`, anonymous (may
//! register, log in or ask to link a device), and logged in. The reader task handles
//! requests one at a time and answers each with exactly one reply; a writer task drains
//! the connection's [`Outbox`]. Nothing a peer sends can crash the server: every
//! decoding or validation failure becomes an `error` reply with a stable code, and only
//! persistent abuse (floods, repeated protocol violations) closes the connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use rand::rngs::OsRng;
use salon_proto::auth::Purpose;
use salon_proto::frame::{self, FrameKind};
use salon_proto::{
    ClientEnvelope, ClientRequest, DeviceId, ErrorBody, ErrorCode, Event, Handle, Nonce,
    PROTOCOL_VERSION, Reply, ReplyEnvelope, RoomId, UserId, close,
};

use crate::config::Registration;
use crate::hub::{Hub, Peer};
use crate::limiter::TokenBucket;
use crate::metrics::bump;
use crate::outbox::{Outbox, Outgoing};
use crate::rooms::{Action, Deliveries, Person, Rooms, Target};
use crate::store::{Outgoing as MlsOutgoing, StoreError};
use crate::verify::verify;

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

/// Serves one upgraded WebSocket until it closes.
pub(crate) async fn serve(hub: Arc<Hub>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let outbox = Arc::new(Outbox::new(
        hub.config.audio_queue_frames,
        hub.metrics.clone(),
    ));
    let conn = hub.connect(outbox.clone());
    let writer_outbox = outbox.clone();
    let mut writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        loop {
            let close = writer_outbox.next_batch(&mut batch).await;
            for item in batch.drain(..) {
                let message = match item {
                    Outgoing::Text(text) => Message::Text(text),
                    Outgoing::Audio(frame) => Message::Binary(frame),
                };
                if sink.feed(message).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
            if let Some((code, reason)) = close {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
                return;
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
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            _ = &mut hello_deadline, if matches!(session.phase, Phase::AwaitHello) => {
                outbox.close(close::HANDSHAKE_TIMEOUT, "no hello in time");
            }
            _ = &mut writer => break,
        }
    }
    session.leave_current_room();
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
        self.outbox.push_text(Utf8Bytes::from(envelope.to_json()));
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
                for room in std::mem::take(&mut self.touched) {
                    self.hub.sync_wire(room);
                }
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
        let mut stamped = BytesMut::from(&bytes[..]);
        if frame::stamp_stream(&mut stamped, stream).is_err() {
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

    async fn anonymous(&mut self, nonce: Nonce, request: ClientRequest) -> Outcome {
        match request {
            ClientRequest::Register {
                handle,
                display_name,
                device_key,
                invite,
                signature,
            } => {
                verify(Purpose::Register, &nonce, &handle, &device_key, &signature)?;
                let name = salon_proto::limits::display_name(&display_name)
                    .map_err(|e| fail(ErrorCode::InvalidArgument, format!("display name {e}")))?
                    .to_owned();
                // The first account of an invite-only server needs no code: nobody
                // could have made one yet.
                let needs_invite =
                    self.hub.config.registration == Registration::Invite && invite.is_none();
                if needs_invite && self.hub.store.has_accounts().await.map_err(internal)? {
                    return Err(fail(
                        ErrorCode::InviteRequired,
                        "this server registers by invitation; ask a member for a code",
                    ));
                }
                let user = UserId::from_bytes(random_16());
                let device = DeviceId::from_bytes(random_16());
                let account = self
                    .hub
                    .store
                    .register(user, device, &handle, &name, &device_key, invite.as_deref())
                    .await
                    .map_err(|err| match err {
                        StoreError::HandleTaken => fail(
                            ErrorCode::HandleTaken,
                            format!("@{handle} is taken; choose another handle"),
                        ),
                        StoreError::KeyTaken => fail(
                            ErrorCode::InvalidArgument,
                            "this device key already belongs to an account",
                        ),
                        StoreError::InvalidInvite => fail(
                            ErrorCode::InvalidInvite,
                            "that invite code is unknown or used up",
                        ),
                        other => internal(other),
                    })?;
                Ok(self.log_in(account.user, device, account.handle, account.display_name))
            }
            ClientRequest::Authenticate {
                handle,
                device_key,
                signature,
            } => {
                let denied = || {
                    fail(
                        ErrorCode::AuthenticationFailed,
                        "unknown handle or device, or device not approved",
                    )
                };
                verify(
                    Purpose::Authenticate,
                    &nonce,
                    &handle,
                    &device_key,
                    &signature,
                )?;
                let found = self
                    .hub
                    .store
                    .device_login(&handle, &device_key)
                    .await
                    .map_err(internal)?;
                let (account, device) = found.ok_or_else(denied)?;
                Ok(self.log_in(account.user, device, account.handle, account.display_name))
            }
            ClientRequest::LinkDevice {
                handle,
                device_key,
                signature,
            } => {
                verify(
                    Purpose::LinkDevice,
                    &nonce,
                    &handle,
                    &device_key,
                    &signature,
                )?;
                // The same answer whether or not the handle exists, so this cannot be
                // used to probe for accounts.
                if let Some(account) = self
                    .hub
                    .store
                    .account_by_handle(&handle)
                    .await
                    .map_err(internal)?
                {
                    self.hub
                        .store
                        .request_link(account.user, &device_key)
                        .await
                        .map_err(internal)?;
                    self.after_reply.push((
                        Target::User(account.user),
                        Event::DeviceLinkRequested { device_key },
                    ));
                }
                Ok(Reply::Ok)
            }
            _ => Err(fail(
                ErrorCode::NotAuthenticated,
                "log in or register first",
            )),
        }
    }

    fn log_in(
        &mut self,
        user: UserId,
        device: DeviceId,
        handle: Handle,
        display_name: String,
    ) -> Reply {
        let peer = Arc::new(Peer {
            conn: self.conn,
            user,
            device,
            outbox: self.outbox.clone(),
        });
        self.hub.log_in(peer.clone());
        self.phase = Phase::LoggedIn(peer);
        self.account = Some((handle.clone(), display_name.clone()));
        Reply::Authenticated {
            user,
            device,
            handle,
            display_name,
        }
    }

    /// Applies a stage action; its events follow the reply.
    fn act(&mut self, peer: &Peer, action: Action) -> Outcome {
        let room = action.room();
        let hub = self.hub.clone();
        let mut rooms = hub.rooms();
        let deliveries = rooms.act(peer.user, action, Instant::now())?;
        self.reply_with_events(&rooms, Reply::Ok, deliveries);
        drop(rooms);
        self.touched.push(room);
        Ok(Reply::Ok)
    }

    /// Queues the current request's reply and then the events it caused while the caller
    /// still holds the rooms lock: no other change to the room can slip in between, so
    /// every member receives a room's deltas in version order.
    fn reply_with_events(&mut self, rooms: &Rooms, reply: Reply, deliveries: Deliveries) {
        self.reply(self.current, reply);
        self.replied = true;
        self.hub.deliver_with(rooms, deliveries);
    }

    /// Leaves the room this connection is in, if any (on disconnect or joining another).
    fn leave_current_room(&mut self) {
        let (Some(room), Phase::LoggedIn(peer)) = (self.room.take(), &self.phase) else {
            return;
        };
        {
            let mut rooms = self.hub.rooms();
            if let Ok(deliveries) = rooms.leave(room, peer.user, Instant::now()) {
                self.hub.deliver_with(&rooms, deliveries);
            }
        }
        self.hub.sync_wire(room);
    }

    async fn logged_in(&mut self, peer: Arc<Peer>, request: ClientRequest) -> Outcome {
        let hub = self.hub.clone();
        let store = &hub.store;
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
            ClientRequest::ApproveDevice { device_key } => {
                let device = DeviceId::from_bytes(random_16());
                match store.approve_link(peer.user, &device_key, device).await {
                    Ok(Some(_)) => Ok(Reply::Ok),
                    Ok(None) => Err(fail(
                        ErrorCode::InvalidArgument,
                        "no device with this key asked to be linked",
                    )),
                    Err(StoreError::KeyTaken) => Err(fail(
                        ErrorCode::InvalidArgument,
                        "this device key already belongs to an account",
                    )),
                    Err(other) => Err(internal(other)),
                }
            }
            ClientRequest::RevokeDevice { device } => {
                if device == peer.device {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        "a device cannot revoke itself; use another device",
                    ));
                }
                if store
                    .revoke_device(peer.user, device)
                    .await
                    .map_err(internal)?
                {
                    Ok(Reply::Ok)
                } else {
                    Err(fail(
                        ErrorCode::InvalidArgument,
                        "no such device on this account",
                    ))
                }
            }
            ClientRequest::ListDevices => Ok(Reply::Devices {
                devices: store.devices(peer.user).await.map_err(internal)?,
            }),
            ClientRequest::CreateInvite { uses } => {
                if !(1..=100).contains(&uses) {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        "an invite allows 1 to 100 registrations",
                    ));
                }
                let code: String = random_16()[..10]
                    .iter()
                    .map(|b| char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[usize::from(*b) % 31]))
                    .collect();
                store
                    .create_invite(peer.user, &code, uses)
                    .await
                    .map_err(internal)?;
                Ok(Reply::InviteCreated { code, uses })
            }
            ClientRequest::GetProfile { handle } => {
                if let Err(wait) = hub.take_lookup(peer.user) {
                    let mut error = fail(
                        ErrorCode::RateLimited,
                        "too many profile lookups; try again shortly",
                    );
                    error.retry_after_ms = Some(retry_ms(wait));
                    return Err(error);
                }
                let account = store.account_by_handle(&handle).await.map_err(internal)?;
                let account = account.ok_or_else(|| {
                    fail(
                        ErrorCode::UserNotFound,
                        format!("nobody has the handle @{handle}"),
                    )
                })?;
                Ok(Reply::Profile {
                    user: account.user,
                    handle: account.handle,
                    display_name: account.display_name,
                })
            }
            ClientRequest::UpdateProfile { display_name } => {
                let name = salon_proto::limits::display_name(&display_name)
                    .map_err(|e| fail(ErrorCode::InvalidArgument, format!("display name {e}")))?;
                store
                    .set_display_name(peer.user, name)
                    .await
                    .map_err(internal)?;
                if let Some((_, current)) = &mut self.account {
                    name.clone_into(current);
                }
                Ok(Reply::Ok)
            }
            ClientRequest::CreateRoom { title, visibility } => {
                let room = RoomId::from_bytes(random_16());
                hub.rooms()
                    .create(room, peer.user, &title, visibility, Instant::now())?;
                Ok(Reply::RoomCreated { room })
            }
            ClientRequest::ListRooms { limit } => {
                let limit = usize::from(limit.unwrap_or(50).min(200));
                Ok(Reply::RoomList {
                    rooms: hub.rooms().list_public(limit),
                })
            }
            ClientRequest::JoinRoom { room } => {
                let Some((handle, display_name)) = self.account.clone() else {
                    return Err(fail(ErrorCode::NotAuthenticated, "log in first"));
                };
                if self.room.is_some_and(|current| current != room) {
                    self.leave_current_room();
                }
                let me = Person {
                    user: peer.user,
                    handle,
                    display_name,
                };
                let mut rooms = hub.rooms();
                let (snapshot, stream, deliveries) = rooms.join(room, me, Instant::now())?;
                hub.enter_wire(room, peer.clone());
                self.room = Some(room);
                self.reply_with_events(&rooms, Reply::Joined { snapshot, stream }, deliveries);
                Ok(Reply::Ok)
            }
            ClientRequest::LeaveRoom { room } => {
                let mut rooms = hub.rooms();
                let deliveries = rooms.leave(room, peer.user, Instant::now())?;
                if self.room == Some(room) {
                    self.room = None;
                }
                self.reply_with_events(&rooms, Reply::Ok, deliveries);
                drop(rooms);
                self.touched.push(room);
                Ok(Reply::Ok)
            }
            ClientRequest::GetSnapshot { room } => Ok(Reply::Snapshot {
                snapshot: hub.rooms().snapshot(room, peer.user)?,
            }),
            ClientRequest::PublishKeyPackages {
                key_packages,
                last_resort,
            } => {
                if key_packages.len() > salon_proto::limits::MAX_KEY_PACKAGES_PER_PUBLISH {
                    return Err(fail(
                        ErrorCode::TooLarge,
                        format!(
                            "at most {} key packages at once",
                            salon_proto::limits::MAX_KEY_PACKAGES_PER_PUBLISH
                        ),
                    ));
                }
                let stock = store
                    .publish_key_packages(peer.device, &key_packages, last_resort.as_ref())
                    .await
                    .map_err(internal)?;
                Ok(Reply::KeyPackagesPublished { stock })
            }
            ClientRequest::ClaimKeyPackages { user } => {
                let key_packages = store.claim_key_packages(user).await.map_err(internal)?;
                if key_packages.is_empty() {
                    return Err(fail(
                        ErrorCode::NoKeyPackage,
                        "this person has no device ready for messages yet",
                    ));
                }
                for claimed in &key_packages {
                    let stock = store
                        .key_package_stock(claimed.device)
                        .await
                        .map_err(internal)?;
                    if stock < LOW_KEY_PACKAGES {
                        hub.send_to_device(user, claimed.device, &Event::KeyPackagesLow { stock });
                    }
                }
                Ok(Reply::KeyPackagesClaimed { user, key_packages })
            }
            ClientRequest::MlsSend {
                message_id,
                group,
                kind,
                epoch,
                recipients,
                payload,
            } => {
                if group.0.is_empty() || group.0.len() > 64 {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        "a group id is 1 to 64 bytes",
                    ));
                }
                if recipients.is_empty()
                    || recipients.len() > salon_proto::limits::MAX_MLS_RECIPIENTS
                {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        format!(
                            "a message goes to 1 to {} people",
                            salon_proto::limits::MAX_MLS_RECIPIENTS
                        ),
                    ));
                }
                let stored = store
                    .store_message(MlsOutgoing {
                        sender: peer.user,
                        sender_device: peer.device,
                        message_id,
                        group: &group.0,
                        kind,
                        epoch,
                        recipients: &recipients,
                        payload: &payload.0,
                    })
                    .await
                    .map_err(|err| match err {
                        StoreError::EpochConflict { current, attempted } => fail(
                            ErrorCode::EpochConflict,
                            format!("the group moved to epoch {current} before this commit for epoch {attempted}; apply the newer commit and retry"),
                        ),
                        other => internal(other),
                    })?;
                for (user, device, delivery) in stored.deliveries {
                    bump(&hub.metrics.mls_stored);
                    if hub.send_to_device(user, device, &Event::MlsMessage(delivery)) {
                        bump(&hub.metrics.mls_delivered);
                    }
                }
                Ok(Reply::MlsAccepted {
                    group_seq: stored.group_seq,
                })
            }
            ClientRequest::MlsAck { seq } => {
                store
                    .ack_mailbox(peer.device, seq)
                    .await
                    .map_err(internal)?;
                Ok(Reply::Ok)
            }
            ClientRequest::MlsFetch { after, limit } => {
                let limit = limit.unwrap_or(MAX_FETCH).clamp(1, MAX_FETCH);
                let mut messages = store
                    .fetch_mailbox(peer.device, after, u32::from(limit) + 1)
                    .await
                    .map_err(internal)?;
                let more = messages.len() > usize::from(limit);
                messages.truncate(usize::from(limit));
                hub.metrics
                    .mls_delivered
                    .fetch_add(messages.len() as u64, std::sync::atomic::Ordering::Relaxed);
                Ok(Reply::MlsBatch { messages, more })
            }
            // `hello` and `ping` are answered before the phase split, stage actions by
            // `Action::from_request` above; nothing else is left.
            other => {
                tracing::error!(request = other.type_name(), "request fell through dispatch");
                Err(fail(
                    ErrorCode::Internal,
                    "the server could not handle this request",
                ))
            }
        }
    }
}
