//! Direct messages. The client's end-to-end encrypted DM layer is not in this build
//! yet, so every command answers `unavailable` with a sentence saying so; the UI shows
//! it instead of a conversation list.

use crate::dto::{Conversation, DmMessage, SafetyNumber};
use crate::error::{UiError, UiResult};

fn unavailable<T>() -> UiResult<T> {
    Err(UiError::new(
        "unavailable",
        "Direct messages are not available in this version of Salon yet.",
    ))
}

/// Every conversation.
#[tauri::command]
pub fn dm_list() -> UiResult<Vec<Conversation>> {
    unavailable()
}

/// Opens (or finds) the conversation with `handle`.
#[tauri::command]
pub fn dm_open(handle: String) -> UiResult<Conversation> {
    let _ = handle;
    unavailable()
}

/// A conversation's messages, oldest first.
#[tauri::command]
pub fn dm_history(conversation_id: String) -> UiResult<Vec<DmMessage>> {
    let _ = conversation_id;
    unavailable()
}

/// Sends a message.
#[tauri::command]
pub fn dm_send(conversation_id: String, text: String) -> UiResult<DmMessage> {
    let _ = (conversation_id, text);
    unavailable()
}

/// Marks a conversation read.
#[tauri::command]
pub fn dm_mark_read(conversation_id: String) -> UiResult<()> {
    let _ = conversation_id;
    unavailable()
}

/// The safety number of a conversation.
#[tauri::command]
pub fn dm_safety_number(conversation_id: String) -> UiResult<SafetyNumber> {
    let _ = conversation_id;
    unavailable()
}

/// Marks the safety number verified.
#[tauri::command]
pub fn dm_verify(conversation_id: String) -> UiResult<()> {
    let _ = conversation_id;
    unavailable()
}
