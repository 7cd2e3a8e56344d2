//! The state every connection shares, and the routing of events and audio.
//!
//! Room logic lives in [`crate::rooms`] (pure, behind one mutex, short critical
//! sections); this module connects its answers to sockets. For each live room a
//! [`RoomWire`] keeps the connections that joined it and an immutable snapshot list of
//! them, swapped on membership changes, so the audio path fans a frame out by walking a
//! shared slice without holding any lock a control message could be waiting for. Every
//! message is encoded as a WebSocket frame once ([`crate::ws`]) and the same bytes are
//! queued to each recipient.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use bytes::Bytes;
use salon_proto::room::SpeakerLevel;
use salon_proto::{DeviceId, Event, RoomId, StreamId, UserId, close};

use crate::config::ServerConfig;
use crate::limiter::TokenBucket;
use crate::metrics::{Metrics, bump};
use crate::outbox::{Outbox, Pushed};
use crate::rooms::{Deliveries, RoomRecord, Rooms, RoomsConfig, Target};
use crate::store::Store;
use crate::ws;

/// One logged-in connection.
#[derive(Debug)]
pub(crate) struct Peer {
    /// Unique per connection in this process.
    pub(crate) conn: u64,
    /// The account.
    pub(crate) user: UserId,
    /// The device.
    pub(crate) device: DeviceId,
    /// Where to send.
    pub(crate) outbox: Arc<Outbox>,
}

/// The connections of one live room.
#[derive(Debug, Default)]
pub(crate) struct RoomWire {
    joined: Mutex<HashMap<UserId, Arc<Peer>>>,
    listeners: RwLock<Arc<[Arc<Peer>]>>,
    levels: Mutex<HashMap<StreamId, (u8, bool)>>,
}

impl RoomWire {
    fn rebuild(&self, joined: &HashMap<UserId, Arc<Peer>>) {
        let list: Arc<[Arc<Peer>]> = joined.values().cloned().collect();
        *self.listeners.write().unwrap_or_else(|e| e.into_inner()) = list;
    }

    fn peers(&self) -> Arc<[Arc<Peer>]> {
        self.listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Shared server state.
#[derive(Debug)]
pub(crate) struct Hub {
    /// Configuration.
    pub(crate) config: ServerConfig,
    /// The database.
    pub(crate) store: Store,
    /// Counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Live rooms.
    pub(crate) rooms: Mutex<Rooms>,
    next_conn: AtomicU64,
    all: Mutex<HashMap<u64, Arc<Outbox>>>,
    online: Mutex<HashMap<UserId, Vec<Arc<Peer>>>>,
    wires: RwLock<HashMap<RoomId, Arc<RoomWire>>>,
    lookups: Mutex<HashMap<UserId, TokenBucket>>,
    shutting_down: AtomicBool,
    /// What the store holds for each live room. An async mutex held across the write,
    /// so records reach the store in the order the rooms produced them.
    persisted: tokio::sync::Mutex<HashMap<RoomId, RoomRecord>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// Shared state over an open store.
    pub(crate) fn new(config: ServerConfig, store: Store) -> Self {
        let rooms = Rooms::new(RoomsConfig {
            capacity: config.room_capacity,
            stage_grace: config.stage_grace(),
            rejoin_grace: config.stage_grace(),
        });
        Self {
            config,
            store,
            metrics: Arc::new(Metrics::default()),
            rooms: Mutex::new(rooms),
            next_conn: AtomicU64::new(1),
            all: Mutex::default(),
            online: Mutex::default(),
            wires: RwLock::default(),
            lookups: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            persisted: tokio::sync::Mutex::default(),
        }
    }

    /// Brings back the rooms the store kept from before a restart (before serving).
    pub(crate) fn restore_rooms(&mut self, records: Vec<RoomRecord>) {
        let now = Instant::now();
        let rooms = self.rooms.get_mut().unwrap_or_else(|e| e.into_inner());
        let persisted = self.persisted.get_mut();
        for record in records {
            let room = record.room;
            match rooms.restore(record.clone(), now) {
                Ok(()) => {
                    persisted.insert(room, record);
                }
                Err(err) => tracing::warn!(%room, %err, "cannot restore a stored room"),
            }
        }
    }

    /// Brings the store in line with these rooms: saves the ones that changed in what
    /// outlives a restart, forgets the ones that ended. Failures are logged; the next
    /// change retries. Does nothing while shutting down, so the rooms a graceful
    /// shutdown ended come back after the restart.
    pub(crate) async fn persist_rooms(&self, rooms: &[RoomId]) {
        if rooms.is_empty() || self.shutting_down() {
            return;
        }
        let mut persisted = self.persisted.lock().await;
        for &room in rooms {
            if self.shutting_down() {
                return;
            }
            let record = self.rooms().record(room);
            match record {
                Some(record) if persisted.get(&room) != Some(&record) => {
                    match self.store.save_room(&record).await {
                        Ok(()) => {
                            persisted.insert(room, record);
                        }
                        Err(err) => tracing::error!(%room, %err, "cannot store a room"),
                    }
                }
                Some(_) => {}
                None if persisted.contains_key(&room) => match self.store.forget_room(room).await {
                    Ok(()) => {
                        persisted.remove(&room);
                    }
                    Err(err) => tracing::error!(%room, %err, "cannot forget a room"),
                },
                None => {}
            }
        }
    }

    /// Locks the room state.
    pub(crate) fn rooms(&self) -> std::sync::MutexGuard<'_, Rooms> {
        lock(&self.rooms)
    }

    /// Registers a new connection's outbox; returns its number.
    pub(crate) fn connect(&self, outbox: Arc<Outbox>) -> u64 {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.all).insert(conn, outbox);
        self.metrics.connections.fetch_add(1, Ordering::Relaxed);
        conn
    }

