//! Identifiers on the wire.
//!
//! Users, devices and rooms are named by random 128-bit values written as 32 lower-case
//! hex digits. They are never sequential, so an id says nothing about how many accounts
//! or rooms exist and cannot be enumerated by counting. This crate only carries ids; the
//! server draws them from a cryptographic random source.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an id is 32 lower-case hex digits")]
pub struct IdError;

fn parse_hex_128(text: &str) -> Result<[u8; 16], IdError> {
    let digits = text.as_bytes();
    if digits.len() != 32 {
        return Err(IdError);
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(IdError),
    };
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(digits[2 * i])? << 4) | nibble(digits[2 * i + 1])?;
    }
    Ok(out)
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Wraps 16 bytes (which the server draws from a CSPRNG).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// The raw 16 bytes.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for byte in self.0 {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                parse_hex_128(text).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

random_id!(
    /// An account. Stable for the account's life; handles are what people type.
    UserId
);
random_id!(
    /// One device (one Ed25519 key) of an account.
    DeviceId
);
random_id!(
    /// A client's id for one MLS message it sends, drawn at random by the client; the
    /// server accepts a resend with the same id once, which makes `mls_send` idempotent.
    MessageId
);
random_id!(
    /// A room, public or not. Knowing the id of an unlisted room is what lets one join it.
    RoomId
);

/// The client's number for a request; the server echoes it in the reply (`re`).
/// Clients count up from 1 per connection; the server treats it as opaque.
pub type RequestId = u32;

/// A room-local number for one member's audio stream, stamped by the server into every
/// audio frame it forwards, so listeners can tell speakers apart without reading ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub u16);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_hex() {
        let id = UserId::from_bytes([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(id.to_string().parse::<UserId>(), Ok(id));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "ab",
            &"AB".repeat(16),
            &"zz".repeat(16),
            &"a".repeat(33),
            "é",
        ] {
            assert_eq!(bad.parse::<RoomId>(), Err(IdError), "{bad:?}");
        }
        assert!(serde_json::from_str::<DeviceId>("\"nope\"").is_err());
        assert!(serde_json::from_str::<DeviceId>("17").is_err());
    }
}
