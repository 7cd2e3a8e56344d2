//! The room state machine: every live room on this server, who is on its stage and in
//! its audience, and the rules for who may do what.
//!
//! It exists so the rules of a room live in one pure, synchronous place that can be
//! tested without sockets or clocks. The connection layer holds one [`Rooms`] under one
//! mutex, calls it with already-authenticated user ids and the current [`Instant`], and
//! sends the returned [`Deliveries`] after resolving each [`Target`]. Nothing here does
//! I/O, spawns tasks or reads the clock.
//!
//! Every change to a room is one [`Event::RoomDelta`] to [`Target::Room`], stamped with a
//! version exactly one higher than the last, so a client that holds a snapshot can
//! follow the room and notice a gap. A refused request changes nothing and emits nothing.
//!
//! Rules this module chose where the product brief left them open:
//! - The *host seat* belongs to the creator until it is handed over ([`Action::SetRole`]
//!   with `Role::Host`) or inherited. Whoever holds it joins as host (unmuted) and is
//!   admitted even to a full room; everyone else joins as a muted listener.
//! - When the host leaves, the longest-present moderator inherits the seat. With no
//!   moderator present the seat stays with the departed host, who gets it back on
//!   rejoining; until then nobody can moderate, and the room ends once its stage has
//!   been empty for the grace period.
//! - Actions by someone who may not even know a private room exists answer
//!   `room_not_found`, exactly like an unknown room.
//! - Idempotent requests that would change nothing (raising a raised hand, muting the
//!   muted, moving a listener to the audience, ...) succeed with no deltas.
//! - Ended rooms are forgotten: joining one answers `room_not_found`.
//! - Roles are not remembered across leaving: a moderator or speaker who leaves and
//!   rejoins comes back as a listener (the host seat is the one exception above). A
//!   dropped connection is not leaving: a moderator or speaker whose connection drops
//!   ([`Rooms::drop_connection`]) gets their role and mute flags back on rejoining
//!   within the rejoin grace, so a network blip does not cost a speaker their place.

mod actions;
mod errors;
mod room;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use salon_proto::room::{EndReason, RoomSnapshot, RoomSummary, Visibility};
use salon_proto::{ErrorBody, Event, Handle, RoomId, StreamId, UserId, limits};

pub use actions::Action;

use room::Room;

/// Default most members per room.
pub const DEFAULT_CAPACITY: usize = 5000;

/// Default time a room may go with nobody on stage before it ends.
pub const DEFAULT_STAGE_GRACE: Duration = Duration::from_secs(30);

/// The largest capacity [`Rooms`] accepts: stream ids are non-zero `u16`s, and the
/// holder of the host seat may join on top of a full room.
pub const MAX_CAPACITY: usize = u16::MAX as usize - 1;

/// Limits and timings of the room state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomsConfig {
    /// Most members per room (the holder of the host seat is admitted even beyond it).
    /// Values above [`MAX_CAPACITY`] are lowered to it.
    pub capacity: usize,
    /// How long a room may go with nobody on stage before [`Rooms::tick`] ends it.
    pub stage_grace: Duration,
    /// How long a moderator or speaker whose connection dropped keeps their place.
    pub rejoin_grace: Duration,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            stage_grace: DEFAULT_STAGE_GRACE,
            rejoin_grace: DEFAULT_STAGE_GRACE,
        }
    }
}

/// Someone joining a room, as the account store knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The account.
    pub user: UserId,
    /// Their handle.
    pub handle: Handle,
    /// Their display name (already validated by the account store).
    pub display_name: String,
}

/// Who should receive an event. The caller resolves it, usually right after the call
/// that produced it: see [`Rooms::recipients`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every current member of the room. Used for deltas; resolved after the change, so
    /// someone who just left does not receive their own `member_left`, and someone who
    /// just joined receives their own `member_joined` (whose version equals the
    /// snapshot's, so a client following the versions ignores it).
    Room(RoomId),
    /// One account, member of the room or not (a removed member, an invited person).
    User(UserId),
    /// These accounts, fixed when the event was made: the members of a room that ended
    /// and no longer exists when the caller resolves the target.
    Users(Vec<UserId>),
    /// The room's host and moderators currently present.
    Moderators(RoomId),
}