    /// Forgets a connection.
    pub(crate) fn disconnect(&self, conn: u64, user: Option<UserId>) {
        lock(&self.all).remove(&conn);
        self.metrics.connections.fetch_sub(1, Ordering::Relaxed);
        if let Some(user) = user {
            let mut online = lock(&self.online);
            if let Some(peers) = online.get_mut(&user) {
                peers.retain(|p| p.conn != conn);
                if peers.is_empty() {
                    online.remove(&user);
                }
            }
        }
    }

    /// Marks a connection as logged in.
    pub(crate) fn log_in(&self, peer: Arc<Peer>) {
        lock(&self.online).entry(peer.user).or_default().push(peer);
    }

    /// Whether the server is shutting down.
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Tells every connection the server is going away and closes them.
    pub(crate) fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        {
            let mut rooms = self.rooms();
            let deliveries = rooms.end_all();
            self.deliver_with(&rooms, deliveries);
        }
        let text = ws::text(
            &Event::ShuttingDown {
                reconnect_after_ms: 2000,
            }
            .to_json(),
        );
        for outbox in lock(&self.all).values() {
            outbox.push_text(text.clone());
            outbox.close(close::SHUTTING_DOWN, "the server is shutting down");
        }
    }

    /// The connection of `user` in `room`, once joined.
    pub(crate) fn enter_wire(&self, room: RoomId, peer: Arc<Peer>) {
        let wire = self
            .wires
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(room)
            .or_default()
            .clone();
        let mut joined = lock(&wire.joined);
        joined.insert(peer.user, peer);
        wire.rebuild(&joined);
    }

    /// Whether connection `conn` is the one `user` joined `room` through (a later
    /// connection of theirs replaces it).
    pub(crate) fn is_wired(&self, room: RoomId, user: UserId, conn: u64) -> bool {
        self.wire(room).is_some_and(|wire| {
            lock(&wire.joined)
                .get(&user)
                .is_some_and(|p| p.conn == conn)
        })
    }

    fn wire(&self, room: RoomId) -> Option<Arc<RoomWire>> {
        self.wires
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&room)
            .cloned()
    }

    /// Brings a room's connections in line with its members (after leave, removal, end).
    pub(crate) fn sync_wire(&self, room: RoomId) {
        let members: Option<HashSet<UserId>> = {
            let rooms = self.rooms();
            rooms
                .exists(room)
                .then(|| rooms.member_users(room).into_iter().collect())
        };
        let Some(members) = members else {
            self.wires
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&room);
            return;
        };
        if let Some(wire) = self.wire(room) {
            let mut joined = lock(&wire.joined);
            let before = joined.len();
            joined.retain(|user, _| members.contains(user));
            if joined.len() != before {
                wire.rebuild(&joined);
            }
        }
    }

    /// Sends each event to its target.
    pub(crate) fn deliver(&self, deliveries: Deliveries) {
        if deliveries.is_empty() {
            return;
        }
        let rooms = self.rooms();
        self.deliver_with(&rooms, deliveries);
    }

    /// Sends each event to its target while the caller holds the rooms lock, so events
    /// of one room are queued in the order the room produced them.
    pub(crate) fn deliver_with(&self, rooms: &Rooms, deliveries: Deliveries) {
        for (target, event) in deliveries {
            let text = ws::text(&event.to_json());
            match target {
                Target::Room(room) => {
                    if let Some(wire) = self.wire(room) {
                        for peer in wire.peers().iter() {
                            peer.outbox.push_text(text.clone());
                        }
                    }
                }
                Target::User(user) => self.send_to_user(user, &text),
                Target::Users(users) => {
                    for user in users {
                        self.send_to_user(user, &text);
                    }
                }
                Target::Moderators(room) => {
                    let moderators = rooms.moderators(room);
                    if let Some(wire) = self.wire(room) {
                        let joined = lock(&wire.joined);
                        for user in moderators {
                            if let Some(peer) = joined.get(&user) {
                                peer.outbox.push_text(text.clone());
                            }
                        }
                    }
                }
            }
        }
    }

    fn send_to_user(&self, user: UserId, text: &Bytes) {
        if let Some(peers) = lock(&self.online).get(&user) {
            for peer in peers {
                peer.outbox.push_text(text.clone());
            }
        }
    }

    /// Sends an event to one device, if it is online.
    pub(crate) fn send_to_device(&self, user: UserId, device: DeviceId, event: &Event) -> bool {
        let online = lock(&self.online);
        let Some(peers) = online.get(&user) else {
            return false;
        };
        let text = ws::text(&event.to_json());
        let mut sent = false;
        for peer in peers.iter().filter(|p| p.device == device) {
            peer.outbox.push_text(text.clone());
            sent = true;
        }
        sent
    }

    /// Forwards one stamped audio frame, already a whole WebSocket frame, to every other
    /// connection in the room. Counts what was queued and dropped once, at the end.
    pub(crate) fn fan_out(
        &self,
        room: RoomId,
        from: UserId,
        stream: StreamId,
        frame: Bytes,
        level: (u8, bool),
    ) {
        let Some(wire) = self.wire(room) else { return };
        bump(&self.metrics.audio_in);
        lock(&wire.levels).insert(stream, level);
        let now = Instant::now();
        let (mut queued, mut dropped) = (0, 0);
        for peer in wire.peers().iter() {
            if peer.user != from {
                match peer.outbox.push_audio(&frame, now) {
                    Pushed::Queued => queued += 1,
                    Pushed::QueuedDroppingOldest => {
                        queued += 1;
                        dropped += 1;
                    }
                    Pushed::Refused => {}
                }
            }
        }
        self.metrics.audio_out.fetch_add(queued, Ordering::Relaxed);
        if dropped > 0 {
            self.metrics
                .audio_dropped_slow
                .fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Sends each room its speakers' latest levels; called a few times a second.
    pub(crate) fn publish_levels(&self) {
        let wires: Vec<(RoomId, Arc<RoomWire>)> = self
            .wires
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(room, wire)| (*room, wire.clone()))
            .collect();
        for (room, wire) in wires {
            let levels: Vec<SpeakerLevel> = lock(&wire.levels)
                .drain()
                .map(|(stream, (level, voice))| SpeakerLevel {
                    stream,
                    level,
                    voice,
                })
                .collect();
            if !levels.is_empty() {
                self.deliver(vec![(
                    Target::Room(room),
                    Event::SpeakingLevels { room, levels },
                )]);
            }
        }
    }

    /// Ends rooms whose stage stayed empty; called about once a second. Answers the
    /// rooms it ended, for [`Self::persist_rooms`].
    pub(crate) fn tick(&self) -> Vec<RoomId> {
        let ended: Vec<RoomId> = {
            let mut rooms = self.rooms();
            let (ended, deliveries) = rooms.end_due(Instant::now());
            self.deliver_with(&rooms, deliveries);
            ended
        };
        for room in &ended {
            self.sync_wire(*room);
        }
        ended
    }

    /// Takes one profile lookup from `user`'s bucket.
    pub(crate) fn take_lookup(&self, user: UserId) -> Result<(), std::time::Duration> {
        let now = Instant::now();
        let mut lookups = lock(&self.lookups);
        lookups
            .entry(user)
            .or_insert_with(|| {
                TokenBucket::new(
                    self.config.lookup_burst,
                    f64::from(self.config.lookups_per_minute) / 60.0,
                    now,
                )
            })
            .take(now)
    }
}
