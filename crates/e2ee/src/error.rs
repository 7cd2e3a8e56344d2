//! The crate's errors: one enum, a doc line per variant, so callers can tell a message
//! to drop (tampered, from before this device joined) from a bug or a bad state file.

use thiserror::Error;

/// What went wrong in the end-to-end encryption layer.
#[derive(Debug, Error)]
pub enum E2eeError {
    /// Bytes that are not a well-formed MLS message, key package or state file.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The message failed authentication (altered in transit, or not meant for this
    /// group); it was dropped and the conversation is unchanged.
    #[error(
        "message rejected: it failed its integrity check ({reason}); the conversation is unchanged"
    )]
    Tampered {
        /// The library's reason.
        reason: String,
    },
    /// A key package whose credential or signature key is not what the server lists
    /// for that person's device.
    #[error("key package refused: {reason}")]
    UntrustedKeyPackage {
        /// What did not match.
        reason: String,
    },
    /// No group with this id on this device.
    #[error("no conversation group {group} on this device")]
    UnknownGroup {
        /// The group id, hex.
        group: String,
    },
    /// The sealed state or history could not be opened with this key.
    #[error("encrypted local state could not be opened (wrong key or damaged file)")]
    Unseal,
    /// A failure inside openmls that is not about the message (state, storage, a bug).
    #[error("MLS: {0}")]
    Mls(String),
}

/// Short for `Result<T, E2eeError>`.
pub type Result<T, E = E2eeError> = std::result::Result<T, E>;

pub(crate) fn mls(err: impl std::fmt::Display) -> E2eeError {
    E2eeError::Mls(err.to_string())
}

pub(crate) fn malformed(what: &'static str, err: impl std::fmt::Display) -> E2eeError {
    E2eeError::Malformed {
        what,
        reason: err.to_string(),
    }
}
