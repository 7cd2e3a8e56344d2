//! The app's own preferences, kept in `prefs.json` in the data directory: which server
//! to use (or the port of the server this computer hosts), hotkey bindings, devices and
//! language.
//!
//! They live outside the client's local store because they are needed before any
//! server is chosen (the store belongs to a connected profile). Written whole to a
//! temporary file and renamed, so a crash never leaves half a file; a damaged file is
//! set aside (`prefs.json.bad`) and defaults are used, so the app always starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dto::{HotkeyAction, Language};

/// What is remembered between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Prefs {
    /// The server in use (`ws://…`).
    pub server_url: Option<String>,
    /// When this computer hosts: the embedded server's port (started at launch).
    pub host_port: Option<u16>,
    /// Hotkey bindings by action (an empty string unbinds).
    pub hotkeys: BTreeMap<String, String>,
    /// The chosen microphone.
    pub input_device: Option<String>,
    /// The chosen speakers.
    pub output_device: Option<String>,
    /// The chosen language.
    pub language: Option<Language>,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            server_url: None,
            host_port: None,
            hotkeys: default_hotkeys(),
            input_device: None,
            output_device: None,
            language: None,
        }
    }
}

/// The key for an action in [`Prefs::hotkeys`].
pub fn action_key(action: HotkeyAction) -> &'static str {
    match action {
        HotkeyAction::ToggleMute => "toggle_mute",
        HotkeyAction::ToggleHand => "toggle_hand",
        HotkeyAction::PushToTalk => "push_to_talk",
    }
}

/// Every action, in the order settings show them.
pub const ACTIONS: [HotkeyAction; 3] = [
    HotkeyAction::ToggleMute,
    HotkeyAction::ToggleHand,
    HotkeyAction::PushToTalk,
];

fn default_hotkeys() -> BTreeMap<String, String> {
    [
        (HotkeyAction::ToggleMute, "Ctrl+Shift+M"),
        (HotkeyAction::ToggleHand, "Ctrl+Shift+H"),
        (HotkeyAction::PushToTalk, "Ctrl+Shift+Space"),
    ]
    .into_iter()
    .map(|(action, accel)| (action_key(action).to_owned(), accel.to_owned()))
    .collect()
}

impl Prefs {
    /// The binding of `action` (the default when never set).
    pub fn hotkey(&self, action: HotkeyAction) -> String {
        self.hotkeys
            .get(action_key(action))
            .cloned()
            .or_else(|| default_hotkeys().remove(action_key(action)))
            .unwrap_or_default()
    }

    /// Reads `dir/prefs.json`; defaults when missing or damaged (a damaged file is
    /// renamed to `prefs.json.bad` and a warning logged).
    pub fn load(dir: &Path) -> Self {
        let path = file(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Self::default(),
            Err(err) => {
                tracing::warn!("cannot read {}: {err}; using defaults", path.display());
                return Self::default();
            }
        };
        match serde_json::from_str(&text) {
            Ok(prefs) => prefs,
            Err(err) => {
                let bad = path.with_extension("json.bad");
                tracing::warn!(
                    "{} is damaged ({err}); kept as {} and using defaults",
                    path.display(),
                    bad.display()
                );
                let _ = std::fs::rename(&path, bad);
                Self::default()
            }
        }
    }

    /// Writes `dir/prefs.json` atomically.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        use anyhow::Context as _;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = file(dir);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }
}

fn file(dir: &Path) -> PathBuf {
    dir.join("prefs.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Prefs::load(dir.path()), Prefs::default());
        let mut prefs = Prefs {
            host_port: Some(7311),
            ..Prefs::default()
        };
        prefs
            .hotkeys
            .insert("toggle_mute".into(), "Ctrl+Alt+M".into());
        prefs.save(dir.path()).unwrap();
        let back = Prefs::load(dir.path());
        assert_eq!(back, prefs);
        assert_eq!(back.hotkey(HotkeyAction::ToggleMute), "Ctrl+Alt+M");
        assert_eq!(back.hotkey(HotkeyAction::ToggleHand), "Ctrl+Shift+H");
    }

    #[test]
    fn a_damaged_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prefs.json"), "{ not json").unwrap();
        assert_eq!(Prefs::load(dir.path()), Prefs::default());
        assert!(dir.path().join("prefs.json.bad").exists());
    }
}