/// What of a room outlives a server restart: everything but who is present. The
/// server stores one per live room and [`Rooms::restore`]s them when it starts again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    /// The room.
    pub room: RoomId,
    /// Who holds the host seat now (present or not).
    pub host: UserId,
    /// The title, trimmed.
    pub title: String,
    /// Who can find and enter it.
    pub visibility: Visibility,
    /// Invited into the (private) room, sorted.
    pub invited: Vec<UserId>,
    /// Banned from the room, sorted.
    pub banned: Vec<UserId>,
}

/// Events to send, in order.
pub type Deliveries = Vec<(Target, Event)>;

/// Every live room on this server.
#[derive(Debug)]
pub struct Rooms {
    config: RoomsConfig,
    rooms: HashMap<RoomId, Room>,
    /// user → rooms they are a member of, so a dropped connection leaves them all.
    memberships: HashMap<UserId, HashSet<RoomId>>,
    /// Counts rooms created, to order rooms stably (listing ties, tick and shutdown).
    created: u64,
}

impl Rooms {
    /// No rooms yet.
    pub fn new(config: RoomsConfig) -> Self {
        let config = RoomsConfig {
            capacity: config.capacity.min(MAX_CAPACITY),
            ..config
        };
        Self {
            config,
            rooms: HashMap::new(),
            memberships: HashMap::new(),
            created: 0,
        }
    }

    /// The configuration in force (capacity already limited to [`MAX_CAPACITY`]).
    pub fn config(&self) -> RoomsConfig {
        self.config
    }

    /// Creates a room at version 0 with `host` holding the host seat. The host is not a
    /// member until they [`join`](Self::join); like any room with an empty stage, a
    /// room nobody joins ends after the grace period. The title is stored trimmed.
    pub fn create(
        &mut self,
        id: RoomId,
        host: UserId,
        title: &str,
        visibility: Visibility,
        now: Instant,
    ) -> Result<(), ErrorBody> {
        let title = limits::room_title(title).map_err(errors::invalid_title)?;
        if self.rooms.contains_key(&id) {
            return Err(errors::room_id_taken());
        }
        self.created += 1;
        let room = Room::new(id, title.to_owned(), visibility, host, self.created, now);
        self.rooms.insert(id, room);
        Ok(())
    }

    /// Brings back a room from its [`RoomRecord`] (after a server restart): like
    /// [`create`](Self::create) with the seat holder as host, plus the invited and the
    /// banned. Nobody is present and the stage is empty, so the room ends after the
    /// grace period unless someone gets on stage.
    ///
    /// Refusals: as for [`create`](Self::create).
    pub fn restore(&mut self, record: RoomRecord, now: Instant) -> Result<(), ErrorBody> {
        let RoomRecord {
            room,
            host,
            title,
            visibility,
            invited,
            banned,
        } = record;
        self.create(room, host, &title, visibility, now)?;
        if let Some(state) = self.rooms.get_mut(&room) {
            for user in invited {
                state.invite(user);
            }
            for user in banned {
                state.ban(user);
            }
        }
        Ok(())
    }

    /// What of a live room must survive a restart, or `None` for an unknown room.
    pub fn record(&self, room: RoomId) -> Option<RoomRecord> {
        self.rooms.get(&room).map(Room::record)
    }

    /// Public rooms, busiest (most members) first, at most `limit`. Unlisted and private
    /// rooms are never listed.
    pub fn list_public(&self, limit: usize) -> Vec<RoomSummary> {
        let mut public: Vec<&Room> = self
            .rooms
            .values()
            .filter(|room| room.visibility() == Visibility::Public)
            .collect();
        public.sort_by_key(|room| (std::cmp::Reverse(room.len()), room.created()));
        public.into_iter().take(limit).map(Room::summary).collect()
    }

