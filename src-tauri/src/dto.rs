//! Every type that crosses the boundary between the shell and the web UI.
//!
//! These are the only shapes the UI sees: commands answer them, events carry them. The
//! TypeScript declarations in `ui/src/lib/bindings/index.ts` are generated from these
//! definitions ([`bindings_ts`]) and checked in; a test fails when they are stale, so
//! the UI never holds a hand-written copy of a Rust type. Field names are camelCase on
//! the wire, ids are strings, times are milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error the UI can act on: a stable snake_case `code` to switch on, and a sentence
/// for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UiError {
    /// Stable code: the server's error codes where they apply, plus `not_connected`,
    /// `no_account`, `not_in_room`, `hotkey_conflict`, `invalid_input`, `unavailable`,
    /// `keyring`, `internal`.
    pub code: String,
    /// What happened and what to do, in English.
    pub message: String,
}

/// Everything the UI needs at start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    /// True until a server is chosen and an account exists on it.
    pub needs_onboarding: bool,
    /// The server in use, if one was chosen.
    pub server_url: Option<String>,
    /// The embedded server, when this computer hosts.
    pub hosting: Option<Hosting>,
    /// The account on that server.
    pub account: Option<Account>,
    /// The connection now.
    pub connection: Connection,
    /// Hotkeys, devices, language.
    pub settings: Settings,
    /// The room this app is in, if any (after a reload of the UI).
    pub room: Option<Room>,
}

/// The server embedded in the app ("Host on this computer").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Hosting {
    /// The TCP port it listens on (all interfaces).
    pub port: u16,
    /// Addresses friends on the LAN can use, `ws://ADDRESS:PORT`; loopback first.
    pub urls: Vec<String>,
}

/// The account logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account's id.
    pub user_id: String,
    /// The unique handle.
    pub handle: String,
    /// The name people see.
    pub display_name: String,
}

/// Someone, as shown in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// The account's id.
    pub user_id: String,
    /// The unique handle.
    pub handle: String,
    /// The name people see.
    pub display_name: String,
}

/// The connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// The first connection is being made.
    Connecting,
    /// Connected (and logged in when there is an account).
    Connected,
    /// Dropped; retrying (see `attempt` and `nextInMs`).
    Reconnecting,
    /// Not connected and not retrying (see `reason`), or no server chosen yet.
    Offline,
}

/// The connection as the banner shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The state.
    pub state: ConnectionKind,
    /// While reconnecting: which attempt comes next (1 = first retry).
    pub attempt: Option<u32>,
    /// While reconnecting: milliseconds until that attempt.
    pub next_in_ms: Option<u32>,
    /// While offline: why.
    pub reason: Option<String>,
}

/// Who may find a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Listed in the hallway.
    Public,
    /// Joinable by id, not listed.
    Unlisted,
    /// Invited people only.
    Private,
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Opened the room; on stage; moderates.
    Host,
    /// On stage; moderates.
    Moderator,
    /// On stage.
    Speaker,
    /// In the audience.
    Listener,
}

/// A public room in the hallway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    /// The room's id.
    pub room_id: String,
    /// Its title.
    pub title: String,
    /// Display names of the people on stage, host first.
    pub speakers: Vec<String>,
    /// How many are in the audience.
    pub listener_count: u32,
}

/// One member of the room the app is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The account's id.
    pub user_id: String,
    /// The handle.
    pub handle: String,
    /// The name people see.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// Muted by themselves.
    pub muted: bool,
    /// Muted by a moderator (they cannot unmute until it is lifted).
    pub moderator_muted: bool,
    /// Hand raised.
    pub hand_raised: bool,
    /// How loud this app plays them, percent (0..=200, remembered per person).
    pub volume: u16,
}

