//! Settings: hotkeys, audio devices, language.

use salon_audio_io::Direction;
use tauri::{AppHandle, State};

use crate::dto::{Device, Devices, Hotkey, HotkeyAction, Language, Settings, UiEvent};
use crate::error::{UiError, UiResult};
use crate::events;
use crate::prefs::action_key;
use crate::state::Core;

/// The settings.
#[tauri::command]
pub fn get_settings(core: State<'_, Core>) -> Settings {
    core.settings()
}

/// Binds a hotkey (`hotkey_conflict` when taken) and remembers it.
#[tauri::command]
pub fn set_hotkey(
    app: AppHandle,
    core: State<'_, Core>,
    action: HotkeyAction,
    accelerator: String,
) -> UiResult<Vec<Hotkey>> {
    let hotkeys = core.hotkeys.set(&app, action, &accelerator)?;
    core.update_prefs(|prefs| {
        prefs
            .hotkeys
            .insert(action_key(action).to_owned(), accelerator.trim().to_owned());
    })?;
    events::emit(
        &app,
        &UiEvent::Hotkeys {
            hotkeys: hotkeys.clone(),
        },
    );
    Ok(hotkeys)
}

/// Every audio device.
#[tauri::command]
pub async fn list_devices() -> UiResult<Devices> {
    let devices = tauri::async_runtime::spawn_blocking(salon_audio_io::list_devices)
        .await
        .map_err(UiError::internal)?
        .map_err(|err| {
            UiError::new(
                "audio_device",
                format!("Could not list the audio devices: {err}."),
            )
        })?;
    let pick = |direction: Direction| {
        devices
            .iter()
            .filter(|d| d.direction == direction)
            .map(|d| Device {
                id: d.id.to_string(),
                name: d.name.clone(),
                is_default: d.is_default,
            })
            .collect()
    };
    Ok(Devices {
        inputs: pick(Direction::Input),
        outputs: pick(Direction::Output),
    })
}

/// Chooses the microphone and speakers (`None`: the system default); a running room's
/// audio moves to them at once.
#[tauri::command]
pub async fn set_devices(
    app: AppHandle,
    core: State<'_, Core>,
    input: Option<String>,
    output: Option<String>,
) -> UiResult<()> {
    for id in input.iter().chain(&output) {
        id.parse::<salon_audio_io::DeviceId>()
            .map_err(|_| UiError::invalid(format!("{id:?} is not a device id.")))?;
    }
    core.update_prefs(|prefs| {
        prefs.input_device = input;
        prefs.output_device = output;
    })?;
    if core.voice_running()
        && let Some(client) = core.try_client()
    {
        core.stop_voice().await;
        core.start_voice(&app, &client);
    }
    Ok(())
}

/// Chooses the UI's language.
#[tauri::command]
pub fn set_language(core: State<'_, Core>, lang: Language) -> UiResult<()> {
    core.update_prefs(|prefs| prefs.language = Some(lang))
}
