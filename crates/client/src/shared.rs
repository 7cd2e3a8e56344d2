//! What the handle, the connection task and the audio hooks share: configuration, the
//! device key, the local store, the event stream and the current state.
//!
//! Readers (the UI asking for the room, the encoder thread queueing audio) never wait
//! on the network: state sits behind short-held std mutexes and atomics that the
//! connection task updates as messages arrive.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use salon_proto::{StreamId, UserId};
use tokio::sync::broadcast;

use crate::audio::{DropOldest, IncomingFrame};
use crate::keys::DeviceKey;
use crate::room::RoomView;
use crate::store::{Account, LocalStore};
use crate::{ClientConfig, ClientEvent, ConnectionState};

/// Events buffered per subscriber before a slow one starts missing them.
const EVENT_BUFFER: usize = 1024;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// The normalized server URL.
    pub(crate) url: String,
    pub(crate) config: ClientConfig,
    pub(crate) key: DeviceKey,
    pub(crate) store: LocalStore,
    pub(crate) events: broadcast::Sender<ClientEvent>,
    state: Mutex<ConnectionState>,
    room: Mutex<Option<RoomView>>,
    account: Mutex<Option<Account>>,
    /// Encoded frames waiting for the socket writer.
    pub(crate) audio_out: Arc<DropOldest<Bytes>>,
    /// Where received frames go: the latest `audio_frames()` receiver.
    audio_in: Mutex<Option<Arc<DropOldest<IncomingFrame>>>>,
    /// Whether queued audio can reach a room now (connected and in one).
    audio_open: AtomicBool,
    /// Whether this client's audio is forwarded now ([`RoomView::may_speak`]), kept
    /// with every change to the room so the encoder thread reads one atomic per frame.
    speaking: AtomicBool,
    /// Playback volume per person in percent (absent = 100), mirrored from the store so
    /// the playout thread never waits on it.
    volumes: Mutex<HashMap<UserId, u16>>,
    /// Bumped with every change to the room or to a volume: the playout thread
    /// recomputes its per-stream gains only when this moved.
    playback_version: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        url: String,
        config: ClientConfig,
        key: DeviceKey,
        store: LocalStore,
        account: Option<Account>,
    ) -> Self {
        let audio_out = Arc::new(DropOldest::new(config.audio_send_queue));
        Self {
            url,
            config,
            key,
            store,
            events: broadcast::channel(EVENT_BUFFER).0,
            state: Mutex::new(ConnectionState::Connecting),
            room: Mutex::new(None),
            account: Mutex::new(account),
            audio_out,
            audio_in: Mutex::new(None),
            audio_open: AtomicBool::new(false),
            speaking: AtomicBool::new(false),
            volumes: Mutex::new(HashMap::new()),
            playback_version: AtomicU64::new(0),
        }
    }

    /// Tells every subscriber (none listening is fine).
    pub(crate) fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn state(&self) -> ConnectionState {
        lock(&self.state).clone()
    }

    /// Changes the connection state and reports it.
    pub(crate) fn set_state(&self, state: ConnectionState) {
        *lock(&self.state) = state.clone();
        self.emit(ClientEvent::ConnectionState(state));
    }

    pub(crate) fn room(&self) -> Option<RoomView> {
        lock(&self.room).clone()
    }

    /// Changes the current room in place.
    pub(crate) fn with_room<R>(&self, change: impl FnOnce(&mut Option<RoomView>) -> R) -> R {
        let mut room = lock(&self.room);
        let out = change(&mut room);
        let speaking = room.as_ref().is_some_and(RoomView::may_speak);
        self.speaking.store(speaking, Ordering::Release);
        self.playback_version.fetch_add(1, Ordering::Release);
        out
    }

    /// Who speaks on `stream` in the current room, looked up in place (the playout
    /// thread must not copy a room of thousands for it).
    pub(crate) fn speaker_of(&self, stream: StreamId) -> Option<UserId> {
        lock(&self.room)
            .as_ref()
            .and_then(|view| view.member_by_stream(stream))
            .map(|member| member.user)
    }

    /// The playback volume of `user` in percent (100 when never set).
    pub(crate) fn volume(&self, user: UserId) -> u16 {
        lock(&self.volumes).get(&user).copied().unwrap_or(100)
    }

    /// Replaces the volumes (loaded from the store) or changes one.
    pub(crate) fn set_volumes(&self, volumes: HashMap<UserId, u16>) {
        *lock(&self.volumes) = volumes;
        self.playback_version.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn set_volume(&self, user: UserId, percent: u16) {
        lock(&self.volumes).insert(user, percent);
        self.playback_version.fetch_add(1, Ordering::Release);
    }

    /// Moves whenever the room or a volume changes.
    pub(crate) fn playback_version(&self) -> u64 {
        self.playback_version.load(Ordering::Acquire)
    }

    pub(crate) fn set_room(&self, room: Option<RoomView>) {
        self.with_room(|current| *current = room);
    }

    /// Whether this client's audio is forwarded now.
    pub(crate) fn may_speak(&self) -> bool {
        self.speaking.load(Ordering::Acquire)
    }

    pub(crate) fn account(&self) -> Option<Account> {
        lock(&self.account).clone()
    }

    pub(crate) fn set_account(&self, account: Account) {
        *lock(&self.account) = Some(account);
    }

    pub(crate) fn audio_open(&self) -> bool {
        self.audio_open.load(Ordering::Acquire)
    }

    /// Opens or closes the way to the room for audio; stale frames are forgotten.
    pub(crate) fn set_audio_open(&self, open: bool) {
        self.audio_open.store(open, Ordering::Release);
        self.audio_out.clear();
    }

    /// A new receiver for incoming audio; the previous one ends.
    pub(crate) fn subscribe_audio(&self) -> Arc<DropOldest<IncomingFrame>> {
        let queue = Arc::new(DropOldest::new(self.config.audio_receive_queue));
        if let Some(old) = lock(&self.audio_in).replace(queue.clone()) {
            old.close();
        }
        queue
    }

    /// Hands a received frame to the audio receiver, if there is one.
    pub(crate) fn deliver_audio(&self, frame: IncomingFrame) {
        if let Some(queue) = lock(&self.audio_in).as_ref() {
            queue.push(frame);
        }
    }

    /// Ends the audio queues (shutdown).
    pub(crate) fn close_audio(&self) {
        self.set_audio_open(false);
        self.audio_out.close();
        if let Some(queue) = lock(&self.audio_in).take() {
            queue.close();
        }
    }
}
