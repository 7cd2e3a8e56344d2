//! The client's event stream, forwarded to the UI as [`UiEvent`]s on `salon://event`.
//!
//! One task per connection reads [`ClientEvent`]s in order and sends the UI what it
//! shows: the whole room after any room change (rooms are small), levels with user ids
//! (the client already limits them to 10 a second), invitations, the end of the room.
//! It also keeps the parts of the shell that follow the room current: the tray's mute
//! state, the voice session (stopped when the room is left), and notifications when the
//! window is not focused.

use salon_client::proto::room::EndReason;
use salon_client::{ClientEvent, ClientHandle, DmEvent};
use tauri::{AppHandle, Emitter as _, Manager as _};
use tokio::sync::broadcast::error::RecvError;

use crate::commands::dm;
use crate::dto::{RoomLeftReason, UiEvent};
use crate::state::Core;
use crate::{convert, dto, notify, tray};

/// Sends one event to the UI.
pub fn emit(app: &AppHandle, event: &UiEvent) {
    if let Err(err) = app.emit(dto::EVENT_NAME, event) {
        tracing::warn!("cannot send an event to the UI: {err}");
    }
}

/// After this long without a levels event, nobody is speaking any more (the server
/// reports only streams that sent audio recently, so silence sends nothing).
const LEVELS_STALE: std::time::Duration = std::time::Duration::from_millis(600);

/// What the forwarder remembers to notice changes.
#[derive(Debug, Default)]
struct Seen {
    muted: Option<bool>,
    hand: Option<bool>,
    hands: Vec<String>,
    /// When the last non-empty levels were sent, while they may still show someone
    /// speaking.
    levels_at: Option<std::time::Instant>,
}

/// Sends empty levels once the last ones are stale, so speaking rings go out.
fn expire_levels(app: &AppHandle, seen: &mut Seen) {
    if seen
        .levels_at
        .is_some_and(|at| at.elapsed() >= LEVELS_STALE)
    {
        seen.levels_at = None;
        emit(app, &UiEvent::Levels { levels: Vec::new() });
    }
}

/// Forwards `client`'s events until it shuts down.
pub fn spawn_forwarder(
    app: AppHandle,
    client: ClientHandle,
) -> tauri::async_runtime::JoinHandle<()> {
    let mut events = client.events();
    tauri::async_runtime::spawn(async move {
        let mut seen = Seen::default();
        let mut tick = tokio::time::interval(LEVELS_STALE / 2);
        loop {
            let received = tokio::select! {
                received = events.recv() => received,
                _ = tick.tick() => {
                    expire_levels(&app, &mut seen);
                    continue;
                }
            };
            match received {
                Ok(event) => forward(&app, &client, event, &mut seen).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!("the UI forwarder missed {missed} events; resending state");
                    emit(
                        &app,
                        &UiEvent::Connection {
                            connection: convert::connection(&client.state()),
                        },
                    );
                    room_changed(&app, &client, &mut seen);
                }
                Err(RecvError::Closed) => break,
            }
        }
    })
}

async fn forward(app: &AppHandle, client: &ClientHandle, event: ClientEvent, seen: &mut Seen) {
    let core = app.state::<Core>();
    match event {
        ClientEvent::ConnectionState(state) => emit(
            app,
            &UiEvent::Connection {
                connection: convert::connection(&state),
            },
        ),
        ClientEvent::RoomState(_) | ClientEvent::HandQueue { .. } => {
            room_changed(app, client, seen);
        }
        ClientEvent::AudioDevice { direction, event } => {
            tracing::info!("audio {direction} device: {event:?}");
            match crate::commands::settings::list_devices().await {
                Ok(devices) => emit(app, &UiEvent::DevicesChanged { devices }),
                Err(err) => tracing::warn!("cannot list devices: {}", err.message),
            }
        }
        ClientEvent::SpeakingLevels { levels, .. } => {
            if let Some(view) = client.room() {
                let levels = convert::levels(&view, &levels);
                seen.levels_at = (!levels.is_empty()).then(std::time::Instant::now);
                emit(app, &UiEvent::Levels { levels });
            }
        }
        ClientEvent::InvitedToSpeak { .. } => {
            core.set_invited(true);
            emit(app, &UiEvent::SpeakInvite {});
            room_changed(app, client, seen);
            notify::unless_focused(app, "You are invited to speak", "Accept to join the stage.");
        }
        ClientEvent::RemovedFromRoom { banned, .. } => {
            left(
                app,
                seen,
                if banned {
                    RoomLeftReason::Banned
                } else {
                    RoomLeftReason::Removed
                },
            )
            .await;
        }
        ClientEvent::RoomEnded { reason, .. } => {
            if reason == EndReason::ServerShutdown {
                tracing::info!("the room ended: the server shut down");
            }
            left(app, seen, RoomLeftReason::Ended).await;
        }
        ClientEvent::Dm(event) => dm_event(app, client, event).await,
        ClientEvent::Error { code, message } => emit(
            app,
            &UiEvent::Error {
                code: code.as_str().to_owned(),
                message,
            },
        ),
        _ => {}
    }
}

