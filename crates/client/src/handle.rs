//! The client's public face: [`Client::connect`] starts one, [`ClientHandle`] uses it.
//!
//! The handle is cheap to clone and usable from any thread: the UI asks for state and
//! sends requests, the audio session queues frames from its encoder thread. Requests
//! travel to the connection task over a channel and their replies come back on a
//! oneshot; state reads never touch the network. When every handle is dropped the
//! connection closes.

use std::sync::Arc;

use bytes::Bytes;
use salon_proto::auth::Purpose;
use salon_proto::frame::FrameHeader;
use salon_proto::limits::MAX_FRAME_PAYLOAD;
use salon_proto::{ClientRequest, Handle, PublicKey, Reply, StreamId, UserId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::audio::AudioFrames;
use crate::connection::{self, Command, MlsInbox};
use crate::keys::DeviceKey;
use crate::room::RoomView;
use crate::shared::Shared;
use crate::store::{Account, LocalStore};
use crate::{ClientConfig, ClientError, ClientEvent, ConnectionState, Result};

/// Starts clients.
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Loads (or creates) the device key, opens the local store, connects, says hello
    /// and, when this profile already has an account on the server, logs in. Fails when
    /// any of that fails; once it has succeeded, dropped connections are retried in the
    /// background ([`ConnectionState`]).
    pub async fn connect(config: ClientConfig) -> Result<ClientHandle> {
        let url = connection::normalize_url(&config.server_url)?;
        let key = {
            let (store, dir, url) = (
                config.key_store.clone(),
                config.profile_dir.clone(),
                url.clone(),
            );
            tokio::task::spawn_blocking(move || DeviceKey::load_or_create(&store, &dir, &url))
                .await
                .map_err(|err| ClientError::Keyring {
                    reason: format!("the key loader failed: {err}"),
                })??
        };
        let store = LocalStore::open(&config.profile_dir).await?;
        store.touch_server(&url).await?;
        let account = store.account(&url).await?;
        let last_acked = match &account {
            Some(account) => store.last_acked(&url, account.device).await?,
            None => 0,
        };
        let volumes = store.volumes(&url).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(url, config, key, store, account));
        shared.set_volumes(volumes);
        shared.set_state(ConnectionState::Connecting);
        let live = connection::establish(&shared).await?;
        if let Some(account) = live_account(&live) {
            shared.store.save_account(&shared.url, &account).await?;
            shared.set_account(account);
        }
        shared.set_state(ConnectionState::Connected);
        tokio::spawn(connection::supervise(
            shared.clone(),
            live,
            receiver,
            MlsInbox::new(last_acked),
        ));
        Ok(ClientHandle { shared, commands })
    }
}

fn live_account(live: &connection::Live) -> Option<Account> {
    live.account().cloned()
}

/// A running client. Clone it freely; the connection closes when the last clone is
/// dropped or [`ClientHandle::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

impl ClientHandle {
    /// The server's WebSocket URL.
    /// The device key's secret seed (the private-message layer derives keys from it).
    pub(crate) fn device_seed(&self) -> [u8; 32] {
        self.shared.key.seed()
    }

    /// Puts an event on the client's stream (for layers built on the handle).
    pub(crate) fn emit_event(&self, event: ClientEvent) {
        self.shared.emit(event);
    }

    pub fn server_url(&self) -> &str {
        &self.shared.url
    }

    /// This device's public key (what another device compares when approving it).
    pub fn public_key(&self) -> PublicKey {
        self.shared.key.public_key()
    }

    /// The account logged in on this server, if any.
    pub fn account(&self) -> Option<Account> {
        self.shared.account()
    }

    /// The profile's local store.
    pub fn store(&self) -> &LocalStore {
        &self.shared.store
    }

    /// The connection's state now (changes arrive as
    /// [`ClientEvent::ConnectionState`]).
    pub fn state(&self) -> ConnectionState {
        self.shared.state()
    }

