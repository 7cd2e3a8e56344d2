//! What travels inside an MLS application message: a chat message with the sender's
//! client message id and timestamp, text, and optionally the message it replies to or
//! reacts to. JSON inside the ciphertext, so new fields can be added without breaking
//! older clients (unknown fields are ignored).

use serde::{Deserialize, Serialize};

use crate::error::{Result, malformed};

/// One chat message as its sender wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The sender's id for the message (unique per sender; makes redelivery
    /// idempotent).
    pub id: String,
    /// When the sender wrote it, milliseconds since the Unix epoch (sender's clock).
    pub sent_at_ms: u64,
    /// The text (empty for a reaction).
    #[serde(default)]
    pub text: String,
    /// The id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A reaction: the id of the message it is on; `text` is the emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction_to: Option<String>,
}

impl ChatMessage {
    /// A plain text message.
    pub fn text(id: impl Into<String>, sent_at_ms: u64, text: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            sent_at_ms,
            text: text.into(),
            reply_to: None,
            reaction_to: None,
        }
    }

    /// The bytes to encrypt.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a chat message always serializes")
    }

    /// Reads decrypted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|err| malformed("chat message", err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_unknown_fields() {
        let mut message = ChatMessage::text("m1", 5, "hi");
        message.reply_to = Some("m0".into());
        assert_eq!(ChatMessage::decode(&message.encode()).unwrap(), message);
        let newer = br#"{"id":"m2","sent_at_ms":1,"text":"x","edited":true}"#;
        assert_eq!(ChatMessage::decode(newer).unwrap().text, "x");
        assert!(ChatMessage::decode(b"\xff").is_err());
    }
}