/// Sends the room, and what changed for this app (mute, hand, new hands for moderators).
fn room_changed(app: &AppHandle, client: &ClientHandle, seen: &mut Seen) {
    let core = app.state::<Core>();
    let Some(room) = core.room(client) else {
        return;
    };
    let me = room
        .stage
        .iter()
        .chain(&room.audience)
        .find(|m| m.user_id == room.me)
        .cloned();
    if let Some(me) = &me {
        if me.role != dto::Role::Listener {
            core.set_invited(false);
        }
        if seen.muted != Some(room.muted) {
            seen.muted = Some(room.muted);
            emit(app, &UiEvent::MutedChanged { muted: room.muted });
            tray::show_muted(app, Some(room.muted));
        }
        if seen.hand != Some(me.hand_raised) {
            seen.hand = Some(me.hand_raised);
            emit(
                app,
                &UiEvent::HandChanged {
                    raised: me.hand_raised,
                },
            );
        }
        let moderates = matches!(me.role, dto::Role::Host | dto::Role::Moderator);
        if moderates {
            for hand in room.hands.iter().filter(|h| !seen.hands.contains(h)) {
                let name = room
                    .audience
                    .iter()
                    .chain(&room.stage)
                    .find(|m| &m.user_id == hand)
                    .map_or_else(|| "Someone".to_owned(), |m| m.display_name.clone());
                notify::unless_focused(app, &format!("{name} raised their hand"), &room.title);
            }
        }
    }
    seen.hands = room.hands.clone();
    emit(app, &UiEvent::Room { room });
}

/// A private-message event: the message or the list, a changed safety number, a
/// refused message; a notification for others' messages when the window is not focused.
async fn dm_event(app: &AppHandle, client: &ClientHandle, event: DmEvent) {
    let core = app.state::<Core>();
    match event {
        DmEvent::Message(message) => {
            let message = dm::message(&core, client, message).await;
            if !message.mine && !message.notice {
                let from = if message.sender.display_name.is_empty() {
                    message.sender.handle.clone()
                } else {
                    message.sender.display_name.clone()
                };
                notify::unless_focused(app, &format!("Message from {from}"), &message.text);
            }
            emit(app, &UiEvent::DmMessage { message });
        }
        DmEvent::ConversationsChanged => {
            let Ok(dms) = core.dms(client).await else {
                return;
            };
            match dm::conversations(&core, client, &dms).await {
                Ok(conversations) => emit(app, &UiEvent::DmChanged { conversations }),
                Err(err) => tracing::warn!("cannot list conversations: {}", err.message),
            }
        }
        DmEvent::SafetyNumberChanged { conversation } => emit(
            app,
            &UiEvent::SafetyNumberChanged {
                conversation_id: conversation,
            },
        ),
        DmEvent::Rejected { reason, .. } => emit(
            app,
            &UiEvent::Error {
                code: "dm_rejected".to_owned(),
                message: format!("A private message could not be read and was dropped: {reason}."),
            },
        ),
    }
}

/// The room is over for this app: audio stops, the UI and the tray are told.
async fn left(app: &AppHandle, seen: &mut Seen, reason: RoomLeftReason) {
    let core = app.state::<Core>();
    core.set_invited(false);
    core.stop_voice().await;
    *seen = Seen::default();
    emit(app, &UiEvent::Levels { levels: Vec::new() });
    tray::show_muted(app, None);
    emit(app, &UiEvent::RoomLeft { reason });
}
