//! Start-up and onboarding: the app's state, hosting on this computer or choosing a
//! server, creating the account.

use tauri::{AppHandle, State};

use crate::convert;
use crate::dto::{Account, AppState, Hosting};
use crate::error::{UiError, UiResult};
use crate::state::Core;

/// Everything the UI needs at start-up (once the last connection is resumed).
#[tauri::command]
pub async fn app_state(core: State<'_, Core>) -> UiResult<AppState> {
    let _started = core.started.read().await;
    Ok(core.app_state())
}

/// Hosts a server on this computer (port 7300 unless given) and connects to it.
#[tauri::command]
pub async fn host_locally(
    app: AppHandle,
    core: State<'_, Core>,
    port: Option<u16>,
) -> UiResult<Hosting> {
    if port == Some(0) {
        return Err(UiError::invalid("Choose a port between 1 and 65535."));
    }
    core.host(&app, port).await
}

/// Connects to a server elsewhere.
#[tauri::command]
pub async fn use_server(app: AppHandle, core: State<'_, Core>, url: String) -> UiResult<()> {
    core.use_server(&app, &url).await
}

/// Creates the account on the server in use with this device's key (kept in the OS
/// keyring) and logs in.
#[tauri::command]
pub async fn create_account(
    core: State<'_, Core>,
    handle: String,
    display_name: String,
    invite: Option<String>,
) -> UiResult<Account> {
    let display_name = display_name.trim();
    if display_name.is_empty() {
        return Err(UiError::invalid("Enter the name people will see."));
    }
    let client = core.client()?;
    if let Some(account) = client.account() {
        return Err(UiError::new(
            "invalid_input",
            format!(
                "This device already has the account @{} on this server.",
                account.handle
            ),
        ));
    }
    let invite = invite.as_deref().map(str::trim).filter(|i| !i.is_empty());
    let account = client.register(handle.trim(), display_name, invite).await?;
    Ok(convert::account(&account))
}
