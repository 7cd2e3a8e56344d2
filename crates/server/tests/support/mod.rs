//! A small Salon test client and server launchers shared by the integration tests.
//!
//! The client speaks the real wire protocol over a real WebSocket
//! (`tokio-tungstenite`): it numbers its requests, matches replies by `re`, buffers
//! the events and audio frames that arrive in between, and gives every wait a deadline
//! so a broken server fails a test instead of hanging it. It also follows the versions
//! of every room it is in and records any gap, so tests can assert that room deltas
//! arrive exactly one version apart.
//!
//! The server comes either in-process ([`start_server`], a [`Server`] on
//! `127.0.0.1:0` with a fresh data directory) or as the real `salon-server` binary
//! ([`ServerProcess`]), for tests that `kill -9` it.

#![allow(unreachable_pub, dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};
use futures_util::{SinkExt as _, StreamExt as _};
use rand::Rng as _;
use rand::rngs::OsRng;
use salon_proto::auth::{Purpose, transcript};
use salon_proto::frame::{self, AudioLevel, Flags, FrameHeader};
use salon_proto::room::{Member, RoomChange, RoomSnapshot};
use salon_proto::{
    ClientEnvelope, ClientRequest, DecodeError, DeviceId, ErrorBody, ErrorCode, Event, Handle,
    MessageId, Nonce, PROTOCOL_VERSION, PublicKey, Reply, ReplyEnvelope, RoomId, ServerMessage,
    Signature, StreamId, UserId,
};
use salon_server::{Server, ServerConfig};
use tempfile::TempDir;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// The default deadline for anything a test waits for. Generous: the machine may be a
/// loaded 2-core box, and a deadline only matters when something is broken.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// A short wait, used only where a test proves that something does *not* arrive and
/// has no later marker to wait for instead.
pub const QUIET: Duration = Duration::from_millis(300);

/// A handle nobody else in this test run has: `prefix` plus random letters.
pub fn unique_handle(prefix: &str) -> Handle {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..10)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect();
    let mut text = format!("{prefix}_{suffix}");
    text.truncate(30);
    Handle::parse(&text).expect("generated handles are valid")
}

/// A fresh random MLS message id.
pub fn random_message_id() -> MessageId {
    MessageId::from_bytes(rand::thread_rng().r#gen())
}

/// A fresh Ed25519 device key.
pub fn new_key() -> SigningKey {
    SigningKey::generate(&mut OsRng)
}

/// The wire form of a signing key's public half.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// Signs the login transcript for `purpose`.
pub fn sign(key: &SigningKey, purpose: Purpose, nonce: &Nonce, handle: &Handle) -> Signature {
    let message = transcript(purpose, nonce, handle, &public_key(key));
    Signature(key.sign(&message).to_bytes())
}

/// Who a client is logged in as.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The account.
    pub user: UserId,
    /// This device.
    pub device: DeviceId,
    /// The handle.
    pub handle: Handle,
    /// The display name.
    pub display_name: String,
    /// The device key.
    pub key: SigningKey,
}

/// One audio frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// The decoded header.
    pub header: FrameHeader,
    /// The payload.
    pub payload: Vec<u8>,
    /// The exact bytes of the binary message.
    pub raw: Vec<u8>,
}

/// How the server closed a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code, when a close frame came (`None`: the TCP connection just ended).
    pub code: Option<u16>,
    /// The close reason.
    pub reason: String,
}

/// One thing read from the socket.
#[derive(Debug)]
pub enum Incoming {
    /// A reply.
    Reply(ReplyEnvelope),
    /// An event.
    Event(Event),
    /// An audio frame.
    Audio(AudioFrame),
    /// The connection is closed.
    Closed(Closed),
}

/// A test client on one WebSocket.
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    next_id: u32,
    /// Events received and not yet taken by [`Client::next_event`] or
    /// [`Client::expect_event`].
    pending_events: VecDeque<Event>,
    /// Every event ever received, in order.
    pub log: Vec<Event>,
    audio: VecDeque<AudioFrame>,
    /// Replies that arrived while waiting for another one (`re: null` errors, ...).
    stray: VecDeque<ReplyEnvelope>,
    closed: Option<Closed>,
    /// The nonce from `welcome`.
    pub nonce: Option<Nonce>,
    /// Who this connection is logged in as.
    pub me: Option<Identity>,
    /// The version this client last saw for each room it follows.
    versions: HashMap<RoomId, u64>,
    /// Every version gap seen in room deltas (should stay empty).
    pub version_gaps: Vec<String>,
}

