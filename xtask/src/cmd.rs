//! Running one command in the foreground with its output on the terminal, and errors
//! that name the command, so every step's failure says what failed and how.

use std::process::{Command, ExitStatus};

use anyhow::{Context as _, bail};

use crate::interrupt;

/// A short human-readable form of `command`, e.g. `cargo fmt --all --check`.
pub(crate) fn describe(command: &Command) -> String {
    let program = std::path::Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(command.get_args().map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.contains(' ') {
                format!("'{arg}'")
            } else {
                arg.into_owned()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` in the foreground and returns how it ended (also when interrupted:
/// an interrupt is passed on to it, see `interrupt`).
pub(crate) fn status(command: &mut Command) -> anyhow::Result<ExitStatus> {
    let described = describe(command);
    let child = interrupt::spawn_foreground(command)
        .with_context(|| format!("could not start `{described}`"))?;
    child
        .wait()
        .with_context(|| format!("could not wait for `{described}`"))
}

/// Runs `command` in the foreground; an error if it does not succeed or the run was
/// interrupted meanwhile.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = status(command)?;
    interrupt::check()?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(command));
    }
    Ok(())
}
