//! Tests of the room state machine, and the harness they share.
//!
//! Every call goes through [`World`], which checks after each step what must always
//! hold: the deltas a member would receive, applied in order to the room as they last
//! saw it, give exactly the server's snapshot (so deltas are complete and versions are
//! contiguous); the room's indexes agree with its members; and a refused request
//! changed nothing at all.

mod flow;
mod lifecycle;
mod membership;
mod random;
mod stage;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use salon_proto::room::{Member, Role, RoomChange, RoomSnapshot, Visibility};
use salon_proto::{ErrorBody, ErrorCode, Event, Handle, RoomId, StreamId, UserId};

use super::{
    Action, DEFAULT_STAGE_GRACE, Deliveries, Person, RoomRecord, Rooms, RoomsConfig, Target,
};

const HOST: u16 = 1;
const MOD: u16 = 2;
const ANN: u16 = 3;
const BOB: u16 = 4;
const CAT: u16 = 5;
const DAN: u16 = 6;

fn uid(n: u16) -> UserId {
    let mut bytes = [0xa5; 16];
    bytes[..2].copy_from_slice(&n.to_be_bytes());
    UserId::from_bytes(bytes)
}

fn rid(n: u8) -> RoomId {
    RoomId::from_bytes([n; 16])
}

fn person(n: u16) -> Person {
    Person {
        user: uid(n),
        handle: Handle::parse(&format!("user_{n}")).unwrap(),
        display_name: format!("User {n}"),
    }
}

fn name(n: u16) -> String {
    format!("User {n}")
}

/// The room changes among `deliveries`, in order.
fn deltas(deliveries: &Deliveries) -> Vec<RoomChange> {
    deliveries
        .iter()
        .filter_map(|(_, event)| match event {
            Event::RoomDelta { change, .. } => Some(change.clone()),
            _ => None,
        })
        .collect()
}

/// Everything but room changes among `deliveries`, in order.
fn others(deliveries: &Deliveries) -> Vec<(Target, Event)> {
    deliveries
        .iter()
        .filter(|(_, event)| !matches!(event, Event::RoomDelta { .. }))
        .cloned()
        .collect()
}

/// A room as a client following its deltas sees it.
#[derive(Debug, Default)]
struct Mirror {
    version: u64,
    members: BTreeMap<UserId, Member>,
    hands: Vec<UserId>,
}

impl Mirror {
    fn apply(&mut self, version: u64, change: &RoomChange) {
        assert_eq!(
            version,
            self.version + 1,
            "versions go up by one: {change:?}"
        );
        self.version = version;
        match change {
            RoomChange::MemberJoined { member } => {
                assert!(!member.hand_raised);
                let before = self.members.insert(member.user, member.clone());
                assert!(before.is_none(), "joined twice: {member:?}");
            }
            RoomChange::MemberLeft { user } => {
                assert!(self.members.remove(user).is_some(), "left without joining");
                assert!(!self.hands.contains(user), "hand lowered before leaving");
            }
            RoomChange::RoleChanged { user, role } => {
                let member = self.members.get_mut(user).expect("role of a member");
                assert_ne!(member.role, *role, "a delta changes something");
                member.role = *role;
            }
            RoomChange::MuteChanged {
                user,
                muted,
                muted_by_moderator,
            } => {
                let member = self.members.get_mut(user).expect("mute of a member");
                let before = (member.muted, member.muted_by_moderator);
                assert_ne!(
                    before,
                    (*muted, *muted_by_moderator),
                    "a delta changes something"
                );
                member.muted = *muted;
                member.muted_by_moderator = *muted_by_moderator;
            }
            RoomChange::HandRaised { user } => {
                assert!(!self.hands.contains(user));
                self.hands.push(*user);
                self.members
                    .get_mut(user)
                    .expect("hand of a member")
                    .hand_raised = true;
            }
            RoomChange::HandLowered { user } => {
                let at = self
                    .hands
                    .iter()
                    .position(|u| u == user)
                    .expect("hand was up");
                self.hands.remove(at);
                self.members
                    .get_mut(user)
                    .expect("hand of a member")
                    .hand_raised = false;
            }
        }
    }

    fn check(&self, snapshot: &RoomSnapshot) {
        assert_eq!(self.version, snapshot.version, "version");
        let members: BTreeMap<UserId, Member> = snapshot
            .members
            .iter()
            .map(|member| (member.user, member.clone()))
            .collect();
        assert_eq!(members.len(), snapshot.members.len(), "no duplicates");
        assert_eq!(self.members, members, "members");
        assert_eq!(self.hands, snapshot.hand_queue, "hand queue");
    }
}

