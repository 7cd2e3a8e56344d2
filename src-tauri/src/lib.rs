//! Salon's desktop shell: a thin Tauri 2 layer between the web UI (`ui/`) and the client
//! core (`crates/client`).
//!
//! - [`commands`]: what the UI invokes, one file per area; [`dto`]: every type crossing
//!   the boundary (TypeScript bindings generated from it); [`error`]: errors with stable
//!   codes.
//! - [`events`]: the client's event stream forwarded to the UI on `salon://event`.
//! - [`state`]: the connection, the embedded server ([`embedded_server`], "Host on this
//!   computer"), the voice session and the preferences ([`prefs`]).
//! - [`hotkeys`] (global shortcuts), [`tray`], [`notify`] and [`actions`] (what hotkeys
//!   and the tray do).
//!
//! Plugins: single instance (a second launch focuses the first window), window state
//! (size and position remembered), global shortcuts, notifications.

pub mod actions;
pub mod commands;
pub mod convert;
pub mod dto;
pub mod embedded_server;
pub mod error;
pub mod events;
pub mod hotkeys;
pub mod notify;
pub mod prefs;
pub mod state;
pub mod tray;

use std::process::ExitCode;

use tauri::Manager as _;

use crate::state::Core;

/// Runs the app until its window closes or Quit is chosen.
pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,salon=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let data_dir = Core::default_data_dir();
    tracing::info!("data in {}", data_dir.display());

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            actions::show_window(app);
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(hotkeys::on_shortcut)
                .build(),
        )
        .manage(Core::new(data_dir))
        .setup(|app| {
            // Where the UI comes from: the embedded `ui/dist` (`tauri://localhost`) or,
            // under `cargo tauri dev`, the dev server of `tauri.conf.json`.
            if let Some(url) = app
                .get_webview_window("main")
                .and_then(|window| window.url().ok())
            {
                tracing::info!("main window shows {url}");
            }
            let handle = app.handle().clone();
            if let Err(err) = tray::install(&handle) {
                tracing::warn!("no tray icon: {err}");
            }
            let core = app.state::<Core>();
            core.hotkeys.register_all(&handle);
            let starting = core.started.clone().try_write_owned();
            tauri::async_runtime::spawn(async move {
                handle.state::<Core>().resume(&handle).await;
                drop(starting);
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::onboarding::app_state,
            commands::onboarding::host_locally,
            commands::onboarding::use_server,
            commands::onboarding::create_account,
            commands::rooms::list_rooms,
            commands::rooms::create_room,
            commands::rooms::join_room,
            commands::rooms::leave_room,
            commands::rooms::end_room,
            commands::rooms::set_muted,
            commands::rooms::raise_hand,
            commands::rooms::lower_hand,
            commands::rooms::accept_speak_invite,
            commands::rooms::decline_speak_invite,
            commands::rooms::set_volume,
            commands::moderation::invite_to_speak,
            commands::moderation::move_to_audience,
            commands::moderation::set_role,
            commands::moderation::moderator_mute,
            commands::moderation::moderator_unmute,
            commands::moderation::remove_member,
            commands::moderation::ban_member,
            commands::settings::get_settings,
            commands::settings::set_hotkey,
            commands::settings::list_devices,
            commands::settings::set_devices,
            commands::settings::set_language,
            commands::dm::dm_list,
            commands::dm::dm_open,
            commands::dm::dm_history,
            commands::dm::dm_send,
            commands::dm::dm_mark_read,
            commands::dm::dm_safety_number,
            commands::dm::dm_verify,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("salon: cannot start the app: {err}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // Leave the room and stop the embedded server before the process ends.
            tauri::async_runtime::block_on(handle.state::<Core>().shut_down());
        }
    });
    ExitCode::SUCCESS
}
