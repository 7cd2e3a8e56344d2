//! Requests about rooms and the stage. Every change is applied and its events queued
//! under the rooms lock, so each room's deltas reach every member in version order.

use std::sync::Arc;
use std::time::Instant;

use salon_proto::{ClientRequest, ErrorCode, Reply, RoomId};

use super::{Outcome, Phase, Session, fail, fell_through, random_16};
use crate::hub::Peer;
use crate::rooms::{Action, Deliveries, Person, Rooms};

impl Session {
    /// Applies a stage action; its events follow the reply.
    pub(super) fn act(&mut self, peer: &Peer, action: Action) -> Outcome {
        let room = action.room();
        let hub = self.hub.clone();
        let mut rooms = hub.rooms();
        let deliveries = rooms.act(peer.user, action, Instant::now())?;
        self.reply_with_events(&rooms, Reply::Ok, deliveries);
        drop(rooms);
        self.touched.push(room);
        Ok(Reply::Ok)
    }

    /// Queues the current request's reply and then the events it caused while the caller
    /// still holds the rooms lock: no other change to the room can slip in between, so
    /// every member receives a room's deltas in version order.
    fn reply_with_events(&mut self, rooms: &Rooms, reply: Reply, deliveries: Deliveries) {
        self.reply(self.current, reply);
        self.replied = true;
        self.hub.deliver_with(rooms, deliveries);
    }

    /// Leaves the room this connection is in, if any: on purpose when joining another,
    /// or because the connection dropped (`dropped`), which keeps a speaker's place for
    /// the rejoin grace. A dropped connection that is no longer the user's way into the
    /// room (they rejoined from a new one before this one was noticed dead) changes
    /// nothing.
    pub(super) fn leave_current_room(&mut self, dropped: bool) {
        let (Some(room), Phase::LoggedIn(peer)) = (self.room.take(), &self.phase) else {
            return;
        };
        if dropped && !self.hub.is_wired(room, peer.user, peer.conn) {
            return;
        }
        {
            let mut rooms = self.hub.rooms();
            let now = Instant::now();
            let left = if dropped {
                rooms.drop_connection(room, peer.user, now)
            } else {
                rooms.leave(room, peer.user, now)
            };
            if let Ok(deliveries) = left {
                self.hub.deliver_with(&rooms, deliveries);
            }
        }
        self.hub.sync_wire(room);
        // The host seat may have passed on: the caller persists the room.
        self.touched.push(room);
    }

    /// Answers the room requests that are not stage actions.
    pub(super) fn room_request(&mut self, peer: Arc<Peer>, request: ClientRequest) -> Outcome {
        let hub = self.hub.clone();
        match request {
            ClientRequest::CreateRoom { title, visibility } => {
                let room = RoomId::from_bytes(random_16());
                hub.rooms()
                    .create(room, peer.user, &title, visibility, Instant::now())?;
                self.touched.push(room);
                Ok(Reply::RoomCreated { room })
            }
            ClientRequest::ListRooms { limit } => {
                let limit = usize::from(limit.unwrap_or(50).min(200));
                Ok(Reply::RoomList {
                    rooms: hub.rooms().list_public(limit),
                })
            }
            ClientRequest::JoinRoom { room } => {
                let Some((handle, display_name)) = self.account.clone() else {
                    return Err(fail(ErrorCode::NotAuthenticated, "log in first"));
                };
                if self.room.is_some_and(|current| current != room) {
                    self.leave_current_room(false);
                }
                let me = Person {
                    user: peer.user,
                    handle,
                    display_name,
                };
                let mut rooms = hub.rooms();
                let (snapshot, stream, deliveries) = rooms.join(room, me, Instant::now())?;
                hub.enter_wire(room, peer.clone());
                self.room = Some(room);
                self.reply_with_events(&rooms, Reply::Joined { snapshot, stream }, deliveries);
                Ok(Reply::Ok)
            }
            ClientRequest::LeaveRoom { room } => {
                let mut rooms = hub.rooms();
                let deliveries = rooms.leave(room, peer.user, Instant::now())?;
                if self.room == Some(room) {
                    self.room = None;
                }
                self.reply_with_events(&rooms, Reply::Ok, deliveries);
                drop(rooms);
                self.touched.push(room);
                Ok(Reply::Ok)
            }
            ClientRequest::GetSnapshot { room } => Ok(Reply::Snapshot {
                snapshot: hub.rooms().snapshot(room, peer.user)?,
            }),
            other => Err(fell_through(&other)),
        }
    }
}
