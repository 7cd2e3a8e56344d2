//! Replies to the requests in flight: answering the handle, applying what a reply means
//! locally (joined, left, acknowledged), finishing a login, and paging through the MLS
//! mailbox after one.

use std::sync::Arc;

use salon_proto::mls::MlsDelivery;
use salon_proto::{ClientRequest, ErrorCode, Reply};

use super::{Effect, Pending, Session};
use crate::ClientEvent;
use crate::connection::handshake::account_of;
use crate::connection::mls::MlsInbox;
use crate::room::RoomView;
use crate::store::Account;

impl Session<'_> {
    pub(super) async fn on_reply(&mut self, pending: Pending, reply: Reply) {
        match pending {
            Pending::Caller { effect, reply: tx } => {
                let result = match reply {
                    Reply::Error(body) => Err(body.into()),
                    reply => {
                        self.apply(effect, &reply);
                        Ok(reply)
                    }
                };
                let _ = tx.send(result);
            }
            Pending::Login { reply: tx } => {
                let result = match reply {
                    Reply::Error(body) => Err(body.into()),
                    reply => {
                        if let Some(account) = account_of(&reply) {
                            self.logged_in(account).await;
                        }
                        Ok(reply)
                    }
                };
                let _ = tx.send(result);
            }
            Pending::Rejoin { previous } => self.rejoined(previous, reply),
            Pending::Resync => match reply {
                Reply::Snapshot { snapshot } => self.resynced(snapshot),
                Reply::Error(body) => {
                    self.resyncing = false;
                    if matches!(body.code, ErrorCode::NotInRoom | ErrorCode::RoomNotFound) {
                        self.leave_room_state();
                    }
                    self.report(body.code, body.message);
                }
                _ => self.resyncing = false,
            },
            Pending::MlsFetch => match reply {
                Reply::MlsBatch { messages, more } => {
                    let (now, next) = self.inbox.on_batch(messages, more);
                    self.deliver_mls(now);
                    if next.is_some() {
                        self.fetch_mls(next);
                    }
                }
                Reply::Error(body) => {
                    let (now, _) = self.inbox.on_batch(Vec::new(), false);
                    self.deliver_mls(now);
                    self.report(body.code, body.message);
                }
                _ => {}
            },
            Pending::Restore => {
                if let Reply::Error(body) = reply {
                    self.report(body.code, body.message);
                }
            }
        }
    }

    /// What a successful request from the handle changes locally.
    pub(super) fn apply(&mut self, effect: Effect, reply: &Reply) {
        match (effect, reply) {
            (Effect::Join, Reply::Joined { snapshot, stream }) => {
                if let Some(me) = self.account.as_ref().map(|a| a.user) {
                    self.enter_room(RoomView {
                        snapshot: snapshot.clone(),
                        me,
                        my_stream: *stream,
                    });
                }
            }
            (Effect::Leave(room), Reply::Ok) if self.in_room(room) => self.leave_room_state(),
            (Effect::Snapshot(room), Reply::Snapshot { snapshot }) if self.in_room(room) => {
                self.resynced(snapshot.clone());
            }
            (Effect::Ack(seq), Reply::Ok) => {
                self.inbox.on_ack(seq);
                if let Some(device) = self.account.as_ref().map(|a| a.device) {
                    let store = self.shared.store.clone();
                    let url = self.shared.url.clone();
                    tokio::spawn(async move {
                        if let Err(err) = store.set_last_acked(&url, device, seq).await {
                            tracing::warn!(%err, "could not remember the MLS acknowledgement");
                        }
                    });
                }
            }
            _ => {}
        }
    }

    pub(super) async fn logged_in(&mut self, account: Account) {
        let previous_device = self.account.as_ref().map(|a| a.device);
        if previous_device != Some(account.device) {
            let last_acked = self
                .shared
                .store
                .last_acked(&self.shared.url, account.device)
                .await
                .unwrap_or(0);
            *self.inbox = MlsInbox::new(last_acked);
        }
        if let Err(err) = self
            .shared
            .store
            .save_account(&self.shared.url, &account)
            .await
        {
            tracing::warn!(%err, "could not remember the account");
            self.report(
                ErrorCode::Internal,
                format!("could not remember the account: {err}"),
            );
        }
        self.shared.set_account(account.clone());
        self.account = Some(account);
        self.fetch_mls(None);
    }

    pub(super) fn fetch_mls(&mut self, after: Option<u64>) {
        let after = after.unwrap_or_else(|| self.inbox.begin_fetch());
        self.send(
            ClientRequest::MlsFetch { after, limit: None },
            Pending::MlsFetch,
        );
    }

    pub(super) fn deliver_mls(&self, messages: Vec<MlsDelivery>) {
        for message in messages {
            self.shared.emit(ClientEvent::MlsMessage(Arc::new(message)));
        }
    }
}
