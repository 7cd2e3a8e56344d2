//! Errors the server reports to a client.
//!
//! Every error carries a stable, machine-readable [`ErrorCode`] that clients (and the UI)
//! switch on, and a human sentence that may change between releases. Codes are only
//! ever added; a client that meets a code it does not know reads it as
//! [`ErrorCode::Unknown`] and shows the message.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stable error code. The JSON form is the snake_case name (`"rate_limited"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The text frame was not valid JSON, lacked `type`, or a field had the wrong form.
    Malformed,
    /// The `type` names no message this server knows.
    UnknownMessage,
    /// A frame or message exceeded a size limit.
    TooLarge,
    /// The `hello` named a protocol version the server does not speak.
    UnsupportedVersion,
    /// The first message was not `hello`, or `hello` was sent twice.
    HelloRequired,
    /// The request needs a logged-in device.
    NotAuthenticated,
    /// `register`/`authenticate` on a connection that is already logged in.
    AlreadyAuthenticated,
    /// A field's value broke a rule (handle characters, title length, ...).
    InvalidArgument,
    /// `register` with a handle someone already has.
    HandleTaken,
    /// The signature did not verify against the device key and the nonce.
    InvalidSignature,
    /// The account or device is unknown, or not yet approved (deliberately the same code
    /// for both, so logins cannot probe which handles exist).
    AuthenticationFailed,
    /// This server registers only with an invite code.
    InviteRequired,
    /// The invite code is unknown or used up.
    InvalidInvite,
    /// No account has this exact handle.
    UserNotFound,
    /// Too many requests; `retry_after_ms` says when to try again.
    RateLimited,
    /// No such room, or a private room the caller was not invited to.
    RoomNotFound,
    /// The room has ended.
    RoomEnded,
    /// The room is at its member capacity.
    RoomFull,
    /// The caller is not a member of the room.
    NotInRoom,
    /// The caller's role does not allow this action.
    Forbidden,
    /// The caller is banned from this room.
    Banned,
    /// Accepting an invitation to speak that was never made (or was withdrawn).
    NotInvited,
    /// An MLS commit for an epoch that another commit already closed; re-apply on the
    /// newer epoch.
    EpochConflict,
    /// No key package is left for a device of the user.
    NoKeyPackage,
    /// The server is shutting down; reconnect later.
    ShuttingDown,
    /// The server failed; the request may be retried.
    Internal,
    /// A code this build does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownMessage => "unknown_message",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AlreadyAuthenticated => "already_authenticated",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::HandleTaken => "handle_taken",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::AuthenticationFailed => "authentication_failed",
            ErrorCode::InviteRequired => "invite_required",
            ErrorCode::InvalidInvite => "invalid_invite",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::RoomEnded => "room_ended",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Banned => "banned",
            ErrorCode::NotInvited => "not_invited",
            ErrorCode::EpochConflict => "epoch_conflict",
            ErrorCode::NoKeyPackage => "no_key_package",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 27] = [
        ErrorCode::Malformed,
        ErrorCode::UnknownMessage,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedVersion,
        ErrorCode::HelloRequired,
        ErrorCode::NotAuthenticated,
        ErrorCode::AlreadyAuthenticated,
        ErrorCode::InvalidArgument,
        ErrorCode::HandleTaken,
        ErrorCode::InvalidSignature,
        ErrorCode::AuthenticationFailed,
        ErrorCode::InviteRequired,
        ErrorCode::InvalidInvite,
        ErrorCode::UserNotFound,
        ErrorCode::RateLimited,
        ErrorCode::RoomNotFound,
        ErrorCode::RoomEnded,
        ErrorCode::RoomFull,
        ErrorCode::NotInRoom,
        ErrorCode::Forbidden,
        ErrorCode::Banned,
        ErrorCode::NotInvited,
        ErrorCode::EpochConflict,
        ErrorCode::NoKeyPackage,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::Unknown,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of an `error` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people: a sentence they can act on.
    pub message: String,
    /// With `rate_limited` and `shutting_down`: wait at least this long before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u32>,
}

impl ErrorBody {
    /// An error with a code and a message, no retry hint.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn unknown_codes_from_newer_servers_are_tolerated() {
        let code: ErrorCode = serde_json::from_str("\"quantum_flux\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
    }
}
