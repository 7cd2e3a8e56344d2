//! Sealing bytes at rest with a 256-bit key: ChaCha20-Poly1305 (RustCrypto) with a
//! random 96-bit nonce stored in front of the ciphertext, and associated data naming
//! what the bytes are, so a sealed value cannot be moved to another row or purpose.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use openmls_traits::random::OpenMlsRand;

use crate::error::{E2eeError, Result};

const NONCE_LEN: usize = 12;

/// A 256-bit key for sealing local state; create one with [`SealKey::generate`] and
/// keep it in the OS keyring.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let rand = openmls_rust_crypto::RustCrypto::default();
        let bytes: [u8; 32] = rand.random_array().unwrap_or_else(|_| {
            // The system's random source failing is not recoverable.
            panic!("the operating system's random source failed")
        });
        Self(bytes)
    }

    /// A key derived (HKDF-SHA256) from a secret kept elsewhere, for example the
    /// device's key in the OS keyring, so no second secret has to be stored.
    pub fn derive(secret: &[u8], label: &[u8]) -> Self {
        use openmls_traits::crypto::OpenMlsCrypto;
        use openmls_traits::types::HashType;
        let crypto = openmls_rust_crypto::RustCrypto::default();
        let prk = crypto
            .hkdf_extract(HashType::Sha2_256, b"salon-seal-key", secret)
            .expect("HKDF-SHA256 is always available");
        let okm = crypto
            .hkdf_expand(HashType::Sha2_256, prk.as_slice(), label, 32)
            .expect("32 bytes are within HKDF's range");
        let mut key = [0; 32];
        key.copy_from_slice(okm.as_slice());
        Self(key)
    }

    /// A key from its 32 bytes (as read back from the keyring).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to store in the keyring.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Encrypts `plaintext`; `label` (for example `"history"`) is authenticated too.
    pub fn seal(&self, label: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        let rand = openmls_rust_crypto::RustCrypto::default();
        let nonce: [u8; NONCE_LEN] = rand
            .random_array()
            .unwrap_or_else(|_| panic!("the operating system's random source failed"));
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: label,
                },
            )
            .unwrap_or_else(|_| panic!("ChaCha20-Poly1305 encryption cannot fail on a slice"));
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`SealKey::seal`] gave with the same `label`.
    pub fn open(&self, label: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(E2eeError::Unseal);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: label,
                },
            )
            .map_err(|_| E2eeError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_labels_keys_and_flipped_bits() {
        let key = SealKey::generate();
        let sealed = key.seal(b"history", b"meet at the lighthouse");
        assert!(!sealed.windows(10).any(|w| w == b"lighthouse"));
        assert_eq!(
            key.open(b"history", &sealed).unwrap(),
            b"meet at the lighthouse"
        );
        assert!(matches!(
            key.open(b"state", &sealed),
            Err(E2eeError::Unseal)
        ));
        assert!(SealKey::generate().open(b"history", &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(key.open(b"history", &flipped).is_err());
        assert!(key.open(b"history", &sealed[..5]).is_err());
        let again = SealKey::from_bytes(key.to_bytes());
        assert_eq!(
            again.open(b"history", &sealed).unwrap(),
            b"meet at the lighthouse"
        );
    }
}
