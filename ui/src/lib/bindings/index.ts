// Generated from src-tauri/src/dto.rs by the salon-app test `bindings_are_current`.
// Do not edit: change the Rust types and run
//   SALON_UPDATE_BINDINGS=1 cargo test -p salon-app --lib bindings_are_current

/**
 * An error the UI can act on: a stable snake_case `code` to switch on, and a sentence
 * for a person.
 */
export type UiError = { 
/**
 * Stable code: the server's error codes where they apply, plus `not_connected`,
 * `no_account`, `not_in_room`, `hotkey_conflict`, `invalid_input`, `unavailable`,
 * `keyring`, `internal`.
 */
code: string, 
/**
 * What happened and what to do, in English.
 */
message: string, };

/**
 * Everything the UI needs at start-up.
 */
export type AppState = { 
/**
 * True until a server is chosen and an account exists on it.
 */
needsOnboarding: boolean, 
/**
 * The server in use, if one was chosen.
 */
serverUrl: string | null, 
/**
 * The embedded server, when this computer hosts.
 */
hosting: Hosting | null, 
/**
 * The account on that server.
 */
account: Account | null, 
/**
 * The connection now.
 */
connection: Connection, 
/**
 * Hotkeys, devices, language.
 */
settings: Settings, 
/**
 * The room this app is in, if any (after a reload of the UI).
 */
room: Room | null, };

/**
 * The server embedded in the app ("Host on this computer").
 */
export type Hosting = { 
/**
 * The TCP port it listens on (all interfaces).
 */
port: number, 
/**
 * Addresses friends on the LAN can use, `ws://ADDRESS:PORT`; loopback first.
 */
urls: Array<string>, };

/**
 * The account logged in.
 */
export type Account = { 
/**
 * The account's id.
 */
userId: string, 
/**
 * The unique handle.
 */
handle: string, 
/**
 * The name people see.
 */
displayName: string, };

/**
 * Someone, as shown in lists.
 */
export type Person = { 
/**
 * The account's id.
 */
userId: string, 
/**
 * The unique handle.
 */
handle: string, 
/**
 * The name people see.
 */
displayName: string, };

/**
 * The connection's state.
 */
export type ConnectionKind = "connecting" | "connected" | "reconnecting" | "offline";

/**
 * The connection as the banner shows it.
 */
export type Connection = { 
/**
 * The state.
 */
state: ConnectionKind, 
/**
 * While reconnecting: which attempt comes next (1 = first retry).
 */
attempt: number | null, 
/**
 * While reconnecting: milliseconds until that attempt.
 */
nextInMs: number | null, 
/**
 * While offline: why.
 */
reason: string | null, };

/**
 * Who may find a room.
 */
export type Visibility = "public" | "unlisted" | "private";

/**
 * A member's role.
 */
export type Role = "host" | "moderator" | "speaker" | "listener";

/**
 * A public room in the hallway.
 */
export type RoomSummary = { 
/**
 * The room's id.
 */
roomId: string, 
/**
 * Its title.
 */
title: string, 
/**
 * Display names of the people on stage, host first.
 */
speakers: Array<string>, 
/**
 * How many are in the audience.
 */
listenerCount: number, };

/**
 * One member of the room the app is in.
 */
export type Member = { 
/**
 * The account's id.
 */
userId: string, 
/**
 * The handle.
 */
handle: string, 
/**
 * The name people see.
 */
displayName: string, 
/**
 * Their role.
 */
role: Role, 
/**
 * Muted by themselves.
 */
muted: boolean, 
/**
 * Muted by a moderator (they cannot unmute until it is lifted).
 */
moderatorMuted: boolean, 
/**
 * Hand raised.
 */
handRaised: boolean, 
/**
 * How loud this app plays them, percent (0..=200, remembered per person).
 */
volume: number, };

/**
 * The room the app is in, complete (rooms are small enough to send whole).
 */
export type Room = { 
/**
 * The room's id.
 */
roomId: string, 
/**
 * Its title.
 */
title: string, 
/**
 * Who may find it.
 */
visibility: Visibility, 
/**
 * This app's account id.
 */
me: string, 
/**
 * This app's role.
 */
myRole: Role, 
/**
 * On stage: host first, then in the order they came up.
 */
stage: Array<Member>, 
/**
 * Everyone else.
 */
audience: Array<Member>, 
/**
 * Raised hands, oldest first (user ids).
 */
hands: Array<string>, 
/**
 * A moderator invited this app on stage and it has not answered yet.
 */
invitedToSpeak: boolean, 
/**
 * This app is muted (by itself or by a moderator).
 */
muted: boolean, };

/**
 * What a hotkey does.
 */
export type HotkeyAction = "toggle_mute" | "toggle_hand" | "push_to_talk";

