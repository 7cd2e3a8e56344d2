//! Following the room: entering it from a snapshot, applying deltas in version order
//! (and asking for a fresh snapshot on a gap), rejoining after a reconnect with this
//! client's own mute and hand restored. The server keeps rooms across its restarts, so
//! a rejoin goes back into the same room id; a room it no longer knows has ended.

use std::sync::Arc;

use salon_proto::room::{EndReason, RoomChange, RoomSnapshot};
use salon_proto::{ClientRequest, ErrorCode, Reply, RoomId, StreamId};

use super::{Pending, Session};
use crate::room::{DeltaOutcome, RoomView};
use crate::{ClientEvent, RoomUpdate};

impl Session<'_> {
    /// Takes `view` as the room this client is in now.
    pub(super) fn enter_room(&mut self, view: RoomView) {
        let snapshot = Arc::new(view.snapshot.clone());
        let room = view.room();
        let queue = view.hand_queue().to_vec();
        self.resyncing = false;
        self.shared.set_room(Some(view));
        self.shared.set_audio_open(true);
        self.shared
            .emit(ClientEvent::RoomState(RoomUpdate::Snapshot(snapshot)));
        self.shared.emit(ClientEvent::HandQueue { room, queue });
    }

    pub(super) fn leave_room_state(&mut self) {
        self.resyncing = false;
        self.shared.set_room(None);
        self.shared.set_audio_open(false);
    }

    pub(super) fn resynced(&mut self, snapshot: RoomSnapshot) {
        self.resyncing = false;
        let view = self.shared.with_room(|current| match current.as_ref() {
            Some(view) if view.room() == snapshot.room => Some(RoomView {
                snapshot,
                me: view.me,
                my_stream: view.my_stream,
            }),
            _ => None,
        });
        let Some(view) = view else {
            return;
        };
        self.enter_room(view);
    }

    /// The answer to joining the room again after a reconnect.
    pub(super) fn rejoined(&mut self, previous: RoomView, reply: Reply) {
        match reply {
            Reply::Joined { snapshot, stream } => self.restore_into(&previous, snapshot, stream),
            Reply::Error(body) => {
                let room = previous.room();
                self.leave_room_state();
                if matches!(body.code, ErrorCode::RoomNotFound | ErrorCode::RoomEnded) {
                    // The room ended while this client was away (the server keeps rooms
                    // across its restarts, so it is not a restart that lost it).
                    self.shared.emit(ClientEvent::RoomEnded {
                        room,
                        reason: EndReason::ServerShutdown,
                    });
                } else if body.code == ErrorCode::Banned {
                    self.shared
                        .emit(ClientEvent::RemovedFromRoom { room, banned: true });
                } else {
                    self.report(
                        body.code,
                        format!("could not rejoin the room: {}", body.message),
                    );
                    self.shared.emit(ClientEvent::RoomEnded {
                        room,
                        reason: EndReason::ServerShutdown,
                    });
                }
            }
            other => {
                tracing::warn!(?other, "unexpected reply to join_room");
                self.leave_room_state();
            }
        }
    }

    /// Enters the room from a rejoin's snapshot, restoring this client's own mute (a
    /// host comes back unmuted: someone who had muted themselves must not be heard by
    /// surprise; muted locally at once, so `may_speak` is false before the server
    /// confirms) and raised hand.
    pub(super) fn restore_into(
        &mut self,
        previous: &RoomView,
        snapshot: RoomSnapshot,
        stream: StreamId,
    ) {
        let mut view = RoomView {
            snapshot,
            me: previous.me,
            my_stream: stream,
        };
        let room = view.room();
        let mut restore = Vec::new();
        if let (Some(was), Some(now)) = (previous.me().cloned(), view.me().cloned()) {
            // A host comes back unmuted: someone who had muted themselves must not
            // be heard by surprise. Muted locally at once, so `may_speak` is false
            // before the server confirms.
            if was.muted && now.role.on_stage() && !now.muted {
                let me = view.me;
                if let Some(member) = view.snapshot.members.iter_mut().find(|m| m.user == me) {
                    member.muted = true;
                }
                restore.push(ClientRequest::SetMuted { room, muted: true });
            }
            if was.hand_raised && !now.role.on_stage() && !now.hand_raised {
                restore.push(ClientRequest::RaiseHand { room });
            }
        }
        self.enter_room(view);
        for request in restore {
            self.send(request, Pending::Restore);
        }
    }

    pub(super) fn mute_locally(&self, room: RoomId) {
        self.shared.with_room(|current| {
            if let Some(view) = current.as_mut().filter(|view| view.room() == room) {
                let me = view.me;
                if let Some(member) = view.snapshot.members.iter_mut().find(|m| m.user == me) {
                    member.muted = true;
                }
            }
        });
    }

    pub(super) fn in_room(&self, room: RoomId) -> bool {
        self.shared.room().is_some_and(|view| view.room() == room)
    }

    pub(super) fn on_delta(&mut self, room: RoomId, version: u64, change: RoomChange) {
        if self.resyncing {
            // The snapshot asked for contains this change or is followed by it.
            return;
        }
        let outcome = self.shared.with_room(|current| {
            let view = current.as_mut().filter(|view| view.room() == room)?;
            let before = view.hand_queue().len();
            let first = view.hand_queue().first().copied();
            match view.apply(version, &change) {
                DeltaOutcome::Applied => {
                    let queue_changed = before != view.hand_queue().len()
                        || first != view.hand_queue().first().copied();
                    Some((
                        queue_changed.then(|| view.hand_queue().to_vec()),
                        DeltaOutcome::Applied,
                    ))
                }
                other => Some((None, other)),
            }
        });
        match outcome {
            Some((queue, DeltaOutcome::Applied)) => {
                self.shared.emit(ClientEvent::RoomState(RoomUpdate::Delta {
                    room,
                    version,
                    change,
                }));
                if let Some(queue) = queue {
                    self.shared.emit(ClientEvent::HandQueue { room, queue });
                }
            }
            Some((_, DeltaOutcome::Gap)) => {
                tracing::debug!(%room, version, "room delta version skipped; asking for a snapshot");
                self.resyncing = true;
                self.send(ClientRequest::GetSnapshot { room }, Pending::Resync);
            }
            _ => {}
        }
    }
}
