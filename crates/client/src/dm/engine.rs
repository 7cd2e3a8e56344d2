//! The private-message engine of one device: the MLS state machine from `salon-e2ee`
//! plus the network and the sealed store. One operation at a time (the caller holds
//! it behind a mutex): a delivery, a send, a membership change.
//!
//! - Deliveries are handled in mailbox order and exactly once: the state is saved with
//!   the last sequence handled before the server is told (`mls_ack`), and messages are
//!   stored under their sender's id, so a redelivery after a crash is recognised.
//! - Before sending, the conversation's members are brought in line with the server's
//!   device lists: a device the server lists that is not in the group is added (a
//!   commit, then a Welcome), a member device the server no longer lists is removed.
//!   A commit that loses its epoch (`epoch_conflict`) is dropped, the winner fetched
//!   and applied, and the change built again on the new epoch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use salon_e2ee::{ChatMessage, Device, E2eeError, Inbound, MemberId, safety_number};
use salon_proto::mls::{MlsDelivery, MlsKind};
use salon_proto::{Blob, ClientRequest, DeviceId, ErrorCode, MessageId, Reply, UserId};

use super::store::DmStore;
use super::{Conversation, DmEvent, DmMessage, Record};
use crate::{ClientError, ClientEvent, ClientHandle, Result};

/// One-time key packages published at a time.
const KEY_PACKAGE_BATCH: usize = 20;
/// How long a device without key packages is not asked again.
const NOT_READY_PAUSE: Duration = Duration::from_secs(30);
/// Most people in a conversation besides this account (groups of up to 50).
const MAX_PEERS: usize = 49;
/// Attempts at a membership change that keeps losing its epoch.
const COMMIT_ATTEMPTS: usize = 8;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_id() -> String {
    hex(&rand::random::<[u8; 16]>())
}

fn e2ee(err: E2eeError) -> ClientError {
    ClientError::InvalidArgument(err.to_string())
}

pub(crate) struct Engine {
    pub(crate) client: ClientHandle,
    pub(crate) store: DmStore,
    pub(crate) me: String,
    pub(crate) my_user: UserId,
    pub(crate) device: Device,
    pub(crate) last_seq: u64,
    pub(crate) published: bool,
    not_ready: HashMap<DeviceId, Instant>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("me", &self.me)
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub(crate) fn new(
        client: ClientHandle,
        store: DmStore,
        me: String,
        my_user: UserId,
        device: Device,
        last_seq: u64,
        published: bool,
    ) -> Self {
        Self {
            client,
            store,
            me,
            my_user,
            device,
            last_seq,
            published,
            not_ready: HashMap::new(),
        }
    }

    fn emit(&self, event: DmEvent) {
        self.client.emit_event(ClientEvent::Dm(event));
    }

    pub(crate) async fn save(&self) -> Result<()> {
        self.store
            .save_state(&self.device.export_state(), self.last_seq, self.published)
            .await
    }

    // ---- key packages ---------------------------------------------------------------

    /// Publishes key packages: the first time a batch and a last-resort one, later
    /// (when the server says the stock is low) another batch.
    pub(crate) async fn publish_key_packages(&mut self) -> Result<()> {
        let batch = self.device.key_packages(KEY_PACKAGE_BATCH).map_err(e2ee)?;
        let last_resort = if self.published {
            None
        } else {
            Some(Blob(self.device.last_resort_key_package().map_err(e2ee)?))
        };
        // The private halves are saved before the public ones go out.
        self.save().await?;
        self.client
            .publish_key_packages(batch.into_iter().map(Blob).collect(), last_resort)
            .await?;
        self.published = true;
        self.save().await
    }

    // ---- receiving ------------------------------------------------------------------

    /// Fetches and handles everything in the mailbox after the last handled message.
    pub(crate) async fn catch_up(&mut self) -> Result<()> {
        loop {
            let batch = self.client.mls_fetch(self.last_seq, None).await?;
            for delivery in &batch.messages {
                self.deliver(delivery).await?;
            }
            if !batch.more || batch.messages.is_empty() {
                return Ok(());
            }
        }
    }

