//! Salon's end-to-end encryption: MLS (RFC 9420, through openmls) for private
//! messages, as a state machine with no I/O.
//!
//! - [`DeviceIdentity`]: the device's Ed25519 key (the one the server registered)
//!   as the MLS signature key, with the account handle as the credential.
//! - [`Device`]: key packages (one-time and last resort), conversation groups, staged
//!   commits that are merged only when the delivery service accepts them, encryption,
//!   and [`Device::receive`] for whatever arrives (Welcome, commit, message), with
//!   held messages for groups or epochs not reached yet.
//! - [`safety_number`]: the comparable digits and QR payload of a conversation.
//! - [`ChatMessage`]: the content inside an application message.
//! - [`SealKey`]: ChaCha20-Poly1305 for the state and history at rest.
//!
//! The caller (the client core) moves the bytes: it publishes key packages, claims
//! them, sends commits, Welcomes and messages through the server, and stores
//! [`Device::export_state`] sealed with a key from the OS keyring.

mod content;
mod device;
mod error;
mod identity;
mod provider;
mod safety;
mod seal;

pub use content::ChatMessage;
pub use device::{CIPHERSUITE, Device, Ignored, Inbound, Outgoing, StagedChange};
pub use error::{E2eeError, Result};
pub use identity::{DeviceIdentity, MemberId};
pub use openmls::prelude::KeyPackage;
pub use safety::{SafetyNumber, safety_number};
pub use seal::SealKey;
