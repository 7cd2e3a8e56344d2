//! Getting back into a room the server forgot.
//!
//! The server keeps live rooms in memory only (by design: a room exists while people
//! are in it), so after it restarts, rejoining by id answers `room_not_found` even
//! though everyone in the room is reconnecting. Rather than drop them all into the
//! hallway, the clients reopen the room with what the protocol already offers:
//!
//! - the client that held the host seat creates a room with the same title and
//!   visibility, joins it (as host, with its own mute restored), and in a private room
//!   invites everyone who was there;
//! - every other client waits a short while for the reopened room: an invitation from
//!   the former host with the same title (private rooms), or a public room with the same
//!   title whose stage is led by the former host's display name; then joins it.
//!
//! Both report [`ClientEvent::RoomReopened`] before the new room's snapshot. An unlisted
//! room cannot be found this way (knowing its id is the only way in, and the id is new),
//! nor can a room whose host is not coming back; their members get
//! [`ClientEvent::RoomEnded`] with `server_shutdown` once the wait is over. Roles other
//! than the host's start over (everyone else rejoins as a listener), as after any
//! rejoin. When the server keeps rooms across restarts, rejoining by id succeeds first
//! and none of this runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use salon_proto::room::{EndReason, Role, Visibility};
use salon_proto::{RoomId, UserId};
use tokio::sync::broadcast::error::TryRecvError;

use super::RoomView;
use crate::shared::Shared;
use crate::{ClientEvent, ClientHandle};

/// How long the others wait for the host to reopen the room.
const WAIT: Duration = Duration::from_secs(15);
/// How often a public room is looked for in the hallway while waiting.
const POLL: Duration = Duration::from_millis(200);

/// Starts recovering `previous` in the background.
pub(crate) fn start(shared: &Arc<Shared>, previous: RoomView) {
    let Some(commands) = shared.commands.upgrade() else {
        return;
    };
    let client = ClientHandle::from_parts(shared.clone(), commands);
    tokio::spawn(async move {
        let room = previous.room();
        let reopened = if previous.my_role() == Some(Role::Host) {
            reopen(&client, &previous).await
        } else {
            follow(&client, &previous).await
        };
        if reopened.is_none() && client.room().is_none() {
            client.shared().emit(ClientEvent::RoomEnded {
                room,
                reason: EndReason::ServerShutdown,
            });
        }
    });
}

/// As the former host: opens the room again and lets the others in.
async fn reopen(client: &ClientHandle, previous: &RoomView) -> Option<RoomId> {
    let snapshot = &previous.snapshot;
    let room = client
        .create_room(&snapshot.title, snapshot.visibility)
        .await
        .inspect_err(|err| tracing::warn!(%err, "could not reopen the room"))
        .ok()?;
    enter(client, previous, room).await?;
    if snapshot.visibility == Visibility::Private {
        for member in snapshot.members.iter().filter(|m| m.user != previous.me) {
            if let Err(err) = client.invite_to_room(member.user).await {
                tracing::debug!(%err, user = %member.user, "could not invite back");
            }
        }
    }
    Some(room)
}

/// As anyone else: waits for the former host to reopen the room, then joins it.
async fn follow(client: &ClientHandle, previous: &RoomView) -> Option<RoomId> {
    let snapshot = &previous.snapshot;
    let host = snapshot.members.iter().find(|m| m.role == Role::Host)?;
    let (host_user, host_name): (UserId, &str) = (host.user, &host.display_name);
    let mut events = client.events();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if client.room().is_some() {
            // The user went somewhere else meanwhile.
            return None;
        }
        let invited = loop {
            match events.try_recv() {
                Ok(ClientEvent::RoomInvitation { room, title, by })
                    if by == host_user && title == snapshot.title =>
                {
                    break Some(room);
                }
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break None,
            }
        };
        let listed = if invited.is_none() && snapshot.visibility == Visibility::Public {
            client.list_rooms(Some(200)).await.ok().and_then(|rooms| {
                rooms
                    .into_iter()
                    .find(|r| {
                        r.room != snapshot.room
                            && r.title == snapshot.title
                            && r.speakers.first().map(String::as_str) == Some(host_name)
                    })
                    .map(|r| r.room)
            })
        } else {
            None
        };
        if let Some(room) = invited.or(listed) {
            return enter(client, previous, room).await;
        }
        tokio::time::sleep(POLL).await;
    }
    None
}

/// Joins the reopened room; the session restores this client's own mute and hand.
async fn enter(client: &ClientHandle, previous: &RoomView, room: RoomId) -> Option<RoomId> {
    client.shared().emit(ClientEvent::RoomReopened {
        previous: previous.room(),
        room,
    });
    client
        .rejoin_as(room, previous.clone())
        .await
        .inspect_err(|err| tracing::warn!(%err, "could not join the reopened room"))
        .ok()?;
    Some(room)
}
