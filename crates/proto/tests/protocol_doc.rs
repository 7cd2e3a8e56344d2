//! Keeps `docs/PROTOCOL.md` true to this crate.
//!
//! The protocol document is what someone implementing a client in another language
//! reads, so it must not drift from the code. This test fails when:
//! - a message type, room change kind, error code, limit or close code exists here but
//!   is missing from the document, or the document has a heading for a message or
//!   change kind that no longer exists;
//! - a message has no JSON example, or a ```` ```json ```` example is not exactly the
//!   wire form of the message it names: it must decode as that kind of message
//!   (request, reply or event) and encode back to the same JSON, so a misspelt or stale
//!   field fails too;
//! - the worked byte examples (the login transcript and the audio frame) differ from
//!   what the codec produces.

use std::collections::BTreeSet;

use salon_proto::auth::{self, Purpose, TRANSCRIPT_PREFIX};
use salon_proto::frame::{
    self, AudioLevel, Flags, FrameHeader, HEADER_LEN, MAX_FRAME_LEN, MAX_FRAME_PAYLOAD,
};
use salon_proto::limits::{
    MAX_CONTROL_BYTES, MAX_DISPLAY_NAME_CHARS, MAX_KEY_PACKAGES_PER_PUBLISH, MAX_MLS_RECIPIENTS,
    MAX_ROOM_TITLE_CHARS, MAX_SERVER_MESSAGE_BYTES,
};
use salon_proto::room::RoomChange;
use salon_proto::{
    ClientEnvelope, ClientRequest, ErrorCode, Event, Handle, MAX_HANDLE_LEN, MIN_HANDLE_LEN, Nonce,
    PROTOCOL_VERSION, PublicKey, Reply, ServerMessage, Signature, StreamId, WS_PATH, close,
};
use serde_json::Value;

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md");

/// Every kind of room change, as the `change` field names it.
const ROOM_CHANGES: [&str; 6] = [
    "member_joined",
    "member_left",
    "role_changed",
    "mute_changed",
    "hand_raised",
    "hand_lowered",
];

/// The `change` name of a room change. Exhaustive on purpose: a new kind of change fails
/// to compile here until it is added to [`ROOM_CHANGES`] (and so to the document).
fn change_name(change: &RoomChange) -> &'static str {
    match change {
        RoomChange::MemberJoined { .. } => "member_joined",
        RoomChange::MemberLeft { .. } => "member_left",
        RoomChange::RoleChanged { .. } => "role_changed",
        RoomChange::MuteChanged { .. } => "mute_changed",
        RoomChange::HandRaised { .. } => "hand_raised",
        RoomChange::HandLowered { .. } => "hand_lowered",
    }
}

fn doc() -> String {
    std::fs::read_to_string(DOC_PATH).unwrap_or_else(|err| panic!("reading {DOC_PATH}: {err}"))
}

fn all_message_types() -> impl Iterator<Item = &'static str> {
    [ClientRequest::TYPES, Reply::TYPES, Event::TYPES]
        .into_iter()
        .flatten()
        .copied()
}

/// The names of headings like ``### `name` `` at exactly this level (`"###"`).
fn code_headings<'a>(doc: &'a str, level: &str) -> Vec<&'a str> {
    doc.lines()
        .filter_map(|line| line.trim_end().strip_prefix(level)?.strip_prefix(" `"))
        .filter_map(|rest| rest.strip_suffix('`'))
        .collect()
}