    /// Handles one mailbox message (once: older sequences are skipped).
    pub(crate) async fn deliver(&mut self, delivery: &MlsDelivery) -> Result<()> {
        if delivery.seq <= self.last_seq {
            return Ok(());
        }
        match self.device.receive(&delivery.payload.0) {
            Ok(items) => {
                for item in items {
                    self.apply(item, delivery.sent_at_ms).await?;
                }
            }
            Err(err) => {
                tracing::warn!(seq = delivery.seq, %err, "private message refused");
                let conversation = self.store.conversation_of(&delivery.group.0).await?;
                self.emit(DmEvent::Rejected {
                    conversation,
                    reason: err.to_string(),
                });
            }
        }
        self.last_seq = delivery.seq;
        self.save().await?;
        if let Err(err) = self.client.mls_ack(delivery.seq).await {
            tracing::debug!(%err, "acknowledgement not sent; the message comes again and is recognised");
        }
        Ok(())
    }

    async fn apply(&mut self, item: Inbound, received_ms: u64) -> Result<()> {
        match item {
            Inbound::Joined { group, members, .. } => {
                let peers: BTreeSet<String> = members
                    .iter()
                    .map(|m| m.handle.clone())
                    .filter(|h| h != &self.me)
                    .collect();
                let existing = self.find_conversation(&peers).await?;
                let id = match existing {
                    Some((id, _)) => id,
                    None => {
                        let id = hex(&group);
                        let record = Record {
                            peers: peers.into_iter().collect(),
                            users: BTreeMap::new(),
                            digits: Some(safety_number(&members).digits),
                            verified: None,
                            last_text: None,
                        };
                        self.store.save_conversation(&id, &record).await?;
                        id
                    }
                };
                self.store.map_group(&group, &id).await?;
                self.store.touch(&id, received_ms, false).await?;
                self.check_registered(&id, &members).await?;
                self.emit(DmEvent::ConversationsChanged);
            }
            Inbound::Message {
                group,
                sender,
                content,
                ..
            } => {
                let Some(id) = self.store.conversation_of(&group).await? else {
                    return Ok(());
                };
                let chat = match ChatMessage::decode(&content) {
                    Ok(chat) => chat,
                    Err(err) => {
                        self.emit(DmEvent::Rejected {
                            conversation: Some(id),
                            reason: err.to_string(),
                        });
                        return Ok(());
                    }
                };
                let message = DmMessage {
                    id: chat.id.clone(),
                    conversation: id.clone(),
                    mine: sender.handle == self.me,
                    sender: sender.handle,
                    text: chat.text,
                    sent_at_ms: chat.sent_at_ms,
                    notice: false,
                    reply_to: chat.reply_to,
                    reaction_to: chat.reaction_to,
                };
                self.record_message(message).await?;
            }
            Inbound::Changed {
                group,
                added,
                removed,
                by,
                ..
            } => {
                if let Some(id) = self.store.conversation_of(&group).await? {
                    self.members_changed(&id, &group, &by, &added, &removed)
                        .await?;
                }
            }
            Inbound::Left { group } => {
                if let Some(id) = self.store.conversation_of(&group).await? {
                    self.notice(&id, "This device was removed from the conversation.".into())
                        .await?;
                }
            }
            Inbound::Held { .. } | Inbound::Ignored(_) => {}
        }
        Ok(())
    }

    async fn record_message(&mut self, message: DmMessage) -> Result<bool> {
        let id = message.conversation.clone();
        let fresh = self.store.add_message(&id, &message.id, &message).await?;
        if fresh {
            if !message.notice
                && let Some(mut record) = self.record(&id).await?
            {
                record.last_text = Some(message.text.clone());
                self.store.save_conversation(&id, &record).await?;
            }
            self.store
                .touch(
                    &id,
                    message.sent_at_ms.max(1),
                    !message.mine && !message.notice,
                )
                .await?;
            self.emit(DmEvent::Message(message));
            self.emit(DmEvent::ConversationsChanged);
        }
        Ok(fresh)
    }

    async fn notice(&mut self, conversation: &str, text: String) -> Result<()> {
        let message = DmMessage {
            id: format!("notice-{}", random_id()),
            conversation: conversation.to_owned(),
            sender: String::new(),
            text,
            sent_at_ms: now_ms(),
            mine: false,
            notice: true,
            reply_to: None,
            reaction_to: None,
        };
        self.record_message(message).await.map(drop)
    }

