//! Requests a client sends. Each travels in a [`ClientEnvelope`](super::ClientEnvelope)
//! with the client's request id; the server answers every one with exactly one reply.

use serde::{Deserialize, Serialize};

use crate::mls::{GroupId, MlsKind};
use crate::room::{Role, Visibility};
use crate::{Blob, DeviceId, Handle, MessageId, PublicKey, RoomId, Signature, UserId};

/// A request from a client. The JSON `type` is the snake_case variant name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientRequest {
    /// The first message on every connection. Answered by `welcome` (with a login nonce)
    /// or `unsupported_version`.
    Hello {
        /// [`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION) of the client.
        version: u16,
        /// Free-form client name and version, for logs (`salon-desktop/0.1.0`).
        client: String,
    },
    /// Creates an account whose first device is this one, and logs in.
    /// No phone number, no e-mail: a handle, a name and a key.
    Register {
        /// The handle to claim.
        handle: Handle,
        /// The name others see.
        display_name: String,
        /// This device's Ed25519 public key.
        device_key: PublicKey,
        /// An invite code, required when the server registers by invitation only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
        /// Signature over the `register` transcript ([`crate::auth`]).
        signature: Signature,
    },
    /// Logs in as an existing, approved device.
    Authenticate {
        /// The account's handle.
        handle: Handle,
        /// This device's public key.
        device_key: PublicKey,
        /// Signature over the `authenticate` transcript.
        signature: Signature,
    },
    /// From a new device, not logged in: asks the account's existing devices to approve
    /// this key. Answered by `ok`; the device may log in once approved.
    LinkDevice {
        /// The account's handle.
        handle: Handle,
        /// The new device's public key.
        device_key: PublicKey,
        /// Signature over the `link_device` transcript.
        signature: Signature,
    },
    /// From a logged-in device: approves a key that asked to be linked.
    ApproveDevice {
        /// The key to approve.
        device_key: PublicKey,
    },
    /// Removes a device from the account (lost or replaced).
    RevokeDevice {
        /// The device to remove.
        device: DeviceId,
    },
    /// Lists the account's devices. Answered by `devices`.
    ListDevices,
    /// Lists another account's devices and their keys, so end-to-end encrypted
    /// conversations can check that every member device is one the server registered.
    /// Answered by `devices`.
    ListUserDevices {
        /// Whose devices.
        user: UserId,
    },
    /// Creates an invite code for someone else to register with (invite-only servers).
    CreateInvite {
        /// How many registrations the code allows.
        uses: u32,
    },
    /// Looks up one account by its exact handle. Rate-limited per account; there is no
    /// prefix search and no listing of users.
    GetProfile {
        /// The exact handle.
        handle: Handle,
    },
    /// Changes the caller's display name.
    UpdateProfile {
        /// The new display name.
        display_name: String,
    },
    /// Creates a room with the caller as host. Answered by `room_created`.
    CreateRoom {
        /// The title.
        title: String,
        /// Who may find and join it.
        visibility: Visibility,
    },
    /// Lists public rooms. Answered by `room_list`.
    ListRooms {
        /// At most this many (the server caps it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u16>,
    },
    /// Invites someone into a private room (host and moderators).
    InviteToRoom {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Enters a room. Answered by `joined` with a snapshot and the caller's stream id.
    JoinRoom {
        /// The room.
        room: RoomId,
    },
    /// Leaves a room quietly.
    LeaveRoom {
        /// The room.
        room: RoomId,
    },
    /// Ends a room for everyone (host only).
    EndRoom {
        /// The room.
        room: RoomId,
    },
    /// Asks for a fresh snapshot, after a skipped delta version. Answered by `snapshot`.
    GetSnapshot {
        /// The room.
        room: RoomId,
    },
    /// Raises the caller's hand (listeners).
    RaiseHand {
        /// The room.
        room: RoomId,
    },
    /// Lowers the caller's hand.
    LowerHand {
        /// The room.
        room: RoomId,
    },
    /// Invites a member to the stage (host and moderators).
    InviteToSpeak {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Accepts an invitation to speak: the caller becomes a speaker.
    AcceptSpeakInvite {
        /// The room.
        room: RoomId,
    },
    /// Declines an invitation to speak.
    DeclineSpeakInvite {
        /// The room.
        room: RoomId,
    },
    /// Moves someone from the stage to the audience (moderators; anyone for themselves).
    MoveToAudience {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Changes a member's role: the host makes or unmakes moderators.
    SetRole {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
        /// The new role (`moderator`, `speaker`, or `host` to hand the room over).
        role: Role,
    },
    /// Mutes or unmutes the caller. Muting takes effect at once: the server drops the
    /// caller's audio from then on.
    SetMuted {
        /// The room.
        room: RoomId,
        /// Muted or not.
        muted: bool,
    },
    /// Mutes a speaker (moderators). The speaker cannot unmute until a moderator lifts it
    /// with `moderator_unmute` or moves them.
    ModeratorMute {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Lifts a moderator mute (moderators).
    ModeratorUnmute {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Removes someone from the room; they may come back (moderators).
    RemoveMember {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Removes someone and keeps them out of this room (moderators).
    BanMember {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Publishes MLS key packages of this device. Answered by `key_packages_published`.
    PublishKeyPackages {
        /// One-time key packages.
        key_packages: Vec<Blob>,
        /// A last-resort key package, handed out when the one-time ones run out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_resort: Option<Blob>,
    },
    /// Claims one key package for every device of a user. Answered by
    /// `key_packages_claimed`.
    ClaimKeyPackages {
        /// Whose devices.
        user: UserId,
    },
    /// Sends an MLS message to every device of the named users (the sender's other
    /// devices included when the sender names themselves). Answered by `mls_accepted`.
    MlsSend {
        /// The client's id for this message: a resend with the same id (after a lost
        /// reply) is answered with the first send's `group_seq` and stored only once.
        message_id: MessageId,
        /// The group.
        group: GroupId,
        /// What kind of message.
        kind: MlsKind,
        /// The epoch the sender is in; for a commit, the epoch it closes.
        epoch: u64,
        /// Who receives it.
        recipients: Vec<UserId>,
        /// The opaque MLS message.
        payload: Blob,
    },
    /// Acknowledges every mailbox message up to and including `seq`; the server may then
    /// delete them.
    MlsAck {
        /// The highest sequence handled.
        seq: u64,
    },
    /// Fetches unacknowledged mailbox messages after `after` (on reconnect). Answered by
    /// `mls_batch`.
    MlsFetch {
        /// Deliver messages with a higher sequence than this.
        after: u64,
        /// At most this many (the server caps it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u16>,
    },
    /// Liveness and round-trip check. Answered by `pong`.
    Ping,
}
