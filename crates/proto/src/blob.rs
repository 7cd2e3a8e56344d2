//! Binary values inside JSON: keys, signatures, nonces and opaque MLS bytes.
//!
//! JSON has no bytes, so every binary value travels as standard base64 (RFC 4648, with
//! padding). Fixed-size values check their length when decoded, so a 31-byte "public
//! key" is a protocol error at the edge, not a panic deep inside a crypto library.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a base64 value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Not valid standard base64.
    #[error("not valid base64")]
    Base64,
    /// Decoded to the wrong number of bytes.
    #[error("expected {expected} bytes, got {actual}")]
    Length {
        /// Bytes the value must have.
        expected: usize,
        /// Bytes it had.
        actual: usize,
    },
}

fn decode(text: &str) -> Result<Vec<u8>, BlobError> {
    STANDARD.decode(text).map_err(|_| BlobError::Base64)
}

/// Opaque bytes of any length (bounded by the control-message limit), such as an MLS
/// message or key package the server stores and forwards without reading.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Blob(pub Vec<u8>);

impl Blob {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        decode(&text).map(Self).map_err(serde::de::Error::custom)
    }
}

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// Decodes the base64 form.
            pub fn from_base64(text: &str) -> Result<Self, BlobError> {
                let bytes = decode(text)?;
                let actual = bytes.len();
                bytes
                    .try_into()
                    .map(Self)
                    .map_err(|_| BlobError::Length { expected: $len, actual })
            }

            /// The base64 form used on the wire.
            pub fn to_base64(&self) -> String {
                STANDARD.encode(self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_base64())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_base64())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_base64(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fixed_bytes!(
    /// An Ed25519 public key: the identity of one device.
    PublicKey,
    32
);
fixed_bytes!(
    /// An Ed25519 signature.
    Signature,
    64
);
fixed_bytes!(
    /// A fresh random challenge from the server, signed to log in.
    Nonce,
    32
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_sizes_are_checked() {
        let key = PublicKey([7; 32]);
        assert_eq!(PublicKey::from_base64(&key.to_base64()), Ok(key));
        assert_eq!(
            PublicKey::from_base64(&STANDARD.encode([1u8; 31])),
            Err(BlobError::Length {
                expected: 32,
                actual: 31
            })
        );
        assert_eq!(Signature::from_base64("***"), Err(BlobError::Base64));
    }

    #[test]
    fn blobs_round_trip_through_json() {
        let blob = Blob(vec![0, 1, 2, 254, 255]);
        let json = serde_json::to_string(&blob).unwrap();
        assert_eq!(json, "\"AAEC/v8=\"");
        assert_eq!(serde_json::from_str::<Blob>(&json).unwrap(), blob);
        assert!(serde_json::from_str::<Blob>("\"%%%\"").is_err());
    }
}
