//! JSON control messages and their envelopes.
//!
//! A client request travels as one JSON object: the request's fields, its `type`, and
//! the client's request `id`:
//! `{"id":7,"type":"raise_hand","room":"…"}`. A reply carries the same number as `re`:
//! `{"re":7,"type":"ok"}`. Events carry no `re`. Decoding is strict about sizes and types
//! but tolerant of unknown fields, and it tells an unknown `type` apart from a malformed
//! message so the server can answer `unknown_message` and keep the connection open.

mod client;
mod server;
mod type_names;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use client::ClientRequest;
pub use server::{DeviceInfo, Event, Reply};

use crate::limits::{MAX_CONTROL_BYTES, MAX_SERVER_MESSAGE_BYTES};
use crate::{ErrorBody, ErrorCode, RequestId};

/// A request with the client's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEnvelope {
    /// Chosen by the client, echoed in the reply.
    pub id: RequestId,
    /// The request.
    pub request: ClientRequest,
}

/// A reply with the id of the request it answers. `re` is `None` only for an error about
/// a message whose id could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyEnvelope {
    /// The request id this answers.
    pub re: Option<RequestId>,
    /// The answer.
    pub reply: Reply,
}

/// Anything the server sends in a text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// An answer to a request.
    Reply(ReplyEnvelope),
    /// Something that happened.
    Event(Event),
}

/// Why a text frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Longer than the limit ([`MAX_CONTROL_BYTES`] from clients,
    /// [`MAX_SERVER_MESSAGE_BYTES`] from servers); not parsed at all.
    #[error("control message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JSON object of the expected shape.
    #[error("malformed message: {reason}")]
    Malformed {
        /// The request id, when it could be read.
        id: Option<RequestId>,
        /// What was wrong.
        reason: String,
    },
    /// A well-formed message of a `type` this build does not know.
    #[error("unknown message type {type_name:?}")]
    UnknownType {
        /// The request id, when it could be read.
        id: Option<RequestId>,
        /// The unknown type.
        type_name: String,
    },
}

impl DecodeError {
    /// The request id to answer, when it could be read.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            DecodeError::TooLarge { .. } => None,
            DecodeError::Malformed { id, .. } | DecodeError::UnknownType { id, .. } => *id,
        }
    }

    /// The error reply a server sends for this.
    pub fn to_error_body(&self) -> ErrorBody {
        let code = match self {
            DecodeError::TooLarge { .. } => ErrorCode::TooLarge,
            DecodeError::Malformed { .. } => ErrorCode::Malformed,
            DecodeError::UnknownType { .. } => ErrorCode::UnknownMessage,
        };
        ErrorBody::new(code, self.to_string())
    }
}

/// Parses `text` into a JSON object, enforcing the size limit `max`.
fn parse_object(text: &str, max: usize) -> Result<Map<String, Value>, DecodeError> {
    if text.len() > max {
        return Err(DecodeError::TooLarge {
            len: text.len(),
            max,
        });
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DecodeError::Malformed {
            id: None,
            reason: "a control message is a JSON object".into(),
        }),
        Err(err) => Err(DecodeError::Malformed {
            id: None,
            reason: err.to_string(),
        }),
    }
}

/// Reads an optional request id field (`id` or `re`).
fn read_id(map: &Map<String, Value>, key: &str) -> Result<Option<RequestId>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| RequestId::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be an integer from 0 to {}", RequestId::MAX)),
    }
}

/// Decodes the tagged body once the envelope fields are removed, telling unknown types
/// apart from malformed ones.
fn decode_body<T: DeserializeOwned>(
    map: Map<String, Value>,
    known: &[&str],
    id: Option<RequestId>,
) -> Result<T, DecodeError> {
    let type_name = match map.get("type") {
        Some(Value::String(name)) => name.clone(),
        _ => {
            return Err(DecodeError::Malformed {
                id,
                reason: "missing string field `type`".into(),
            });
        }
    };
    if !known.contains(&type_name.as_str()) {
        return Err(DecodeError::UnknownType { id, type_name });
    }
    serde_json::from_value(Value::Object(map)).map_err(|err| DecodeError::Malformed {
        id,
        reason: format!("{type_name}: {err}"),
    })
}

/// Serializes a tagged body and puts one envelope field in front of its fields. The body
/// is written straight from its types (no intermediate `Value` tree): a room snapshot of
/// thousands of members is the largest message the server sends.
fn encode_with<T: Serialize>(body: &T, key: &str, id: Option<RequestId>) -> String {
    let body = serde_json::to_string(body).expect("protocol types always serialize");
    let id = id.map_or_else(|| "null".to_owned(), |id| id.to_string());
    match body.strip_prefix('{') {
        Some("}") => format!("{{\"{key}\":{id}}}"),
        Some(fields) => format!("{{\"{key}\":{id},{fields}"),
        None => unreachable!("tagged bodies serialize as JSON objects"),
    }
}

impl ClientEnvelope {
    /// Wraps a request.
    pub fn new(id: RequestId, request: ClientRequest) -> Self {
        Self { id, request }
    }

    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        encode_with(&self.request, "id", Some(self.id))
    }

    /// Decodes a text frame from a client. Never panics, whatever the input.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        let mut map = parse_object(text, MAX_CONTROL_BYTES)?;
        let id =
            read_id(&map, "id").map_err(|reason| DecodeError::Malformed { id: None, reason })?;
        let Some(id) = id else {
            return Err(DecodeError::Malformed {
                id: None,
                reason: "missing integer field `id`".into(),
            });
        };
        map.remove("id");
        let request = decode_body(map, ClientRequest::TYPES, Some(id))?;
        Ok(Self { id, request })
    }
}

impl ReplyEnvelope {
    /// Wraps a reply to request `re`.
    pub fn new(re: RequestId, reply: Reply) -> Self {
        Self {
            re: Some(re),
            reply,
        }
    }

    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        encode_with(&self.reply, "re", self.re)
    }
}

impl Event {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("protocol types always serialize")
    }
}

impl ServerMessage {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        match self {
            ServerMessage::Reply(reply) => reply.to_json(),
            ServerMessage::Event(event) => event.to_json(),
        }
    }

    /// Decodes a text frame from the server. A message with an `re` field is a reply,
    /// one without is an event. Never panics, whatever the input; an unknown event type
    /// (from a newer server) is [`DecodeError::UnknownType`], which clients skip.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        let mut map = parse_object(text, MAX_SERVER_MESSAGE_BYTES)?;
        if map.contains_key("re") {
            let re = read_id(&map, "re")
                .map_err(|reason| DecodeError::Malformed { id: None, reason })?;
            map.remove("re");
            let reply = decode_body(map, Reply::TYPES, re)?;
            Ok(ServerMessage::Reply(ReplyEnvelope { re, reply }))
        } else {
            decode_body(map, Event::TYPES, None).map(ServerMessage::Event)
        }
    }
}
