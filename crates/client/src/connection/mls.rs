//! MLS mailbox delivery to the encryption layer, resumed after every login.
//!
//! The server keeps each message until this device acknowledges it; after a login the
//! client fetches everything after the last acknowledged sequence (remembered in the
//! local store, so this survives restarts too). Messages the server pushes while that
//! fetch is running are held back and delivered after it, so the layer above sees the
//! mailbox in order, and a sequence number already delivered in this run is never
//! delivered twice (a pushed message may also be in the fetched batch).

use std::collections::BTreeSet;

use salon_proto::mls::MlsDelivery;

#[derive(Debug, Default)]
pub(crate) struct MlsInbox {
    last_acked: u64,
    delivered: BTreeSet<u64>,
    fetching: bool,
    held: Vec<MlsDelivery>,
}

impl MlsInbox {
    pub(crate) fn new(last_acked: u64) -> Self {
        Self {
            last_acked,
            ..Self::default()
        }
    }

    /// Starts the fetch after a login; answers the sequence to fetch after.
    pub(crate) fn begin_fetch(&mut self) -> u64 {
        self.fetching = true;
        self.held.clear();
        self.last_acked
    }

    /// The connection dropped: a fetch in flight is abandoned.
    pub(crate) fn connection_lost(&mut self) {
        self.fetching = false;
        self.held.clear();
    }

    fn fresh(&mut self, delivery: &MlsDelivery) -> bool {
        delivery.seq > self.last_acked && self.delivered.insert(delivery.seq)
    }

    /// A pushed message: answers it when it is to be delivered now.
    pub(crate) fn on_push(&mut self, delivery: MlsDelivery) -> Option<MlsDelivery> {
        if self.fetching {
            self.held.push(delivery);
            return None;
        }
        self.fresh(&delivery).then_some(delivery)
    }

    /// A fetched batch: answers what to deliver now, and where to fetch next when
    /// `more` are waiting.
    pub(crate) fn on_batch(
        &mut self,
        messages: Vec<MlsDelivery>,
        more: bool,
    ) -> (Vec<MlsDelivery>, Option<u64>) {
        let next = messages.last().map(|m| m.seq);
        let mut out: Vec<MlsDelivery> = messages.into_iter().filter(|m| self.fresh(m)).collect();
        if more && let Some(after) = next {
            return (out, Some(after));
        }
        self.fetching = false;
        let held = std::mem::take(&mut self.held);
        out.extend(held.into_iter().filter(|m| self.fresh(m)));
        (out, None)
    }

    /// The layer above acknowledged everything up to `seq`.
    pub(crate) fn on_ack(&mut self, seq: u64) {
        self.last_acked = self.last_acked.max(seq);
        self.delivered = self.delivered.split_off(&(self.last_acked + 1));
    }
}

#[cfg(test)]
mod tests {
    use salon_proto::mls::MlsKind;
    use salon_proto::{Blob, DeviceId, UserId};

    use super::*;

    fn message(seq: u64) -> MlsDelivery {
        MlsDelivery {
            seq,
            group: Blob(vec![1]),
            sender: UserId::from_bytes([1; 16]),
            sender_device: DeviceId::from_bytes([2; 16]),
            kind: MlsKind::Application,
            epoch: 0,
            payload: Blob(vec![seq as u8]),
            sent_at_ms: 0,
        }
    }

    fn seqs(messages: &[MlsDelivery]) -> Vec<u64> {
        messages.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn pushes_during_a_fetch_wait_and_duplicates_are_dropped() {
        let mut inbox = MlsInbox::new(10);
        assert_eq!(inbox.begin_fetch(), 10);
        assert_eq!(inbox.on_push(message(14)), None, "held during the fetch");
        let (now, next) = inbox.on_batch(vec![message(11), message(12)], true);
        assert_eq!((seqs(&now), next), (vec![11, 12], Some(12)));
        let (now, next) = inbox.on_batch(vec![message(13), message(14)], false);
        assert_eq!((seqs(&now), next), (vec![13, 14], None), "14 once");
        assert_eq!(inbox.on_push(message(15)).map(|m| m.seq), Some(15));
        assert_eq!(inbox.on_push(message(15)), None, "never twice");
    }

    #[test]
    fn acknowledged_messages_are_not_delivered_again() {
        let mut inbox = MlsInbox::new(0);
        assert!(inbox.on_push(message(5)).is_some());
        inbox.on_ack(5);
        assert_eq!(inbox.begin_fetch(), 5);
        let (now, _) = inbox.on_batch(vec![message(3), message(6)], false);
        assert_eq!(seqs(&now), [6]);
        inbox.connection_lost();
        inbox.begin_fetch();
        let (now, _) = inbox.on_batch(vec![message(6), message(7)], false);
        assert_eq!(seqs(&now), [7], "6 was delivered in this run already");
    }
}
