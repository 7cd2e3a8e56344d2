//! One room: who is present, in which role, muted or not, whose hand is up, and the
//! version counter that stamps every change.
//!
//! This layer knows how to change a room and describe each change as a delta; it does
//! not decide who may ask for a change (that is [`super::actions`]). Its primitives
//! assume their caller checked that the users they name are members.
//!
//! Rooms hold thousands of members, so no per-member operation walks the room: members
//! live in a slab (a vector of slots reused through a free list) reached from their user
//! id by one hash lookup; join order and the stage are B-trees from join sequence number
//! to slot, the hand queue a B-tree from raise sequence number to user, and the stream
//! ids in use a hash set. Only snapshots and member lists walk the room, and they walk
//! the slots directly, without hashing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use salon_proto::room::{Member, Role, RoomChange, RoomSnapshot, RoomSummary, Visibility};
use salon_proto::{Event, RoomId, StreamId, UserId};

use super::{Deliveries, Person, Target};

/// One member of a room.
#[derive(Debug, Clone)]
pub(super) struct Present {
    /// Who.
    pub(super) person: Person,
    /// Their role.
    pub(super) role: Role,
    /// Their room-local stream id.
    pub(super) stream: StreamId,
    /// Muted by themselves (always true in the audience).
    pub(super) muted: bool,
    /// Muted by a moderator (never true in the audience or for the host).
    pub(super) muted_by_moderator: bool,
    /// Who invited them to speak, while that invitation is pending.
    pub(super) speak_invite: Option<UserId>,
    /// Their place in join order.
    joined: u64,
    /// Their place in the hand queue, while their hand is up.
    hand: Option<u64>,
}

impl Present {
    fn to_member(&self) -> Member {
        Member {
            user: self.person.user,
            handle: self.person.handle.clone(),
            display_name: self.person.display_name.clone(),
            role: self.role,
            stream: self.stream,
            muted: self.muted,
            muted_by_moderator: self.muted_by_moderator,
            hand_raised: self.hand.is_some(),
        }
    }
}

/// What snapshots do not show, for tests: the host seat, pending invitations to speak
/// (invitee, inviter), the invited and the banned.
#[cfg(test)]
pub(super) type Hidden = (UserId, Vec<(UserId, UserId)>, Vec<UserId>, Vec<UserId>);

/// One live room.
#[derive(Debug)]
pub(super) struct Room {
    id: RoomId,
    title: String,
    visibility: Visibility,
    creator: UserId,
    /// Holder of the host seat, present or not.
    host: UserId,
    /// Order of creation among rooms.
    created: u64,
    version: u64,
    /// The members; `None` marks a free slot (listed in `free`).
    slots: Vec<Option<Present>>,
    free: Vec<usize>,
    /// User → their slot.
    index: HashMap<UserId, usize>,
    /// Join sequence number → slot.
    by_join: BTreeMap<u64, usize>,
    /// Join sequence number → slot, for members on stage only.
    stage: BTreeMap<u64, usize>,
    /// Raise sequence number → member, for raised hands only.
    hands: BTreeMap<u64, UserId>,
    streams: HashSet<StreamId>,
    next_join: u64,
    next_hand: u64,
    last_stream: u16,
    /// Since when nobody has been on stage; `None` while someone is.
    stage_empty_since: Option<Instant>,
    /// Invited into this (private) room.
    invited: HashSet<UserId>,
    banned: HashSet<UserId>,
    /// Members on stage whose connection dropped: their place, kept for a grace period
    /// so a network blip does not send a speaker to the audience.
    returning: HashMap<UserId, Returning>,
}

/// What a member whose connection dropped gets back if they rejoin in time.
#[derive(Debug, Clone, Copy)]
struct Returning {
    role: Role,
    muted: bool,
    muted_by_moderator: bool,
    since: Instant,
}

