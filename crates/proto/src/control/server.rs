//! What the server sends: replies to requests and events it pushes on its own.

use serde::{Deserialize, Serialize};

use crate::mls::{DeviceKeyPackage, MlsDelivery};
use crate::room::{EndReason, RoomChange, RoomSnapshot, RoomSummary, SpeakerLevel};
use crate::{DeviceId, ErrorBody, Handle, Nonce, PublicKey, RoomId, StreamId, UserId};

/// One device of the caller's account, as `devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 key.
    pub device_key: PublicKey,
    /// When it was added, in milliseconds since the Unix epoch.
    pub added_at_ms: u64,
}

/// The answer to one request; travels in a [`ReplyEnvelope`](super::ReplyEnvelope) that
/// names the request id. The JSON `type` is the snake_case variant name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// Answers `hello`: the versions match; here is a nonce to sign for logging in.
    Welcome {
        /// The server's protocol version.
        version: u16,
        /// Free-form server name and version.
        server: String,
        /// A fresh nonce, valid for this connection only.
        nonce: Nonce,
    },
    /// Answers `register` and `authenticate`: this connection is now logged in.
    Authenticated {
        /// The account.
        user: UserId,
        /// This device.
        device: DeviceId,
        /// The account's handle.
        handle: Handle,
        /// The account's display name.
        display_name: String,
    },
    /// Answers `list_devices`.
    Devices {
        /// Every device of the account.
        devices: Vec<DeviceInfo>,
    },
    /// Answers `create_invite`.
    InviteCreated {
        /// The code to give to someone.
        code: String,
        /// Registrations it allows.
        uses: u32,
    },
    /// Answers `get_profile`. Says nothing about who invited whom.
    Profile {
        /// The account.
        user: UserId,
        /// The handle.
        handle: Handle,
        /// The display name.
        display_name: String,
    },
    /// Answers `create_room`.
    RoomCreated {
        /// The new room.
        room: RoomId,
    },
    /// Answers `list_rooms`.
    RoomList {
        /// Public rooms, busiest first.
        rooms: Vec<RoomSummary>,
    },
    /// Answers `join_room`.
    Joined {
        /// The room as it is now.
        snapshot: RoomSnapshot,
        /// The caller's own stream id in this room.
        stream: StreamId,
    },
    /// Answers `get_snapshot`.
    Snapshot {
        /// The room as it is now.
        snapshot: RoomSnapshot,
    },
    /// Answers `publish_key_packages`.
    KeyPackagesPublished {
        /// One-time key packages this device now has on the server.
        stock: u32,
    },
    /// Answers `claim_key_packages`: one key package per device of the user.
    KeyPackagesClaimed {
        /// Whose.
        user: UserId,
        /// One per device that had one.
        key_packages: Vec<DeviceKeyPackage>,
    },
    /// Answers `mls_send`: stored for every recipient device.
    MlsAccepted {
        /// The group-wide order of this message.
        group_seq: u64,
    },
    /// Answers `mls_fetch`.
    MlsBatch {
        /// Messages in mailbox order.
        messages: Vec<MlsDelivery>,
        /// Whether more are waiting after the last one.
        more: bool,
    },
    /// Answers a request that has nothing else to say.
    Ok,
    /// Answers `ping`.
    Pong,
    /// The request failed; nothing it asked for happened.
    Error(ErrorBody),
}

/// Something that happened, pushed without a request. The JSON `type` is the snake_case
/// variant name; events never carry `re`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// One change to a room the caller is in.
    RoomDelta {
        /// The room.
        room: RoomId,
        /// The room's version after this change; exactly one more than the last.
        version: u64,
        /// What changed.
        #[serde(flatten)]
        change: RoomChange,
    },
    /// Current loudness of the people on stage, a few times a second.
    SpeakingLevels {
        /// The room.
        room: RoomId,
        /// One entry per stream that sent audio since the last event.
        levels: Vec<SpeakerLevel>,
    },
    /// A moderator invites the caller to speak.
    InvitedToSpeak {
        /// The room.
        room: RoomId,
        /// The moderator.
        by: UserId,
    },
    /// Sent to moderators: a member declined their invitation to speak.
    SpeakInviteDeclined {
        /// The room.
        room: RoomId,
        /// Who declined.
        user: UserId,
    },
    /// The caller was invited into a private room.
    RoomInvitation {
        /// The room.
        room: RoomId,
        /// Its title.
        title: String,
        /// Who invited.
        by: UserId,
    },
    /// The caller was removed (or banned) from a room.
    RemovedFromRoom {
        /// The room.
        room: RoomId,
        /// Whether they may not come back.
        banned: bool,
    },
    /// A room the caller was in has ended.
    RoomEnded {
        /// The room.
        room: RoomId,
        /// Why.
        reason: EndReason,
    },
    /// A new device asks to join the caller's account; approve with `approve_device`.
    DeviceLinkRequested {
        /// The new device's key: compare it with what the new device shows.
        device_key: PublicKey,
    },
    /// This device's stock of one-time key packages is low; publish more.
    KeyPackagesLow {
        /// How many are left.
        stock: u32,
    },
    /// A new message in this device's MLS mailbox.
    MlsMessage(MlsDelivery),
    /// The server is going away; reconnect after the hint.
    ShuttingDown {
        /// Wait at least this long before reconnecting.
        reconnect_after_ms: u32,
    },
}
