//! Global hotkeys: toggle mute, raise/lower hand, push-to-talk, working while the window
//! is in the background (`tauri-plugin-global-shortcut`, X11 key grabs on Linux).
//!
//! Bindings are remembered in the preferences and can be changed in settings. A binding
//! is refused (`hotkey_conflict`) when another action of Salon already uses it, and
//! reported as not registered when the OS gives it to another application. On a Wayland
//! session key grabs only work while a Salon window has the focus, so settings say so:
//! desktop-wide shortcuts there need the XDG GlobalShortcuts portal
//! (`org.freedesktop.portal.GlobalShortcuts`), which is the planned next step.

use std::sync::Mutex;

use tauri::AppHandle;
use tauri_plugin_global_shortcut::{
    GlobalShortcutExt as _, Shortcut, ShortcutEvent, ShortcutState,
};

use crate::actions::{self, Action};
use crate::dto::{Hotkey, HotkeyAction};
use crate::error::{UiError, UiResult};
use crate::prefs::{ACTIONS, Prefs};
use crate::state::lock;

/// One action's binding and whether it works.
#[derive(Debug, Clone)]
struct Binding {
    action: HotkeyAction,
    accelerator: String,
    shortcut: Option<Shortcut>,
    registered: bool,
    error: Option<String>,
}

/// Every binding.
#[derive(Debug)]
pub struct Hotkeys {
    bindings: Mutex<Vec<Binding>>,
}

/// Parses an accelerator such as `Ctrl+Shift+M`.
pub fn parse(accelerator: &str) -> UiResult<Shortcut> {
    accelerator.parse::<Shortcut>().map_err(|err| {
        UiError::invalid(format!(
            "{accelerator:?} is not a key combination ({err}); write it like Ctrl+Shift+M."
        ))
    })
}

impl Hotkeys {
    /// The bindings from the preferences, not registered yet.
    pub fn new(prefs: &Prefs) -> Self {
        let bindings = ACTIONS
            .iter()
            .map(|&action| {
                let accelerator = prefs.hotkey(action);
                let (shortcut, error) = if accelerator.is_empty() {
                    (None, None)
                } else {
                    match parse(&accelerator) {
                        Ok(shortcut) => (Some(shortcut), None),
                        Err(err) => (None, Some(err.message)),
                    }
                };
                Binding {
                    action,
                    accelerator,
                    shortcut,
                    registered: false,
                    error,
                }
            })
            .collect();
        Self {
            bindings: Mutex::new(bindings),
        }
    }

    /// The bindings as settings show them.
    pub fn list(&self) -> Vec<Hotkey> {
        lock(&self.bindings)
            .iter()
            .map(|b| Hotkey {
                action: b.action,
                accelerator: b.accelerator.clone(),
                registered: b.registered,
                error: b.error.clone(),
            })
            .collect()
    }

    /// Registers every binding with the OS (at start-up).
    pub fn register_all(&self, app: &AppHandle) {
        let mut bindings = lock(&self.bindings);
        for binding in bindings.iter_mut() {
            register(app, binding);
        }
    }

    /// Binds `action` to `accelerator` (empty: unbind). Refused with `hotkey_conflict`
    /// when another action uses it or the OS refuses it; the old binding then stays.
    pub fn set(
        &self,
        app: &AppHandle,
        action: HotkeyAction,
        accelerator: &str,
    ) -> UiResult<Vec<Hotkey>> {
        let accelerator = accelerator.trim();
        let shortcut = if accelerator.is_empty() {
            None
        } else {
            Some(parse(accelerator)?)
        };
        {
            let mut bindings = lock(&self.bindings);
            if let Some(shortcut) = &shortcut
                && let Some(other) = bindings
                    .iter()
                    .find(|b| b.action != action && b.shortcut.as_ref() == Some(shortcut))
            {
                return Err(UiError::new(
                    "hotkey_conflict",
                    format!(
                        "{accelerator} is already used for {}; choose another combination \
                         or change that one first.",
                        describe(other.action)
                    ),
                ));
            }
            let binding = bindings
                .iter_mut()
                .find(|b| b.action == action)
                .expect("every action has a binding");
            let old = binding.clone();
            if let Some(old_shortcut) = old.shortcut.filter(|_| old.registered) {
                let _ = app.global_shortcut().unregister(old_shortcut);
            }
            binding.accelerator = accelerator.to_owned();
            binding.shortcut = shortcut;
            register(app, binding);
            if binding.shortcut.is_some() && !binding.registered {
                let reason = binding.error.clone().unwrap_or_default();
                *binding = old;
                register(app, binding);
                return Err(UiError::new(
                    "hotkey_conflict",
                    format!(
                        "{accelerator} could not be taken ({reason}); another application may \
                         use it. Choose another combination."
                    ),
                ));
            }
        }
        Ok(self.list())
    }

