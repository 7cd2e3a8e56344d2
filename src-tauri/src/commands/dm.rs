//! Direct messages, end-to-end encrypted by the client's DM layer (MLS): the list,
//! opening a conversation by handle, history, sending, read marks, safety numbers.
//! Also the conversions the event forwarder uses for DM events.

use salon_client::{ClientHandle, DirectMessages};
use tauri::State;

use crate::dto::{self, Conversation, DmMessage, SafetyNumber};
use crate::error::{UiError, UiResult};
use crate::state::Core;

async fn dms(core: &Core) -> UiResult<(ClientHandle, DirectMessages)> {
    let client = core.account_client()?;
    let dms = core.dms(&client).await?;
    Ok((client, dms))
}

/// A conversation as the UI shows it (peers looked up by handle).
pub async fn conversation(
    core: &Core,
    client: &ClientHandle,
    conversation: salon_client::Conversation,
) -> Conversation {
    let mut peers = Vec::with_capacity(conversation.peers.len());
    for handle in &conversation.peers {
        peers.push(core.person(client, handle).await);
    }
    Conversation {
        conversation_id: conversation.id,
        peers,
        unread: conversation.unread,
        last_text: conversation.last_text,
        last_at: conversation.last_at_ms,
        verified: conversation.verified,
    }
}

/// A message as the UI shows it.
pub async fn message(
    core: &Core,
    client: &ClientHandle,
    message: salon_client::DmMessage,
) -> DmMessage {
    let sender = if message.notice || message.sender.is_empty() {
        dto::Person {
            user_id: String::new(),
            handle: String::new(),
            display_name: String::new(),
        }
    } else {
        core.person(client, &message.sender).await
    };
    DmMessage {
        message_id: message.id,
        conversation_id: message.conversation,
        sender,
        text: message.text,
        sent_at: message.sent_at_ms,
        mine: message.mine,
        notice: message.notice,
    }
}

/// Every conversation, most recent first.
pub async fn conversations(
    core: &Core,
    client: &ClientHandle,
    dms: &DirectMessages,
) -> UiResult<Vec<Conversation>> {
    let mut out = Vec::new();
    for c in dms.conversations().await? {
        out.push(conversation(core, client, c).await);
    }
    Ok(out)
}

/// Every conversation.
#[tauri::command]
pub async fn dm_list(core: State<'_, Core>) -> UiResult<Vec<Conversation>> {
    let (client, dms) = dms(&core).await?;
    conversations(&core, &client, &dms).await
}

/// Opens (or finds) the conversation with `handle`.
#[tauri::command]
pub async fn dm_open(core: State<'_, Core>, handle: String) -> UiResult<Conversation> {
    let handle = handle.trim().trim_start_matches('@');
    if handle.is_empty() {
        return Err(UiError::invalid(
            "Enter the handle of the person to write to.",
        ));
    }
    let (client, dms) = dms(&core).await?;
    let opened = dms.open(handle).await?;
    Ok(conversation(&core, &client, opened).await)
}

/// A conversation's messages, oldest first.
#[tauri::command]
pub async fn dm_history(
    core: State<'_, Core>,
    conversation_id: String,
) -> UiResult<Vec<DmMessage>> {
    let (client, dms) = dms(&core).await?;
    let mut out = Vec::new();
    for m in dms.history(&conversation_id).await? {
        out.push(message(&core, &client, m).await);
    }
    Ok(out)
}

/// Sends a message.
#[tauri::command]
pub async fn dm_send(
    core: State<'_, Core>,
    conversation_id: String,
    text: String,
) -> UiResult<DmMessage> {
    if text.trim().is_empty() {
        return Err(UiError::invalid("Write something first."));
    }
    let (client, dms) = dms(&core).await?;
    let sent = dms.send(&conversation_id, &text).await?;
    Ok(message(&core, &client, sent).await)
}

/// Marks a conversation read.
#[tauri::command]
pub async fn dm_mark_read(core: State<'_, Core>, conversation_id: String) -> UiResult<()> {
    let (_, dms) = dms(&core).await?;
    dms.mark_read(&conversation_id).await?;
    Ok(())
}

/// The safety number of a conversation.
#[tauri::command]
pub async fn dm_safety_number(
    core: State<'_, Core>,
    conversation_id: String,
) -> UiResult<SafetyNumber> {
    let (_, dms) = dms(&core).await?;
    let number = dms.safety_number(&conversation_id).await?;
    Ok(SafetyNumber {
        digits: number.digits,
        qr_payload: number.qr_payload,
        verified: number.verified,
    })
}

/// Marks the safety number verified.
#[tauri::command]
pub async fn dm_verify(core: State<'_, Core>, conversation_id: String) -> UiResult<()> {
    let (_, dms) = dms(&core).await?;
    dms.verify(&conversation_id).await?;
    Ok(())
}
