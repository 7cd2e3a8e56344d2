//! The device key: the Ed25519 key pair that is this device's identity on a server.
//!
//! Logging in is signing the server's fresh nonce ([`salon_proto::auth::transcript`])
//! with this key, so the secret half is the account. It is created on first use and kept
//! in the OS keyring ([`keyring`]) or, by explicit choice, in a 0600 key file ([`file`]);
//! nothing else in the client ever writes it anywhere.

mod file;
mod keyring;

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};
use rand::rngs::OsRng;
use salon_proto::auth::{Purpose, transcript};
use salon_proto::{Handle, Nonce, PublicKey, Signature};

use crate::{ClientError, KeyStore, Result};

/// This device's key pair. The secret is zeroed when dropped and never printed.
pub struct DeviceKey {
    secret: SigningKey,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({})", self.public_key().to_base64())
    }
}

impl DeviceKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self {
            secret: SigningKey::generate(&mut OsRng),
        }
    }

    /// The secret seed, for keys derived from it (the private-message store's key).
    pub(crate) fn seed(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// The public half, as the wire carries it.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.secret.verifying_key().to_bytes())
    }

    /// Signs the login transcript for `purpose` on the connection that sent `nonce`.
    pub fn sign(&self, purpose: Purpose, nonce: &Nonce, handle: &Handle) -> Signature {
        let message = transcript(purpose, nonce, handle, &self.public_key());
        Signature(self.secret.sign(&message).to_bytes())
    }

    /// Loads the key from `store`, creating and saving a new one when there is none.
    /// Blocking (keyring calls talk to D-Bus, files to the disk): call it off the async
    /// runtime's worker threads.
    pub fn load_or_create(store: &KeyStore, profile_dir: &Path, server_url: &str) -> Result<Self> {
        match store {
            KeyStore::Keyring => {
                keyring::load_or_create(&keyring::entry_name(profile_dir, server_url))
            }
            KeyStore::File(path) => file::load_or_create(path),
        }
    }

    /// The secret seed in the text form key stores keep (base64 of 32 bytes).
    fn to_text(&self) -> String {
        STANDARD.encode(self.secret.to_bytes())
    }

    /// Reads the text form; `location` names the store in errors.
    fn from_text(text: &str, location: &str) -> Result<Self> {
        let bad = |reason: &str| ClientError::BadKey {
            location: location.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| bad("not base64"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("not a 32-byte Ed25519 secret key"))?;
        Ok(Self {
            secret: SigningKey::from_bytes(&seed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Verifier as _, VerifyingKey};

    #[test]
    fn text_form_round_trips_and_signatures_verify() {
        let key = DeviceKey::generate();
        let again = DeviceKey::from_text(&key.to_text(), "test").unwrap();
        assert_eq!(key.public_key(), again.public_key());

        let nonce = Nonce([7; 32]);
        let handle = Handle::parse("ada").unwrap();
        let signature = key.sign(Purpose::Authenticate, &nonce, &handle);
        let message = transcript(Purpose::Authenticate, &nonce, &handle, &key.public_key());
        VerifyingKey::from_bytes(&key.public_key().0)
            .unwrap()
            .verify(
                &message,
                &ed25519_dalek::Signature::from_bytes(&signature.0),
            )
            .expect("the signature verifies");
    }

    #[test]
    fn damaged_text_is_an_error_not_a_panic() {
        assert!(matches!(
            DeviceKey::from_text("%%%", "x"),
            Err(ClientError::BadKey { .. })
        ));
        assert!(matches!(
            DeviceKey::from_text(&STANDARD.encode([1u8; 31]), "x"),
            Err(ClientError::BadKey { .. })
        ));
        assert!(!format!("{:?}", DeviceKey::generate()).contains("secret"));
    }
}