/// The room the app is in, complete (rooms are small enough to send whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    /// The room's id.
    pub room_id: String,
    /// Its title.
    pub title: String,
    /// Who may find it.
    pub visibility: Visibility,
    /// This app's account id.
    pub me: String,
    /// This app's role.
    pub my_role: Role,
    /// On stage: host first, then in the order they came up.
    pub stage: Vec<Member>,
    /// Everyone else.
    pub audience: Vec<Member>,
    /// Raised hands, oldest first (user ids).
    pub hands: Vec<String>,
    /// A moderator invited this app on stage and it has not answered yet.
    pub invited_to_speak: bool,
    /// This app is muted (by itself or by a moderator).
    pub muted: bool,
}

/// What a hotkey does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HotkeyAction {
    /// Mute or unmute.
    ToggleMute,
    /// Raise or lower the hand.
    ToggleHand,
    /// Speak only while held (unmuted on press, muted on release).
    PushToTalk,
}

/// One global hotkey and whether it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Hotkey {
    /// What it does.
    pub action: HotkeyAction,
    /// The key combination, e.g. `Ctrl+Shift+M` (empty when unbound).
    pub accelerator: String,
    /// Whether the OS gave it to this app.
    pub registered: bool,
    /// Why not, when not.
    pub error: Option<String>,
}

/// The UI's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// English.
    En,
    /// French.
    Fr,
}

/// The user's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Every hotkey action with its binding.
    pub hotkeys: Vec<Hotkey>,
    /// The chosen microphone (a device id), or the system default.
    pub input_device: Option<String>,
    /// The chosen speakers (a device id), or the system default.
    pub output_device: Option<String>,
    /// The chosen language, or the system's.
    pub language: Option<Language>,
    /// Whether global shortcuts can be grabbed in this session.
    pub global_shortcuts_available: bool,
    /// Why not, when not (for example on Wayland).
    pub global_shortcuts_note: Option<String>,
}

/// An audio device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Stable id (`host:name`).
    pub id: String,
    /// What to show.
    pub name: String,
    /// The system's default for its direction.
    pub is_default: bool,
}

/// Every audio device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Devices {
    /// Microphones.
    pub inputs: Vec<Device>,
    /// Speakers.
    pub outputs: Vec<Device>,
}

/// A DM conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The conversation's id.
    pub conversation_id: String,
    /// Everyone in it but this account.
    pub peers: Vec<Person>,
    /// Messages not read yet.
    pub unread: u32,
    /// The last message's text.
    pub last_text: Option<String>,
    /// When it was sent (ms since the epoch).
    pub last_at: Option<u64>,
    /// Whether the safety number was verified.
    pub verified: bool,
}

/// One DM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DmMessage {
    /// The message's id.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Who sent it.
    pub sender: Person,
    /// The text.
    pub text: String,
    /// When it was sent (ms since the epoch).
    pub sent_at: u64,
    /// Sent by this account.
    pub mine: bool,
    /// Written by Salon itself (a device added or removed, the safety number changed);
    /// `sender` is then empty.
    pub notice: bool,
}

/// The number two people compare to know no one is in the middle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SafetyNumber {
    /// Digits in groups, to read aloud.
    pub digits: String,
    /// The content of a QR code to scan instead.
    pub qr_payload: String,
    /// Whether this account marked it verified.
    pub verified: bool,
}

/// Loudness of one person on stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Level {
    /// Whose.
    pub user_id: String,
    /// 0 (silence) to 1 (loudest).
    pub level: f32,
    /// Whether they are talking now (the speaking ring).
    pub speaking: bool,
}

/// Why the app is no longer in its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RoomLeftReason {
    /// This app left.
    Left,
    /// A moderator removed this account.
    Removed,
    /// A moderator banned this account.
    Banned,
    /// The room ended.
    Ended,
}