impl Client {
    /// Opens a WebSocket to `url` (`ws://HOST:PORT/v1/ws`).
    pub async fn connect(url: &str) -> Client {
        Self::connect_with(url, None).await
    }

    /// Opens a WebSocket whose TCP receive buffer is set to `recv_buffer` bytes, for a
    /// client that plays a listener too slow to keep up.
    pub async fn connect_with(url: &str, recv_buffer: Option<u32>) -> Client {
        let addr: SocketAddr = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|host| host.parse().ok())
            .unwrap_or_else(|| panic!("not a ws://IP:PORT/… url: {url}"));
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .expect("socket");
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let stream = tokio::time::timeout(TIMEOUT, socket.connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(url, stream))
            .await
            .expect("WebSocket handshake timed out")
            .expect("WebSocket handshake");
        Client {
            ws,
            next_id: 1,
            pending_events: VecDeque::new(),
            log: Vec::new(),
            audio: VecDeque::new(),
            stray: VecDeque::new(),
            closed: None,
            nonce: None,
            me: None,
            versions: HashMap::new(),
            version_gaps: Vec::new(),
        }
    }

    /// Connects and says hello.
    pub async fn connect_hello(url: &str) -> Client {
        let mut client = Self::connect(url).await;
        client.hello().await;
        client
    }

    /// Connects and registers a new account with a new key.
    pub async fn registered(url: &str, handle_prefix: &str, display_name: &str) -> Client {
        let mut client = Self::connect_hello(url).await;
        client
            .register(&unique_handle(handle_prefix), display_name)
            .await;
        client
    }

    /// Connects and logs in with an existing device key.
    pub async fn logged_in(url: &str, handle: &Handle, key: &SigningKey) -> Client {
        let mut client = Self::connect_hello(url).await;
        client.authenticate(handle, key).await;
        client
    }

    /// This client's identity; panics if it is not logged in.
    pub fn me(&self) -> &Identity {
        self.me.as_ref().expect("this client is not logged in")
    }

    /// The logged-in account.
    pub fn user(&self) -> UserId {
        self.me().user
    }

    /// Sends `hello` and returns the nonce.
    pub async fn hello(&mut self) -> Nonce {
        let reply = self
            .request(ClientRequest::Hello {
                version: PROTOCOL_VERSION,
                client: "salon-server-tests/0".into(),
            })
            .await;
        match reply {
            Reply::Welcome { version, nonce, .. } => {
                assert_eq!(version, PROTOCOL_VERSION);
                self.nonce = Some(nonce);
                nonce
            }
            other => panic!("hello answered {other:?}"),
        }
    }

    fn nonce(&self) -> Nonce {
        self.nonce.expect("say hello first")
    }

    /// Sends `register` for `key`, signed correctly, and returns the reply as is.
    pub async fn try_register(
        &mut self,
        handle: &Handle,
        display_name: &str,
        key: &SigningKey,
        invite: Option<&str>,
    ) -> Reply {
        let signature = sign(key, Purpose::Register, &self.nonce(), handle);
        self.request(ClientRequest::Register {
            handle: handle.clone(),
            display_name: display_name.into(),
            device_key: public_key(key),
            invite: invite.map(Into::into),
            signature,
        })
        .await
    }

    /// Registers a new account with a new key; panics unless it succeeds.
    pub async fn register(&mut self, handle: &Handle, display_name: &str) -> Identity {
        self.register_with(handle, display_name, None).await
    }

    /// Registers with an invite code; panics unless it succeeds.
    pub async fn register_with(
        &mut self,
        handle: &Handle,
        display_name: &str,
        invite: Option<&str>,
    ) -> Identity {
        let key = new_key();
        let reply = self.try_register(handle, display_name, &key, invite).await;
        self.accept_login(reply, key, handle)
    }

    /// Sends `authenticate`, signed correctly, and returns the reply as is.
    pub async fn try_authenticate(&mut self, handle: &Handle, key: &SigningKey) -> Reply {
        let signature = sign(key, Purpose::Authenticate, &self.nonce(), handle);
        self.request(ClientRequest::Authenticate {
            handle: handle.clone(),
            device_key: public_key(key),
            signature,
        })
        .await
    }

    /// Logs in with an existing device key; panics unless it succeeds.
    pub async fn authenticate(&mut self, handle: &Handle, key: &SigningKey) -> Identity {
        let reply = self.try_authenticate(handle, key).await;
        self.accept_login(reply, key.clone(), handle)
    }

    fn accept_login(&mut self, reply: Reply, key: SigningKey, handle: &Handle) -> Identity {
        match reply {
            Reply::Authenticated {
                user,
                device,
                handle: got,
                display_name,
            } => {
                assert_eq!(&got, handle);
                let me = Identity {
                    user,
                    device,
                    handle: got,
                    display_name,
                    key,
                };
                self.me = Some(me.clone());
                me
            }
            other => panic!("login as @{handle} answered {other:?}"),
        }
    }

    /// Sends `link_device` for `key`, signed correctly.
    pub async fn link_device(&mut self, handle: &Handle, key: &SigningKey) -> Reply {
        let signature = sign(key, Purpose::LinkDevice, &self.nonce(), handle);
        self.request(ClientRequest::LinkDevice {
            handle: handle.clone(),
            device_key: public_key(key),
            signature,
        })
        .await
    }

    /// Sends one request without waiting; returns its id.
    pub async fn send(&mut self, request: ClientRequest) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let text = ClientEnvelope::new(id, request).to_json();
        self.send_text(text).await;
        id
    }

    /// Sends a raw text message.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        tokio::time::timeout(TIMEOUT, self.ws.send(Message::text(text)))
            .await
            .expect("sending timed out")
            .expect("send a text message");
    }

    /// Queues a raw text message without flushing (see [`Client::flush`]).
    pub async fn feed_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        tokio::time::timeout(TIMEOUT, self.ws.feed(Message::text(text)))
            .await
            .expect("feeding timed out")
            .expect("feed a text message");
    }

    /// Flushes messages queued with [`Client::feed_text`].
    pub async fn flush(&mut self) {
        tokio::time::timeout(TIMEOUT, self.ws.flush())
            .await
            .expect("flushing timed out")
            .expect("flush");
    }

    /// The next request id this client will use.
    pub fn peek_next_id(&self) -> u32 {
        self.next_id
    }

    /// Takes a request id for a hand-written JSON request.
    pub fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a request and waits for its reply, buffering whatever arrives meanwhile.
    pub async fn request(&mut self, request: ClientRequest) -> Reply {
        let what = format!("{request:?}");
        let id = self.send(request).await;
        self.wait_reply(id, &what).await
    }

    /// Sends a request that must succeed with `ok`.
    pub async fn ok(&mut self, request: ClientRequest) {
        let what = format!("{request:?}");
        match self.request(request).await {
            Reply::Ok => {}
            other => panic!("{what} answered {other:?}, expected ok"),
        }
    }

    /// Sends a request that must fail with `code`; returns the error.
    pub async fn refused(&mut self, request: ClientRequest, code: ErrorCode) -> ErrorBody {
        let what = format!("{request:?}");
        match self.request(request).await {
            Reply::Error(error) if error.code == code => error,
            other => panic!("{what} answered {other:?}, expected the error {code}"),
        }
    }

    /// Waits for the reply to request `id`.
    pub async fn wait_reply(&mut self, id: u32, what: &str) -> Reply {
        if let Some(at) = self.stray.iter().position(|r| r.re == Some(id)) {
            return self.stray.remove(at).expect("present").reply;
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.recv_until(deadline).await {
                Some(Incoming::Reply(reply)) if reply.re == Some(id) => return reply.reply,
                Some(Incoming::Reply(other)) => self.stray.push_back(other),
                Some(Incoming::Closed(closed)) => {
                    panic!(
                        "the connection closed ({closed:?}) while waiting for the reply to {what}"
                    )
                }
                Some(Incoming::Event(_) | Incoming::Audio(_)) => {}
                None => panic!("no reply to {what} within {TIMEOUT:?}"),
            }
        }
    }

    /// The next reply of any `re` (a stray one first), or `None` at the deadline or on
    /// close.
    pub async fn next_reply(&mut self, timeout: Duration) -> Option<ReplyEnvelope> {
        if let Some(reply) = self.stray.pop_front() {
            return Some(reply);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv_until(deadline).await? {
                Incoming::Reply(reply) => return Some(reply),
                Incoming::Closed(_) => return None,
                Incoming::Event(_) | Incoming::Audio(_) => {}
            }
        }
    }

    /// The next event not yet taken, or `None` at the deadline or on close.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        if let Some(event) = self.pending_events.pop_front() {
            return Some(event);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv_until(deadline).await? {
                Incoming::Event(_) => return self.pending_events.pop_front(),
                Incoming::Reply(reply) => self.stray.push_back(reply),
                Incoming::Closed(_) => return None,
                Incoming::Audio(_) => {}
            }
        }
    }

    /// The first event (already buffered or arriving within `timeout`) that matches,
    /// taken out of the buffer; other events stay buffered. Panics at the deadline.
    pub async fn expect_event(
        &mut self,
        what: &str,
        timeout: Duration,
        mut matches: impl FnMut(&Event) -> bool,
    ) -> Event {
        if let Some(at) = self.pending_events.iter().position(&mut matches) {
            return self.pending_events.remove(at).expect("present");
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv_until(deadline).await {
                Some(Incoming::Event(event)) if matches(&event) => {
                    // It was also pushed to the pending queue: take it back out.
                    let at = self
                        .pending_events
                        .iter()
                        .rposition(|e| e == &event)
                        .expect("just queued");
                    self.pending_events.remove(at);
                    return event;
                }
                Some(Incoming::Reply(reply)) => self.stray.push_back(reply),
                Some(Incoming::Closed(closed)) => panic!(
                    "the connection closed ({closed:?}) while waiting for {what}; events so far: {:#?}",
                    self.log
                ),
                Some(Incoming::Event(_) | Incoming::Audio(_)) => {}
                None => panic!(
                    "no {what} within {timeout:?}; events so far: {:#?}",
                    self.log
                ),
            }
        }
    }

    /// Waits for a `room_delta` of `room` whose change matches; returns its version and
    /// change.
    pub async fn expect_delta(
        &mut self,
        room: RoomId,
        what: &str,
        mut matches: impl FnMut(&RoomChange) -> bool,
    ) -> (u64, RoomChange) {
        let event = self
            .expect_event(what, TIMEOUT, |event| {
                matches!(event, Event::RoomDelta { room: r, change, .. } if *r == room && matches(change))
            })
            .await;
        match event {
            Event::RoomDelta {
                version, change, ..
            } => (version, change),
            _ => unreachable!("matched a room delta"),
        }
    }

    /// Waits until this client has followed `room` up to at least `version`.
    pub async fn wait_version(&mut self, room: RoomId, version: u64) {
        let deadline = Instant::now() + TIMEOUT;
        while self.versions.get(&room).copied().unwrap_or(0) < version {
            match self.recv_until(deadline).await {
                Some(Incoming::Reply(reply)) => self.stray.push_back(reply),
                Some(Incoming::Closed(closed)) => {
                    panic!("closed ({closed:?}) while waiting for version {version} of the room")
                }
                Some(_) => {}
                None => panic!(
                    "room never reached version {version} (at {:?}); events: {:#?}",
                    self.versions.get(&room),
                    self.log
                ),
            }
        }
    }

    /// The version of `room` this client has followed up to.
    pub fn room_version(&self, room: RoomId) -> Option<u64> {
        self.versions.get(&room).copied()
    }

    /// Whether any event received so far matches.
    pub fn saw(&self, matches: impl Fn(&Event) -> bool) -> bool {
        self.log.iter().any(matches)
    }

    /// Takes every event received so far and not yet taken.
    pub fn drain_events(&mut self) -> Vec<Event> {
        self.pending_events.drain(..).collect()
    }

    /// Sends one audio frame as a client does (stream id 0), voice at 30 -dBov.
    pub async fn send_audio(&mut self, sequence: u32, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader::audio(
            sequence,
            timestamp,
            AudioLevel::new(30, true),
            Flags::default(),
        );
        self.send_frame(&header, payload).await
    }

    /// Encodes and sends one frame; returns the bytes sent.
    pub async fn send_frame(&mut self, header: &FrameHeader, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        frame::encode(header, payload, &mut bytes).expect("payload within the limit");
        self.send_binary(bytes.clone()).await;
        bytes
    }

    /// Sends raw bytes as a binary message.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        tokio::time::timeout(TIMEOUT, self.ws.send(Message::binary(bytes)))
            .await
            .expect("sending timed out")
            .expect("send a binary message");
    }

    /// The next audio frame (buffered or arriving within `timeout`).
    pub async fn recv_audio(&mut self, timeout: Duration) -> Option<AudioFrame> {
        if let Some(frame) = self.audio.pop_front() {
            return Some(frame);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv_until(deadline).await? {
                Incoming::Audio(_) => return self.audio.pop_front(),
                Incoming::Reply(reply) => self.stray.push_back(reply),
                Incoming::Closed(_) => return None,
                Incoming::Event(_) => {}
            }
        }
    }

    /// The next audio frame; panics if none arrives in time.
    pub async fn expect_audio(&mut self, what: &str) -> AudioFrame {
        match self.recv_audio(TIMEOUT).await {
            Some(frame) => frame,
            None => panic!("no audio frame ({what}) within {TIMEOUT:?}"),
        }
    }

    /// Audio frames buffered and not yet taken.
    pub fn buffered_audio(&self) -> usize {
        self.audio.len()
    }

    /// A round trip: when the `pong` arrives, the server has handled everything this
    /// client sent before the `ping`, binary frames included.
    pub async fn ping(&mut self) {
        match self.request(ClientRequest::Ping).await {
            Reply::Pong => {}
            other => panic!("ping answered {other:?}"),
        }
    }

    /// Reads until the server closes the connection; returns how. Panics at the deadline.
    pub async fn expect_closed(&mut self, timeout: Duration) -> Closed {
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv_until(deadline).await {
                Some(Incoming::Closed(closed)) => return closed,
                Some(Incoming::Reply(reply)) => self.stray.push_back(reply),
                Some(_) => {}
                None => panic!("the server did not close the connection within {timeout:?}"),
            }
        }
    }

    /// How the connection was closed, if it was.
    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// Closes the connection from this side.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    /// Reads the next message before `deadline` (`None` when it passes). Events and
    /// audio are also buffered, and room versions are followed.
    pub async fn recv_until(&mut self, deadline: Instant) -> Option<Incoming> {
        if let Some(closed) = &self.closed {
            return Some(Incoming::Closed(closed.clone()));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => return None,
                Ok(message) => message,
            };
            let closed = match message {
                Some(Ok(Message::Text(text))) => return Some(self.on_text(text.as_str())),
                Some(Ok(Message::Binary(bytes))) => {
                    let decoded = frame::decode(&bytes)
                        .unwrap_or_else(|err| panic!("the server sent an invalid frame: {err}"));
                    let frame = AudioFrame {
                        header: decoded.header,
                        payload: decoded.payload.to_vec(),
                        raw: bytes.to_vec(),
                    };
                    self.audio.push_back(frame.clone());
                    return Some(Incoming::Audio(frame));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                },
                Some(Err(err)) => Closed {
                    code: None,
                    reason: err.to_string(),
                },
                None => Closed {
                    code: None,
                    reason: "end of stream".into(),
                },
            };
            self.closed = Some(closed.clone());
            return Some(Incoming::Closed(closed));
        }
    }

    fn on_text(&mut self, text: &str) -> Incoming {
        match ServerMessage::from_json(text) {
            Ok(ServerMessage::Reply(reply)) => {
                if let Reply::Joined { snapshot, .. } | Reply::Snapshot { snapshot } = &reply.reply
                {
                    self.versions.insert(snapshot.room, snapshot.version);
                }
                Incoming::Reply(reply)
            }
            Ok(ServerMessage::Event(event)) => {
                if let Event::RoomDelta { room, version, .. } = &event {
                    match self.versions.get(room).copied() {
                        Some(seen) if *version <= seen => {}
                        Some(seen) if *version == seen + 1 => {
                            self.versions.insert(*room, *version);
                        }
                        seen => {
                            self.version_gaps.push(format!(
                                "room {room}: delta version {version} after {seen:?}"
                            ));
                            self.versions.insert(*room, *version);
                        }
                    }
                }
                if let Event::RoomEnded { room, .. } | Event::RemovedFromRoom { room, .. } = &event
                {
                    self.versions.remove(room);
                }
                self.log.push(event.clone());
                self.pending_events.push_back(event.clone());
                Incoming::Event(event)
            }
            Err(DecodeError::UnknownType { type_name, .. }) => {
                panic!("the server sent an unknown message type {type_name:?}: {text}")
            }
            Err(err) => panic!("the server sent an undecodable message ({err}): {text}"),
        }
    }
}

