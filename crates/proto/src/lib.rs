//! Salon's wire vocabulary, shared by the server, the client and the tools.
//!
//! One WebSocket carries two kinds of frames:
//! - **text frames**: JSON control messages ([`control`]). The client sends
//!   [`ClientEnvelope`]s (a request plus the client's request id); the server answers
//!   with [`ReplyEnvelope`]s that name that id, and pushes [`Event`]s on its own.
//! - **binary frames**: audio ([`frame`]), a 13-byte header the server reads and an
//!   opaque payload (Opus, or SFrame-protected Opus) it never reads.
//!
//! This crate does no I/O and knows no runtime: it only turns values into bytes and
//! bytes into values, with strict bounds, so every other crate speaks the same language
//! and hostile input fails with an error instead of a panic. `docs/PROTOCOL.md` is the
//! human-readable form of what is defined here.

pub mod auth;
mod blob;
pub mod close;
pub mod control;
mod error;
pub mod frame;
mod handle;
mod ids;
pub mod limits;
pub mod mls;
pub mod room;

pub use blob::{Blob, BlobError, Nonce, PublicKey, Signature};
pub use control::{
    ClientEnvelope, ClientRequest, DecodeError, DeviceInfo, Event, Reply, ReplyEnvelope,
    ServerMessage,
};
pub use error::{ErrorBody, ErrorCode};
pub use handle::{Handle, HandleError, MAX_HANDLE_LEN, MIN_HANDLE_LEN};
pub use ids::{DeviceId, IdError, MessageId, RequestId, RoomId, StreamId, UserId};

/// The protocol version this build speaks. The client names it in its first message
/// (`hello`); a server that cannot speak it answers `unsupported_version`.
///
/// Versioning rule: adding a message type, an optional field or an error code keeps the
/// version (peers ignore unknown fields and answer unknown types with an error); removing
/// or changing the meaning of anything bumps it.
pub const PROTOCOL_VERSION: u16 = 1;

/// The WebSocket path on a Salon server.
pub const WS_PATH: &str = "/v1/ws";