    /// A commit changed who is in the conversation: recompute the safety number, say
    /// so in the conversation when it changed, and check new devices with the server.
    async fn members_changed(
        &mut self,
        id: &str,
        group: &[u8],
        by: &MemberId,
        added: &[MemberId],
        removed: &[MemberId],
    ) -> Result<()> {
        for member in added {
            self.notice(
                id,
                format!("{} added a device ({}).", member.handle, short_key(member)),
            )
            .await?;
        }
        for member in removed {
            self.notice(
                id,
                format!(
                    "A device of {} was removed ({}).",
                    member.handle,
                    short_key(member)
                ),
            )
            .await?;
        }
        let _ = by;
        let members = self.device.members(group).map_err(e2ee)?;
        let digits = safety_number(&members).digits;
        if let Some(mut record) = self.record(id).await?
            && record.digits.as_deref() != Some(digits.as_str())
        {
            {
                let was_verified = record.verified.is_some();
                record.digits = Some(digits);
                record.verified = None;
                self.store.save_conversation(id, &record).await?;
                let text = if was_verified {
                    "The safety number changed: verify it again."
                } else {
                    "The safety number changed."
                };
                self.notice(id, text.into()).await?;
                self.emit(DmEvent::SafetyNumberChanged {
                    conversation: id.to_owned(),
                });
            }
        }
        self.check_registered(id, added).await
    }

    /// Flags member devices whose key the server does not list for their handle.
    async fn check_registered(&mut self, id: &str, members: &[MemberId]) -> Result<()> {
        let mut by_handle: BTreeMap<&str, Vec<&MemberId>> = BTreeMap::new();
        for member in members {
            by_handle.entry(&member.handle).or_default().push(member);
        }
        for (handle, members) in by_handle {
            let Ok(user) = self.user_of(id, handle).await else {
                continue;
            };
            let Ok(devices) = self.user_devices(user).await else {
                continue;
            };
            for member in members {
                if !devices.iter().any(|(_, key)| key == &member.device_key) {
                    self.notice(
                        id,
                        format!(
                            "Warning: a device in this conversation claims to be {handle} but the server does not list it ({}).",
                            short_key(member)
                        ),
                    )
                    .await?;
                    self.emit(DmEvent::Rejected {
                        conversation: Some(id.to_owned()),
                        reason: format!("unregistered device claiming to be {handle}"),
                    });
                }
            }
        }
        Ok(())
    }

    // ---- conversations --------------------------------------------------------------

    pub(crate) async fn record(&self, id: &str) -> Result<Option<Record>> {
        Ok(self
            .store
            .conversations::<Record>()
            .await?
            .into_iter()
            .find(|(cid, ..)| cid == id)
            .map(|(_, record, ..)| record))
    }

    pub(crate) async fn find_conversation(
        &self,
        peers: &BTreeSet<String>,
    ) -> Result<Option<(String, Record)>> {
        Ok(self
            .store
            .conversations::<Record>()
            .await?
            .into_iter()
            .find(|(_, record, ..)| record.peers.iter().cloned().collect::<BTreeSet<_>>() == *peers)
            .map(|(id, record, ..)| (id, record)))
    }

    pub(crate) async fn conversation(&self, id: &str) -> Result<Conversation> {
        self.store
            .conversations::<Record>()
            .await?
            .into_iter()
            .find(|(cid, ..)| cid == id)
            .map(|(id, record, unread, last)| Conversation::from_record(id, record, unread, last))
            .ok_or_else(|| ClientError::InvalidArgument(format!("no conversation {id}")))
    }

    /// The group this device sends in: of the conversation's groups (two appear when
    /// both people started it at once), the one with the smallest id, so both sides
    /// pick the same.
    pub(crate) async fn sending_group(&self, id: &str) -> Result<Vec<u8>> {
        self.store
            .groups_of(id)
            .await?
            .into_iter()
            .find(|g| self.device.has_group(g))
            .ok_or_else(|| {
                ClientError::InvalidArgument(format!("this device is not in conversation {id}"))
            })
    }

    async fn user_of(&mut self, id: &str, handle: &str) -> Result<UserId> {
        if handle == self.me {
            return Ok(self.my_user);
        }
        if let Some(record) = self.record(id).await?
            && let Some(user) = record.users.get(handle)
        {
            return Ok(*user);
        }
        let user = self.client.get_profile(handle).await?.user;
        if let Some(mut record) = self.record(id).await? {
            record.users.insert(handle.to_owned(), user);
            self.store.save_conversation(id, &record).await?;
        }
        Ok(user)
    }