/// Finds a member in a snapshot.
pub fn member(snapshot: &RoomSnapshot, user: UserId) -> &Member {
    snapshot
        .members
        .iter()
        .find(|m| m.user == user)
        .unwrap_or_else(|| panic!("{user} is not in the snapshot {snapshot:#?}"))
}

/// Joins a room; returns the snapshot and the caller's stream id.
pub async fn join(client: &mut Client, room: RoomId) -> (RoomSnapshot, StreamId) {
    match client.request(ClientRequest::JoinRoom { room }).await {
        Reply::Joined { snapshot, stream } => (snapshot, stream),
        other => panic!("join_room answered {other:?}"),
    }
}

/// Creates a room; returns its id.
pub async fn create_room(
    client: &mut Client,
    title: &str,
    visibility: salon_proto::room::Visibility,
) -> RoomId {
    match client
        .request(ClientRequest::CreateRoom {
            title: title.into(),
            visibility,
        })
        .await
    {
        Reply::RoomCreated { room } => room,
        other => panic!("create_room answered {other:?}"),
    }
}

/// A server configuration for tests: `127.0.0.1:0` and `data_dir`.
pub fn test_config(data_dir: &Path) -> ServerConfig {
    ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        ..ServerConfig::default()
    }
}

/// Starts an in-process server on `127.0.0.1:0` with a fresh data directory, after
/// `tweak` has adjusted its configuration.
pub async fn start_server(tweak: impl FnOnce(&mut ServerConfig)) -> (Server, TempDir) {
    let dir = tempfile::tempdir().expect("temporary data directory");
    let server = start_server_in(dir.path(), tweak).await;
    (server, dir)
}

