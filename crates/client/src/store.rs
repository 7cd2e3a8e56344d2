//! The local store: what this profile remembers between runs, in one SQLite file in the
//! profile directory (`salon-client.db`, WAL mode, migrations embedded).
//!
//! It holds the servers used and the account on each, playback volume per person,
//! free-form settings, and the last MLS mailbox sequence each device acknowledged (so
//! delivery resumes after it, also across restarts). Device keys live in the OS keyring;
//! private messages keep their own tables here (see `dm::store`), every secret in them
//! sealed under a key derived from the device key, and `secure_delete` overwrites what
//! is deleted.
//!
//! Queries go through the workspace's one sqlx (one `libsqlite3-sys` per build).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr as _;
use std::time::{SystemTime, UNIX_EPOCH};

use salon_proto::{DeviceId, Handle, UserId};
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::{ClientError, Result};

/// The file name of the store inside the profile directory.
pub const DB_FILE: &str = "salon-client.db";

/// Volume is a percentage: 0 (silent) to 200 (twice as loud); 100 is unchanged.
pub const MAX_VOLUME_PERCENT: u16 = 200;

/// The account this profile holds on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's handle.
    pub handle: Handle,
    /// The account.
    pub user: UserId,
    /// This device.
    pub device: DeviceId,
    /// The display name at the last login.
    pub display_name: String,
}

/// A server this profile has used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownServer {
    /// Its URL.
    pub url: String,
    /// The account on it, once registered or logged in.
    pub account: Option<Account>,
    /// When it was last used, in milliseconds since the Unix epoch.
    pub last_used_ms: u64,
}