    async fn user_devices(&self, user: UserId) -> Result<Vec<(DeviceId, Vec<u8>)>> {
        match self
            .client
            .request(ClientRequest::ListUserDevices { user })
            .await?
        {
            Reply::Devices { devices } => Ok(devices
                .into_iter()
                .map(|d| (d.device, d.device_key.0.to_vec()))
                .collect()),
            other => Err(ClientError::UnexpectedReply {
                request: "list_user_devices",
                reply: format!("{other:?}"),
            }),
        }
    }

    /// Every device the server lists for everyone in the conversation.
    async fn wanted(&mut self, id: &str) -> Result<Vec<(UserId, DeviceId, MemberId)>> {
        let record = self
            .record(id)
            .await?
            .ok_or_else(|| ClientError::InvalidArgument(format!("no conversation {id}")))?;
        let mut handles = record.peers.clone();
        handles.push(self.me.clone());
        let mut wanted = Vec::new();
        for handle in handles {
            let user = self.user_of(id, &handle).await?;
            for (device, key) in self.user_devices(user).await? {
                wanted.push((
                    user,
                    device,
                    MemberId {
                        handle: handle.clone(),
                        device_key: key,
                    },
                ));
            }
        }
        Ok(wanted)
    }

    /// Brings the group's members in line with the server's device lists.
    pub(crate) async fn sync_members(&mut self, id: &str, group: &[u8]) -> Result<()> {
        for _ in 0..COMMIT_ATTEMPTS {
            let wanted = self.wanted(id).await?;
            let current = self.device.members(group).map_err(e2ee)?;
            let gone: Vec<MemberId> = current
                .iter()
                .filter(|m| !wanted.iter().any(|w| &w.2 == *m))
                .cloned()
                .collect();
            let now = Instant::now();
            self.not_ready.retain(|_, until| *until > now);
            let missing: Vec<&(UserId, DeviceId, MemberId)> = wanted
                .iter()
                .filter(|w| !current.contains(&w.2) && !self.not_ready.contains_key(&w.1))
                .collect();
            let change = if !gone.is_empty() {
                self.device.remove_members(group, &gone).map_err(e2ee)?
            } else if !missing.is_empty() {
                let users: BTreeSet<UserId> = missing.iter().map(|w| w.0).collect();
                let mut packages = Vec::new();
                for user in users {
                    let claimed = match self.client.claim_key_packages(user).await {
                        Ok(claimed) => claimed,
                        Err(ClientError::Server {
                            code: ErrorCode::NoKeyPackage,
                            ..
                        }) => Vec::new(),
                        Err(err) => return Err(err),
                    };
                    for want in missing.iter().filter(|w| w.0 == user) {
                        match claimed.iter().find(|c| c.device == want.1) {
                            Some(claimed) => packages.push(
                                self.device
                                    .check_key_package(&claimed.key_package.0, &want.2)
                                    .map_err(e2ee)?,
                            ),
                            None => {
                                self.not_ready.insert(want.1, now + NOT_READY_PAUSE);
                            }
                        }
                    }
                }
                if packages.is_empty() {
                    return Ok(());
                }
                self.device.add_members(group, &packages).map_err(e2ee)?
            } else {
                return Ok(());
            };
            let mut everyone: Vec<UserId> = wanted.iter().map(|w| w.0).collect();
            everyone.sort();
            everyone.dedup();
            // The staged commit's secrets are saved before it leaves.
            self.save().await?;
            let sent = self
                .client
                .mls_send(
                    MessageId::from_bytes(rand::random()),
                    Blob(group.to_vec()),
                    MlsKind::Commit,
                    change.commit.epoch,
                    everyone,
                    Blob(change.commit.bytes.clone()),
                )
                .await;
            match sent {
                Ok(_) => {
                    let released = self.device.commit_accepted(group).map_err(e2ee)?;
                    self.save().await?;
                    if let Some(welcome) = &change.welcome {
                        let mut added_users: Vec<UserId> = wanted
                            .iter()
                            .filter(|w| change.added.contains(&w.2))
                            .map(|w| w.0)
                            .collect();
                        added_users.sort();
                        added_users.dedup();
                        self.client
                            .mls_send(
                                MessageId::from_bytes(rand::random()),
                                Blob(group.to_vec()),
                                MlsKind::Welcome,
                                change.commit.epoch + 1,
                                added_users,
                                Blob(welcome.clone()),
                            )
                            .await?;
                    }
                    let me = self.device.me().clone();
                    self.members_changed(id, group, &me, &change.added, &change.removed)
                        .await?;
                    for item in released {
                        self.apply(item, now_ms()).await?;
                    }
                }
                Err(ClientError::Server {
                    code: ErrorCode::EpochConflict,
                    ..
                }) => {
                    // Another commit won this epoch: drop ours, apply theirs, try again.
                    self.device.commit_rejected(group).map_err(e2ee)?;
                    self.save().await?;
                    self.catch_up().await?;
                }
                Err(err) => {
                    self.device.commit_rejected(group).map_err(e2ee)?;
                    self.save().await?;
                    return Err(err);
                }
            }
        }
        Err(ClientError::InvalidArgument(
            "the conversation's members kept changing; try again".into(),
        ))
    }