/**
 * One global hotkey and whether it works.
 */
export type Hotkey = { 
/**
 * What it does.
 */
action: HotkeyAction, 
/**
 * The key combination, e.g. `Ctrl+Shift+M` (empty when unbound).
 */
accelerator: string, 
/**
 * Whether the OS gave it to this app.
 */
registered: boolean, 
/**
 * Why not, when not.
 */
error: string | null, };

/**
 * The UI's language.
 */
export type Language = "en" | "fr";

/**
 * The user's settings.
 */
export type Settings = { 
/**
 * Every hotkey action with its binding.
 */
hotkeys: Array<Hotkey>, 
/**
 * The chosen microphone (a device id), or the system default.
 */
inputDevice: string | null, 
/**
 * The chosen speakers (a device id), or the system default.
 */
outputDevice: string | null, 
/**
 * The chosen language, or the system's.
 */
language: Language | null, 
/**
 * Whether global shortcuts can be grabbed in this session.
 */
globalShortcutsAvailable: boolean, 
/**
 * Why not, when not (for example on Wayland).
 */
globalShortcutsNote: string | null, };

/**
 * An audio device.
 */
export type Device = { 
/**
 * Stable id (`host:name`).
 */
id: string, 
/**
 * What to show.
 */
name: string, 
/**
 * The system's default for its direction.
 */
isDefault: boolean, };

/**
 * Every audio device.
 */
export type Devices = { 
/**
 * Microphones.
 */
inputs: Array<Device>, 
/**
 * Speakers.
 */
outputs: Array<Device>, };

/**
 * A DM conversation.
 */
export type Conversation = { 
/**
 * The conversation's id.
 */
conversationId: string, 
/**
 * Everyone in it but this account.
 */
peers: Array<Person>, 
/**
 * Messages not read yet.
 */
unread: number, 
/**
 * The last message's text.
 */
lastText: string | null, 
/**
 * When it was sent (ms since the epoch).
 */
lastAt: number | null, 
/**
 * Whether the safety number was verified.
 */
verified: boolean, };

/**
 * One DM.
 */
export type DmMessage = { 
/**
 * The message's id.
 */
messageId: string, 
/**
 * Its conversation.
 */
conversationId: string, 
/**
 * Who sent it.
 */
sender: Person, 
/**
 * The text.
 */
text: string, 
/**
 * When it was sent (ms since the epoch).
 */
sentAt: number, 
/**
 * Sent by this account.
 */
mine: boolean, 
/**
 * Written by Salon itself (a device added or removed, the safety number changed);
 * `sender` is then empty.
 */
notice: boolean, };

/**
 * The number two people compare to know no one is in the middle.
 */
export type SafetyNumber = { 
/**
 * Digits in groups, to read aloud.
 */
digits: string, 
/**
 * The content of a QR code to scan instead.
 */
qrPayload: string, 
/**
 * Whether this account marked it verified.
 */
verified: boolean, };

/**
 * Loudness of one person on stage.
 */
export type Level = { 
/**
 * Whose.
 */
userId: string, 
/**
 * 0 (silence) to 1 (loudest).
 */
level: number, 
/**
 * Whether they are talking now (the speaking ring).
 */
speaking: boolean, };

/**
 * Why the app is no longer in its room.
 */
export type RoomLeftReason = "left" | "removed" | "banned" | "ended";

/**
 * Everything the shell tells the UI, on the one event `salon://event`.
 */
export type UiEvent = { "type": "connection", 
/**
 * The connection now.
 */
connection: Connection, } | { "type": "room", 
/**
 * The room now.
 */
room: Room, } | { "type": "levels", 
/**
 * One entry per person heard recently.
 */
levels: Array<Level>, } | { "type": "speak_invite", } | { "type": "room_left", 
/**
 * Why.
 */
reason: RoomLeftReason, } | { "type": "muted_changed", 
/**
 * Muted now.
 */
muted: boolean, } | { "type": "hand_changed", 
/**
 * Raised now.
 */
raised: boolean, } | { "type": "dm_message", 
/**
 * The message.
 */
message: DmMessage, } | { "type": "dm_changed", 
/**
 * Every conversation.
 */
conversations: Array<Conversation>, } | { "type": "safety_number_changed", 
/**
 * The conversation.
 */
conversationId: string, } | { "type": "hotkeys", 
/**
 * Every hotkey.
 */
hotkeys: Array<Hotkey>, } | { "type": "devices_changed", 
/**
 * Every device.
 */
devices: Devices, } | { "type": "error", 
/**
 * Stable code.
 */
code: string, 
/**
 * What happened.
 */
message: string, };

/** The one Tauri event name the shell emits; its payload is a `UiEvent`. */
export const EVENT_NAME = "salon://event";
