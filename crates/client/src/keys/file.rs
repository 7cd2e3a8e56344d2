//! A device key in a file, for headless bots that have no keyring.
//!
//! The file holds the secret in plain text, so its permissions are the only protection:
//! it is created with mode 0600 (atomically, never widened afterwards) and an existing
//! file that group or others may read or write is refused with an error that says how
//! to fix it, rather than silently used.

use std::io::Write as _;
use std::path::Path;

use super::DeviceKey;
use crate::{ClientError, Result};

/// Loads the key in `path`, or creates the file with a fresh key.
pub(super) fn load_or_create(path: &Path) -> Result<DeviceKey> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            check_mode(path, &meta)?;
            let text = std::fs::read_to_string(path).map_err(|source| ClientError::Io {
                what: "cannot read the key file",
                path: path.to_owned(),
                source,
            })?;
            DeviceKey::from_text(&text, &path.display().to_string())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(source) => Err(ClientError::Io {
            what: "cannot open the key file",
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if !meta.is_file() {
        return Err(ClientError::BadKey {
            location: path.display().to_string(),
            reason: "not a regular file".into(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ClientError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<()> {
    // Without Unix permission bits there is nothing to check here; the file's ACL is the
    // user's responsibility.
    Ok(())
}

fn create(path: &Path) -> Result<DeviceKey> {
    let io = |what| {
        move |source| ClientError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("cannot create the directory of the key file"))?;
    }
    let key = DeviceKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(io("cannot create the key file"))?;
    writeln!(file, "{}", key.to_text()).map_err(io("cannot write the key file"))?;
    file.sync_all().map_err(io("cannot write the key file"))?;
    Ok(key)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn created_0600_then_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot").join("device.key");
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.public_key(), second.public_key());
    }

    #[test]
    fn readable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        load_or_create(&path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_or_create(&path).unwrap_err();
            assert!(
                matches!(err, ClientError::KeyFilePermissions { mode: m, .. } if m == mode),
                "{err}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        load_or_create(&path).expect("owner-only read is fine");
    }
}
