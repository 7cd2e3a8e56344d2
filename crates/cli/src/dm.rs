//! `salon-cli dm send HANDLE TEXT` and `salon-cli dm read HANDLE [--wait-seconds N]`:
//! end-to-end encrypted private messages from scripts and bots.
//!
//! `read` prints the messages from others not read yet, oldest first, one
//! `HANDLE: TEXT` line each, then marks them read, so each message is printed once
//! across runs; with `--wait-seconds N` it waits up to N seconds for one to arrive.

use std::time::Duration;

use anyhow::{Result, anyhow};
use salon_client::{ClientHandle, DirectMessages};

use crate::DmCommand;

/// How often `read --wait-seconds` looks again.
const POLL: Duration = Duration::from_millis(100);

pub(crate) async fn run(client: &ClientHandle, command: &DmCommand) -> Result<()> {
    let dm = DirectMessages::start(client)
        .await
        .map_err(crate::commands::describe)?;
    match command {
        DmCommand::Send { handle, text } => {
            let conversation = dm.open(handle).await.map_err(crate::commands::describe)?;
            dm.send(&conversation.id, text)
                .await
                .map_err(crate::commands::describe)?;
            Ok(())
        }
        DmCommand::Read {
            handle,
            wait_seconds,
        } => read(&dm, handle, Duration::from_secs(wait_seconds.unwrap_or(0))).await,
    }
}

async fn read(dm: &DirectMessages, handle: &str, wait: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(conversation) = dm.find(handle).await.map_err(crate::commands::describe)? {
            if conversation.unread > 0 || tokio::time::Instant::now() >= deadline {
                let history = dm
                    .history(&conversation.id)
                    .await
                    .map_err(crate::commands::describe)?;
                let from_others: Vec<_> = history.iter().filter(|m| !m.mine && !m.notice).collect();
                let unread = (conversation.unread as usize).min(from_others.len());
                for message in &from_others[from_others.len() - unread..] {
                    println!("{}: {}", message.sender, message.text);
                }
                dm.mark_read(&conversation.id)
                    .await
                    .map_err(crate::commands::describe)?;
                return Ok(());
            }
        } else if tokio::time::Instant::now() >= deadline {
            if wait.is_zero() {
                return Err(anyhow!("no conversation with {handle} yet"));
            }
            return Err(anyhow!(
                "no conversation with {handle} within {} s",
                wait.as_secs()
            ));
        }
        tokio::select! {
            () = crate::interrupt::interrupted() => return Ok(()),
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