    /// Enters a room. Answers the room as it is now and the caller's stream id, plus the
    /// `member_joined` delta for everyone. Joining a room one is already in answers the
    /// current snapshot and emits nothing.
    ///
    /// Refusals: `room_not_found` (unknown, ended, or private without an invitation),
    /// `banned`, `room_full`.
    pub fn join(
        &mut self,
        room: RoomId,
        person: Person,
        now: Instant,
    ) -> Result<(RoomSnapshot, StreamId, Deliveries), ErrorBody> {
        let user = person.user;
        let capacity = self.config.capacity;
        let state = visible_room_mut(&mut self.rooms, room, user)?;
        if let Some(present) = state.member(user) {
            return Ok((state.snapshot(), present.stream, Vec::new()));
        }
        if state.is_banned(user) {
            return Err(errors::banned());
        }
        if state.len() >= capacity && !state.holds_host_seat(user) {
            return Err(errors::room_full(capacity));
        }
        let mut out = Vec::new();
        let stream = state.admit(person, now, self.config.rejoin_grace, &mut out);
        state.refresh_stage(now);
        let snapshot = state.snapshot();
        self.memberships.entry(user).or_default().insert(room);
        Ok((snapshot, stream, out))
    }

    /// Leaves a room quietly: lowers the hand if it was up, drops any pending invitation
    /// to speak, frees the stream id, and passes the host seat on if the host left.
    ///
    /// Refusals: `room_not_found`, `not_in_room`.
    pub fn leave(
        &mut self,
        room: RoomId,
        user: UserId,
        now: Instant,
    ) -> Result<Deliveries, ErrorBody> {
        self.depart(room, user, now, false)
    }

    /// Leaves a room because the member's connection dropped: like
    /// [`leave`](Self::leave), but a moderator or speaker gets their place back if they
    /// rejoin within the rejoin grace.
    ///
    /// Refusals: `room_not_found`, `not_in_room`.
    pub fn drop_connection(
        &mut self,
        room: RoomId,
        user: UserId,
        now: Instant,
    ) -> Result<Deliveries, ErrorBody> {
        self.depart(room, user, now, true)
    }

    /// [`leave`](Self::leave) or, when `dropped`, [`drop_connection`](Self::drop_connection).
    fn depart(
        &mut self,
        room: RoomId,
        user: UserId,
        now: Instant,
        dropped: bool,
    ) -> Result<Deliveries, ErrorBody> {
        let state = visible_room_mut(&mut self.rooms, room, user)?;
        if state.member(user).is_none() {
            return Err(errors::not_in_room());
        }
        let mut out = Vec::new();
        if dropped {
            state.drop_connection(user, now, &mut out);
        } else {
            state.remove(user, &mut out);
        }
        state.refresh_stage(now);
        unlink(&mut self.memberships, user, room);
        Ok(out)
    }

    /// Performs one stage action for `actor`. Either everything the action asks for
    /// happens and the deliveries describe it, or nothing happens and the error says why.
    pub fn act(
        &mut self,
        actor: UserId,
        action: Action,
        now: Instant,
    ) -> Result<Deliveries, ErrorBody> {
        let id = action.room();
        let state = visible_room_mut(&mut self.rooms, id, actor)?;
        if let Action::End { .. } = action {
            actions::check_end(state, actor)?;
            return Ok(self.end_room(id, EndReason::EndedByHost));
        }
        let mut out = Vec::new();
        let removed = actions::apply(state, actor, action, &mut out)?;
        state.refresh_stage(now);
        if let Some(user) = removed {
            unlink(&mut self.memberships, user, id);
        }
        Ok(out)
    }

    /// Ends every room whose stage has been empty for at least the grace period, telling
    /// their members `room_ended` with [`EndReason::StageEmpty`].
    pub fn tick(&mut self, now: Instant) -> Deliveries {
        self.end_due(now).1
    }

    /// [`tick`](Self::tick), also answering which rooms ended (in the order they did),
    /// including those nobody was in and so nobody was told about.
    pub fn end_due(&mut self, now: Instant) -> (Vec<RoomId>, Deliveries) {
        let rejoin_grace = self.config.rejoin_grace;
        for room in self.rooms.values_mut() {
            room.forget_returning(now, rejoin_grace);
        }
        let grace = self.config.stage_grace;
        let mut due: Vec<(u64, RoomId)> = self
            .rooms
            .values()
            .filter(|room| {
                room.stage_empty_since()
                    .is_some_and(|since| now.saturating_duration_since(since) >= grace)
            })
            .map(|room| (room.created(), room.id()))
            .collect();
        due.sort_unstable();
        let ended: Vec<RoomId> = due.into_iter().map(|(_, id)| id).collect();
        let deliveries = ended
            .iter()
            .flat_map(|id| self.end_room(*id, EndReason::StageEmpty))
            .collect();
        (ended, deliveries)
    }

