//! The hallway and the room: list, create, join, leave, and this user's own stage
//! actions (mute, hand, answering an invitation, volumes).

use tauri::{AppHandle, State};

use crate::dto::{Room, RoomSummary, UiEvent, Visibility};
use crate::error::{UiError, UiResult};
use crate::state::Core;
use crate::{convert, events};

/// Public rooms, busiest first.
#[tauri::command]
pub async fn list_rooms(core: State<'_, Core>) -> UiResult<Vec<RoomSummary>> {
    let client = core.account_client()?;
    let rooms = client.list_rooms(None).await?;
    Ok(rooms.iter().map(convert::summary).collect())
}

/// Creates a room with this user as host and enters it.
#[tauri::command]
pub async fn create_room(
    app: AppHandle,
    core: State<'_, Core>,
    title: String,
    visibility: Visibility,
) -> UiResult<Room> {
    let title = title.trim();
    if title.is_empty() {
        return Err(UiError::invalid("Give the room a title."));
    }
    let client = core.account_client()?;
    let room = client
        .create_room(title, convert::visibility_to_proto(visibility))
        .await?;
    enter(&app, &core, room).await
}

/// Enters a room (leaving the current one).
#[tauri::command]
pub async fn join_room(app: AppHandle, core: State<'_, Core>, room_id: String) -> UiResult<Room> {
    let room = convert::room_id(&room_id)?;
    core.account_client()?;
    enter(&app, &core, room).await
}

async fn enter(app: &AppHandle, core: &Core, room: salon_client::proto::RoomId) -> UiResult<Room> {
    let client = core.account_client()?;
    core.stop_voice().await;
    core.set_invited(false);
    client.join_room(room).await?;
    core.start_voice(app, &client);
    core.room(&client)
        .ok_or_else(|| UiError::new("not_in_room", "The room closed as you entered it."))
}

/// Leaves the room.
#[tauri::command]
pub async fn leave_room(core: State<'_, Core>) -> UiResult<()> {
    let client = core.account_client()?;
    core.stop_voice().await;
    core.set_invited(false);
    client.leave_room().await?;
    Ok(())
}

/// Ends the room for everyone (host).
#[tauri::command]
pub async fn end_room(core: State<'_, Core>) -> UiResult<()> {
    let client = core.account_client()?;
    client.end_room().await?;
    core.stop_voice().await;
    Ok(())
}

/// Mutes or unmutes this user.
#[tauri::command]
pub async fn set_muted(core: State<'_, Core>, muted: bool) -> UiResult<()> {
    core.account_client()?.set_muted(muted).await?;
    Ok(())
}

/// Raises this user's hand.
#[tauri::command]
pub async fn raise_hand(core: State<'_, Core>) -> UiResult<()> {
    core.account_client()?.raise_hand().await?;
    Ok(())
}

/// Lowers this user's hand.
#[tauri::command]
pub async fn lower_hand(core: State<'_, Core>) -> UiResult<()> {
    core.account_client()?.lower_hand().await?;
    Ok(())
}

/// Accepts the invitation to speak: on stage, unmuted.
#[tauri::command]
pub async fn accept_speak_invite(core: State<'_, Core>) -> UiResult<()> {
    core.account_client()?.accept_speak_invite().await?;
    core.set_invited(false);
    Ok(())
}

/// Declines the invitation to speak.
#[tauri::command]
pub async fn decline_speak_invite(core: State<'_, Core>) -> UiResult<()> {
    core.account_client()?.decline_speak_invite().await?;
    core.set_invited(false);
    Ok(())
}

/// Sets how loud this app plays `user_id` (0..=200 %), remembered for next time.
#[tauri::command]
pub async fn set_volume(
    app: AppHandle,
    core: State<'_, Core>,
    user_id: String,
    percent: u16,
) -> UiResult<()> {
    if percent > salon_client::MAX_VOLUME_PERCENT {
        return Err(UiError::invalid(format!(
            "A volume goes from 0 to {} %.",
            salon_client::MAX_VOLUME_PERCENT
        )));
    }
    let user = convert::user_id(&user_id)?;
    let client = core.account_client()?;
    core.set_volume(&client, user, percent).await?;
    if let Some(room) = core.room(&client) {
        events::emit(&app, &UiEvent::Room { room });
    }
    Ok(())
}
