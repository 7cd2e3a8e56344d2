//! Rooms: visibility, roles, members, snapshots and the deltas that keep them current.
//!
//! A client learns a room's state once from a [`RoomSnapshot`] and then follows it
//! through [`RoomChange`]s, each stamped with the room's version. Versions count up by
//! exactly one per change, so a client that sees a gap knows it missed something and
//! asks for a fresh snapshot instead of drifting out of sync.

use serde::{Deserialize, Serialize};

use crate::{Handle, RoomId, StreamId, UserId};

/// Who can find and enter a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Listed in the hallway; anyone logged in may join.
    Public,
    /// Not listed; anyone who knows the room id may join.
    Unlisted,
    /// Not listed; only people the host or a moderator invited may join.
    Private,
}

/// A member's part in a room. Host, moderator and speaker are "on stage".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Created the room (or inherited it); may do everything a moderator may, make
    /// moderators, and end the room.
    Host,
    /// Manages the stage: invites to speak, moves back to the audience, mutes, removes.
    Moderator,
    /// On stage and may send audio.
    Speaker,
    /// In the audience: hears the stage, may raise a hand.
    Listener,
}

impl Role {
    /// Whether this role may send audio.
    pub fn on_stage(self) -> bool {
        !matches!(self, Role::Listener)
    }

    /// Whether this role may manage others.
    pub fn moderates(self) -> bool {
        matches!(self, Role::Host | Role::Moderator)
    }
}

/// One person in a room, as every member sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The account.
    pub user: UserId,
    /// Their handle.
    pub handle: Handle,
    /// Their display name.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// The room-local id stamped on their audio frames.
    pub stream: StreamId,
    /// Muted by themselves.
    pub muted: bool,
    /// Muted by a moderator: they cannot unmute until moved or re-invited.
    pub muted_by_moderator: bool,
    /// Whether their hand is up (their place is in the snapshot's `hand_queue`).
    pub hand_raised: bool,
}

/// A whole room at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// The room.
    pub room: RoomId,
    /// Its title.
    pub title: String,
    /// Its visibility.
    pub visibility: Visibility,
    /// Incremented by one with every [`RoomChange`].
    pub version: u64,
    /// Everyone present, stage first.
    pub members: Vec<Member>,
    /// Raised hands, oldest first: the order moderators should invite in.
    pub hand_queue: Vec<UserId>,
}

/// One change to a room, carried by a `room_delta` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RoomChange {
    /// Someone entered.
    MemberJoined {
        /// Who, with their role.
        member: Member,
    },
    /// Someone left, was removed, or was banned.
    MemberLeft {
        /// Who.
        user: UserId,
    },
    /// A role changed: invited to speak, moved to the audience, made moderator or host.
    RoleChanged {
        /// Whose.
        user: UserId,
        /// The new role.
        role: Role,
    },
    /// Someone muted or unmuted, or a moderator muted them.
    MuteChanged {
        /// Who.
        user: UserId,
        /// Muted by themselves.
        muted: bool,
        /// Muted by a moderator.
        muted_by_moderator: bool,
    },
    /// A hand went up (appended to the end of the hand queue).
    HandRaised {
        /// Whose.
        user: UserId,
    },
    /// A hand went down (removed from the hand queue).
    HandLowered {
        /// Whose.
        user: UserId,
    },
}

/// A public room as the hallway lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The room.
    pub room: RoomId,
    /// Its title.
    pub title: String,
    /// Display names of the people on stage, host first.
    pub speakers: Vec<String>,
    /// How many are in the audience.
    pub listeners: u32,
}

/// Why a room ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The host ended it.
    EndedByHost,
    /// Nobody was left on stage for the grace period.
    StageEmpty,
    /// The server is shutting down.
    ServerShutdown,
}

/// One entry of a `speaking_levels` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerLevel {
    /// Whose stream.
    pub stream: StreamId,
    /// Loudness in -dBov (0 = loudest, 127 = silence), as in the audio frames.
    pub level: u8,
    /// Whether their voice-activity detector says they are talking.
    pub voice: bool,
}
