//! The openmls provider of one device: RustCrypto for the cryptography and openmls'
//! memory storage for every group, key package and secret, exported as one byte
//! string that the caller seals (see [`crate::seal`]) and writes wherever it keeps
//! state.
//!
//! openmls deletes a secret from the storage as soon as it is used (message keys,
//! consumed key packages, past epochs beyond the window): an export taken after an
//! operation no longer contains it, so overwriting the previous export is what keeps
//! forward secrecy on disk.

use std::collections::BTreeMap;

use openmls_memory_storage::MemoryStorage;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;

use crate::error::{E2eeError, Result};

const STATE_MAGIC: &[u8; 8] = b"salonmls";
const STATE_VERSION: u8 = 1;

/// Cryptography and storage for one device.
#[derive(Debug, Default)]
pub(crate) struct Provider {
    crypto: RustCrypto,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }

    fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }

    fn rand(&self) -> &RustCrypto {
        &self.crypto
    }
}

impl Provider {
    /// Every stored value, in a stable order: magic, version, count, then
    /// length-prefixed key/value pairs sorted by key.
    pub(crate) fn export(&self, out: &mut Vec<u8>) {
        let values = self
            .storage
            .values
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let sorted: BTreeMap<&Vec<u8>, &Vec<u8>> = values.iter().collect();
        out.extend_from_slice(STATE_MAGIC);
        out.push(STATE_VERSION);
        put_len(out, sorted.len());
        for (key, value) in sorted {
            put_len(out, key.len());
            out.extend_from_slice(key);
            put_len(out, value.len());
            out.extend_from_slice(value);
        }
    }

    /// Reads what [`Provider::export`] wrote; answers the provider and the bytes after it.
    pub(crate) fn import(bytes: &[u8]) -> Result<(Self, &[u8])> {
        let mut reader = Reader(bytes);
        if reader.take(STATE_MAGIC.len())? != STATE_MAGIC || reader.take(1)? != [STATE_VERSION] {
            return Err(bad("not a Salon MLS state of this version"));
        }
        let count = reader.len()?;
        let provider = Provider::default();
        {
            let mut values = provider
                .storage
                .values
                .write()
                .unwrap_or_else(|e| e.into_inner());
            for _ in 0..count {
                let key_len = reader.len()?;
                let key = reader.take(key_len)?.to_vec();
                let value_len = reader.len()?;
                let value = reader.take(value_len)?.to_vec();
                values.insert(key, value);
            }
        }
        Ok((provider, reader.0))
    }
}

pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_be_bytes());
}

fn bad(reason: &str) -> E2eeError {
    E2eeError::Malformed {
        what: "MLS state",
        reason: reason.to_owned(),
    }
}

/// A cursor over exported bytes that never panics on short input.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn len(&mut self) -> Result<usize> {
        let raw: [u8; 8] = self.take(8)?.try_into().map_err(|_| bad("truncated"))?;
        let len = u64::from_be_bytes(raw);
        usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or_else(|| bad("length past the end"))
    }
}
