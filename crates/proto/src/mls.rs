//! Types of the MLS delivery service.
//!
//! The server relays MLS (RFC 9420) messages without being able to read them: key
//! packages, commits, proposals, welcomes and application messages are opaque
//! [`Blob`]s here. What the server does know is just enough to deliver them: which
//! group a message is for, which users receive it, and for a commit the epoch it builds
//! on, so that the first commit of an epoch wins and later ones are refused with
//! `epoch_conflict`. Each device has a mailbox with its own increasing sequence numbers;
//! a device acknowledges up to a sequence, and anything after that is delivered again
//! after a reconnect.

use serde::{Deserialize, Serialize};

use crate::{Blob, DeviceId, UserId};

/// An MLS group id, chosen by the group's creator (1 to 64 bytes).
pub type GroupId = Blob;

/// What kind of MLS message a payload is; the server orders commits by epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MlsKind {
    /// A commit: moves the group to the next epoch. One per epoch is accepted.
    Commit,
    /// A standalone proposal.
    Proposal,
    /// A Welcome for devices being added.
    Welcome,
    /// An application message (a PrivateMessage carrying chat content).
    Application,
}

/// A claimed key package of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKeyPackage {
    /// The device it belongs to.
    pub device: DeviceId,
    /// The serialized MLS KeyPackage.
    pub key_package: Blob,
}

/// One message delivered to this device's mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlsDelivery {
    /// This device's mailbox sequence number: strictly increasing, acknowledged with
    /// `mls_ack`.
    pub seq: u64,
    /// The group.
    pub group: GroupId,
    /// Sending account.
    pub sender: UserId,
    /// Sending device.
    pub sender_device: DeviceId,
    /// What kind of message.
    pub kind: MlsKind,
    /// The epoch the sender was in.
    pub epoch: u64,
    /// The opaque MLS message.
    pub payload: Blob,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
}
