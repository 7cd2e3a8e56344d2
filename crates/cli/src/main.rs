//! `salon-cli`: Salon's headless client and bot.
//!
//! Creates an account, creates and lists rooms, streams a WAV file into a room in real
//! time as a speaker, and records a room into a WAV file as a listener. Every command
//! but `account create` logs in with the account the profile directory already holds.
//! On failure it prints one line, `salon-cli: <what to do>`, to stderr and exits 1.

mod commands;
mod dm;
mod interrupt;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Salon's headless client: accounts, rooms, speaking a WAV file, recording a room.
#[derive(Debug, Parser)]
#[command(name = "salon-cli", version)]
pub(crate) struct Cli {
    /// The Salon server: ws://HOST:PORT or wss://HOST:PORT.
    #[arg(long, env = "SALON_SERVER", default_value = "ws://127.0.0.1:7300")]
    pub(crate) server: String,
    /// The profile directory: the local store (and, with `--key-store file`, the key).
    #[arg(long, env = "SALON_PROFILE")]
    pub(crate) profile: PathBuf,
    /// Where the device key is kept: the OS keyring, or PROFILE/device.key (mode 0600).
    #[arg(long, value_enum, default_value_t = KeyStoreArg::Keyring)]
    pub(crate) key_store: KeyStoreArg,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the device key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyStoreArg {
    /// The OS keyring (Secret Service on Linux).
    Keyring,
    /// The file PROFILE/device.key, readable by its owner only.
    File,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Rooms.
    #[command(subcommand)]
    Room(RoomCommand),
    /// End-to-end encrypted private messages.
    #[command(subcommand)]
    Dm(DmCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DmCommand {
    /// Sends TEXT to HANDLE (starting the conversation when there is none).
    Send {
        /// Whom to write to.
        handle: String,
        /// The message.
        text: String,
    },
    /// Prints the unread messages of the conversation with HANDLE, oldest first, as
    /// `HANDLE: TEXT` lines, and marks them read.
    Read {
        /// Whose conversation.
        handle: String,
        /// Wait up to this many seconds for a message when there is none yet.
        #[arg(long)]
        wait_seconds: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Creates an account on the server with this profile's device key and logs in.
    Create {
        /// The handle (letters, digits, `_`).
        handle: String,
        /// The name people see (default: the handle).
        #[arg(long)]
        display_name: Option<String>,
        /// An invite code, for servers with invite-only registration.
        #[arg(long)]
        invite: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RoomCommand {
    /// Creates a room with you as host; prints its id alone on the last line.
    Create {
        /// The room's title.
        title: String,
        /// Who may find and join it.
        #[arg(long, value_enum, default_value_t = VisibilityArg::Public)]
        visibility: VisibilityArg,
    },
    /// Lists the public rooms, busiest first.
    List,
    /// Joins a room and streams a WAV file into it in real time (as host or speaker;
    /// otherwise waits to be invited to speak).
    Speak {
        /// The room's id (32 hex digits).
        room: String,
        /// The WAV file to stream.
        #[arg(long)]
        wav: PathBuf,
        /// Repeat the file until Ctrl-C.
        #[arg(long = "loop")]
        looping: bool,
        /// In the audience: raise your hand while waiting to be invited.
        #[arg(long)]
        raise_hand: bool,
    },
    /// Joins a room and records what it hears into a WAV file (48 kHz mono 16-bit).
    Listen {
        /// The room's id (32 hex digits).
        room: String,
        /// The WAV file to write.
        #[arg(long)]
        record: PathBuf,
        /// How long to record.
        #[arg(long)]
        seconds: u64,
        /// Raise your hand after joining.
        #[arg(long)]
        raise_hand: bool,
    },
}

/// A room's visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum VisibilityArg {
    /// Listed; anyone logged in may join.
    Public,
    /// Not listed; anyone with the id may join.
    Unlisted,
    /// Not listed; only invited people may join.
    Private,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("salon-cli: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // Background tasks (a reconnecting connection) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let message = format!("{err:#}").replace('\n', " ");
            eprintln!("salon-cli: {message}");
            ExitCode::FAILURE
        }
    }
}
