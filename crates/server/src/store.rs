//! The server's durable state: accounts, devices, invites, key packages and the MLS
//! mailboxes, in SQLite (one file, the default) or PostgreSQL (for deployments that
//! outgrow one machine).
//!
//! Both engines run the very same queries through sqlx's `Any` driver: the SQL here is
//! the common subset (`$n` parameters, `RETURNING`, `ON CONFLICT`), and only the schema
//! differs, one migration set per engine. Live rooms run in memory ([`crate::rooms`]);
//! what of them must outlive a restart (title, visibility, host seat, invitations,
//! bans: a [`RoomRecord`]) is kept here, never who is present. What is here must survive a crash: a message is acknowledged to its sender only after
//! its transaction commits, and SQLite runs in WAL mode so a `kill -9` loses nothing
//! that was acknowledged. Every transaction that writes starts with a write, so
//! concurrent SQLite writers queue on the lock instead of failing on a stale snapshot,
//! and PostgreSQL's row locks give the same outcomes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use salon_proto::mls::{DeviceKeyPackage, MlsDelivery, MlsKind};
use salon_proto::room::Visibility;
use salon_proto::{Blob, DeviceId, DeviceInfo, Handle, MessageId, PublicKey, RoomId, UserId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor as _, Row};

use crate::rooms::RoomRecord;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The handle is already registered.
    #[error("the handle is taken")]
    HandleTaken,
    /// The device key is already registered to an account.
    #[error("this device key is already registered")]
    KeyTaken,
    /// The invite code is unknown or used up.
    #[error("the invite code is unknown or used up")]
    InvalidInvite,
    /// A commit for an epoch another commit already closed.
    #[error("group is at epoch {current}; a commit for epoch {attempted} lost the race")]
    EpochConflict {
        /// The group's epoch now.
        current: u64,
        /// The epoch the commit built on.
        attempted: u64,
    },
    /// The database URL names an engine other than SQLite or PostgreSQL.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub user: UserId,
    /// Its handle.
    pub handle: Handle,
    /// Its display name.
    pub display_name: String,
}

/// The store, over SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn id16<T>(row: &AnyRow, column: &str, wrap: fn([u8; 16]) -> T) -> Result<T, sqlx::Error> {
    let bytes: Vec<u8> = row.try_get(column)?;
    let array: [u8; 16] = bytes.try_into().map_err(|_| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: "expected 16 bytes".into(),
    })?;
    Ok(wrap(array))
}

fn account_from(row: &AnyRow) -> Result<Account, sqlx::Error> {
    let handle: String = row.try_get("handle")?;
    Ok(Account {
        user: id16(row, "id", UserId::from_bytes)?,
        handle: Handle::parse(&handle).map_err(|e| sqlx::Error::ColumnDecode {
            index: "handle".into(),
            source: Box::new(e),
        })?,
        display_name: row.try_get("display_name")?,
    })
}

fn kind_name(kind: MlsKind) -> &'static str {
    match kind {
        MlsKind::Commit => "commit",
        MlsKind::Proposal => "proposal",
        MlsKind::Welcome => "welcome",
        MlsKind::Application => "application",
    }
}

fn kind_from(name: &str) -> MlsKind {
    match name {
        "commit" => MlsKind::Commit,
        "proposal" => MlsKind::Proposal,
        "welcome" => MlsKind::Welcome,
        _ => MlsKind::Application,
    }
}

fn visibility_name(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "public",
        Visibility::Unlisted => "unlisted",
        Visibility::Private => "private",
    }
}

fn decode_error(
    column: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: source.into(),
    }
}

fn users_from(row: &AnyRow, column: &str) -> Result<Vec<UserId>, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| decode_error(column, e))
}

fn room_from(row: &AnyRow) -> Result<RoomRecord, sqlx::Error> {
    let visibility: String = row.try_get("visibility")?;
    let visibility = match visibility.as_str() {
        "public" => Visibility::Public,
        "unlisted" => Visibility::Unlisted,
        "private" => Visibility::Private,
        other => {
            return Err(decode_error(
                "visibility",
                format!("unknown visibility {other:?}"),
            ));
        }
    };
    Ok(RoomRecord {
        room: id16(row, "id", RoomId::from_bytes)?,
        host: id16(row, "host", UserId::from_bytes)?,
        title: row.try_get("title")?,
        visibility,
        invited: users_from(row, "invited")?,
        banned: users_from(row, "banned")?,
    })
}