/// The profile's SQLite store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct LocalStore {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl LocalStore {
    /// Opens (creating when missing) the store in `profile_dir` and migrates it.
    pub async fn open(profile_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(profile_dir).map_err(|source| ClientError::Io {
            what: "cannot create the profile directory",
            path: profile_dir.to_owned(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(profile_dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Deleted content is overwritten, not left in free pages: old sealed MLS
            // state (with secrets since deleted) must not linger.
            .pragma("secure_delete", "ON")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for layers that keep their own tables here.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Notes that `url` was used now (keeping its account, if any).
    pub async fn touch_server(&self, url: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO servers (url, last_used_ms) VALUES (?1, ?2)
             ON CONFLICT (url) DO UPDATE SET last_used_ms = excluded.last_used_ms",
        )
        .bind(url)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remembers the account logged in on `url`.
    pub async fn save_account(&self, url: &str, account: &Account) -> Result<()> {
        sqlx::query(
            "INSERT INTO servers (url, handle, user_id, device_id, display_name, last_used_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (url) DO UPDATE SET handle = excluded.handle,
                 user_id = excluded.user_id, device_id = excluded.device_id,
                 display_name = excluded.display_name, last_used_ms = excluded.last_used_ms",
        )
        .bind(url)
        .bind(account.handle.as_str())
        .bind(account.user.to_string())
        .bind(account.device.to_string())
        .bind(&account.display_name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The account this profile holds on `url`, if any.
    pub async fn account(&self, url: &str) -> Result<Option<Account>> {
        Ok(self
            .known_servers()
            .await?
            .into_iter()
            .find(|server| server.url == url)
            .and_then(|server| server.account))
    }

    /// Every server this profile has used, most recent first.
    pub async fn known_servers(&self) -> Result<Vec<KnownServer>> {
        let rows = sqlx::query(
            "SELECT url, handle, user_id, device_id, display_name, last_used_ms
             FROM servers ORDER BY last_used_ms DESC, url",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let text = |column: &str| row.try_get::<Option<String>, _>(column).ok().flatten();
                let account = (|| {
                    Some(Account {
                        handle: Handle::parse(&text("handle")?).ok()?,
                        user: UserId::from_str(&text("user_id")?).ok()?,
                        device: DeviceId::from_str(&text("device_id")?).ok()?,
                        display_name: text("display_name").unwrap_or_default(),
                    })
                })();
                KnownServer {
                    url: row.get("url"),
                    account,
                    last_used_ms: u64::try_from(row.get::<i64, _>("last_used_ms")).unwrap_or(0),
                }
            })
            .collect())
    }

    /// The playback volume of `user` on `server`, in percent (100 when never set).
    pub async fn volume(&self, server: &str, user: UserId) -> Result<u16> {
        let percent: Option<i64> = sqlx::query_scalar(
            "SELECT percent FROM volumes WHERE server_url = ?1 AND user_id = ?2",
        )
        .bind(server)
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(percent.and_then(|p| u16::try_from(p).ok()).unwrap_or(100))
    }

    /// Every playback volume set on `server`, in percent (people never set are absent).
    pub async fn volumes(&self, server: &str) -> Result<HashMap<UserId, u16>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT user_id, percent FROM volumes WHERE server_url = ?1")
                .bind(server)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(user, percent)| {
                Some((UserId::from_str(&user).ok()?, u16::try_from(percent).ok()?))
            })
            .collect())
    }

    /// Sets the playback volume of `user` on `server`: 0 to [`MAX_VOLUME_PERCENT`].
    pub async fn set_volume(&self, server: &str, user: UserId, percent: u16) -> Result<()> {
        if percent > MAX_VOLUME_PERCENT {
            return Err(ClientError::InvalidArgument(format!(
                "volume {percent}% is above the maximum of {MAX_VOLUME_PERCENT}%"
            )));
        }
        sqlx::query(
            "INSERT INTO volumes (server_url, user_id, percent) VALUES (?1, ?2, ?3)
             ON CONFLICT (server_url, user_id) DO UPDATE SET percent = excluded.percent",
        )
        .bind(server)
        .bind(user.to_string())
        .bind(i64::from(percent))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A setting, if set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last MLS mailbox sequence `device` acknowledged on `server` (0 when none).
    pub async fn last_acked(&self, server: &str, device: DeviceId) -> Result<u64> {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT last_acked FROM mls_cursors WHERE server_url = ?1 AND device_id = ?2",
        )
        .bind(server)
        .bind(device.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
    }

    /// Records that `device` acknowledged everything up to `seq` on `server`. Never
    /// moves the cursor backwards.
    pub async fn set_last_acked(&self, server: &str, device: DeviceId, seq: u64) -> Result<()> {
        let seq = i64::try_from(seq)
            .map_err(|_| ClientError::InvalidArgument(format!("sequence {seq} is out of range")))?;
        sqlx::query(
            "INSERT INTO mls_cursors (server_url, device_id, last_acked) VALUES (?1, ?2, ?3)
             ON CONFLICT (server_url, device_id)
             DO UPDATE SET last_acked = MAX(last_acked, excluded.last_acked)",
        )
        .bind(server)
        .bind(device.to_string())
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_accounts_volumes_settings_and_cursors_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = "ws://127.0.0.1:7300/v1/ws";
        let user = UserId::from_bytes([1; 16]);
        let device = DeviceId::from_bytes([2; 16]);
        {
            let store = LocalStore::open(dir.path()).await.unwrap();
            store.touch_server(url).await.unwrap();
            assert_eq!(store.account(url).await.unwrap(), None);
            let account = Account {
                handle: Handle::parse("ada").unwrap(),
                user,
                device,
                display_name: "Ada".into(),
            };
            store.save_account(url, &account).await.unwrap();
            assert_eq!(store.volume(url, user).await.unwrap(), 100);
            store.set_volume(url, user, 150).await.unwrap();
            assert!(matches!(
                store.set_volume(url, user, 201).await,
                Err(ClientError::InvalidArgument(_))
            ));
            store
                .set_setting("push_to_talk", "ctrl+space")
                .await
                .unwrap();
            store.set_last_acked(url, device, 41).await.unwrap();
            store.set_last_acked(url, device, 7).await.unwrap();
            store.close().await;
        }
        let store = LocalStore::open(dir.path()).await.unwrap();
        let servers = store.known_servers().await.unwrap();
        assert_eq!(servers.len(), 1);
        let account = servers[0].account.clone().expect("the account");
        assert_eq!(
            (account.handle.as_str(), account.user, account.device),
            ("ada", user, device)
        );
        assert_eq!(store.volume(url, user).await.unwrap(), 150);
        assert_eq!(
            store.setting("push_to_talk").await.unwrap().as_deref(),
            Some("ctrl+space")
        );
        assert_eq!(store.setting("missing").await.unwrap(), None);
        assert_eq!(
            store.last_acked(url, device).await.unwrap(),
            41,
            "never backwards"
        );
    }
}