/// Everything the shell tells the UI, on the one event `salon://event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum UiEvent {
    /// The connection changed.
    Connection {
        /// The connection now.
        connection: Connection,
    },
    /// The room changed (the whole room).
    Room {
        /// The room now.
        room: Room,
    },
    /// Loudness on stage, at most 10 times a second.
    Levels {
        /// One entry per person heard recently.
        levels: Vec<Level>,
    },
    /// A moderator invites this app on stage.
    SpeakInvite {},
    /// The app is no longer in its room.
    RoomLeft {
        /// Why.
        reason: RoomLeftReason,
    },
    /// This app was muted or unmuted (also by a hotkey, the tray or a moderator).
    MutedChanged {
        /// Muted now.
        muted: bool,
    },
    /// This app's hand was raised or lowered.
    HandChanged {
        /// Raised now.
        raised: bool,
    },
    /// A DM arrived or was sent.
    DmMessage {
        /// The message.
        message: DmMessage,
    },
    /// The conversation list changed.
    DmChanged {
        /// Every conversation.
        conversations: Vec<Conversation>,
    },
    /// A peer's safety number changed (verify again).
    SafetyNumberChanged {
        /// The conversation.
        conversation_id: String,
    },
    /// Hotkey bindings or their registration changed.
    Hotkeys {
        /// Every hotkey.
        hotkeys: Vec<Hotkey>,
    },
    /// Audio devices came or went.
    DevicesChanged {
        /// Every device.
        devices: Devices,
    },
    /// Something failed in the background.
    Error {
        /// Stable code.
        code: String,
        /// What happened.
        message: String,
    },
}

/// The one event name the UI listens to.
pub const EVENT_NAME: &str = "salon://event";

/// Where the generated bindings live, relative to the workspace root.
pub const BINDINGS_PATH: &str = "ui/src/lib/bindings/index.ts";

/// The TypeScript declarations of every type above, as checked in at [`BINDINGS_PATH`].
pub fn bindings_ts() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from src-tauri/src/dto.rs by the salon-app test `bindings_are_current`.\n\
         // Do not edit: change the Rust types and run\n\
         //   SALON_UPDATE_BINDINGS=1 cargo test -p salon-app --lib bindings_are_current\n",
    );
    macro_rules! declare {
        ($($ty:ty),* $(,)?) => {$(
            out.push('\n');
            if let Some(docs) = <$ty as TS>::docs() {
                out.push_str(&docs);
                if !docs.ends_with('\n') {
                    out.push('\n');
                }
            }
            out.push_str("export ");
            out.push_str(&<$ty as TS>::decl(&cfg));
            out.push('\n');
        )*};
    }
    declare!(
        UiError,
        AppState,
        Hosting,
        Account,
        Person,
        ConnectionKind,
        Connection,
        Visibility,
        Role,
        RoomSummary,
        Member,
        Room,
        HotkeyAction,
        Hotkey,
        Language,
        Settings,
        Device,
        Devices,
        Conversation,
        DmMessage,
        SafetyNumber,
        Level,
        RoomLeftReason,
        UiEvent,
    );
    out.push_str(&format!(
        "\n/** The one Tauri event name the shell emits; its payload is a `UiEvent`. */\n\
         export const EVENT_NAME = {EVENT_NAME:?};\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when the checked-in TypeScript bindings differ from what the Rust types
    /// generate; `SALON_UPDATE_BINDINGS=1` rewrites them instead.
    #[test]
    fn bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        let expected = bindings_ts();
        if std::env::var_os("SALON_UPDATE_BINDINGS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "{} is stale: run `SALON_UPDATE_BINDINGS=1 cargo test -p salon-app --lib \
             bindings_are_current` and commit the result",
            path.display()
        );
    }

    #[test]
    fn events_are_tagged_with_camel_case_fields() {
        let event = UiEvent::SafetyNumberChanged {
            conversation_id: "c1".into(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "safety_number_changed", "conversationId": "c1"})
        );
        let empty = serde_json::to_value(UiEvent::SpeakInvite {}).unwrap();
        assert_eq!(empty, serde_json::json!({"type": "speak_invite"}));
    }

    #[test]
    fn large_integers_are_numbers_in_typescript() {
        let ts = bindings_ts();
        assert!(!ts.contains("bigint"), "{ts}");
        assert!(ts.contains("sentAt: number"), "{ts}");
    }
}