/// Everything about one room, to prove a refusal changed nothing.
#[derive(Debug, PartialEq)]
struct RoomPrint {
    snapshot: RoomSnapshot,
    users: Vec<UserId>,
    stage_empty_since: Option<Instant>,
    hidden: super::room::Hidden,
}

/// Everything about all rooms and memberships.
type Fingerprint = (Vec<RoomPrint>, Vec<(UserId, Vec<RoomId>)>);

/// The room state machine with a fake clock and a client-side mirror of every room.
struct World {
    rooms: Rooms,
    t0: Instant,
    now: Instant,
    mirrors: HashMap<RoomId, Mirror>,
}

impl World {
    fn new() -> Self {
        Self::with_config(RoomsConfig::default())
    }

    fn with_config(config: RoomsConfig) -> Self {
        let t0 = Instant::now();
        Self {
            rooms: Rooms::new(config),
            t0,
            now: t0,
            mirrors: HashMap::new(),
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn try_create(&mut self, room: RoomId, host: u16, vis: Visibility) -> Result<(), ErrorBody> {
        let title = format!("Room {}", room.as_bytes()[0]);
        self.try_create_titled(room, host, &title, vis)
    }

    fn try_create_titled(
        &mut self,
        room: RoomId,
        host: u16,
        title: &str,
        vis: Visibility,
    ) -> Result<(), ErrorBody> {
        let before = self.fingerprint();
        let result = self.rooms.create(room, uid(host), title, vis, self.now);
        match &result {
            Ok(()) => {
                self.mirrors.insert(room, Mirror::default());
            }
            Err(_) => assert_eq!(before, self.fingerprint(), "a refusal changes nothing"),
        }
        self.check();
        result
    }

    fn create(&mut self, room: RoomId, host: u16, vis: Visibility) {
        self.try_create(room, host, vis).unwrap();
    }

    fn try_join(
        &mut self,
        room: RoomId,
        n: u16,
    ) -> Result<(RoomSnapshot, StreamId, Deliveries), ErrorBody> {
        let before = self.fingerprint();
        let result = self.rooms.join(room, person(n), self.now);
        match &result {
            Ok((snapshot, stream, deliveries)) => {
                self.feed(deliveries);
                assert_eq!(snapshot.version, self.mirrors[&room].version);
                let me = snapshot.members.iter().find(|m| m.user == uid(n)).unwrap();
                assert_eq!(me.stream, *stream);
            }
            Err(_) => assert_eq!(before, self.fingerprint(), "a refusal changes nothing"),
        }
        self.check();
        result
    }

    /// Joins and answers the joiner's stream id.
    fn join(&mut self, room: RoomId, n: u16) -> StreamId {
        match self.try_join(room, n) {
            Ok((_, stream, _)) => stream,
            Err(err) => panic!("user {n} cannot join: {err}"),
        }
    }

    fn join_code(&mut self, room: RoomId, n: u16) -> ErrorCode {
        self.try_join(room, n)
            .expect_err("join must be refused")
            .code
    }

    fn try_leave(&mut self, room: RoomId, n: u16) -> Result<Deliveries, ErrorBody> {
        let before = self.fingerprint();
        let result = self.rooms.leave(room, uid(n), self.now);
        match &result {
            Ok(deliveries) => self.feed(deliveries),
            Err(_) => assert_eq!(before, self.fingerprint(), "a refusal changes nothing"),
        }
        self.check();
        result
    }

    fn leave(&mut self, room: RoomId, n: u16) -> Deliveries {
        self.try_leave(room, n).unwrap()
    }

    /// `n`'s connection drops while in `room`.
    fn drop_connection(&mut self, room: RoomId, n: u16) -> Deliveries {
        let result = self.rooms.drop_connection(room, uid(n), self.now);
        let deliveries = result.expect("a member's connection drops");
        self.feed(&deliveries);
        self.check();
        deliveries
    }

    fn try_act(&mut self, n: u16, action: Action) -> Result<Deliveries, ErrorBody> {
        let before = self.fingerprint();
        let result = self.rooms.act(uid(n), action, self.now);
        match &result {
            Ok(deliveries) => self.feed(deliveries),
            Err(_) => assert_eq!(before, self.fingerprint(), "a refusal changes nothing"),
        }
        self.check();
        result
    }

    fn act(&mut self, n: u16, action: Action) -> Deliveries {
        match self.try_act(n, action) {
            Ok(deliveries) => deliveries,
            Err(err) => panic!("user {n} cannot {action:?}: {err}"),
        }
    }

    /// Expects a refusal; answers it.
    fn refuse(&mut self, n: u16, action: Action) -> ErrorBody {
        match self.try_act(n, action) {
            Ok(deliveries) => panic!("user {n} may {action:?}: {deliveries:?}"),
            Err(err) => err,
        }
    }

    fn refuse_code(&mut self, n: u16, action: Action) -> ErrorCode {
        self.refuse(n, action).code
    }

    fn tick(&mut self) -> Deliveries {
        let deliveries = self.rooms.tick(self.now);
        self.feed(&deliveries);
        self.check();
        deliveries
    }

    fn end_all(&mut self) -> Deliveries {
        let deliveries = self.rooms.end_all();
        self.feed(&deliveries);
        self.check();
        deliveries
    }

    fn snapshot(&self, room: RoomId, n: u16) -> RoomSnapshot {
        self.rooms.snapshot(room, uid(n)).unwrap()
    }

    fn member(&self, room: RoomId, n: u16) -> Member {
        let snapshot = self.rooms.rooms[&room].snapshot();
        snapshot
            .members
            .into_iter()
            .find(|m| m.user == uid(n))
            .unwrap()
    }

    fn version(&self, room: RoomId) -> u64 {
        self.rooms.rooms[&room].version()
    }

    /// Applies every delta to the mirrors, checking targets.
    fn feed(&mut self, deliveries: &Deliveries) {
        for (target, event) in deliveries {
            match event {
                Event::RoomDelta {
                    room,
                    version,
                    change,
                } => {
                    assert_eq!(*target, Target::Room(*room), "deltas go to the whole room");
                    self.mirrors.get_mut(room).unwrap().apply(*version, change);
                }
                Event::RoomEnded { room, .. } => {
                    let mirror = self.mirrors.remove(room).expect("a known room ended");
                    let Target::Users(users) = target else {
                        panic!("room_ended names its recipients: {target:?}");
                    };
                    let mut users = users.clone();
                    users.sort();
                    let members: Vec<UserId> = mirror.members.keys().copied().collect();
                    assert_eq!(users, members, "every member hears the room ended");
                }
                Event::InvitedToSpeak { .. }
                | Event::RoomInvitation { .. }
                | Event::RemovedFromRoom { .. } => {
                    assert!(matches!(target, Target::User(_)), "{event:?} is private");
                }
                Event::SpeakInviteDeclined { room, .. } => {
                    assert_eq!(*target, Target::Moderators(*room));
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let mut ids: Vec<&RoomId> = self.rooms.rooms.keys().collect();
        ids.sort();
        let rooms = ids
            .into_iter()
            .map(|id| {
                let room = &self.rooms.rooms[id];
                RoomPrint {
                    snapshot: room.snapshot(),
                    users: room.users(),
                    stage_empty_since: room.stage_empty_since(),
                    hidden: room.hidden_state(),
                }
            })
            .collect();
        let mut memberships: Vec<(UserId, Vec<RoomId>)> = self
            .rooms
            .memberships
            .keys()
            .map(|user| (*user, self.rooms.rooms_of(*user)))
            .collect();
        memberships.sort();
        (rooms, memberships)
    }

    /// What must hold after every step.
    fn check(&mut self) {
        // Rooms that ended with nobody in them (tick) were never announced.
        self.mirrors.retain(|id, mirror| {
            self.rooms.rooms.contains_key(id) || {
                assert!(mirror.members.is_empty(), "members of {id:?} were told");
                false
            }
        });
        assert_eq!(self.mirrors.len(), self.rooms.rooms.len());
        let mut memberships: HashMap<UserId, Vec<RoomId>> = HashMap::new();
        for (id, room) in &self.rooms.rooms {
            room.check_invariants();
            let snapshot = room.snapshot();
            self.mirrors[id].check(&snapshot);
            check_order(&snapshot);
            for user in room.users() {
                memberships.entry(user).or_default().push(*id);
            }
        }
        let indexed: usize = self.rooms.memberships.values().map(|r| r.len()).sum();
        assert_eq!(indexed, self.rooms.member_count(), "membership index size");
        for (user, mut rooms) in memberships {
            rooms.sort();
            assert_eq!(self.rooms.rooms_of(user), rooms, "membership index");
        }
    }
}

/// Snapshots list the stage first (host, moderators, speakers), then the audience, each
/// group by join time (checked by role here; join order by the tests that set it up).
fn check_order(snapshot: &RoomSnapshot) {
    let rank = |role: Role| match role {
        Role::Host => 0,
        Role::Moderator => 1,
        Role::Speaker => 2,
        Role::Listener => 3,
    };
    let ranks: Vec<u8> = snapshot.members.iter().map(|m| rank(m.role)).collect();
    assert!(ranks.is_sorted(), "stage first, by role: {ranks:?}");
}

#[test]
#[should_panic(expected = "versions go up by one")]
fn the_harness_notices_a_gap_in_versions() {
    let mut mirror = Mirror::default();
    mirror.apply(2, &RoomChange::MemberLeft { user: uid(1) });
}