    /// A new subscription to the event stream, from now on.
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.shared.events.subscribe()
    }

    /// The room this client is in, as of the last message from the server.
    pub fn room(&self) -> Option<RoomView> {
        self.shared.room()
    }

    /// The playback volume of `user` on this server, in percent (100 when never set).
    pub fn volume(&self, user: UserId) -> u16 {
        self.shared.volume(user)
    }

    /// Sets and remembers the playback volume of `user` (0 to
    /// [`MAX_VOLUME_PERCENT`](crate::MAX_VOLUME_PERCENT)); a running
    /// [`VoiceSession`](crate::VoiceSession) applies it within a frame.
    pub async fn set_volume(&self, user: UserId, percent: u16) -> Result<()> {
        self.shared
            .store
            .set_volume(&self.shared.url, user, percent)
            .await?;
        self.shared.set_volume(user, percent);
        Ok(())
    }

    /// A number that moves whenever the room or a volume changes (the playout thread
    /// recomputes its gains only then).
    pub(crate) fn playback_version(&self) -> u64 {
        self.shared.playback_version()
    }

    /// Who speaks on `stream` in the current room.
    pub(crate) fn speaker_of(&self, stream: StreamId) -> Option<UserId> {
        self.shared.speaker_of(stream)
    }

    /// Tells every subscriber of [`events`](Self::events).
    pub(crate) fn emit(&self, event: ClientEvent) {
        self.shared.emit(event);
    }

    /// This client's stream id in its room (the server stamps it on its audio).
    pub fn my_stream(&self) -> Option<StreamId> {
        self.shared.room().map(|view| view.my_stream)
    }

    /// Whether the server forwards this client's audio now: in a room, on stage, not
    /// muted, not muted by a moderator.
    pub fn may_speak(&self) -> bool {
        self.shared.may_speak()
    }

    /// Sends any request and waits for its reply; an `error` reply is
    /// [`ClientError::Server`]. Logins go through [`ClientHandle::register`],
    /// [`ClientHandle::login`] and [`ClientHandle::link_device`], which sign them.
    pub async fn request(&self, request: ClientRequest) -> Result<Reply> {
        let (reply, answer) = oneshot::channel();
        self.call(Command::Request { request, reply }, answer).await
    }

    async fn call(
        &self,
        command: Command,
        answer: oneshot::Receiver<Result<Reply>>,
    ) -> Result<Reply> {
        if self.commands.send(command).is_err() {
            return Err(self.gone());
        }
        let timeout = self.shared.config.request_timeout;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(self.gone()),
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }

    fn gone(&self) -> ClientError {
        match self.shared.state() {
            ConnectionState::Offline {
                reason: crate::OfflineReason::ShutDown,
            } => ClientError::ShutDown,
            _ => ClientError::NotConnected,
        }
    }

    async fn sign_in(
        &self,
        purpose: Purpose,
        handle: &str,
        display_name: Option<String>,
        invite: Option<String>,
    ) -> Result<Reply> {
        let handle = Handle::parse(handle)
            .map_err(|err| ClientError::InvalidArgument(format!("handle {handle:?}: {err}")))?;
        let (reply, answer) = oneshot::channel();
        let command = Command::Login {
            purpose,
            handle,
            display_name,
            invite,
            reply,
        };
        self.call(command, answer).await
    }

    /// Creates an account on this server with this device as its first device, and
    /// logs in. The account is remembered: later connections log in by themselves.
    pub async fn register(
        &self,
        handle: &str,
        display_name: &str,
        invite: Option<&str>,
    ) -> Result<Account> {
        let reply = self
            .sign_in(
                Purpose::Register,
                handle,
                Some(display_name.to_owned()),
                invite.map(str::to_owned),
            )
            .await?;
        self.logged_in(reply, "register")
    }

    /// Logs in as `handle` with this device's key (a device approved on the account,
    /// on a profile that does not remember the account yet).
    pub async fn login(&self, handle: &str) -> Result<Account> {
        let reply = self
            .sign_in(Purpose::Authenticate, handle, None, None)
            .await?;
        self.logged_in(reply, "authenticate")
    }

    /// From a new device: asks the devices of account `handle` to approve this one.
    /// Once approved, [`ClientHandle::login`] works.
    pub async fn link_device(&self, handle: &str) -> Result<()> {
        self.sign_in(Purpose::LinkDevice, handle, None, None)
            .await
            .map(drop)
    }

    fn logged_in(&self, reply: Reply, request: &'static str) -> Result<Account> {
        match reply {
            Reply::Authenticated {
                user,
                device,
                handle,
                display_name,
            } => Ok(Account {
                handle,
                user,
                device,
                display_name,
            }),
            other => Err(ClientError::UnexpectedReply {
                request,
                reply: format!("{other:?}"),
            }),
        }
    }

    /// Queues one encoded audio frame (13-byte header with stream id 0, then the
    /// payload: see [`salon_proto::frame::encode`]) for the room. Never blocks (two
    /// atomics and a short lock): when the socket is behind, the oldest queued frame is
    /// dropped. Answers false when the frame was not queued: not a valid frame, not
    /// connected to a room, or not allowed to speak ([`ClientHandle::may_speak`]), so
    /// muting stops the sending at once, before the server confirms.
    pub fn send_audio(&self, frame: Bytes) -> bool {
        let valid = FrameHeader::read(&frame).is_ok()
            && frame.len() <= salon_proto::frame::HEADER_LEN + MAX_FRAME_PAYLOAD;
        valid
            && self.shared.audio_open()
            && self.shared.may_speak()
            && self.shared.audio_out.push(frame)
    }

    /// Outgoing frames dropped so far because the socket was behind.
    pub fn audio_dropped(&self) -> u64 {
        self.shared.audio_out.dropped()
    }

    /// The incoming audio of the room. A newer call takes over: the previous receiver
    /// ends.
    pub fn audio_frames(&self) -> AudioFrames {
        AudioFrames {
            queue: self.shared.subscribe_audio(),
        }
    }

    /// Closes the connection (leaving the room) and stops reconnecting.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).is_ok() {
            let _ = finished.await;
        }
        self.shared.close_audio();
        self.shared.store.close().await;
    }
}