    /// Starts (or finds) the conversation with exactly these people (one for a direct
    /// conversation, up to 49 for a group: every device of everyone, same path).
    pub(crate) async fn open(&mut self, handles: &[String]) -> Result<String> {
        let peers: BTreeSet<String> = handles.iter().cloned().collect();
        if peers.is_empty() || peers.contains(&self.me) {
            return Err(ClientError::InvalidArgument(
                "a conversation needs someone else (and names you only once)".into(),
            ));
        }
        if peers.len() > MAX_PEERS {
            return Err(ClientError::InvalidArgument(format!(
                "a conversation holds at most {} people",
                MAX_PEERS + 1
            )));
        }
        self.catch_up().await?;
        if let Some((id, _)) = self.find_conversation(&peers).await? {
            return Ok(id);
        }
        let mut users = BTreeMap::new();
        for handle in &peers {
            let profile = self.client.get_profile(handle).await?;
            users.insert(profile.handle.as_str().to_owned(), profile.user);
        }
        let group = self.device.create_group().map_err(e2ee)?;
        let id = hex(&group);
        let record = Record {
            peers: users.keys().cloned().collect(),
            users,
            digits: None,
            verified: None,
            last_text: None,
        };
        self.store.save_conversation(&id, &record).await?;
        self.store.map_group(&group, &id).await?;
        self.save().await?;
        self.sync_members(&id, &group).await?;
        let members = self.device.members(&group).map_err(e2ee)?;
        if let Some(handle) = peers
            .iter()
            .find(|h| !members.iter().any(|m| &m.handle == *h))
        {
            return Err(ClientError::Server {
                code: ErrorCode::NoKeyPackage,
                message: format!("{handle} has no device ready for private messages yet"),
                retry_after_ms: None,
            });
        }
        if let Some(mut record) = self.record(&id).await? {
            record.digits = Some(safety_number(&members).digits);
            self.store.save_conversation(&id, &record).await?;
        }
        self.store.touch(&id, now_ms(), false).await?;
        self.emit(DmEvent::ConversationsChanged);
        Ok(id)
    }

    /// Encrypts and sends a text (a reply or a reaction when those are set); answers
    /// it as stored in the history.
    pub(crate) async fn send(
        &mut self,
        id: &str,
        text: &str,
        reply_to: Option<String>,
        reaction_to: Option<String>,
    ) -> Result<DmMessage> {
        self.catch_up().await?;
        let group = self.sending_group(id).await?;
        self.sync_members(id, &group).await?;
        let group = self.sending_group(id).await?;
        let mut chat = ChatMessage::text(random_id(), now_ms(), text);
        chat.reply_to = reply_to;
        chat.reaction_to = reaction_to;
        let out = self.device.encrypt(&group, &chat.encode()).map_err(e2ee)?;
        // Saved before sending: a generation is never used twice, even after a crash.
        self.save().await?;
        let mut everyone: Vec<UserId> = Vec::new();
        for member in self.device.members(&group).map_err(e2ee)? {
            let user = self.user_of(id, &member.handle).await?;
            if !everyone.contains(&user) {
                everyone.push(user);
            }
        }
        self.client
            .mls_send(
                MessageId::from_bytes(rand::random()),
                Blob(group.clone()),
                MlsKind::Application,
                out.epoch,
                everyone,
                Blob(out.bytes),
            )
            .await?;
        let message = DmMessage {
            id: chat.id,
            conversation: id.to_owned(),
            sender: self.me.clone(),
            text: chat.text,
            sent_at_ms: chat.sent_at_ms,
            mine: true,
            notice: false,
            reply_to: chat.reply_to,
            reaction_to: chat.reaction_to,
        };
        self.record_message(message.clone()).await?;
        Ok(message)
    }
}

fn short_key(member: &MemberId) -> String {
    hex(&member.device_key[..member.device_key.len().min(4)])
}
