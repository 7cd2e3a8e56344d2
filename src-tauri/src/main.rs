//! The `salon` binary: the desktop app. Everything lives in the library (`salon_app`),
//! so tests reach the same code.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    salon_app::run()
}
