//! Ctrl-C and SIGTERM, caught once at start-up.
//!
//! The commands wait in several places (for an invitation, while speaking, while
//! recording). A signal handler created anew for each wait could miss a signal that
//! arrives between two of them, and the process would never stop. So one task catches
//! the signals from the start and raises a flag that every wait checks; a second
//! signal stops the process at once.

use std::sync::OnceLock;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

static INTERRUPTED: OnceLock<watch::Receiver<bool>> = OnceLock::new();

/// Starts catching SIGINT and SIGTERM. Call once, inside the runtime.
pub(crate) fn catch() -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let (raise, flag) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = raise.send(true);
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        std::process::exit(130);
    });
    let _ = INTERRUPTED.set(flag);
    Ok(())
}

/// Resolves once a signal has arrived (at once if one already has).
pub(crate) async fn interrupted() {
    match INTERRUPTED.get() {
        Some(flag) => {
            let mut flag = flag.clone();
            let _ = flag.wait_for(|raised| *raised).await;
        }
        None => std::future::pending().await,
    }
}
