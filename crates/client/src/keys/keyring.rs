//! A device key in the OS keyring (keyring 4: Secret Service over D-Bus on Linux,
//! Keychain on macOS, Credential Manager on Windows).
//!
//! keyring 4's `v1` API sets up the platform's default store on first use; without a
//! session bus or with a locked keyring it answers `NoDefaultStore` / `NoStorageAccess`,
//! which become [`ClientError::Keyring`] with a message saying what is missing. Every
//! call here blocks (D-Bus round trips): callers run it on a blocking thread.

use std::path::Path;

use keyring::{Entry, Error as KeyringError};

use super::DeviceKey;
use crate::{ClientError, Result};

/// The keyring service all Salon entries are filed under.
const SERVICE: &str = "salon";

/// The entry name of the device key for this profile and server: one key per pair, so
/// two profiles never share a key and one account cannot be linked across servers.
pub(super) fn entry_name(profile_dir: &Path, server_url: &str) -> String {
    let profile = std::fs::canonicalize(profile_dir).unwrap_or_else(|_| profile_dir.to_owned());
    format!("device-key {server_url} {}", profile.display())
}

fn unavailable(err: KeyringError) -> ClientError {
    ClientError::Keyring {
        reason: err.to_string(),
    }
}

/// Loads the key filed as `name`, or creates and files a new one.
pub(super) fn load_or_create(name: &str) -> Result<DeviceKey> {
    let entry = Entry::new(SERVICE, name).map_err(unavailable)?;
    let location = format!("the OS keyring entry {SERVICE:?}/{name:?}");
    match entry.get_password() {
        Ok(text) => DeviceKey::from_text(&text, &location),
        Err(KeyringError::NoEntry) => {
            let key = DeviceKey::generate();
            entry.set_password(&key.to_text()).map_err(unavailable)?;
            Ok(key)
        }
        Err(err) => Err(unavailable(err)),
    }
}
