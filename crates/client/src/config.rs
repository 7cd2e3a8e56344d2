//! What a client needs to start: the server, the profile directory, where the device
//! key lives, and the timings of reconnecting.
//!
//! The device key is the account: whoever holds it can log in. So it lives in the OS
//! keyring by default; a key file is an explicit choice for headless bots (and must be
//! readable by its owner only).

use std::path::PathBuf;
use std::time::Duration;

use crate::backoff::Backoff;

/// Where the device's Ed25519 secret key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStore {
    /// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager
    /// on Windows): the secret never touches the disk in plain form. One key per
    /// profile directory and server, so accounts on different servers cannot be linked
    /// by their key.
    Keyring,
    /// A file holding the key (base64), for a headless bot, by explicit choice. Created
    /// with mode 0600 when missing; refused when group or others may read or write it.
    File(PathBuf),
}

/// How a [`Client`](crate::Client) connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://HOST:PORT/v1/ws` or `wss://…` (the path is added when missing).
    pub server_url: String,
    /// This profile's directory: the local SQLite store lives here.
    pub profile_dir: PathBuf,
    /// Where the device key is kept.
    pub key_store: KeyStore,
    /// Free-form client name and version, sent in `hello` for the server's logs.
    pub client_name: String,
    /// Certificates (DER) trusted for `wss://` besides the system's roots: a server on
    /// someone's own computer with a self-signed certificate.
    pub extra_root_certs: Vec<Vec<u8>>,
    /// The reconnect policy.
    pub backoff: Backoff,
    /// How long one request may wait for its reply.
    pub request_timeout: Duration,
    /// How long connecting, `hello` and login may take before the attempt counts as
    /// failed.
    pub connect_timeout: Duration,
    /// Audio frames queued for sending before the oldest are dropped.
    pub audio_send_queue: usize,
    /// Incoming audio frames queued for the audio session before the oldest are dropped.
    pub audio_receive_queue: usize,
    /// The shortest interval between two `SpeakingLevels` events (the UI's frame rate
    /// for level meters).
    pub levels_interval: Duration,
}

impl ClientConfig {
    /// A configuration with the default timings.
    pub fn new(
        server_url: impl Into<String>,
        profile_dir: impl Into<PathBuf>,
        key_store: KeyStore,
    ) -> Self {
        Self {
            server_url: server_url.into(),
            profile_dir: profile_dir.into(),
            key_store,
            client_name: format!("salon-client/{}", env!("CARGO_PKG_VERSION")),
            extra_root_certs: Vec::new(),
            backoff: Backoff::default(),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            audio_send_queue: 50,
            audio_receive_queue: 200,
            levels_interval: Duration::from_millis(100),
        }
    }

    /// The user's default profile directory (`~/.local/share/salon/client` on Linux).
    pub fn default_profile_dir() -> PathBuf {
        directories::ProjectDirs::from("", "", "salon")
            .map(|dirs| dirs.data_dir().join("client"))
            .unwrap_or_else(|| PathBuf::from("salon-client-data"))
    }
}
