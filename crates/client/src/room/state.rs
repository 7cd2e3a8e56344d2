//! One room as this client sees it: the snapshot from `joined` (or `snapshot`), kept
//! current by applying `room_delta` events in version order.
//!
//! Pure and synchronous, so the rules are unit-tested without a server: a delta at or
//! below the current version is stale and ignored (a joiner's own `member_joined`
//! arrives at the snapshot's version), the next version is applied, and anything
//! further ahead is a gap: the caller asks for a fresh snapshot instead of drifting.

use salon_proto::room::{Member, Role, RoomChange, RoomSnapshot};
use salon_proto::{RoomId, StreamId, UserId};

/// A room and this client's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    /// The room at [`RoomSnapshot::version`]. Members keep the snapshot's order;
    /// people who joined since are at the end.
    pub snapshot: RoomSnapshot,
    /// This client's account.
    pub me: UserId,
    /// This client's stream id in the room (stamped on its audio by the server).
    pub my_stream: StreamId,
}

/// What applying one delta did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeltaOutcome {
    /// At or below the current version: already contained, ignored.
    Stale,
    /// The next version: applied.
    Applied,
    /// Versions were skipped: the state is out of date until a fresh snapshot.
    Gap,
}

impl RoomView {
    /// The room's id.
    pub fn room(&self) -> RoomId {
        self.snapshot.room
    }

    /// The room's version.
    pub fn version(&self) -> u64 {
        self.snapshot.version
    }

    /// A member by account.
    pub fn member(&self, user: UserId) -> Option<&Member> {
        self.snapshot.members.iter().find(|m| m.user == user)
    }

    /// The member whose audio frames carry `stream`.
    pub fn member_by_stream(&self, stream: StreamId) -> Option<&Member> {
        self.snapshot.members.iter().find(|m| m.stream == stream)
    }

    /// This client's own entry.
    pub fn me(&self) -> Option<&Member> {
        self.member(self.me)
    }

    /// This client's role.
    pub fn my_role(&self) -> Option<Role> {
        self.me().map(|m| m.role)
    }

    /// Whether the server forwards this client's audio now: on stage, not muted, not
    /// muted by a moderator.
    pub fn may_speak(&self) -> bool {
        self.me()
            .is_some_and(|m| m.role.on_stage() && !m.muted && !m.muted_by_moderator)
    }

    /// Raised hands, oldest first.
    pub fn hand_queue(&self) -> &[UserId] {
        &self.snapshot.hand_queue
    }

    /// Applies the delta that brings the room to `version`.
    pub(crate) fn apply(&mut self, version: u64, change: &RoomChange) -> DeltaOutcome {
        let current = self.snapshot.version;
        if version <= current {
            return DeltaOutcome::Stale;
        }
        if version != current + 1 {
            return DeltaOutcome::Gap;
        }
        let snapshot = &mut self.snapshot;
        snapshot.version = version;
        fn member(snapshot: &mut RoomSnapshot, user: UserId) -> Option<&mut Member> {
            snapshot.members.iter_mut().find(|m| m.user == user)
        }
        match change {
            RoomChange::MemberJoined { member: joined } => {
                snapshot.members.retain(|m| m.user != joined.user);
                snapshot.members.push(joined.clone());
            }
            RoomChange::MemberLeft { user } => {
                snapshot.members.retain(|m| m.user != *user);
                snapshot.hand_queue.retain(|u| u != user);
            }
            RoomChange::RoleChanged { user, role } => {
                if let Some(m) = member(snapshot, *user) {
                    m.role = *role;
                }
            }
            RoomChange::MuteChanged {
                user,
                muted,
                muted_by_moderator,
            } => {
                if let Some(m) = member(snapshot, *user) {
                    m.muted = *muted;
                    m.muted_by_moderator = *muted_by_moderator;
                }
            }
            RoomChange::HandRaised { user } => {
                if let Some(m) = member(snapshot, *user) {
                    m.hand_raised = true;
                }
                if !snapshot.hand_queue.contains(user) {
                    snapshot.hand_queue.push(*user);
                }
            }
            RoomChange::HandLowered { user } => {
                if let Some(m) = member(snapshot, *user) {
                    m.hand_raised = false;
                }
                snapshot.hand_queue.retain(|u| u != user);
            }
        }
        DeltaOutcome::Applied
    }
}

#[cfg(test)]
mod tests {
    use salon_proto::Handle;
    use salon_proto::room::Visibility;

    use super::*;

    fn user(n: u8) -> UserId {
        UserId::from_bytes([n; 16])
    }

    fn listener(n: u8) -> Member {
        Member {
            user: user(n),
            handle: Handle::parse(&format!("user{n}")).unwrap(),
            display_name: format!("User {n}"),
            role: Role::Listener,
            stream: StreamId(u16::from(n)),
            muted: true,
            muted_by_moderator: false,
            hand_raised: false,
        }
    }

    fn view() -> RoomView {
        let mut host = listener(1);
        host.role = Role::Host;
        host.muted = false;
        RoomView {
            snapshot: RoomSnapshot {
                room: RoomId::from_bytes([9; 16]),
                title: "Jazz".into(),
                visibility: Visibility::Public,
                version: 3,
                members: vec![host, listener(2)],
                hand_queue: vec![],
            },
            me: user(2),
            my_stream: StreamId(2),
        }
    }

    #[test]
    fn stale_next_and_gap() {
        let mut room = view();
        let joined = RoomChange::MemberJoined {
            member: listener(3),
        };
        assert_eq!(room.apply(3, &joined), DeltaOutcome::Stale);
        assert_eq!(room.apply(2, &joined), DeltaOutcome::Stale);
        assert!(room.member(user(3)).is_none());
        assert_eq!(room.apply(5, &joined), DeltaOutcome::Gap);
        assert_eq!(room.version(), 3, "a gap changes nothing");
        assert_eq!(room.apply(4, &joined), DeltaOutcome::Applied);
        assert_eq!(room.version(), 4);
        assert!(room.member(user(3)).is_some());
    }

    #[test]
    fn the_stage_flow_updates_hands_roles_and_mutes() {
        let mut room = view();
        assert!(!room.may_speak());
        room.apply(4, &RoomChange::HandRaised { user: user(2) });
        assert_eq!(room.hand_queue(), [user(2)]);
        assert!(room.me().unwrap().hand_raised);
        room.apply(5, &RoomChange::HandLowered { user: user(2) });
        room.apply(
            6,
            &RoomChange::RoleChanged {
                user: user(2),
                role: Role::Speaker,
            },
        );
        assert!(room.hand_queue().is_empty());
        assert!(!room.me().unwrap().hand_raised);
        assert!(!room.may_speak(), "still muted");
        let unmute = |by_moderator| RoomChange::MuteChanged {
            user: user(2),
            muted: false,
            muted_by_moderator: by_moderator,
        };
        room.apply(7, &unmute(false));
        assert!(room.may_speak());
        room.apply(8, &unmute(true));
        assert!(!room.may_speak(), "a moderator mute silences");
        room.apply(9, &RoomChange::MemberLeft { user: user(1) });
        assert!(room.member(user(1)).is_none());
        assert_eq!(room.member_by_stream(StreamId(2)).unwrap().user, user(2));
    }

    #[test]
    fn leaving_lowers_a_hand() {
        let mut room = view();
        room.apply(4, &RoomChange::HandRaised { user: user(2) });
        room.apply(5, &RoomChange::MemberLeft { user: user(2) });
        assert!(room.hand_queue().is_empty());
        assert!(room.me().is_none());
    }
}
