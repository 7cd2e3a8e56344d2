//! An unlocked, throwaway OS keyring: `gnome-keyring-daemon` serving the Secret Service
//! API (what the `keyring` crate uses on Linux) on the private session bus, with its
//! keyrings under a temporary `XDG_DATA_HOME`.
//!
//! It counts as started only once the bus says `org.freedesktop.secrets` has an owner
//! and the default collection answers that it is unlocked.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, anyhow};

use super::Services;
use crate::service_process::{self, ServiceProcess};
use crate::wait;

const STARTUP: Duration = Duration::from_secs(15);

/// The password of the throwaway login keyring.
const PASSWORD: &str = "salon-test";

const SECRETS: &str = "org.freedesktop.secrets";

pub(super) fn start(services: &mut Services) -> anyhow::Result<()> {
    let bus = services
        .env_var("DBUS_SESSION_BUS_ADDRESS")
        .ok_or_else(|| anyhow!("the keyring needs the session bus, which is not running"))?
        .to_owned();
    let dir = services.temp_dir("keyring")?;
    let data = dir.join("data");
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&runtime)?;
    let log = dir.join("gnome-keyring-daemon.log");
    let mut command = service_process::command("gnome-keyring-daemon", "gnome-keyring", &log)?;
    command
        .args(["--foreground", "--unlock", "--components=secrets"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus)
        .env("XDG_DATA_HOME", &data)
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdin(Stdio::piped());
    let process = services.add(ServiceProcess::spawn("gnome-keyring-daemon", command, log)?);
    {
        // `--unlock` reads the password from stdin until it closes.
        let mut stdin = process.take_stdin()?;
        stdin
            .write_all(PASSWORD.as_bytes())
            .context("could not give gnome-keyring-daemon its password")?;
    }

    let bus_call = |args: &[&str]| -> anyhow::Result<Option<String>> {
        let output = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .args(["--session", "--print-reply"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("could not run dbus-send (Debian package `dbus`)")?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned()))
    };

    let owned = wait::poll(STARTUP, || {
        if process.exit_status().is_some() {
            return Ok(Some(false));
        }
        let reply = bus_call(&[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{SECRETS}"),
        ])?;
        Ok(reply.filter(|r| r.contains("boolean true")).map(|_| true))
    })?;
    if owned != Some(true) {
        return Err(process.failure(format!(
            "{SECRETS} got no owner on the session bus within {} s",
            STARTUP.as_secs()
        )));
    }

    let alias = bus_call(&[
        &format!("--dest={SECRETS}"),
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.ReadAlias",
        "string:default",
    ])?
    .unwrap_or_default();
    let Some(collection) = quoted_object_path(&alias) else {
        return Err(process.failure(format!(
            "the keyring has no default collection (ReadAlias answered {:?})",
            alias.trim()
        )));
    };
    let locked = bus_call(&[
        &format!("--dest={SECRETS}"),
        &collection,
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
    ])?
    .unwrap_or_default();
    if !locked.contains("boolean false") {
        return Err(process.failure(format!(
            "the keyring's collection {collection} is not unlocked (Locked answered {:?})",
            locked.trim()
        )));
    }
    services.set_env("XDG_DATA_HOME", data);
    Ok(())
}

/// The object path in a dbus-send reply line such as `object path "/a/b"` (not `/`).
fn quoted_object_path(reply: &str) -> Option<String> {
    let start = reply.find("object path \"")? + "object path \"".len();
    let end = start + reply.get(start..)?.find('"')?;
    let path = reply.get(start..end)?;
    (path.len() > 1).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::quoted_object_path;

    #[test]
    fn reads_the_collection_path_from_a_reply() {
        let reply = "method return time=1.2 sender=:1.1 -> destination=:1.11 serial=5\n   \
                     object path \"/org/freedesktop/secrets/collection/login\"\n";
        assert_eq!(
            quoted_object_path(reply).as_deref(),
            Some("/org/freedesktop/secrets/collection/login")
        );
        assert_eq!(quoted_object_path("   object path \"/\"\n"), None);
        assert_eq!(quoted_object_path(""), None);
    }
}
