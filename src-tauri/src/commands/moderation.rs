//! What the host and moderators do to others: invite on stage, move to the audience,
//! roles, moderator mute, remove, ban. The server checks who may do what; a refusal
//! comes back with its code (`not_permitted`, ...).

use tauri::State;

use crate::convert;
use crate::dto::Role;
use crate::error::UiResult;
use crate::state::Core;

/// Invites someone on stage.
#[tauri::command]
pub async fn invite_to_speak(core: State<'_, Core>, user_id: String) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?.invite_to_speak(user).await?;
    Ok(())
}

/// Moves someone (or oneself) from the stage to the audience.
#[tauri::command]
pub async fn move_to_audience(core: State<'_, Core>, user_id: String) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?.move_to_audience(user).await?;
    Ok(())
}

/// Changes someone's role (host).
#[tauri::command]
pub async fn set_role(core: State<'_, Core>, user_id: String, role: Role) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?
        .set_role(user, convert::role_to_proto(role))
        .await?;
    Ok(())
}

/// Mutes a speaker until a moderator lifts it.
#[tauri::command]
pub async fn moderator_mute(core: State<'_, Core>, user_id: String) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?.moderator_mute(user).await?;
    Ok(())
}

/// Lifts a moderator mute.
#[tauri::command]
pub async fn moderator_unmute(core: State<'_, Core>, user_id: String) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?.moderator_unmute(user).await?;
    Ok(())
}

/// Removes someone from the room (they may come back).
#[tauri::command]
pub async fn remove_member(core: State<'_, Core>, user_id: String) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?.remove_member(user).await?;
    Ok(())
}

/// Removes someone and keeps them out of this room.
#[tauri::command]
pub async fn ban_member(core: State<'_, Core>, user_id: String) -> UiResult<()> {
    let user = convert::user_id(&user_id)?;
    core.account_client()?.ban_member(user).await?;
    Ok(())
}