    /// The action bound to `shortcut`.
    fn action_of(&self, shortcut: &Shortcut) -> Option<HotkeyAction> {
        lock(&self.bindings)
            .iter()
            .find(|b| b.shortcut.as_ref() == Some(shortcut))
            .map(|b| b.action)
    }
}

fn register(app: &AppHandle, binding: &mut Binding) {
    binding.registered = false;
    let Some(shortcut) = binding.shortcut else {
        return;
    };
    match app.global_shortcut().register(shortcut) {
        Ok(()) => {
            binding.registered = true;
            binding.error = None;
        }
        Err(err) => {
            tracing::warn!("hotkey {} not registered: {err}", binding.accelerator);
            binding.error = Some(err.to_string());
        }
    }
}

fn describe(action: HotkeyAction) -> &'static str {
    match action {
        HotkeyAction::ToggleMute => "mute",
        HotkeyAction::ToggleHand => "raise hand",
        HotkeyAction::PushToTalk => "push-to-talk",
    }
}

/// The plugin's handler: runs the bound action (push-to-talk on press and release).
pub fn on_shortcut(app: &AppHandle, shortcut: &Shortcut, event: ShortcutEvent) {
    use tauri::Manager as _;
    let core = app.state::<crate::state::Core>();
    let Some(action) = core.hotkeys.action_of(shortcut) else {
        return;
    };
    let pressed = event.state() == ShortcutState::Pressed;
    let action = match (action, pressed) {
        (HotkeyAction::ToggleMute, true) => Action::ToggleMute,
        (HotkeyAction::ToggleHand, true) => Action::ToggleHand,
        (HotkeyAction::PushToTalk, true) => Action::TalkPressed,
        (HotkeyAction::PushToTalk, false) => Action::TalkReleased,
        (_, false) => return,
    };
    actions::spawn(app, action);
}

/// Whether global shortcuts can work in this session, and why not.
pub fn availability() -> (bool, Option<String>) {
    availability_in(
        std::env::var("XDG_SESSION_TYPE").ok().as_deref(),
        std::env::var_os("WAYLAND_DISPLAY").is_some(),
    )
}

fn availability_in(session_type: Option<&str>, wayland_display: bool) -> (bool, Option<String>) {
    if session_type == Some("wayland") || wayland_display {
        (
            false,
            Some(
                "This is a Wayland session: Salon's hotkeys work only while its window has \
                 the focus. Desktop-wide shortcuts on Wayland need the desktop's Global \
                 Shortcuts portal, which Salon does not use yet; an X11 session has them."
                    .to_owned(),
            ),
        )
    } else {
        (true, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerators_parse_and_bad_ones_are_invalid_input() {
        assert_eq!(
            parse("Ctrl+Shift+M").unwrap(),
            parse("ctrl+shift+m").unwrap()
        );
        assert_ne!(
            parse("Ctrl+Shift+M").unwrap(),
            parse("Ctrl+Shift+H").unwrap()
        );
        assert_eq!(parse("Ctrl+Shift+").unwrap_err().code, "invalid_input");
    }

    #[test]
    fn default_bindings_are_distinct_and_valid() {
        let hotkeys = Hotkeys::new(&Prefs::default());
        let list = hotkeys.list();
        assert_eq!(list.len(), 3);
        assert!(list.iter().all(|h| h.error.is_none()), "{list:?}");
        assert_eq!(list[0].accelerator, "Ctrl+Shift+M");
        let shortcut = parse("Ctrl+Shift+H").unwrap();
        assert_eq!(hotkeys.action_of(&shortcut), Some(HotkeyAction::ToggleHand));
    }

    #[test]
    fn wayland_sessions_are_reported() {
        assert!(availability_in(Some("x11"), false).0);
        let (available, note) = availability_in(Some("wayland"), true);
        assert!(!available);
        assert!(note.unwrap().contains("portal"));
    }
}