/// The ```` ```json ```` blocks of the document, each with the line it starts on.
fn json_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in (1..).zip(doc.lines()) {
        match &mut current {
            None if line.trim() == "```json" => current = Some((number, String::new())),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(
        current.is_none(),
        "{DOC_PATH}: a ```json block is never closed"
    );
    blocks
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("the crate encodes valid JSON")
}

/// What a JSON example turned out to be: its `type`, and for a room delta its `change`.
struct Example {
    type_name: String,
    change: Option<&'static str>,
}

/// Decodes one example as the kind of message its `type` names and checks that encoding
/// the result gives back the same JSON. Returns `None` for JSON without a `type` (an
/// object shown on its own).
fn check_example(line: usize, text: &str) -> Option<Example> {
    let at = format!("{DOC_PATH}:{line}");
    let value: Value = serde_json::from_str(text)
        .unwrap_or_else(|err| panic!("{at}: the ```json block is not valid JSON: {err}"));
    let type_name = value.get("type")?.as_str()?.to_owned();
    let has_id = value.get("id").is_some();
    let has_re = value.get("re").is_some();
    let mut change = None;
    let encoded = if ClientRequest::TYPES.contains(&type_name.as_str()) {
        assert!(
            has_id && !has_re,
            "{at}: a request carries `id` and no `re`"
        );
        ClientEnvelope::from_json(text)
            .unwrap_or_else(|err| panic!("{at}: not a valid `{type_name}` request: {err}"))
            .to_json()
    } else if Reply::TYPES.contains(&type_name.as_str()) {
        assert!(has_re && !has_id, "{at}: a reply carries `re` and no `id`");
        match ServerMessage::from_json(text) {
            Ok(message @ ServerMessage::Reply(_)) => message.to_json(),
            other => panic!("{at}: not a valid `{type_name}` reply: {other:?}"),
        }
    } else if Event::TYPES.contains(&type_name.as_str()) {
        assert!(
            !has_re && !has_id,
            "{at}: an event carries neither `id` nor `re`"
        );
        match ServerMessage::from_json(text) {
            Ok(ServerMessage::Event(event)) => {
                if let Event::RoomDelta { change: delta, .. } = &event {
                    change = Some(change_name(delta));
                }
                event.to_json()
            }
            other => panic!("{at}: not a valid `{type_name}` event: {other:?}"),
        }
    } else {
        panic!("{at}: `{type_name}` is no message type; show made-up messages as ```text");
    };
    assert_eq!(
        json(&encoded),
        value,
        "{at}: the `{type_name}` example differs from how the crate encodes it \
         (a misspelt, missing or extra field?)"
    );
    Some(Example { type_name, change })
}

fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_mentions(doc: &str, needle: &str, what: &str) {
    assert!(
        doc.contains(needle),
        "{DOC_PATH} must state {what}: expected the text {needle:?}"
    );
}

#[test]
fn every_message_and_room_change_has_its_own_heading() {
    let doc = doc();
    let messages = code_headings(&doc, "###");
    for name in all_message_types() {
        assert!(
            messages.contains(&name),
            "{DOC_PATH}: no heading \"### `{name}`\""
        );
    }
    for name in &messages {
        assert!(
            all_message_types().any(|known| known == *name),
            "{DOC_PATH}: heading \"### `{name}`\" names no message type"
        );
    }
    let changes = code_headings(&doc, "####");
    for name in ROOM_CHANGES {
        assert!(
            changes.contains(&name),
            "{DOC_PATH}: no heading \"#### `{name}`\""
        );
    }
    for name in &changes {
        assert!(
            ROOM_CHANGES.contains(name),
            "{DOC_PATH}: heading \"#### `{name}`\" names no room change"
        );
    }
}

#[test]
fn every_json_example_is_the_wire_form_of_its_message() {
    let doc = doc();
    let blocks = json_blocks(&doc);
    let mut types = BTreeSet::new();
    let mut changes = BTreeSet::new();
    for (line, text) in &blocks {
        if let Some(example) = check_example(*line, text) {
            types.insert(example.type_name);
            changes.extend(example.change);
        }
    }
    for name in all_message_types() {
        assert!(
            types.contains(name),
            "{DOC_PATH}: no JSON example of `{name}`"
        );
    }
    for name in ROOM_CHANGES {
        assert!(
            changes.contains(name),
            "{DOC_PATH}: no JSON example of a `{name}` room delta"
        );
    }
}

#[test]
fn every_error_code_is_in_the_table() {
    let doc = doc();
    for code in ErrorCode::ALL {
        let row = format!("| `{}` |", code.as_str());
        assert!(
            doc.lines().any(|line| line.starts_with(&row)),
            "{DOC_PATH}: the error code table has no row for `{code}`"
        );
    }
    assert_mentions(&doc, "`retry_after_ms`", "the retry hint of errors");
}

#[test]
fn limits_and_constants_are_stated() {
    let doc = doc();
    let base64_chars = |bytes: usize| bytes.div_ceil(3) * 4;
    let facts = [
        (
            format!("Protocol version **{PROTOCOL_VERSION}**"),
            "the protocol version",
        ),
        (format!("`{WS_PATH}`"), "the WebSocket path"),
        (
            format!("{MAX_CONTROL_BYTES} bytes"),
            "the control message limit",
        ),
        (
            format!("{MAX_SERVER_MESSAGE_BYTES} bytes"),
            "the server message limit",
        ),
        (format!("{HEADER_LEN}-byte header"), "the frame header size"),
        (
            format!("{MAX_FRAME_PAYLOAD} bytes"),
            "the frame payload limit",
        ),
        (format!("{MAX_FRAME_LEN} bytes"), "the whole-frame limit"),
        (
            format!("1 to {MAX_DISPLAY_NAME_CHARS} characters"),
            "the display name limit",
        ),
        (
            format!("1 to {MAX_ROOM_TITLE_CHARS} characters"),
            "the room title limit",
        ),
        (
            format!("{MIN_HANDLE_LEN} to {MAX_HANDLE_LEN} characters"),
            "the handle length",
        ),
        (
            format!("| Key packages per publish | {MAX_KEY_PACKAGES_PER_PUBLISH} |"),
            "the key package limit",
        ),
        (
            format!("| Recipients per send | {MAX_MLS_RECIPIENTS} |"),
            "the recipient limit",
        ),
        (
            format!("| {} | {} |", PublicKey::LEN, base64_chars(PublicKey::LEN)),
            "the public key size",
        ),
        (
            format!("| {} | {} |", Signature::LEN, base64_chars(Signature::LEN)),
            "the signature size",
        ),
        (
            format!("| {} | {} |", Nonce::LEN, base64_chars(Nonce::LEN)),
            "the nonce size",
        ),
        (hex_lines(TRANSCRIPT_PREFIX), "the transcript prefix"),
    ];
    for (needle, what) in &facts {
        assert_mentions(&doc, needle, what);
    }
    for code in [
        close::SLOW_CONSUMER,
        close::FLOOD,
        close::PROTOCOL_VIOLATION,
        close::SHUTTING_DOWN,
        close::SESSION_ENDED,
        close::HANDSHAKE_TIMEOUT,
    ] {
        assert_mentions(&doc, &format!("| {code} |"), "every close code");
    }
}

#[test]
fn worked_byte_examples_match_the_codecs() {
    let doc = doc();

    // `authenticate` as `ada` with the nonce of the `welcome` example and the key of the
    // `authenticate` example.
    let transcript = auth::transcript(
        Purpose::Authenticate,
        &Nonce([0x33; 32]),
        &Handle::parse("ada").unwrap(),
        &PublicKey([0x11; 32]),
    );
    assert_mentions(&doc, &hex_lines(&transcript), "the worked transcript");

    // Frame 42 of a 20 ms stream, FEC, voice at 30 -dBov, three payload bytes.
    let header = FrameHeader::audio(42, 42 * 960, AudioLevel::new(30, true), Flags(Flags::FEC));
    let mut bytes = Vec::new();
    frame::encode(&header, &[0xaa, 0xbb, 0xcc], &mut bytes).unwrap();
    assert_mentions(&doc, &hex_lines(&bytes), "the worked frame as sent");
    frame::stamp_stream(&mut bytes, StreamId(3)).unwrap();
    assert_mentions(&doc, &hex_lines(&bytes), "the worked frame as forwarded");
}
