//! Who a member is: the account handle and the Ed25519 device key the server has
//! registered for that device.
//!
//! The device key *is* the MLS signature key of the device's leaf (RFC 9420 §5.3: the
//! credential binds an identity to a signature key), and the basic credential's
//! identity is the handle. So what a member proves inside the group is exactly what
//! the server lists for that handle: a device the server inserted has its own key,
//! which every member sees and which changes the safety number.

use ed25519_dalek::SigningKey;
use openmls::prelude::{BasicCredential, Credential, CredentialWithKey, SignatureScheme};
use openmls_basic_credential::SignatureKeyPair;

use crate::error::{E2eeError, Result};

/// One member device of a conversation: a handle and its device key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId {
    /// The account's handle.
    pub handle: String,
    /// The device's Ed25519 public key (32 bytes).
    pub device_key: Vec<u8>,
}

impl MemberId {
    /// Reads a member from its MLS credential and leaf signature key.
    pub(crate) fn from_credential(credential: &Credential, signature_key: &[u8]) -> Result<Self> {
        let basic = BasicCredential::try_from(credential.clone()).map_err(|err| {
            E2eeError::UntrustedKeyPackage {
                reason: format!("not a basic credential: {err}"),
            }
        })?;
        let handle = String::from_utf8(basic.identity().to_vec()).map_err(|_| {
            E2eeError::UntrustedKeyPackage {
                reason: "the credential's identity is not a handle".into(),
            }
        })?;
        if signature_key.len() != 32 {
            return Err(E2eeError::UntrustedKeyPackage {
                reason: "the signature key is not an Ed25519 key".into(),
            });
        }
        Ok(Self {
            handle,
            device_key: signature_key.to_vec(),
        })
    }
}

/// This device: its handle, its device key (the MLS signer) and its credential.
pub struct DeviceIdentity {
    member: MemberId,
    pub(crate) signer: SignatureKeyPair,
    pub(crate) credential: CredentialWithKey,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

impl DeviceIdentity {
    /// The identity of the device whose Ed25519 secret key (its 32-byte seed) is
    /// `seed`, for the account `handle`.
    pub fn new(handle: &str, seed: [u8; 32]) -> Self {
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let signer =
            SignatureKeyPair::from_raw(SignatureScheme::ED25519, seed.to_vec(), public.to_vec());
        let credential = CredentialWithKey {
            credential: BasicCredential::new(handle.as_bytes().to_vec()).into(),
            signature_key: public.to_vec().into(),
        };
        Self {
            member: MemberId {
                handle: handle.to_owned(),
                device_key: public.to_vec(),
            },
            signer,
            credential,
        }
    }

    /// The handle and device key of this device.
    pub fn member(&self) -> &MemberId {
        &self.member
    }
}