impl Room {
    /// An empty room whose host seat belongs to `creator`.
    pub(super) fn new(
        id: RoomId,
        title: String,
        visibility: Visibility,
        creator: UserId,
        created: u64,
        now: Instant,
    ) -> Self {
        Self {
            id,
            title,
            visibility,
            creator,
            host: creator,
            created,
            version: 0,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            by_join: BTreeMap::new(),
            stage: BTreeMap::new(),
            hands: BTreeMap::new(),
            streams: HashSet::new(),
            next_join: 0,
            next_hand: 0,
            last_stream: 0,
            stage_empty_since: Some(now),
            invited: HashSet::new(),
            banned: HashSet::new(),
            returning: HashMap::new(),
        }
    }

    pub(super) fn id(&self) -> RoomId {
        self.id
    }

    pub(super) fn title(&self) -> &str {
        &self.title
    }

    pub(super) fn visibility(&self) -> Visibility {
        self.visibility
    }

    pub(super) fn created(&self) -> u64 {
        self.created
    }

    /// How many members.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    pub(super) fn member(&self, user: UserId) -> Option<&Present> {
        self.index.get(&user).and_then(|slot| self.at(*slot))
    }

    fn member_mut(&mut self, user: UserId) -> Option<&mut Present> {
        let slot = *self.index.get(&user)?;
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// The member in `slot`.
    fn at(&self, slot: usize) -> Option<&Present> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// The role of `user`, if a member.
    fn role(&self, user: UserId) -> Option<Role> {
        self.member(user).map(|present| present.role)
    }

    /// Whether `user` holds the host seat (present or not).
    pub(super) fn holds_host_seat(&self, user: UserId) -> bool {
        self.host == user
    }

    pub(super) fn is_banned(&self, user: UserId) -> bool {
        self.banned.contains(&user)
    }

    /// Whether `user` may learn that this room exists: anyone for public and unlisted
    /// rooms; for private ones the creator, the host, members and invited people.
    pub(super) fn may_see(&self, user: UserId) -> bool {
        self.visibility != Visibility::Private
            || user == self.creator
            || user == self.host
            || self.invited.contains(&user)
            || self.index.contains_key(&user)
    }

    /// Lets `user` into this room while it is private.
    pub(super) fn invite(&mut self, user: UserId) {
        self.invited.insert(user);
    }

    /// What of this room survives a restart.
    pub(super) fn record(&self) -> super::RoomRecord {
        let mut invited: Vec<UserId> = self.invited.iter().copied().collect();
        invited.sort_unstable();
        let mut banned: Vec<UserId> = self.banned.iter().copied().collect();
        banned.sort_unstable();
        super::RoomRecord {
            room: self.id,
            host: self.host,
            title: self.title.clone(),
            visibility: self.visibility,
            invited,
            banned,
        }
    }

    /// Keeps `user` out of this room from now on.
    pub(super) fn ban(&mut self, user: UserId) {
        self.banned.insert(user);
    }

    pub(super) fn stage_empty_since(&self) -> Option<Instant> {
        self.stage_empty_since
    }

    /// Starts or stops the empty-stage clock after a change.
    pub(super) fn refresh_stage(&mut self, now: Instant) {
        if !self.stage.is_empty() {
            self.stage_empty_since = None;
        } else if self.stage_empty_since.is_none() {
            self.stage_empty_since = Some(now);
        }
    }

    /// Stamps one change with the next version and queues it for every member.
    fn emit(&mut self, out: &mut Deliveries, change: RoomChange) {
        self.version += 1;
        out.push((
            Target::Room(self.id),
            Event::RoomDelta {
                room: self.id,
                version: self.version,
                change,
            },
        ));
    }

    /// The next free stream id: counts up, wrapping, skipping 0 and ids in use. There
    /// are fewer members than non-zero ids (see `MAX_CAPACITY`), so one is always free.
    fn allocate_stream(&mut self) -> StreamId {
        debug_assert!(self.streams.len() < usize::from(u16::MAX));
        loop {
            self.last_stream = self.last_stream.wrapping_add(1);
            let stream = StreamId(self.last_stream);
            if self.last_stream != 0 && !self.streams.contains(&stream) {
                return stream;
            }
        }
    }

    /// Remembers the place of a member on stage (not the host seat holder, whose seat
    /// waits anyway) whose connection dropped, then takes them out like
    /// [`remove`](Self::remove).
    pub(super) fn drop_connection(&mut self, user: UserId, now: Instant, out: &mut Deliveries) {
        if let Some(present) = self.member(user)
            && user != self.host
            && matches!(present.role, Role::Moderator | Role::Speaker)
        {
            let place = Returning {
                role: present.role,
                muted: present.muted,
                muted_by_moderator: present.muted_by_moderator,
                since: now,
            };
            self.remove(user, out);
            self.returning.insert(user, place);
        } else {
            self.remove(user, out);
        }
    }

    /// Forgets places kept longer than `grace`.
    pub(super) fn forget_returning(&mut self, now: Instant, grace: Duration) {
        self.returning
            .retain(|_, place| now.saturating_duration_since(place.since) < grace);
    }

    /// Adds a member: the holder of the host seat as an unmuted host; someone whose
    /// connection dropped less than `grace` ago back in their place (role and mute
    /// flags); anyone else as a muted listener. The caller checked they are not a
    /// member yet.
    pub(super) fn admit(
        &mut self,
        person: Person,
        now: Instant,
        grace: Duration,
        out: &mut Deliveries,
    ) -> StreamId {
        let user = person.user;
        let place = self
            .returning
            .remove(&user)
            .filter(|place| now.saturating_duration_since(place.since) < grace);
        let (role, muted, muted_by_moderator) = if user == self.host {
            (Role::Host, false, false)
        } else if let Some(place) = place {
            (place.role, place.muted, place.muted_by_moderator)
        } else {
            (Role::Listener, true, false)
        };
        let stream = self.allocate_stream();
        let joined = self.next_join;
        self.next_join += 1;
        let present = Present {
            person,
            role,
            stream,
            muted,
            muted_by_moderator,
            speak_invite: None,
            joined,
            hand: None,
        };
        let member = present.to_member();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(present);
                slot
            }
            None => {
                self.slots.push(Some(present));
                self.slots.len() - 1
            }
        };
        self.index.insert(user, slot);
        self.by_join.insert(joined, slot);
        if role.on_stage() {
            self.stage.insert(joined, slot);
        }
        self.streams.insert(stream);
        self.emit(out, RoomChange::MemberJoined { member });
        stream
    }

    /// Takes a member out (leaving, removed or banned): lowers their hand, drops their
    /// pending invitation with them, frees their stream, and if they were the host hands
    /// the seat to the longest-present moderator.
    pub(super) fn remove(&mut self, user: UserId, out: &mut Deliveries) {
        self.returning.remove(&user);
        self.lower_hand(user, out);
        let Some(slot) = self.index.remove(&user) else {
            return;
        };
        let Some(gone) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.by_join.remove(&gone.joined);
        self.stage.remove(&gone.joined);
        self.streams.remove(&gone.stream);
        self.emit(out, RoomChange::MemberLeft { user });
        if gone.role == Role::Host {
            let heir = self
                .stage
                .values()
                .filter_map(|slot| self.at(*slot))
                .find(|present| present.role == Role::Moderator)
                .map(|present| present.person.user);
            if let Some(heir) = heir {
                self.hand_over(heir, out);
            }
        }
    }

    /// Changes a member's role (not the host seat: see [`Room::hand_over`]). Going on
    /// stage lowers the hand and drops a pending invitation to speak; mute flags are the
    /// caller's business.
    pub(super) fn set_role(&mut self, user: UserId, role: Role, out: &mut Deliveries) {
        let (Some(present), Some(slot)) = (self.member(user), self.index.get(&user).copied())
        else {
            return;
        };
        let (old, joined) = (present.role, present.joined);
        if old == role {
            return;
        }
        if !old.on_stage() && role.on_stage() {
            self.lower_hand(user, out);
            self.stage.insert(joined, slot);
        } else if old.on_stage() && !role.on_stage() {
            self.stage.remove(&joined);
        }
        if let Some(present) = self.member_mut(user) {
            present.role = role;
            if role.on_stage() {
                present.speak_invite = None;
            }
        }
        self.emit(out, RoomChange::RoleChanged { user, role });
    }

    /// Gives the host seat to member `heir`: the present host (if any) becomes a
    /// moderator first, then `heir` becomes host. The host is never moderator-muted, so
    /// that flag is lifted (their own mute stays as it was).
    pub(super) fn hand_over(&mut self, heir: UserId, out: &mut Deliveries) {
        let old = self.host;
        if old != heir && self.role(old) == Some(Role::Host) {
            self.set_role(old, Role::Moderator, out);
        }
        self.host = heir;
        self.set_role(heir, Role::Host, out);
        if let Some(present) = self.member(heir)
            && present.muted_by_moderator
        {
            let muted = present.muted;
            self.set_mute(heir, muted, false, out);
        }
    }

    /// Sets both mute flags; emits one delta if either changed.
    pub(super) fn set_mute(
        &mut self,
        user: UserId,
        muted: bool,
        muted_by_moderator: bool,
        out: &mut Deliveries,
    ) {
        let Some(present) = self.member_mut(user) else {
            return;
        };
        if (present.muted, present.muted_by_moderator) == (muted, muted_by_moderator) {
            return;
        }
        present.muted = muted;
        present.muted_by_moderator = muted_by_moderator;
        self.emit(
            out,
            RoomChange::MuteChanged {
                user,
                muted,
                muted_by_moderator,
            },
        );
    }

    /// Puts a hand up at the end of the queue (nothing if it is up already).
    pub(super) fn raise_hand(&mut self, user: UserId, out: &mut Deliveries) {
        let seq = self.next_hand;
        let Some(present) = self.member_mut(user) else {
            return;
        };
        if present.hand.is_some() {
            return;
        }
        present.hand = Some(seq);
        self.next_hand += 1;
        self.hands.insert(seq, user);
        self.emit(out, RoomChange::HandRaised { user });
    }

    /// Takes a hand down (nothing if it is down).
    pub(super) fn lower_hand(&mut self, user: UserId, out: &mut Deliveries) {
        let Some(seq) = self.member_mut(user).and_then(|p| p.hand.take()) else {
            return;
        };
        self.hands.remove(&seq);
        self.emit(out, RoomChange::HandLowered { user });
    }

    /// Records or clears a pending invitation to speak.
    pub(super) fn set_speak_invite(&mut self, user: UserId, by: Option<UserId>) {
        if let Some(present) = self.member_mut(user) {
            present.speak_invite = by;
        }
    }

    /// Members on stage: host, then moderators, then speakers, each by join time.
    fn stage_in_order(&self) -> impl Iterator<Item = &Present> {
        [Role::Host, Role::Moderator, Role::Speaker]
            .into_iter()
            .flat_map(move |role| {
                self.stage
                    .values()
                    .filter_map(|slot| self.at(*slot))
                    .filter(move |present| present.role == role)
            })
    }

    /// Members in the audience, by join time.
    fn audience_in_order(&self) -> impl Iterator<Item = &Present> {
        self.by_join
            .values()
            .filter_map(|slot| self.at(*slot))
            .filter(|present| !present.role.on_stage())
    }

    /// The whole room at its current version: stage first, then the audience.
    pub(super) fn snapshot(&self) -> RoomSnapshot {
        let mut members = Vec::with_capacity(self.len());
        members.extend(self.stage_in_order().map(Present::to_member));
        members.extend(self.audience_in_order().map(Present::to_member));
        RoomSnapshot {
            room: self.id,
            title: self.title.clone(),
            visibility: self.visibility,
            version: self.version,
            members,
            hand_queue: self.hands.values().copied().collect(),
        }
    }

    /// The room as the hallway lists it.
    pub(super) fn summary(&self) -> RoomSummary {
        RoomSummary {
            room: self.id,
            title: self.title.clone(),
            speakers: self
                .stage_in_order()
                .map(|present| present.person.display_name.clone())
                .collect(),
            listeners: u32::try_from(self.len() - self.stage.len()).unwrap_or(u32::MAX),
        }
    }

    /// Everyone, in join order.
    pub(super) fn users(&self) -> Vec<UserId> {
        self.by_join
            .values()
            .filter_map(|slot| self.at(*slot))
            .map(|present| present.person.user)
            .collect()
    }

    /// Host and moderators present, host first, then by join time.
    pub(super) fn moderators(&self) -> Vec<UserId> {
        self.stage_in_order()
            .filter(|present| present.role.moderates())
            .map(|present| present.person.user)
            .collect()
    }

    /// The stream to forward `user`'s audio under, if they may be heard now.
    pub(super) fn audio_sender(&self, user: UserId) -> Option<StreamId> {
        let present = self.member(user)?;
        (present.role.on_stage() && !present.muted && !present.muted_by_moderator)
            .then_some(present.stream)
    }

    /// Panics if the indexes disagree with the members or a rule of the room is broken.
    #[cfg(test)]
    pub(super) fn check_invariants(&self) {
        let members: Vec<&Present> = self.slots.iter().flatten().collect();
        assert_eq!(members.len(), self.index.len());
        assert_eq!(
            members.len() + self.free.len(),
            self.slots.len(),
            "free list"
        );
        for slot in &self.free {
            assert!(self.slots[*slot].is_none());
        }
        for (user, slot) in &self.index {
            assert_eq!(self.at(*slot).map(|p| p.person.user), Some(*user));
        }
        assert_eq!(self.by_join.len(), members.len());
        assert_eq!(self.streams.len(), members.len());
        for (seq, slot) in &self.by_join {
            assert_eq!(self.at(*slot).map(|p| p.joined), Some(*seq));
        }
        let on_stage: Vec<(u64, usize)> = self
            .by_join
            .iter()
            .filter(|(_, slot)| self.at(**slot).is_some_and(|p| p.role.on_stage()))
            .map(|(seq, slot)| (*seq, *slot))
            .collect();
        let stage: Vec<(u64, usize)> = self.stage.iter().map(|(seq, slot)| (*seq, *slot)).collect();
        assert_eq!(on_stage, stage, "stage index");
        let hands = members.iter().filter(|p| p.hand.is_some()).count();
        assert_eq!(hands, self.hands.len(), "hand index");
        for (seq, user) in &self.hands {
            assert_eq!(self.member(*user).and_then(|p| p.hand), Some(*seq));
        }
        let hosts: Vec<_> = members.iter().filter(|p| p.role == Role::Host).collect();
        assert!(hosts.len() <= 1, "one host at most");
        if let Some(host) = hosts.first() {
            assert_eq!(host.person.user, self.host, "the host holds the seat");
        }
        if self.member(self.host).is_none() {
            assert!(
                members.iter().all(|p| p.role != Role::Moderator),
                "an absent host's seat passes to a present moderator"
            );
        }
        for present in &members {
            assert_ne!(present.stream, StreamId(0));
            assert!(self.streams.contains(&present.stream));
            assert!(
                !present.muted_by_moderator || present.muted,
                "mod-muted means muted"
            );
            if present.role.on_stage() {
                assert!(present.hand.is_none(), "no hands on stage");
                assert!(present.speak_invite.is_none(), "no invites on stage");
            } else {
                assert!(
                    present.muted && !present.muted_by_moderator,
                    "listeners are muted"
                );
            }
            if present.role == Role::Host {
                assert!(!present.muted_by_moderator, "the host is never mod-muted");
            }
            assert!(!self.banned.contains(&present.person.user));
        }
        assert_eq!(self.stage_empty_since.is_some(), self.stage.is_empty());
    }

    /// What snapshots do not show: the host seat, pending invitations to speak, the
    /// invited and the banned, each sorted.
    #[cfg(test)]
    pub(super) fn hidden_state(&self) -> Hidden {
        let mut invites: Vec<(UserId, UserId)> = self
            .slots
            .iter()
            .flatten()
            .filter_map(|p| p.speak_invite.map(|by| (p.person.user, by)))
            .collect();
        invites.sort();
        let mut invited: Vec<UserId> = self.invited.iter().copied().collect();
        invited.sort();
        let mut banned: Vec<UserId> = self.banned.iter().copied().collect();
        banned.sort();
        (self.host, invites, invited, banned)
    }

    /// The current version.
    #[cfg(test)]
    pub(super) fn version(&self) -> u64 {
        self.version
    }
}
