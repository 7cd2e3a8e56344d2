//! Salon's client core: everything between the UI (or a bot) and the server, except
//! the audio pipeline, which plugs into the hooks here.
//!
//! - [`Client::connect`] loads the device key ([`KeyStore`]: the OS keyring, or a 0600
//!   key file for bots), opens the profile's [`LocalStore`], connects over one WebSocket
//!   (`ws://`, or `wss://` with the system's roots), says hello and logs in by signing
//!   the server's nonce. [`ClientHandle::register`] creates the account the first time.
//! - The connection task keeps it alive: when it drops it retries with exponential
//!   backoff and jitter ([`Backoff`]), logs in again, rejoins the room and resumes MLS
//!   delivery after the last acknowledged message, reporting [`ConnectionState`]s. The
//!   server keeps rooms across its restarts, so the client rejoins the same room id;
//!   a room the server no longer knows has ended ([`ClientEvent::RoomEnded`]).
//! - The room is followed from snapshot and deltas ([`RoomView`]); a typed method exists
//!   for every request of the protocol.
//! - The UI gets one typed stream of [`ClientEvent`]s.
//! - Audio hooks for the audio session: [`ClientHandle::send_audio`] (never blocks,
//!   drops the oldest frame when behind, always after control messages) and
//!   [`ClientHandle::audio_frames`] (decoded headers with the payload as `Bytes`), plus
//!   [`ClientHandle::my_stream`] and [`ClientHandle::may_speak`].
//! - [`VoiceSession`] runs the audio session on those hooks: an [`AudioSource`]
//!   through capture processing and Opus into the room while allowed to speak, and the
//!   room's streams through jitter buffers and the mixer into an [`AudioSink`].
//!
//! [`AudioSource`]: salon_audio_io::AudioSource
//! [`AudioSink`]: salon_audio_io::AudioSink
//!
//! - [`DirectMessages`]: end-to-end encrypted private messages (MLS through
//!   `salon-e2ee`), history and state sealed at rest under a key derived from the
//!   device key in the keyring; events arrive as [`ClientEvent::Dm`].

mod audio;
mod backoff;
mod commands;
mod config;
mod connection;
mod dm;
mod error;
mod events;
mod handle;
mod keys;
mod room;
mod shared;
mod store;
pub mod voice_session;

pub use audio::{AudioFrames, IncomingFrame};
pub use backoff::Backoff;
pub use commands::{MlsBatch, Profile};
pub use config::{ClientConfig, KeyStore};
pub use dm::{Conversation, DirectMessages, DmEvent, DmMessage, SafetyNumberView};
pub use error::{ClientError, Result};
pub use events::{ClientEvent, ConnectionState, OfflineReason, RoomUpdate};
pub use handle::{Client, ClientHandle};
pub use keys::DeviceKey;
pub use room::RoomView;
pub use store::{Account, DB_FILE, KnownServer, LocalStore, MAX_VOLUME_PERCENT};
pub use voice_session::{VoiceConfig, VoiceSession, VoiceStats};

/// The wire vocabulary this client speaks, re-exported for callers.
pub use salon_proto as proto;
