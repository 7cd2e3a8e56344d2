//! Events the server pushes, turned into [`ClientEvent`]s and local state.

use std::time::{Duration, Instant};

use salon_proto::Event;
use salon_proto::room::EndReason;

use super::Session;
use crate::ClientEvent;

impl Session<'_> {
    pub(super) fn on_event(&mut self, event: Event) {
        match event {
            Event::RoomDelta {
                room,
                version,
                change,
            } => self.on_delta(room, version, change),
            Event::SpeakingLevels { room, levels } => {
                if let Some((room, levels)) = self.levels.offer(Instant::now(), (room, levels)) {
                    self.shared
                        .emit(ClientEvent::SpeakingLevels { room, levels });
                }
            }
            Event::InvitedToSpeak { room, by } => {
                self.shared.emit(ClientEvent::InvitedToSpeak { room, by });
            }
            Event::SpeakInviteDeclined { room, user } => {
                self.shared
                    .emit(ClientEvent::SpeakInviteDeclined { room, user });
            }
            Event::RoomInvitation { room, title, by } => {
                self.shared
                    .emit(ClientEvent::RoomInvitation { room, title, by });
            }
            Event::RemovedFromRoom { room, banned } => {
                if self.in_room(room) {
                    self.leave_room_state();
                }
                self.shared
                    .emit(ClientEvent::RemovedFromRoom { room, banned });
            }
            Event::RoomEnded { room, reason } => {
                if reason == EndReason::ServerShutdown && self.in_room(room) {
                    // The server is restarting: keep the room to come back to after the
                    // reconnect, and only report an end if that fails.
                    self.shared.set_audio_open(false);
                    return;
                }
                if self.in_room(room) {
                    self.leave_room_state();
                }
                self.shared.emit(ClientEvent::RoomEnded { room, reason });
            }
            Event::DeviceLinkRequested { device_key } => {
                self.shared
                    .emit(ClientEvent::DeviceLinkRequested { device_key });
            }
            Event::KeyPackagesLow { stock } => {
                self.shared.emit(ClientEvent::KeyPackagesLow { stock });
            }
            Event::MlsMessage(delivery) => {
                if let Some(delivery) = self.inbox.on_push(delivery) {
                    self.deliver_mls(vec![delivery]);
                }
            }
            Event::ShuttingDown { reconnect_after_ms } => {
                self.floor = Some(Duration::from_millis(reconnect_after_ms.into()));
            }
        }
    }
}
