//! Desktop notifications, shown only when the window is not focused (in the window the
//! UI itself shows what happened).

use tauri::{AppHandle, Manager as _};
use tauri_plugin_notification::NotificationExt as _;

/// Shows a notification unless the main window has the focus.
pub fn unless_focused(app: &AppHandle, title: &str, body: &str) {
    let focused = app
        .get_webview_window("main")
        .and_then(|window| window.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }
    if let Err(err) = app.notification().builder().title(title).body(body).show() {
        tracing::debug!("no notification shown ({err})");
    }
}
