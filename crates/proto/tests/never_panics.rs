//! Property tests: the frame codec round-trips, and no input, however hostile, makes a
//! decoder panic.

mod common;

use proptest::prelude::*;
use salon_proto::frame::{self, AudioLevel, Flags, FrameHeader, FrameKind, MAX_FRAME_PAYLOAD};
use salon_proto::{ClientEnvelope, ClientRequest, Event, Reply, ServerMessage, StreamId};
use serde_json::Value;

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(
            |(flags, stream, sequence, timestamp, dbov, voice)| FrameHeader {
                kind: FrameKind::Audio,
                flags: Flags(flags),
                stream: StreamId(stream),
                sequence,
                timestamp,
                level: AudioLevel::new(dbov, voice),
            },
        )
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object with a real `type` and random other fields: reaches deep into serde.
fn typed_object() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = ClientRequest::TYPES
        .iter()
        .chain(Reply::TYPES)
        .chain(Event::TYPES)
        .copied()
        .collect();
    let field = prop_oneof![
        Just("id"),
        Just("re"),
        Just("room"),
        Just("user"),
        Just("handle"),
        Just("title"),
        Just("visibility"),
        Just("role"),
        Just("signature"),
        Just("device_key"),
        Just("payload"),
        Just("snapshot"),
        Just("change"),
        Just("members"),
        Just("version"),
        Just("code"),
    ];
    (
        prop::sample::select(names),
        prop::collection::btree_map(field, json_value(), 0..8),
    )
        .prop_map(|(name, fields)| {
            let mut map: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            map.insert("type".into(), Value::from(name));
            Value::Object(map).to_string()
        })
}

proptest! {
    #[test]
    fn frames_round_trip(header in header(), payload in prop::collection::vec(any::<u8>(), 0..=MAX_FRAME_PAYLOAD)) {
        let mut bytes = Vec::new();
        frame::encode(&header, &payload, &mut bytes).unwrap();
        prop_assert_eq!(bytes.len(), frame::HEADER_LEN + payload.len());
        let decoded = frame::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.header, header);
        prop_assert_eq!(decoded.payload, &payload[..]);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(decoded) = frame::decode(&bytes) {
            // Whatever decodes re-encodes to exactly the same bytes (apart from the
            // level byte, whose clamping is lossless for valid values).
            let mut again = Vec::new();
            frame::encode(&decoded.header, decoded.payload, &mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".{0,512}") {
        let _ = ClientEnvelope::from_json(&text);
        let _ = ServerMessage::from_json(&text);
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(value in json_value()) {
        let text = value.to_string();
        let _ = ClientEnvelope::from_json(&text);
        let _ = ServerMessage::from_json(&text);
    }

    #[test]
    fn decoding_typed_objects_with_random_fields_never_panics(text in typed_object()) {
        let _ = ClientEnvelope::from_json(&text);
        let _ = ServerMessage::from_json(&text);
    }
}