    /// Ends every room for a server shutdown ([`EndReason::ServerShutdown`]).
    pub fn end_all(&mut self) -> Deliveries {
        let mut all: Vec<(u64, RoomId)> = self
            .rooms
            .values()
            .map(|room| (room.created(), room.id()))
            .collect();
        all.sort_unstable();
        all.into_iter()
            .flat_map(|(_, id)| self.end_room(id, EndReason::ServerShutdown))
            .collect()
    }

    /// The room as it is now, for a member (`get_snapshot` after a version gap).
    ///
    /// Refusals: `room_not_found`, `not_in_room`.
    pub fn snapshot(&self, room: RoomId, user: UserId) -> Result<RoomSnapshot, ErrorBody> {
        let state = self
            .rooms
            .get(&room)
            .filter(|state| state.may_see(user))
            .ok_or_else(errors::room_not_found)?;
        if state.member(user).is_none() {
            return Err(errors::not_in_room());
        }
        Ok(state.snapshot())
    }

    /// The stream id to stamp on `user`'s audio in `room`, or `None` when their audio
    /// must be dropped: not a member, not on stage, muted, or muted by a moderator.
    /// Two hash lookups; meant to be called for every audio frame.
    pub fn audio_sender(&self, room: RoomId, user: UserId) -> Option<StreamId> {
        self.rooms.get(&room)?.audio_sender(user)
    }

    /// Whether the room is live (it may still be private: this is for the server's own
    /// bookkeeping, not for answering clients).
    pub fn exists(&self, room: RoomId) -> bool {
        self.rooms.contains_key(&room)
    }

    /// Everyone in the room, in join order (empty for an unknown room).
    pub fn member_users(&self, room: RoomId) -> Vec<UserId> {
        self.rooms.get(&room).map(Room::users).unwrap_or_default()
    }

    /// The room's host (if present) and moderators, host first, then by join time.
    pub fn moderators(&self, room: RoomId) -> Vec<UserId> {
        self.rooms
            .get(&room)
            .map(Room::moderators)
            .unwrap_or_default()
    }

    /// Who a target means right now.
    pub fn recipients(&self, target: &Target) -> Vec<UserId> {
        match target {
            Target::Room(room) => self.member_users(*room),
            Target::User(user) => vec![*user],
            Target::Users(users) => users.clone(),
            Target::Moderators(room) => self.moderators(*room),
        }
    }

    /// The rooms `user` is a member of, sorted by id.
    pub fn rooms_of(&self, user: UserId) -> Vec<RoomId> {
        let mut rooms: Vec<RoomId> = self
            .memberships
            .get(&user)
            .map(|rooms| rooms.iter().copied().collect())
            .unwrap_or_default();
        rooms.sort_unstable();
        rooms
    }

    /// How many rooms are live.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// How many memberships there are across all rooms (someone in two rooms counts
    /// twice).
    pub fn member_count(&self) -> usize {
        self.rooms.values().map(Room::len).sum()
    }

    /// Removes a room and tells whoever was in it.
    fn end_room(&mut self, id: RoomId, reason: EndReason) -> Deliveries {
        let Some(room) = self.rooms.remove(&id) else {
            return Vec::new();
        };
        let users = room.users();
        for user in &users {
            unlink(&mut self.memberships, *user, id);
        }
        if users.is_empty() {
            return Vec::new();
        }
        vec![(Target::Users(users), Event::RoomEnded { room: id, reason })]
    }
}

/// The room, if `user` may know it exists.
fn visible_room_mut(
    rooms: &mut HashMap<RoomId, Room>,
    id: RoomId,
    user: UserId,
) -> Result<&mut Room, ErrorBody> {
    rooms
        .get_mut(&id)
        .filter(|room| room.may_see(user))
        .ok_or_else(errors::room_not_found)
}

/// Forgets that `user` is in `room`.
fn unlink(memberships: &mut HashMap<UserId, HashSet<RoomId>>, user: UserId, room: RoomId) {
    if let Some(rooms) = memberships.get_mut(&user) {
        rooms.remove(&room);
        if rooms.is_empty() {
            memberships.remove(&user);
        }
    }
}
