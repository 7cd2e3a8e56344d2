//! Private messages, end-to-end encrypted with MLS: what the desktop app and the CLI
//! call. [`DirectMessages::start`] (once per logged-in client) loads the device's
//! sealed MLS state, publishes key packages the first time, handles whatever waited
//! in the mailbox, and keeps handling deliveries in the background; the methods here
//! open conversations, send, list, read the history and verify safety numbers.
//! Everything new is reported on the client's event stream as [`ClientEvent::Dm`].
//!
//! Only the devices of the people in a conversation can read it: the server relays
//! ciphertext, and this computer keeps history and MLS state sealed under a key
//! derived from the device key in the OS keyring (see `store`).
//!
//! [`ClientEvent::Dm`]: crate::ClientEvent::Dm

mod engine;
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use salon_e2ee::{Device, DeviceIdentity, SealKey, safety_number};
use salon_proto::UserId;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::sync::broadcast::error::RecvError;

use crate::{ClientError, ClientEvent, ClientHandle, Result};
use engine::Engine;
use store::DmStore;

/// A conversation as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id (stable; hex).
    pub id: String,
    /// Everyone in it but this account, by handle.
    pub peers: Vec<String>,
    /// Messages from others not marked read.
    pub unread: u32,
    /// The last message's text.
    pub last_text: Option<String>,
    /// When the last thing happened, ms since the Unix epoch.
    pub last_at_ms: Option<u64>,
    /// Whether the safety number shown now was marked as checked.
    pub verified: bool,
}

impl Conversation {
    fn from_record(id: String, record: Record, unread: u32, last_at_ms: u64) -> Self {
        let verified = record.verified.is_some() && record.verified == record.digits;
        Self {
            id,
            peers: record.peers,
            unread,
            last_text: record.last_text,
            last_at_ms: (last_at_ms > 0).then_some(last_at_ms),
            verified,
        }
    }
}

/// One message of a conversation's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmMessage {
    /// The sender's id for it.
    pub id: String,
    /// The conversation.
    pub conversation: String,
    /// The sender's handle (empty for a notice).
    pub sender: String,
    /// The text.
    pub text: String,
    /// When the sender wrote it (their clock), ms since the Unix epoch.
    pub sent_at_ms: u64,
    /// Sent by this account (from this device or another of its devices).
    pub mine: bool,
    /// Written by Salon itself: a device added or removed, the safety number changed.
    pub notice: bool,
    /// The id of the message this one answers.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// A reaction (the text is the emoji) to the message with this id.
    #[serde(default)]
    pub reaction_to: Option<String>,
}

/// A conversation's safety number, to compare with the other person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyNumberView {
    /// Twelve groups of five digits.
    pub digits: String,
    /// What to put in a QR code (base64).
    pub qr_payload: String,
    /// Whether this number was marked as checked.
    pub verified: bool,
}

/// What happened in private messages; arrives as [`ClientEvent::Dm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmEvent {
    /// A new message (or notice) in a conversation, from anyone, this device included.
    Message(DmMessage),
    /// The conversation list changed (new conversation, unread count, last message).
    ConversationsChanged,
    /// A conversation's safety number changed (a device was added or removed): it is
    /// no longer verified.
    SafetyNumberChanged {
        /// The conversation.
        conversation: String,
    },
    /// A message was refused (it failed its integrity check, or names a device the
    /// server does not list); the conversation goes on.
    Rejected {
        /// The conversation, when known.
        conversation: Option<String>,
        /// Why.
        reason: String,
    },
}

/// What this device keeps about a conversation (sealed in the store).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    peers: Vec<String>,
    #[serde(default)]
    users: BTreeMap<String, UserId>,
    #[serde(default)]
    digits: Option<String>,
    #[serde(default)]
    verified: Option<String>,
    #[serde(default)]
    last_text: Option<String>,
}

/// Private messages of one logged-in client. Cheap to clone; the background task
/// that handles deliveries stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct DirectMessages {
    engine: Arc<Mutex<Engine>>,
    _task: Arc<TaskGuard>,
}