/// Starts an in-process server on an existing data directory.
pub async fn start_server_in(data_dir: &Path, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut config = test_config(data_dir);
    tweak(&mut config);
    Server::start(config).await.expect("the server starts")
}

/// A plain HTTP/1.1 GET over a TCP stream: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("send the request");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("read the response");
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .expect("the GET task")
}

/// One counter or gauge from the Prometheus text at `/metrics`.
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "GET /metrics: {body}");
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no metric {name} in {body}"))
}

/// The real `salon-server` binary, running on a data directory.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    /// The WebSocket URL it printed.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the binary with `--listen 127.0.0.1:0 --data-dir DIR` (plus `extra`
    /// flags) and waits for its `listening on ws://ADDR/v1/ws` line.
    pub fn spawn(data_dir: &Path, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_salon-server"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "salon_server=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the salon-server binary");
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("piped stdout");
        // Keep reading stdout until the process ends, so its later prints never hit a
        // closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err_pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        break url.trim().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "salon-server printed no `listening on` line (exit {status:?}); stderr:\n{}",
                        stderr.lock().unwrap_or_else(|e| e.into_inner())
                    );
                }
            }
        };
        let addr = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|host| host.parse().ok())
            .unwrap_or_else(|| panic!("unexpected url {url:?}"));
        assert!(url.ends_with(salon_proto::WS_PATH), "url {url}");
        ServerProcess {
            child: Some(child),
            url,
            addr,
            stderr,
        }
    }

    /// `kill -9`: SIGKILL, no chance to flush or say goodbye. Waits for it to die.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            child.wait().expect("reap the server");
        }
    }

    /// What the server logged so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
