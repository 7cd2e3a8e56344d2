//! Checking a device's signature over a login transcript, with an audited Ed25519
//! implementation (`ed25519-dalek`, strict verification: no malleable signatures, no
//! small-order keys).

use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use salon_proto::auth::{Purpose, transcript};
use salon_proto::{ErrorBody, ErrorCode, Handle, Nonce, PublicKey, Signature};

/// Verifies `signature` by `key` over the transcript for `purpose`.
pub(crate) fn verify(
    purpose: Purpose,
    nonce: &Nonce,
    handle: &Handle,
    key: &PublicKey,
    signature: &Signature,
) -> Result<(), ErrorBody> {
    let refused = || {
        ErrorBody::new(
            ErrorCode::InvalidSignature,
            "the device signature does not verify",
        )
    };
    let key_bytes = VerifyingKey::from_bytes(&key.0).map_err(|_| refused())?;
    let message = transcript(purpose, nonce, handle, key);
    key_bytes
        .verify_strict(&message, &EdSignature::from_bytes(&signature.0))
        .map_err(|_| refused())
}
