//! Actions that come from outside the UI (global hotkeys, the tray): mute, hand,
//! push-to-talk. They act on the room like the UI's buttons do; the UI learns the result
//! from the room's events (`muted_changed`, `hand_changed`), as it does for its own.

use tauri::{AppHandle, Manager as _};

use crate::dto::UiEvent;
use crate::error::UiResult;
use crate::events;
use crate::state::Core;

/// Something to do to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Mute if unmuted, unmute if muted.
    ToggleMute,
    /// Raise the hand if lowered, lower it if raised.
    ToggleHand,
    /// Push-to-talk pressed: unmute.
    TalkPressed,
    /// Push-to-talk released: mute.
    TalkReleased,
}

/// Runs `action` in the background; failures reach the UI as `error` events.
pub fn spawn(app: &AppHandle, action: Action) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(err) = run(&app, action).await {
            // Outside a room a hotkey does nothing, quietly.
            if err.code != "not_in_room" && err.code != "not_connected" {
                events::emit(
                    &app,
                    &UiEvent::Error {
                        code: err.code,
                        message: err.message,
                    },
                );
            }
        }
    });
}

async fn run(app: &AppHandle, action: Action) -> UiResult<()> {
    let core = app.state::<Core>();
    let client = core.client()?;
    let view = client.room().ok_or(salon_client::ClientError::NotInRoom)?;
    let me = view.me().cloned();
    match action {
        Action::ToggleMute => {
            let muted = me.is_some_and(|m| m.muted);
            client.set_muted(!muted).await?;
        }
        Action::ToggleHand => {
            if me.is_some_and(|m| m.hand_raised) {
                client.lower_hand().await?;
            } else {
                client.raise_hand().await?;
            }
        }
        Action::TalkPressed => client.set_muted(false).await?,
        Action::TalkReleased => client.set_muted(true).await?,
    }
    Ok(())
}

/// Shows, unminimises and focuses the main window.
pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