fn users_json(users: &[UserId]) -> String {
    serde_json::to_string(users).unwrap_or_else(|_| "[]".to_owned())
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A message to store in the mailboxes of several devices.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Sending account.
    pub sender: UserId,
    /// Sending device (never receives its own message).
    pub sender_device: DeviceId,
    /// The client's id for the message.
    pub message_id: MessageId,
    /// The group.
    pub group: &'a [u8],
    /// Message kind.
    pub kind: MlsKind,
    /// The sender's epoch.
    pub epoch: u64,
    /// Receiving accounts.
    pub recipients: &'a [UserId],
    /// The opaque message.
    pub payload: &'a [u8],
}

/// The result of storing a message.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its group-wide order.
    pub group_seq: u64,
    /// `false` when this was a resend of an already-stored message.
    pub fresh: bool,
    /// One delivery per receiving device (with its account), to push to those online.
    pub deliveries: Vec<(UserId, DeviceId, MlsDelivery)>,
}

impl Store {
    /// Opens (creating it if needed) and migrates the database at `url`:
    /// `sqlite://PATH` (WAL mode) or `postgres://…`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, migrations) = if url.starts_with("sqlite:") {
            // Create the file when missing (`mode=rwc`) unless the URL says otherwise.
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (url, &SQLITE_MIGRATIONS)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (url.to_owned(), &POSTGRES_MIGRATIONS)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 5000",
                        ] {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await?;
        migrations.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Flushes and closes the database (graceful shutdown).
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }

    /// Creates an account with its first device. With `invite`, consumes one use of it.
    pub async fn register(
        &self,
        user: UserId,
        device: DeviceId,
        handle: &Handle,
        display_name: &str,
        key: &PublicKey,
        invite: Option<&str>,
    ) -> Result<Account, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut invited_by: Option<Vec<u8>> = None;
        if let Some(code) = invite {
            let row = sqlx::query(
                "UPDATE invites SET uses_left = uses_left - 1 \
                 WHERE code = $1 AND uses_left > 0 RETURNING created_by",
            )
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.ok_or(StoreError::InvalidInvite)?;
            invited_by = Some(row.try_get("created_by")?);
        }
        let now = now_ms() as i64;
        let inserted = sqlx::query(
            "INSERT INTO users (id, handle, display_name, invited_by, created_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.as_bytes()[..])
        .bind(handle.as_str())
        .bind(display_name)
        .bind(invited_by)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => return Err(StoreError::HandleTaken),
            other => other?,
        };
        let inserted = sqlx::query(
            "INSERT INTO devices (id, user_id, public_key, added_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&device.as_bytes()[..])
        .bind(&user.as_bytes()[..])
        .bind(&key.0[..])
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => return Err(StoreError::KeyTaken),
            other => other?,
        };
        tx.commit().await?;
        Ok(Account {
            user,
            handle: handle.clone(),
            display_name: display_name.to_owned(),
        })
    }

    /// The account and device for an approved device key of `handle`.
    pub async fn device_login(
        &self,
        handle: &Handle,
        key: &PublicKey,
    ) -> Result<Option<(Account, DeviceId)>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.handle, u.display_name, d.id AS device FROM users u \
             JOIN devices d ON d.user_id = u.id WHERE u.handle = $1 AND d.public_key = $2",
        )
        .bind(handle.as_str())
        .bind(&key.0[..])
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                account_from(&row)?,
                id16(&row, "device", DeviceId::from_bytes)?,
            ))
        })
        .transpose()
    }

    /// Whether any account exists (an invite-only server lets its first account in
    /// without a code, since nobody could have made one).
    pub async fn has_accounts(&self) -> Result<bool, StoreError> {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(any.is_some())
    }

    /// Looks up an account by its exact handle.
    pub async fn account_by_handle(&self, handle: &Handle) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query("SELECT id, handle, display_name FROM users WHERE handle = $1")
            .bind(handle.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| account_from(&row)).transpose()?)
    }

    /// Changes a display name.
    pub async fn set_display_name(&self, user: UserId, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(&user.as_bytes()[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a key asking to join `user`'s account.
    pub async fn request_link(&self, user: UserId, key: &PublicKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_devices (user_id, public_key, requested_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, public_key) DO UPDATE SET requested_ms = excluded.requested_ms",
        )
        .bind(&user.as_bytes()[..])
        .bind(&key.0[..])
        .bind(now_ms() as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Approves a pending key of `user` as a new device. `None` if no such request.
    pub async fn approve_link(
        &self,
        user: UserId,
        key: &PublicKey,
        device: DeviceId,
    ) -> Result<Option<DeviceId>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let removed =
            sqlx::query("DELETE FROM pending_devices WHERE user_id = $1 AND public_key = $2")
                .bind(&user.as_bytes()[..])
                .bind(&key.0[..])
                .execute(&mut *tx)
                .await?;
        if removed.rows_affected() == 0 {
            return Ok(None);
        }
        let inserted = sqlx::query(
            "INSERT INTO devices (id, user_id, public_key, added_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&device.as_bytes()[..])
        .bind(&user.as_bytes()[..])
        .bind(&key.0[..])
        .bind(now_ms() as i64)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => return Err(StoreError::KeyTaken),
            other => other?,
        };
        tx.commit().await?;
        Ok(Some(device))
    }

    /// The devices of an account.
    pub async fn devices(&self, user: UserId) -> Result<Vec<DeviceInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, public_key, added_ms FROM devices WHERE user_id = $1 ORDER BY added_ms",
        )
        .bind(&user.as_bytes()[..])
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let key: Vec<u8> = row.try_get("public_key")?;
                let key: [u8; 32] = key.try_into().map_err(|_| sqlx::Error::ColumnDecode {
                    index: "public_key".into(),
                    source: "expected 32 bytes".into(),
                })?;
                Ok(DeviceInfo {
                    device: id16(row, "id", DeviceId::from_bytes)?,
                    device_key: PublicKey(key),
                    added_at_ms: row.try_get::<i64, _>("added_ms")? as u64,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Removes a device of `user`; `false` if it was not theirs.
    pub async fn revoke_device(&self, user: UserId, device: DeviceId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM devices WHERE id = $1 AND user_id = $2")
            .bind(&device.as_bytes()[..])
            .bind(&user.as_bytes()[..])
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Creates an invite code.
    pub async fn create_invite(
        &self,
        user: UserId,
        code: &str,
        uses: u32,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO invites (code, created_by, uses_left) VALUES ($1, $2, $3)")
            .bind(code)
            .bind(&user.as_bytes()[..])
            .bind(i64::from(uses))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores key packages of a device; returns its one-time stock afterwards.
    pub async fn publish_key_packages(
        &self,
        device: DeviceId,
        packages: &[Blob],
        last_resort: Option<&Blob>,
    ) -> Result<u32, StoreError> {
        let mut tx = self.pool.begin().await?;
        for package in packages {
            sqlx::query(
                "INSERT INTO key_packages (device_id, data, last_resort) VALUES ($1, $2, 0)",
            )
            .bind(&device.as_bytes()[..])
            .bind(package.as_bytes())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(package) = last_resort {
            sqlx::query("DELETE FROM key_packages WHERE device_id = $1 AND last_resort = 1")
                .bind(&device.as_bytes()[..])
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO key_packages (device_id, data, last_resort) VALUES ($1, $2, 1)",
            )
            .bind(&device.as_bytes()[..])
            .bind(package.as_bytes())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.key_package_stock(device).await
    }

    /// One-time key packages a device has left.
    pub async fn key_package_stock(&self, device: DeviceId) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM key_packages WHERE device_id = $1 AND last_resort = 0",
        )
        .bind(&device.as_bytes()[..])
        .fetch_one(&self.pool)
        .await?;
        Ok(count as u32)
    }

    /// Claims one key package per device of `user`: a one-time one (deleted), else the
    /// last-resort one (kept). Devices with neither are skipped.
    pub async fn claim_key_packages(
        &self,
        user: UserId,
    ) -> Result<Vec<DeviceKeyPackage>, StoreError> {
        let user = &user.as_bytes()[..];
        let mut tx = self.pool.begin().await?;
        // The first statement writes, so concurrent claims queue instead of racing.
        let one_time = sqlx::query(
            "DELETE FROM key_packages WHERE id IN (\
                 SELECT MIN(k.id) FROM key_packages k JOIN devices d ON d.id = k.device_id \
                 WHERE d.user_id = $1 AND k.last_resort = 0 GROUP BY k.device_id) \
             RETURNING device_id, data",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let last_resort = sqlx::query(
            "SELECT k.device_id, k.data FROM key_packages k JOIN devices d ON d.id = k.device_id \
             WHERE d.user_id = $1 AND k.last_resort = 1",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let order: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT id FROM devices WHERE user_id = $1 ORDER BY added_ms, id")
                .bind(user)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;

        let mut claimed = Vec::new();
        for device in order {
            let pick = |rows: &[AnyRow]| -> Result<Option<Vec<u8>>, sqlx::Error> {
                for row in rows {
                    if row.try_get::<Vec<u8>, _>("device_id")? == device {
                        return Ok(Some(row.try_get("data")?));
                    }
                }
                Ok(None)
            };
            let data = match pick(&one_time)? {
                Some(data) => Some(data),
                None => pick(&last_resort)?,
            };
            if let (Some(data), Ok(id)) = (data, <[u8; 16]>::try_from(device.as_slice())) {
                claimed.push(DeviceKeyPackage {
                    device: DeviceId::from_bytes(id),
                    key_package: Blob(data),
                });
            }
        }
        Ok(claimed)
    }

    /// Stores an MLS message for every device of the recipients (except the sending
    /// device), ordering commits per group. Idempotent per (device, message id).
    pub async fn store_message(&self, message: Outgoing<'_>) -> Result<Stored, StoreError> {
        let sender_device = &message.sender_device.as_bytes()[..];
        let message_id = &message.message_id.as_bytes()[..];
        let mut tx = self.pool.begin().await?;
        // Claim the message id first (a write, so concurrent sends queue here). A resend
        // finds it taken and gets the first send's answer.
        let claimed = sqlx::query(
            "INSERT INTO mls_sends (sender_device, message_id, group_seq) VALUES ($1, $2, 0) \
             ON CONFLICT (sender_device, message_id) DO NOTHING",
        )
        .bind(sender_device)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            let group_seq: i64 = sqlx::query_scalar(
                "SELECT group_seq FROM mls_sends WHERE sender_device = $1 AND message_id = $2",
            )
            .bind(sender_device)
            .bind(message_id)
            .fetch_one(&self.pool)
            .await?;
            return Ok(Stored {
                group_seq: group_seq as u64,
                fresh: false,
                deliveries: Vec::new(),
            });
        }

        // A group starts at the epoch of its first message. A commit moves it on only if
        // it builds on the current epoch: the row lock makes the first commit win.
        sqlx::query(
            "INSERT INTO mls_groups (group_id, epoch, next_seq) VALUES ($1, $2, 1) \
             ON CONFLICT (group_id) DO NOTHING",
        )
        .bind(message.group)
        .bind(message.epoch as i64)
        .execute(&mut *tx)
        .await?;
        let ordered: Option<i64> = if message.kind == MlsKind::Commit {
            sqlx::query_scalar(
                "UPDATE mls_groups SET epoch = epoch + 1, next_seq = next_seq + 1 \
                 WHERE group_id = $1 AND epoch = $2 RETURNING next_seq - 1",
            )
            .bind(message.group)
            .bind(message.epoch as i64)
            .fetch_optional(&mut *tx)
            .await?
        } else {
            sqlx::query_scalar(
                "UPDATE mls_groups SET next_seq = next_seq + 1 WHERE group_id = $1 \
                 RETURNING next_seq - 1",
            )
            .bind(message.group)
            .fetch_optional(&mut *tx)
            .await?
        };
        let Some(group_seq) = ordered else {
            let current: i64 =
                sqlx::query_scalar("SELECT epoch FROM mls_groups WHERE group_id = $1")
                    .bind(message.group)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Err(StoreError::EpochConflict {
                current: current as u64,
                attempted: message.epoch,
            });
        };
        let group_seq = group_seq as u64;
        sqlx::query(
            "UPDATE mls_sends SET group_seq = $1 WHERE sender_device = $2 AND message_id = $3",
        )
        .bind(group_seq as i64)
        .bind(sender_device)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;

        let sent_ms = now_ms();
        let mut deliveries = Vec::new();
        for recipient in message.recipients {
            let devices: Vec<Vec<u8>> =
                sqlx::query_scalar("SELECT id FROM devices WHERE user_id = $1")
                    .bind(&recipient.as_bytes()[..])
                    .fetch_all(&mut *tx)
                    .await?;
            for device in devices {
                if device.as_slice() == sender_device {
                    continue;
                }
                let seq: i64 = sqlx::query_scalar(
                    "INSERT INTO mailbox (device_id, group_id, sender_user, sender_device, kind, epoch, payload, sent_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                )
                .bind(&device)
                .bind(message.group)
                .bind(&message.sender.as_bytes()[..])
                .bind(sender_device)
                .bind(kind_name(message.kind))
                .bind(message.epoch as i64)
                .bind(message.payload)
                .bind(sent_ms as i64)
                .fetch_one(&mut *tx)
                .await?;
                let Ok(id) = <[u8; 16]>::try_from(device.as_slice()) else {
                    continue;
                };
                deliveries.push((
                    *recipient,
                    DeviceId::from_bytes(id),
                    MlsDelivery {
                        seq: seq as u64,
                        group: Blob(message.group.to_vec()),
                        sender: message.sender,
                        sender_device: message.sender_device,
                        kind: message.kind,
                        epoch: message.epoch,
                        payload: Blob(message.payload.to_vec()),
                        sent_at_ms: sent_ms,
                    },
                ));
            }
        }
        tx.commit().await?;
        Ok(Stored {
            group_seq,
            fresh: true,
            deliveries,
        })
    }

    /// Mailbox messages of a device after `after`, oldest first, at most `limit`.
    pub async fn fetch_mailbox(
        &self,
        device: DeviceId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<MlsDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, group_id, sender_user, sender_device, kind, epoch, payload, sent_ms \
             FROM mailbox WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(&device.as_bytes()[..])
        .bind(after.min(i64::MAX as u64) as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MlsDelivery {
                    seq: row.try_get::<i64, _>("seq")? as u64,
                    group: Blob(row.try_get("group_id")?),
                    sender: id16(row, "sender_user", UserId::from_bytes)?,
                    sender_device: id16(row, "sender_device", DeviceId::from_bytes)?,
                    kind: kind_from(&row.try_get::<String, _>("kind")?),
                    epoch: row.try_get::<i64, _>("epoch")? as u64,
                    payload: Blob(row.try_get("payload")?),
                    sent_at_ms: row.try_get::<i64, _>("sent_ms")? as u64,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Deletes a device's mailbox messages up to and including `seq`.
    pub async fn ack_mailbox(&self, device: DeviceId, seq: u64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM mailbox WHERE device_id = $1 AND seq <= $2")
            .bind(&device.as_bytes()[..])
            .bind(seq.min(i64::MAX as u64) as i64)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Stores what of a live room must survive a restart, replacing what was stored.
    pub async fn save_room(&self, record: &RoomRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rooms (id, host, title, visibility, invited, banned, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, title = excluded.title, \
             visibility = excluded.visibility, invited = excluded.invited, \
             banned = excluded.banned, updated_ms = excluded.updated_ms",
        )
        .bind(&record.room.as_bytes()[..])
        .bind(&record.host.as_bytes()[..])
        .bind(record.title.as_str())
        .bind(visibility_name(record.visibility))
        .bind(users_json(&record.invited))
        .bind(users_json(&record.banned))
        .bind(now_ms() as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a room that ended.
    pub async fn forget_room(&self, room: RoomId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(&room.as_bytes()[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every stored room, oldest change first.
    pub async fn rooms(&self) -> Result<Vec<RoomRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, host, title, visibility, invited, banned FROM rooms ORDER BY updated_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(room_from)
            .collect::<Result<Vec<_>, sqlx::Error>>()?)
    }
}
