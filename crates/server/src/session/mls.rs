//! Requests of the MLS delivery service: key packages, sending, acknowledging and
//! fetching. The server stores and forwards opaque bytes; it cannot read any of them.

use salon_proto::limits::{MAX_KEY_PACKAGES_PER_PUBLISH, MAX_MLS_RECIPIENTS};
use salon_proto::{ClientRequest, ErrorCode, Event, Reply};

use super::{LOW_KEY_PACKAGES, MAX_FETCH, Outcome, Session, fail, fell_through, internal};
use crate::hub::Peer;
use crate::metrics::bump;
use crate::store::{Outgoing as MlsOutgoing, StoreError};

impl Session {
    /// Answers the MLS delivery requests.
    pub(super) async fn mls_request(&mut self, peer: &Peer, request: ClientRequest) -> Outcome {
        let hub = self.hub.clone();
        let store = &hub.store;
        match request {
            ClientRequest::PublishKeyPackages {
                key_packages,
                last_resort,
            } => {
                if key_packages.len() > MAX_KEY_PACKAGES_PER_PUBLISH {
                    return Err(fail(
                        ErrorCode::TooLarge,
                        format!(
                            "at most {} key packages at once",
                            MAX_KEY_PACKAGES_PER_PUBLISH
                        ),
                    ));
                }
                let stock = store
                    .publish_key_packages(peer.device, &key_packages, last_resort.as_ref())
                    .await
                    .map_err(internal)?;
                Ok(Reply::KeyPackagesPublished { stock })
            }
            ClientRequest::ClaimKeyPackages { user } => {
                let key_packages = store.claim_key_packages(user).await.map_err(internal)?;
                if key_packages.is_empty() {
                    return Err(fail(
                        ErrorCode::NoKeyPackage,
                        "this person has no device ready for messages yet",
                    ));
                }
                for claimed in &key_packages {
                    let stock = store
                        .key_package_stock(claimed.device)
                        .await
                        .map_err(internal)?;
                    if stock < LOW_KEY_PACKAGES {
                        hub.send_to_device(user, claimed.device, &Event::KeyPackagesLow { stock });
                    }
                }
                Ok(Reply::KeyPackagesClaimed { user, key_packages })
            }
            ClientRequest::MlsSend {
                message_id,
                group,
                kind,
                epoch,
                recipients,
                payload,
            } => {
                if group.0.is_empty() || group.0.len() > 64 {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        "a group id is 1 to 64 bytes",
                    ));
                }
                if recipients.is_empty() || recipients.len() > MAX_MLS_RECIPIENTS {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        format!("a message goes to 1 to {} people", MAX_MLS_RECIPIENTS),
                    ));
                }
                let stored = store
                    .store_message(MlsOutgoing {
                        sender: peer.user,
                        sender_device: peer.device,
                        message_id,
                        group: &group.0,
                        kind,
                        epoch,
                        recipients: &recipients,
                        payload: &payload.0,
                    })
                    .await
                    .map_err(|err| match err {
                        StoreError::EpochConflict { current, attempted } => fail(
                            ErrorCode::EpochConflict,
                            format!("the group moved to epoch {current} before this commit for epoch {attempted}; apply the newer commit and retry"),
                        ),
                        other => internal(other),
                    })?;
                for (user, device, delivery) in stored.deliveries {
                    bump(&hub.metrics.mls_stored);
                    if hub.send_to_device(user, device, &Event::MlsMessage(delivery)) {
                        bump(&hub.metrics.mls_delivered);
                    }
                }
                Ok(Reply::MlsAccepted {
                    group_seq: stored.group_seq,
                })
            }
            ClientRequest::MlsAck { seq } => {
                store
                    .ack_mailbox(peer.device, seq)
                    .await
                    .map_err(internal)?;
                Ok(Reply::Ok)
            }
            ClientRequest::MlsFetch { after, limit } => {
                let limit = limit.unwrap_or(MAX_FETCH).clamp(1, MAX_FETCH);
                let mut messages = store
                    .fetch_mailbox(peer.device, after, u32::from(limit) + 1)
                    .await
                    .map_err(internal)?;
                let more = messages.len() > usize::from(limit);
                messages.truncate(usize::from(limit));
                hub.metrics
                    .mls_delivered
                    .fetch_add(messages.len() as u64, std::sync::atomic::Ordering::Relaxed);
                Ok(Reply::MlsBatch { messages, more })
            }
            other => Err(fell_through(&other)),
        }
    }
}
