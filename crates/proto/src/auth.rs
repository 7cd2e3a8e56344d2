//! The exact bytes a device signs to prove it holds its key.
//!
//! Registering, logging in and asking to link a new device all answer the server's
//! fresh nonce with an Ed25519 signature. What is signed binds the purpose, the nonce,
//! the handle and the key together, with a domain-separation prefix, so a signature made
//! for one purpose, account or connection can never be replayed for another. This crate
//! only lays out the bytes; signing and verifying happen with an audited Ed25519 library
//! in the client and the server.

use crate::{Handle, Nonce, PublicKey};

/// Domain-separation prefix of every signed transcript.
pub const TRANSCRIPT_PREFIX: &[u8] = b"salon-auth-v1\0";

/// What a signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `register`: create an account with this device as its first.
    Register,
    /// `authenticate`: log in as an existing device.
    Authenticate,
    /// `link_device`: ask an existing device of the account to approve this new one.
    LinkDevice,
}

impl Purpose {
    fn tag(self) -> u8 {
        match self {
            Purpose::Register => 1,
            Purpose::Authenticate => 2,
            Purpose::LinkDevice => 3,
        }
    }
}

/// The bytes to sign: `prefix ‖ purpose (1 byte) ‖ nonce (32) ‖ handle length (1) ‖
/// handle (ASCII) ‖ device public key (32)`.
pub fn transcript(purpose: Purpose, nonce: &Nonce, handle: &Handle, key: &PublicKey) -> Vec<u8> {
    let handle = handle.as_str().as_bytes();
    let mut out = Vec::with_capacity(TRANSCRIPT_PREFIX.len() + 1 + 32 + 1 + handle.len() + 32);
    out.extend_from_slice(TRANSCRIPT_PREFIX);
    out.push(purpose.tag());
    out.extend_from_slice(&nonce.0);
    // A handle is at most 30 ASCII bytes, so its length always fits one byte.
    out.push(handle.len() as u8);
    out.extend_from_slice(handle);
    out.extend_from_slice(&key.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_differ_by_purpose_handle_and_nonce() {
        let nonce = Nonce([1; 32]);
        let key = PublicKey([2; 32]);
        let ada = Handle::parse("ada").unwrap();
        let bob = Handle::parse("bob").unwrap();
        let base = transcript(Purpose::Authenticate, &nonce, &ada, &key);
        assert_eq!(base.len(), TRANSCRIPT_PREFIX.len() + 1 + 32 + 1 + 3 + 32);
        assert!(base.starts_with(TRANSCRIPT_PREFIX));
        assert_ne!(base, transcript(Purpose::Register, &nonce, &ada, &key));
        assert_ne!(base, transcript(Purpose::Authenticate, &nonce, &bob, &key));
        assert_ne!(
            base,
            transcript(Purpose::Authenticate, &Nonce([9; 32]), &ada, &key)
        );
    }
}
