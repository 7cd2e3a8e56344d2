//! The tray icon: shows whether the microphone is muted (a red mark on the icon, the
//! tooltip and the menu say so), and offers mute/unmute, showing the window and quit.
//!
//! A desktop without a tray (or without libappindicator) only loses the icon: the app
//! runs on and the failure is logged.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager as _, Wry};

use crate::actions;

const TRAY_ID: &str = "salon";

/// What changes on the tray.
struct Tray {
    mute: MenuItem<Wry>,
    normal: Image<'static>,
    muted: Image<'static>,
}

impl std::fmt::Debug for Tray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tray").finish_non_exhaustive()
    }
}

/// Builds the tray icon.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let Some(icon) = app.default_window_icon().cloned() else {
        tracing::warn!("no app icon: no tray icon");
        return Ok(());
    };
    let normal = icon.to_owned();
    let muted = muted_icon(&normal);
    let mute = MenuItem::with_id(app, "mute", "Mute", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Salon", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Salon", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&mute, &show, &quit])?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(normal.clone())
        .tooltip("Salon")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "mute" => actions::spawn(app, actions::Action::ToggleMute),
            "show" => actions::show_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(Tray {
        mute,
        normal,
        muted,
    });
    Ok(())
}

/// Shows the mute state: `None` when not in a room.
pub fn show_muted(app: &AppHandle, muted: Option<bool>) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let (text, tooltip, icon) = match muted {
        Some(true) => ("Unmute", "Salon — muted", &tray.muted),
        Some(false) => ("Mute", "Salon — microphone on", &tray.normal),
        None => ("Mute", "Salon", &tray.normal),
    };
    let _ = tray.mute.set_text(text);
    let _ = tray.mute.set_enabled(muted.is_some());
    if let Some(icon_handle) = app.tray_by_id(TRAY_ID) {
        let _ = icon_handle.set_tooltip(Some(tooltip));
        let _ = icon_handle.set_icon(Some(icon.clone()));
    }
}

/// The icon with a red disc in its lower right quarter.
fn muted_icon(icon: &Image<'_>) -> Image<'static> {
    let (width, height) = (icon.width(), icon.height());
    let mut rgba = icon.rgba().to_vec();
    let radius = f64::from(width.min(height)) / 4.0;
    let (cx, cy) = (
        f64::from(width) - radius - 1.0,
        f64::from(height) - radius - 1.0,
    );
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
            if dx * dx + dy * dy <= radius * radius {
                let i = ((y * width + x) * 4) as usize;
                rgba[i..i + 4].copy_from_slice(&[220, 38, 38, 255]);
            }
        }
    }
    Image::new_owned(rgba, width, height)
}
