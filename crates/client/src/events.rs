//! What the client tells its UI: one typed stream of [`ClientEvent`]s.
//!
//! One stream rather than a callback per kind, so a UI (or the CLI, or a test) handles
//! everything in one `match` and sees events in the order they happened. It is a tokio
//! broadcast channel: every subscriber gets every event; one that falls too far behind
//! gets `Lagged` and should re-read [`ClientHandle::room`](crate::ClientHandle::room)
//! and [`ClientHandle::state`](crate::ClientHandle::state), which are always current.

use std::sync::Arc;
use std::time::Duration;

use salon_audio_io::{DeviceEvent, Direction};
use salon_proto::mls::MlsDelivery;
use salon_proto::room::{EndReason, RoomChange, RoomSnapshot, SpeakerLevel};
use salon_proto::{ErrorCode, PublicKey, RoomId, UserId};

/// The connection as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first connection is being made.
    Connecting,
    /// Connected and, when this profile has an account there, logged in.
    Connected,
    /// The connection dropped; attempt `attempt` starts in `next_in`.
    Reconnecting {
        /// 1 for the first retry after a drop.
        attempt: u32,
        /// How long until that attempt.
        next_in: Duration,
    },
    /// Not connected and not trying: see the reason.
    Offline {
        /// Why.
        reason: OfflineReason,
    },
}

/// Why the client stopped trying to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineReason {
    /// [`ClientHandle::shutdown`](crate::ClientHandle::shutdown) was called.
    ShutDown,
    /// The server ended this device's session (close code 4004: revoked, or logged in
    /// elsewhere). Reconnecting is the user's decision.
    SessionEnded {
        /// The server's close reason.
        message: String,
    },
    /// Logging in again after a reconnect was refused (for example the device was
    /// revoked): `authentication_failed` or `invalid_signature`.
    LoginRefused {
        /// The server's code.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
}

/// A change to the room this client is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomUpdate {
    /// A whole new state: after joining, rejoining or a resynchronisation.
    Snapshot(Arc<RoomSnapshot>),
    /// One change, already applied to [`ClientHandle::room`](crate::ClientHandle::room).
    Delta {
        /// The room.
        room: RoomId,
        /// The room's version after it.
        version: u64,
        /// What changed.
        change: RoomChange,
    },
}

/// Everything the client reports, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The connection changed state.
    ConnectionState(ConnectionState),
    /// The room changed (full state or one delta).
    RoomState(RoomUpdate),
    /// The hand queue changed: raised hands, oldest first.
    HandQueue {
        /// The room.
        room: RoomId,
        /// The queue now.
        queue: Vec<UserId>,
    },
    /// Loudness on stage, at most once per
    /// [`ClientConfig::levels_interval`](crate::ClientConfig::levels_interval).
    SpeakingLevels {
        /// The room.
        room: RoomId,
        /// The latest level of each stream that sent audio recently.
        levels: Vec<SpeakerLevel>,
    },
    /// A moderator invites this client on stage: accept or decline.
    InvitedToSpeak {
        /// The room.
        room: RoomId,
        /// Who invited.
        by: UserId,
    },
    /// (To moderators) someone declined an invitation to speak.
    SpeakInviteDeclined {
        /// The room.
        room: RoomId,
        /// Who declined.
        user: UserId,
    },
    /// An invitation into a private room.
    RoomInvitation {
        /// The room.
        room: RoomId,
        /// Its title.
        title: String,
        /// Who invited.
        by: UserId,
    },
    /// This client was removed (or banned) from its room.
    RemovedFromRoom {
        /// The room.
        room: RoomId,
        /// Whether it may not come back.
        banned: bool,
    },
    /// The room ended.
    RoomEnded {
        /// The room.
        room: RoomId,
        /// Why.
        reason: EndReason,
    },
    /// A new device asks to join this account: show the key, approve with
    /// [`ClientHandle::approve_device`](crate::ClientHandle::approve_device).
    DeviceLinkRequested {
        /// The new device's public key.
        device_key: PublicKey,
    },
    /// This device's stock of MLS key packages on the server is low.
    KeyPackagesLow {
        /// How many are left.
        stock: u32,
    },
    /// A message from this device's MLS mailbox, for the end-to-end encryption layer,
    /// which acknowledges it with [`ClientHandle::mls_ack`](crate::ClientHandle::mls_ack)
    /// once handled. Delivery is at least once across restarts (unacknowledged messages
    /// come again); within one run each sequence number is delivered once.
    MlsMessage(Arc<MlsDelivery>),
    /// Private messages: a new message, the conversation list or a safety number
    /// changed, or a message was refused (see [`DirectMessages`](crate::DirectMessages)).
    Dm(crate::dm::DmEvent),
    /// Something happened to an audio device a [`VoiceSession`](crate::VoiceSession)
    /// plays or captures through: it went away and the stream fell back to the
    /// default, came back, or failed. The session keeps running through all of them.
    AudioDevice {
        /// Capture or playback.
        direction: Direction,
        /// What happened.
        event: DeviceEvent,
    },
    /// Something failed in the background (not the answer to a request): a rejoin, a
    /// resynchronisation, a bad frame from the server.
    Error {
        /// The server's code, or `internal` for the client's own failures.
        code: ErrorCode,
        /// What happened.
        message: String,
    },
}
