//! Errors as the UI receives them: every command answers `Result<T, UiError>`, with a
//! stable code to switch on and a sentence a person can act on.
//!
//! The client library's errors keep the server's [`ErrorCode`] when the server refused
//! something; everything else maps to one of the shell's own codes (listed on
//! [`UiError::code`]).

use salon_client::ClientError;
use salon_client::proto::ErrorCode;

pub use crate::dto::UiError;

/// What every command returns.
pub type UiResult<T> = Result<T, UiError>;

impl UiError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// Bad input from the UI (nothing was changed).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_input", message)
    }

    /// No server chosen or no connection yet.
    pub fn not_connected() -> Self {
        Self::new(
            "not_connected",
            "Not connected to a server yet: choose a server or host one on this computer.",
        )
    }

    /// The command needs an account on the server.
    pub fn no_account() -> Self {
        Self::new(
            "no_account",
            "No account on this server yet: create one first.",
        )
    }

    /// A failure of the shell itself.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(
            "internal",
            format!("Something went wrong inside Salon: {err}"),
        )
    }
}

impl From<ClientError> for UiError {
    fn from(err: ClientError) -> Self {
        match &err {
            ClientError::Server { code, message, .. } => {
                UiError::new(code.as_str(), server_message(*code, message))
            }
            ClientError::NotConnected
            | ClientError::ConnectionLost
            | ClientError::Closed { .. } => UiError::new(
                "not_connected",
                format!("{err}. Salon reconnects by itself; try again in a moment."),
            ),
            ClientError::Connect { .. } | ClientError::BadUrl(_) | ClientError::Timeout(_) => {
                UiError::new("not_connected", format!("{err}."))
            }
            ClientError::NotLoggedIn => UiError::no_account(),
            ClientError::NotInRoom => UiError::new("not_in_room", "You are not in a room."),
            ClientError::InvalidArgument(reason) => UiError::invalid(reason.clone()),
            ClientError::Keyring { .. } | ClientError::BadKey { .. } => {
                UiError::new("keyring", err.to_string())
            }
            _ => UiError::internal(&err),
        }
    }
}

/// The server's message, with a hint for the codes a person can do something about.
fn server_message(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::RateLimited => format!("{message}. Wait a moment and try again."),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_refusals_keep_the_protocol_code() {
        let err = ClientError::Server {
            code: ErrorCode::HandleTaken,
            message: "that handle is taken".into(),
            retry_after_ms: None,
        };
        let ui = UiError::from(err);
        assert_eq!(ui.code, "handle_taken");
        assert_eq!(ui.message, "that handle is taken");
    }

    #[test]
    fn local_failures_get_the_shells_codes() {
        assert_eq!(UiError::from(ClientError::NotInRoom).code, "not_in_room");
        assert_eq!(
            UiError::from(ClientError::NotConnected).code,
            "not_connected"
        );
        assert_eq!(
            UiError::from(ClientError::InvalidArgument("handle".into())).code,
            "invalid_input"
        );
    }
}
