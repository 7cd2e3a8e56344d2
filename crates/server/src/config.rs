//! Server configuration: one struct, filled from defaults, an optional TOML file, the
//! environment (`SALON_…`) and command-line flags, in rising precedence.
//!
//! The layering is done by `figment` and the flags by `clap`, so no option is parsed by
//! hand and every option has the same name in all three places (`--room-capacity`,
//! `SALON_ROOM_CAPACITY`, `room_capacity = …`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone who can reach the server (the default for a server on this computer).
    Open,
    /// Only with an invite code made by an existing user.
    Invite,
}

/// Everything a server needs to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the database (created if missing).
    pub data_dir: PathBuf,
    /// `sqlite://…`; defaults to `salon.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Who may register.
    pub registration: Registration,
    /// Most members one room may hold.
    pub room_capacity: usize,
    /// How long a room may have nobody on stage before it ends, in seconds.
    pub stage_grace_secs: u64,
    /// Profile lookups one account may burst.
    pub lookup_burst: u32,
    /// Profile lookups one account regains per minute.
    pub lookups_per_minute: u32,
    /// Audio frames queued for one connection before the oldest are dropped.
    pub audio_queue_frames: usize,
    /// PEM certificate chain for TLS (`wss://`); needs `tls_key` too.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS; needs `tls_cert` too.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7300)),
            data_dir: default_data_dir(),
            database_url: None,
            registration: Registration::Open,
            room_capacity: 5000,
            stage_grace_secs: 30,
            lookup_burst: 20,
            lookups_per_minute: 30,
            audio_queue_frames: 100,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl ServerConfig {
    /// The stage grace period.
    pub fn stage_grace(&self) -> Duration {
        Duration::from_secs(self.stage_grace_secs)
    }

    /// The database URL to open.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("salon.db").display()))
    }
}

/// The user's data directory for the server (`~/.local/share/salon/server` on Linux).
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "salon")
        .map(|dirs| dirs.data_dir().join("server"))
        .unwrap_or_else(|| PathBuf::from("salon-server-data"))
}
