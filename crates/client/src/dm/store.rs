//! Where private messages live on this computer: four tables in the profile's SQLite
//! file, every secret in them sealed (ChaCha20-Poly1305, key from the device key in
//! the OS keyring): the MLS state, each conversation's people and safety number, and
//! each message. Only ids, counters and times are in the clear.
//!
//! The tables are created here, on first use, rather than in the store's migrations,
//! so the private-message layer stays one self-contained module.

use serde::{Serialize, de::DeserializeOwned};
use sqlx::Row as _;
use sqlx::sqlite::SqlitePool;

use salon_e2ee::SealKey;

use crate::{ClientError, Result};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS dm_state (
        server_url TEXT PRIMARY KEY,
        state      BLOB NOT NULL,
        last_seq   INTEGER NOT NULL,
        published  INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS dm_conversations (
        server_url TEXT NOT NULL,
        id         TEXT NOT NULL,
        sealed     BLOB NOT NULL,
        unread     INTEGER NOT NULL DEFAULT 0,
        last_at_ms INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (server_url, id)
    )",
    "CREATE TABLE IF NOT EXISTS dm_groups (
        server_url   TEXT NOT NULL,
        group_id     BLOB NOT NULL,
        conversation TEXT NOT NULL,
        PRIMARY KEY (server_url, group_id)
    )",
    "CREATE TABLE IF NOT EXISTS dm_messages (
        pos          INTEGER PRIMARY KEY AUTOINCREMENT,
        server_url   TEXT NOT NULL,
        conversation TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        sealed       BLOB NOT NULL,
        UNIQUE (server_url, conversation, message_id)
    )",
];

const STATE: &[u8] = b"salon-dm-state-v1";
const CONVERSATION: &[u8] = b"salon-dm-conversation-v1";
const MESSAGE: &[u8] = b"salon-dm-message-v1";

/// The private-message tables of one server's account.
#[derive(Debug, Clone)]
pub(crate) struct DmStore {
    pool: SqlitePool,
    url: String,
    key: SealKey,
}

fn unsealable(err: impl std::fmt::Display) -> ClientError {
    ClientError::InvalidArgument(format!("local message store: {err}"))
}

impl DmStore {
    pub(crate) async fn open(pool: SqlitePool, url: &str, key: SealKey) -> Result<Self> {
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self {
            pool,
            url: url.to_owned(),
            key,
        })
    }

    fn seal<T: Serialize>(&self, label: &[u8], value: &T) -> Vec<u8> {
        let json = serde_json::to_vec(value).expect("local records always serialize");
        self.key.seal(label, &json)
    }

    fn open_sealed<T: DeserializeOwned>(&self, label: &[u8], sealed: &[u8]) -> Result<T> {
        let json = self.key.open(label, sealed).map_err(unsealable)?;
        serde_json::from_slice(&json).map_err(unsealable)
    }

    /// The sealed MLS state, the last mailbox sequence handled, and whether key
    /// packages were published.
    pub(crate) async fn state(&self) -> Result<Option<(Vec<u8>, u64, bool)>> {
        let row =
            sqlx::query("SELECT state, last_seq, published FROM dm_state WHERE server_url = ?1")
                .bind(&self.url)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.get(0);
        let state = self.key.open(STATE, &sealed).map_err(unsealable)?;
        Ok(Some((
            state,
            row.get::<i64, _>(1) as u64,
            row.get::<i64, _>(2) != 0,
        )))
    }

    /// Replaces the MLS state: the previous one, with secrets since deleted, is
    /// overwritten (the store runs with `secure_delete`, so its pages are zeroed).
    pub(crate) async fn save_state(
        &self,
        state: &[u8],
        last_seq: u64,
        published: bool,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO dm_state (server_url, state, last_seq, published) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (server_url) DO UPDATE SET state = excluded.state, \
             last_seq = excluded.last_seq, published = excluded.published",
        )
        .bind(&self.url)
        .bind(self.key.seal(STATE, state))
        .bind(last_seq as i64)
        .bind(i64::from(published))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn conversations<T: DeserializeOwned>(
        &self,
    ) -> Result<Vec<(String, T, u32, u64)>> {
        let rows = sqlx::query(
            "SELECT id, sealed, unread, last_at_ms FROM dm_conversations WHERE server_url = ?1 \
             ORDER BY last_at_ms DESC, id",
        )
        .bind(&self.url)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let sealed: Vec<u8> = row.get(1);
                Ok((
                    row.get::<String, _>(0),
                    self.open_sealed(CONVERSATION, &sealed)?,
                    row.get::<i64, _>(2) as u32,
                    row.get::<i64, _>(3) as u64,
                ))
            })
            .collect()
    }

    pub(crate) async fn save_conversation<T: Serialize>(&self, id: &str, record: &T) -> Result<()> {
        sqlx::query(
            "INSERT INTO dm_conversations (server_url, id, sealed) VALUES (?1, ?2, ?3) \
             ON CONFLICT (server_url, id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(&self.url)
        .bind(id)
        .bind(self.seal(CONVERSATION, record))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn touch(&self, id: &str, at_ms: u64, unread: bool) -> Result<()> {
        sqlx::query(
            "UPDATE dm_conversations SET last_at_ms = MAX(last_at_ms, ?3), unread = unread + ?4 \
             WHERE server_url = ?1 AND id = ?2",
        )
        .bind(&self.url)
        .bind(id)
        .bind(at_ms as i64)
        .bind(i64::from(unread))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn mark_read(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE dm_conversations SET unread = 0 WHERE server_url = ?1 AND id = ?2")
            .bind(&self.url)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn map_group(&self, group: &[u8], conversation: &str) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO dm_groups (server_url, group_id, conversation) VALUES (?1, ?2, ?3)",
        )
        .bind(&self.url)
        .bind(group)
        .bind(conversation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn conversation_of(&self, group: &[u8]) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT conversation FROM dm_groups WHERE server_url = ?1 AND group_id = ?2",
        )
        .bind(&self.url)
        .bind(group)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(crate) async fn groups_of(&self, conversation: &str) -> Result<Vec<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT group_id FROM dm_groups WHERE server_url = ?1 AND conversation = ?2 ORDER BY group_id",
        )
        .bind(&self.url)
        .bind(conversation)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores a message once: answers false when one with this id is already there.
    pub(crate) async fn add_message<T: Serialize>(
        &self,
        conversation: &str,
        id: &str,
        message: &T,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO dm_messages (server_url, conversation, message_id, sealed) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&self.url)
        .bind(conversation)
        .bind(id)
        .bind(self.seal(MESSAGE, message))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn messages<T: DeserializeOwned>(&self, conversation: &str) -> Result<Vec<T>> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT sealed FROM dm_messages WHERE server_url = ?1 AND conversation = ?2 ORDER BY pos",
        )
        .bind(&self.url)
        .bind(conversation)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|sealed| self.open_sealed(MESSAGE, sealed))
            .collect()
    }
}