#[derive(Debug)]
struct TaskGuard(tokio::task::JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The label of the at-rest key derived from the device key.
const SEAL_KEY_LABEL: &[u8] = b"salon local message store v1";

impl DirectMessages {
    /// Starts private messages for this client (logged in): loads or creates the MLS
    /// state, publishes key packages the first time, handles the mailbox, and keeps
    /// handling deliveries until dropped. Call it once per client.
    pub async fn start(client: &ClientHandle) -> Result<Self> {
        let account = client.account().ok_or(ClientError::NotLoggedIn)?;
        let seed = client.device_seed();
        let key = SealKey::derive(&seed, SEAL_KEY_LABEL);
        let store = DmStore::open(client.store().pool().clone(), client.server_url(), key).await?;
        let identity = DeviceIdentity::new(account.handle.as_str(), seed);
        let (device, last_seq, published) = match store.state().await? {
            Some((state, last_seq, published)) => (
                Device::restore(identity, &state)
                    .map_err(|err| ClientError::InvalidArgument(err.to_string()))?,
                last_seq,
                published,
            ),
            None => (Device::new(identity), 0, false),
        };
        // Subscribed before catching up, so nothing pushed in between is missed.
        let mut events = client.events();
        let mut engine = Engine::new(
            client.clone(),
            store,
            account.handle.as_str().to_owned(),
            account.user,
            device,
            last_seq,
            published,
        );
        if !engine.published {
            engine.publish_key_packages().await?;
        }
        engine.catch_up().await?;
        let engine = Arc::new(Mutex::new(engine));
        let background = engine.clone();
        let task = tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let mut engine = background.lock().await;
                let outcome = match event {
                    Ok(ClientEvent::MlsMessage(delivery)) => engine.deliver(&delivery).await,
                    Ok(ClientEvent::KeyPackagesLow { .. }) => engine.publish_key_packages().await,
                    Err(RecvError::Lagged(_)) => engine.catch_up().await,
                    Err(RecvError::Closed) => return,
                    Ok(_) => Ok(()),
                };
                if let Err(err) = outcome {
                    tracing::warn!(%err, "private messages: background step failed");
                }
            }
        });
        Ok(Self {
            engine,
            _task: Arc::new(TaskGuard(task)),
        })
    }

    /// Opens the conversation with `handle`, starting it when there is none; answers
    /// its id. Fails with `no_key_package` when they have no device ready yet.
    pub async fn open(&self, handle: &str) -> Result<Conversation> {
        self.open_group(&[handle]).await
    }

    /// Opens the conversation with exactly these people (a group of up to 50 with this
    /// account), starting it when there is none; the same path as [`Self::open`].
    pub async fn open_group(&self, handles: &[&str]) -> Result<Conversation> {
        let handles: Vec<String> = handles.iter().map(|h| (*h).to_owned()).collect();
        let mut engine = self.engine.lock().await;
        let id = engine.open(&handles).await?;
        engine.conversation(&id).await
    }

    /// Every conversation, most recent first.
    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        let engine = self.engine.lock().await;
        Ok(engine
            .store
            .conversations::<Record>()
            .await?
            .into_iter()
            .map(|(id, record, unread, last)| Conversation::from_record(id, record, unread, last))
            .collect())
    }

    /// The direct conversation with `handle`, if there is one.
    pub async fn find(&self, handle: &str) -> Result<Option<Conversation>> {
        self.find_group(&[handle]).await
    }

    /// The conversation with exactly these people (this account aside), if there is one.
    pub async fn find_group(&self, handles: &[&str]) -> Result<Option<Conversation>> {
        let mut wanted: Vec<&str> = handles.to_vec();
        wanted.sort_unstable();
        Ok(self.conversations().await?.into_iter().find(|c| {
            let mut peers: Vec<&str> = c.peers.iter().map(String::as_str).collect();
            peers.sort_unstable();
            peers == wanted
        }))
    }

    /// A conversation's messages, oldest first.
    pub async fn history(&self, conversation: &str) -> Result<Vec<DmMessage>> {
        let engine = self.engine.lock().await;
        engine.store.messages(conversation).await
    }

    /// Sends a text to everyone in the conversation (their devices and this account's
    /// other devices).
    pub async fn send(&self, conversation: &str, text: &str) -> Result<DmMessage> {
        if text.is_empty() {
            return Err(ClientError::InvalidArgument("an empty message".into()));
        }
        let mut engine = self.engine.lock().await;
        engine.send(conversation, text, None, None).await
    }

    /// Sends a text answering the message `to` (its id).
    pub async fn reply(&self, conversation: &str, to: &str, text: &str) -> Result<DmMessage> {
        if text.is_empty() {
            return Err(ClientError::InvalidArgument("an empty message".into()));
        }
        let mut engine = self.engine.lock().await;
        engine
            .send(conversation, text, Some(to.to_owned()), None)
            .await
    }

    /// Reacts to the message `to` (its id) with `emoji`.
    pub async fn react(&self, conversation: &str, to: &str, emoji: &str) -> Result<DmMessage> {
        if emoji.is_empty() || emoji.chars().count() > 8 {
            return Err(ClientError::InvalidArgument(
                "a reaction is one emoji".into(),
            ));
        }
        let mut engine = self.engine.lock().await;
        engine
            .send(conversation, emoji, None, Some(to.to_owned()))
            .await
    }

    /// Marks everything in the conversation as read.
    pub async fn mark_read(&self, conversation: &str) -> Result<()> {
        let engine = self.engine.lock().await;
        engine.store.mark_read(conversation).await?;
        engine
            .client
            .emit_event(ClientEvent::Dm(DmEvent::ConversationsChanged));
        Ok(())
    }

    /// The conversation's safety number now.
    pub async fn safety_number(&self, conversation: &str) -> Result<SafetyNumberView> {
        let engine = self.engine.lock().await;
        let group = engine.sending_group(conversation).await?;
        let members = engine
            .device
            .members(&group)
            .map_err(|err| ClientError::InvalidArgument(err.to_string()))?;
        let number = safety_number(&members);
        let record = engine.record(conversation).await?;
        let verified = record
            .and_then(|r| r.verified)
            .is_some_and(|v| v == number.digits);
        Ok(SafetyNumberView {
            digits: number.digits,
            qr_payload: base64::engine::general_purpose::STANDARD.encode(number.qr_payload),
            verified,
        })
    }

    /// Marks the safety number shown now as checked with the other person.
    pub async fn verify(&self, conversation: &str) -> Result<()> {
        let digits = self.safety_number(conversation).await?.digits;
        let engine = self.engine.lock().await;
        let mut record = engine.record(conversation).await?.ok_or_else(|| {
            ClientError::InvalidArgument(format!("no conversation {conversation}"))
        })?;
        record.digits = Some(digits.clone());
        record.verified = Some(digits);
        engine
            .store
            .save_conversation(conversation, &record)
            .await?;
        engine
            .client
            .emit_event(ClientEvent::Dm(DmEvent::ConversationsChanged));
        Ok(())
    }

    /// Fetches and handles whatever waits in the mailbox now (deliveries are also
    /// handled in the background as they arrive).
    pub async fn sync(&self) -> Result<()> {
        self.engine.lock().await.catch_up().await
    }
}
