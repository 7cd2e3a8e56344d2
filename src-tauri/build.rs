//! Build script: Tauri's code generation (config, capabilities, icons, the UI's assets),
//! with the app's commands declared so each needs a permission the capability grants.
//!
//! The webview's assets come from `ui/dist`, which `npm run build` in `ui/` produces
//! (`cargo xtask run` and `cargo xtask test` do that first). A plain `cargo build` or
//! `cargo clippy` on a fresh clone has no `ui/dist` yet; rather than fail, a one-page
//! placeholder telling how to build the UI is written there.

use std::path::Path;

/// Every command the UI may invoke: the same list as `invoke_handler` in `lib.rs`.
const COMMANDS: &[&str] = &[
    "app_state",
    "host_locally",
    "use_server",
    "create_account",
    "list_rooms",
    "create_room",
    "join_room",
    "leave_room",
    "end_room",
    "set_muted",
    "raise_hand",
    "lower_hand",
    "accept_speak_invite",
    "decline_speak_invite",
    "invite_to_speak",
    "move_to_audience",
    "set_role",
    "moderator_mute",
    "moderator_unmute",
    "remove_member",
    "ban_member",
    "set_volume",
    "get_settings",
    "set_hotkey",
    "list_devices",
    "set_devices",
    "set_language",
    "dm_list",
    "dm_open",
    "dm_history",
    "dm_send",
    "dm_mark_read",
    "dm_safety_number",
    "dm_verify",
];

const PLACEHOLDER: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Salon</title></head><body><h1>Salon</h1><p>The web UI is not built. Run \
<code>npm install &amp;&amp; npm run build</code> in <code>ui/</code>, or \
<code>cargo xtask run</code>, which does it.</p></body></html>\n";

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(&dist).expect("cannot create ui/dist");
        std::fs::write(dist.join("index.html"), PLACEHOLDER)
            .expect("cannot write the placeholder ui/dist/index.html");
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
