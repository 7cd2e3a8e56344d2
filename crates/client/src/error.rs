//! The client's errors: one enum, a doc line per variant, the server's [`ErrorCode`]
//! kept where the server refused something, so a UI can switch on codes instead of
//! matching strings.

use std::path::PathBuf;

use salon_proto::{ErrorBody, ErrorCode};

/// Everything that can go wrong in the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the request with an `error`: nothing it asked for happened.
    #[error("the server refused: {message} ({code})")]
    Server {
        /// The stable error code.
        code: ErrorCode,
        /// The server's human-readable explanation.
        message: String,
        /// Wait at least this long before retrying (`rate_limited`, `shutting_down`).
        retry_after_ms: Option<u32>,
    },
    /// The server URL is not a `ws://` or `wss://` URL.
    #[error("not a Salon server URL (ws://HOST:PORT or wss://HOST:PORT): {0}")]
    BadUrl(String),
    /// The server could not be reached, or the WebSocket handshake failed.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// The client is between connections (reconnecting or offline); try again once
    /// [`ConnectionState::Connected`](crate::ConnectionState::Connected) is back.
    #[error("not connected to the server")]
    NotConnected,
    /// The connection dropped while the request was in flight: it may or may not have
    /// been carried out.
    #[error("the connection dropped before the server answered")]
    ConnectionLost,
    /// The server closed the connection (with a close code from
    /// [`salon_proto::close`] when it gave one).
    #[error("the server closed the connection ({code:?}): {reason}")]
    Closed {
        /// The WebSocket close code, if a close frame came.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The server did not answer within the request deadline.
    #[error("the server did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The server answered with a reply of the wrong type (a server bug).
    #[error("unexpected reply to {request}: {reply}")]
    UnexpectedReply {
        /// The request's wire type.
        request: &'static str,
        /// What came back.
        reply: String,
    },
    /// The request needs a logged-in account on this server.
    #[error("no account is logged in on this connection; register or log in first")]
    NotLoggedIn,
    /// The request is about the current room, and the client is in none.
    #[error("not in a room")]
    NotInRoom,
    /// An argument was refused before sending (a handle, a volume, a frame).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The OS keyring could not be used.
    #[error(
        "the OS keyring is not available ({reason}); on Linux it needs a Secret Service \
         (gnome-keyring) on the D-Bus session bus, unlocked. Tests get one from \
         `cargo xtask test`; a headless bot may use a key file (KeyStore::File) instead"
    )]
    Keyring {
        /// What the keyring said.
        reason: String,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "refusing the key file {path}: its mode is {mode:04o}, so other users can read it; \
         run `chmod 600 {path}`"
    )]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key material (in the keyring or the key file) is not a valid device key.
    #[error("the device key in {location} is damaged: {reason}")]
    BadKey {
        /// Where it was read from.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a local file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The local SQLite store failed.
    #[error("local store: {0}")]
    Store(#[from] sqlx::Error),
    /// The local store's migrations failed.
    #[error("local store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The client was shut down.
    #[error("the client has been shut down")]
    ShutDown,
    /// The voice session could not start: the audio formats, Opus or a thread.
    #[error("cannot start the voice session: {0}")]
    Voice(String),
}

impl ClientError {
    /// The server's error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<ErrorBody> for ClientError {
    fn from(body: ErrorBody) -> Self {
        ClientError::Server {
            code: body.code,
            message: body.message,
            retry_after_ms: body.retry_after_ms,
        }
    }
}

/// The library's result type.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
