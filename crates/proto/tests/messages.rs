//! Every control message round-trips through its JSON form, and that form is pinned by
//! snapshots (`snapshots/`), so a change to the wire shows up in review as a diff.

mod common;

use common::{client_sample, event_sample, reply_sample, room, room_changes};
use salon_proto::room::RoomChange;
use salon_proto::{
    ClientEnvelope, ClientRequest, DecodeError, ErrorCode, Event, Reply, ReplyEnvelope,
    ServerMessage,
};
use serde_json::Value;

fn type_of(json: &str) -> String {
    let value: Value = serde_json::from_str(json).unwrap();
    value["type"].as_str().unwrap().to_owned()
}

fn pretty(json: &str) -> String {
    serde_json::to_string_pretty(&serde_json::from_str::<Value>(json).unwrap()).unwrap()
}

#[test]
fn every_client_request_round_trips() {
    let mut listing = String::new();
    for (i, name) in ClientRequest::TYPES.iter().enumerate() {
        let sample = ClientEnvelope::new(i as u32 + 1, client_sample(name));
        assert_eq!(sample.request.type_name(), *name);
        let json = sample.to_json();
        assert_eq!(type_of(&json), *name, "serde and TYPES disagree");
        assert_eq!(ClientEnvelope::from_json(&json), Ok(sample), "{name}");
        listing += &format!("## {name}\n{}\n\n", pretty(&json));
    }
    insta::assert_snapshot!("client_requests", listing);
}

#[test]
fn every_reply_round_trips() {
    let mut listing = String::new();
    for (i, name) in Reply::TYPES.iter().enumerate() {
        let sample = ReplyEnvelope::new(i as u32 + 1, reply_sample(name));
        assert_eq!(sample.reply.type_name(), *name);
        let json = sample.to_json();
        assert_eq!(type_of(&json), *name, "serde and TYPES disagree");
        assert_eq!(
            ServerMessage::from_json(&json),
            Ok(ServerMessage::Reply(sample)),
            "{name}"
        );
        listing += &format!("## {name}\n{}\n\n", pretty(&json));
    }
    insta::assert_snapshot!("replies", listing);
}

#[test]
fn every_event_round_trips() {
    let mut listing = String::new();
    for name in Event::TYPES {
        let sample = event_sample(name);
        assert_eq!(sample.type_name(), *name);
        let json = sample.to_json();
        assert_eq!(type_of(&json), *name, "serde and TYPES disagree");
        assert!(!json.contains("\"re\""), "events never carry re");
        assert_eq!(
            ServerMessage::from_json(&json),
            Ok(ServerMessage::Event(sample)),
            "{name}"
        );
        listing += &format!("## {name}\n{}\n\n", pretty(&json));
    }
    insta::assert_snapshot!("events", listing);
}

#[test]
fn every_room_change_round_trips_as_a_delta() {
    let mut listing = String::new();
    for (version, change) in (1..).zip(room_changes()) {
        // Exhaustive on purpose: a new kind of change fails to compile here until it
        // has a sample in `room_changes`.
        let name = match &change {
            RoomChange::MemberJoined { .. } => "member_joined",
            RoomChange::MemberLeft { .. } => "member_left",
            RoomChange::RoleChanged { .. } => "role_changed",
            RoomChange::MuteChanged { .. } => "mute_changed",
            RoomChange::HandRaised { .. } => "hand_raised",
            RoomChange::HandLowered { .. } => "hand_lowered",
        };
        let event = Event::RoomDelta {
            room: room(),
            version,
            change,
        };
        let json = event.to_json();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["change"], name);
        assert_eq!(value["version"], version);
        assert_eq!(
            ServerMessage::from_json(&json),
            Ok(ServerMessage::Event(event))
        );
        listing += &format!("## {name}\n{}\n\n", pretty(&json));
    }
    assert_eq!(listing.matches("## ").count(), 6);
    insta::assert_snapshot!("room_changes", listing);
}

#[test]
fn type_lists_have_no_duplicates() {
    for types in [ClientRequest::TYPES, Reply::TYPES, Event::TYPES] {
        let mut sorted = types.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), types.len());
    }
}

#[test]
fn unknown_types_are_told_apart_from_malformed_messages() {
    assert_eq!(
        ClientEnvelope::from_json(r#"{"id":9,"type":"teleport","to":"mars"}"#),
        Err(DecodeError::UnknownType {
            id: Some(9),
            type_name: "teleport".into()
        })
    );
    let err =
        ClientEnvelope::from_json(r#"{"id":10,"type":"join_room","room":"nope"}"#).unwrap_err();
    assert!(
        matches!(err, DecodeError::Malformed { id: Some(10), .. }),
        "{err:?}"
    );
    assert_eq!(err.to_error_body().code, ErrorCode::Malformed);
    let err =
        ClientEnvelope::from_json(r#"{"id":11,"type":"register","handle":"Ada"}"#).unwrap_err();
    assert!(
        matches!(err, DecodeError::Malformed { id: Some(11), .. }),
        "{err:?}"
    );
    assert_eq!(
        ClientEnvelope::from_json(r#"{"id":12}"#)
            .unwrap_err()
            .request_id(),
        Some(12)
    );
    for no_id in [
        r#"{"type":"ping"}"#,
        r#"{"id":-1,"type":"ping"}"#,
        r#"{"id":4294967296,"type":"ping"}"#,
        "[]",
        "",
        "{",
    ] {
        let err = ClientEnvelope::from_json(no_id).unwrap_err();
        assert!(
            matches!(err, DecodeError::Malformed { id: None, .. }),
            "{no_id}: {err:?}"
        );
    }
    let unknown_event = ServerMessage::from_json(r#"{"type":"aurora","colour":"green"}"#);
    assert!(matches!(
        unknown_event,
        Err(DecodeError::UnknownType { id: None, .. })
    ));
}

#[test]
fn unknown_fields_are_ignored() {
    let parsed =
        ClientEnvelope::from_json(r#"{"id":3,"type":"ping","from_the_future":[1,2,3]}"#).unwrap();
    assert_eq!(parsed, ClientEnvelope::new(3, ClientRequest::Ping));
    let reply = ServerMessage::from_json(r#"{"re":3,"type":"pong","server_time":5}"#).unwrap();
    assert_eq!(
        reply,
        ServerMessage::Reply(ReplyEnvelope::new(3, Reply::Pong))
    );
}

#[test]
fn oversized_messages_are_refused_before_parsing() {
    let big = format!(
        r#"{{"id":1,"type":"update_profile","display_name":"{}"}}"#,
        "a".repeat(salon_proto::limits::MAX_CONTROL_BYTES)
    );
    assert!(matches!(
        ClientEnvelope::from_json(&big),
        Err(DecodeError::TooLarge {
            max: salon_proto::limits::MAX_CONTROL_BYTES,
            ..
        })
    ));
    assert_eq!(
        ClientEnvelope::from_json(&big)
            .unwrap_err()
            .to_error_body()
            .code,
        ErrorCode::TooLarge
    );
}

#[test]
fn an_error_about_an_unreadable_request_has_a_null_re() {
    let reply = ReplyEnvelope {
        re: None,
        reply: Reply::Error(salon_proto::ErrorBody::new(
            ErrorCode::Malformed,
            "not JSON",
        )),
    };
    let json = reply.to_json();
    assert!(json.contains(r#""re":null"#), "{json}");
    assert_eq!(
        ServerMessage::from_json(&json),
        Ok(ServerMessage::Reply(reply))
    );
}
