//! The connection task: one long-lived tokio task per client that owns the WebSocket,
//! runs the session on it, and reconnects when it drops.
//!
//! ```text
//! establish (connect → hello → authenticate) ─► session (requests, events, audio) ─┐
//!        ▲                                                                          │ dropped
//!        └──── Reconnecting { attempt, next_in }: backoff with jitter ◄─────────────┘
//! ```
//!
//! A drop is followed by retries until one gets through; the session then rejoins the
//! room and resumes MLS delivery. It stops for good only when told to (shutdown, or
//! every handle dropped), when the server ends the device's session (close 4004), or
//! when logging in again is refused (the device was revoked): those are
//! [`ConnectionState::Offline`]. While no session runs, requests fail at once with
//! [`ClientError::NotConnected`] rather than waiting for an unknown time.

mod handshake;
mod levels;
mod mls;
mod session;
mod transport;

use std::sync::Arc;
use std::time::{Duration, Instant};

use salon_proto::auth::Purpose;
use salon_proto::{ClientRequest, ErrorCode, Handle, Nonce, Reply, close};
use tokio::sync::{mpsc, oneshot};

pub(crate) use mls::MlsInbox;
pub(crate) use transport::normalize_url;

use crate::shared::Shared;
use crate::store::Account;
use crate::{ClientError, ConnectionState, OfflineReason, Result};
use session::{Session, SessionEnd};
use transport::Transport;

/// A connection that lasted this long starts the backoff sequence afresh when it drops.
const STABLE: Duration = Duration::from_secs(5);

/// What the handle asks of the connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a request; answer its reply.
    Request {
        request: ClientRequest,
        reply: oneshot::Sender<Result<Reply>>,
    },
    /// Sign and send `register`, `authenticate` or `link_device` with this connection's
    /// nonce.
    Login {
        purpose: Purpose,
        handle: Handle,
        display_name: Option<String>,
        invite: Option<String>,
        reply: oneshot::Sender<Result<Reply>>,
    },
    /// Close the connection and stop.
    Shutdown { done: oneshot::Sender<()> },
}

impl Command {
    /// Answers the command with `err` (no session to carry it out).
    fn refuse(self, err: impl FnOnce() -> ClientError) {
        match self {
            Command::Request { reply, .. } | Command::Login { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Command::Shutdown { done } => {
                let _ = done.send(());
            }
        }
    }
}

/// A connection that said hello and, when this profile has an account, logged in.
#[derive(Debug)]
pub(crate) struct Live {
    transport: Transport,
    nonce: Nonce,
    account: Option<Account>,
    next_id: u32,
}

impl Live {
    /// The account logged in on this connection, if any.
    pub(crate) fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }
}

/// Connects, says hello and logs in with the remembered account, if any.
pub(crate) async fn establish(shared: &Shared) -> Result<Live> {
    let timeout = shared.config.connect_timeout;
    let mut transport = Transport::open(
        &shared.url,
        &shared.config.extra_root_certs,
        timeout,
        shared.audio_out.clone(),
    )
    .await?;
    let nonce = handshake::hello(&mut transport, &shared.config.client_name, 1, timeout).await?;
    let account = match shared.account() {
        Some(account) => Some(
            handshake::authenticate(
                &mut transport,
                &shared.key,
                &nonce,
                &account.handle,
                2,
                timeout,
            )
            .await?,
        ),
        None => None,
    };
    Ok(Live {
        transport,
        nonce,
        account,
        next_id: 3,
    })
}

/// How a failed attempt to (re)connect is handled.
enum Retry {
    /// Try again after the backoff (no sooner than `floor`).
    Later {
        floor: Option<Duration>,
        flooded: bool,
    },
    /// Stop: the server will not take this device back.
    Never(OfflineReason),
}

fn classify(err: ClientError) -> Retry {
    match err {
        ClientError::Server {
            code: code @ (ErrorCode::AuthenticationFailed | ErrorCode::InvalidSignature),
            message,
            ..
        } => Retry::Never(OfflineReason::LoginRefused { code, message }),
        ClientError::Server { retry_after_ms, .. } => Retry::Later {
            floor: retry_after_ms.map(|ms| Duration::from_millis(ms.into())),
            flooded: false,
        },
        ClientError::Closed {
            code: Some(close::SESSION_ENDED),
            reason,
        } => Retry::Never(OfflineReason::SessionEnded { message: reason }),
        ClientError::Closed {
            code: Some(close::FLOOD),
            ..
        } => Retry::Later {
            floor: None,
            flooded: true,
        },
        _ => Retry::Later {
            floor: None,
            flooded: false,
        },
    }
}

/// Runs sessions and reconnects until the client stops.
pub(crate) async fn supervise(
    shared: Arc<Shared>,
    mut live: Live,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut inbox: MlsInbox,
) {
    let mut attempt = 0u32;
    loop {
        let started = Instant::now();
        let end = Session::new(&shared, live, &mut inbox)
            .run(&mut commands)
            .await;
        shared.set_audio_open(false);
        inbox.connection_lost();
        let (mut floor, mut flooded) = match end {
            SessionEnd::Shutdown(done) => {
                stop(&shared, OfflineReason::ShutDown);
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
            SessionEnd::Ended(reason) => {
                stop(&shared, reason);
                return;
            }
            SessionEnd::Dropped { floor, flooded } => (floor, flooded),
        };
        if started.elapsed() >= STABLE {
            attempt = 0;
        }
        live = loop {
            attempt = attempt.saturating_add(1);
            let delay = shared.config.backoff.next_delay(attempt, floor, flooded);
            shared.set_state(ConnectionState::Reconnecting {
                attempt,
                next_in: delay,
            });
            if let Err(done) = idle(&mut commands, tokio::time::sleep(delay)).await {
                stop(&shared, OfflineReason::ShutDown);
                let _ = done.send(());
                return;
            }
            let outcome = match idle(&mut commands, establish(&shared)).await {
                Ok(outcome) => outcome,
                Err(done) => {
                    stop(&shared, OfflineReason::ShutDown);
                    let _ = done.send(());
                    return;
                }
            };
            match outcome {
                Ok(next) => break next,
                Err(err) => {
                    tracing::debug!(%err, attempt, "reconnect attempt failed");
                    match classify(err) {
                        Retry::Never(reason) => {
                            stop(&shared, reason);
                            return;
                        }
                        Retry::Later {
                            floor: next_floor,
                            flooded: next_flooded,
                        } => {
                            floor = next_floor;
                            flooded |= next_flooded;
                        }
                    }
                }
            }
        };
    }
}

fn stop(shared: &Shared, reason: OfflineReason) {
    shared.close_audio();
    shared.set_state(ConnectionState::Offline { reason });
}

/// Awaits `work` while answering commands with [`ClientError::NotConnected`]. Answers
/// `Err(done)` when told to shut down (or every handle is gone) first.
async fn idle<T>(
    commands: &mut mpsc::UnboundedReceiver<Command>,
    work: impl Future<Output = T>,
) -> Result<T, oneshot::Sender<()>> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Ok(out),
            command = commands.recv() => match command {
                Some(Command::Shutdown { done }) => return Err(done),
                Some(other) => other.refuse(|| ClientError::NotConnected),
                None => return Err(oneshot::channel().0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_devices_and_ended_sessions_stop_reconnecting() {
        let refused = ClientError::Server {
            code: ErrorCode::AuthenticationFailed,
            message: "no".into(),
            retry_after_ms: None,
        };
        assert!(matches!(
            classify(refused),
            Retry::Never(OfflineReason::LoginRefused { .. })
        ));
        let ended = ClientError::Closed {
            code: Some(close::SESSION_ENDED),
            reason: "revoked".into(),
        };
        assert!(matches!(
            classify(ended),
            Retry::Never(OfflineReason::SessionEnded { .. })
        ));
        let busy = ClientError::Server {
            code: ErrorCode::ShuttingDown,
            message: "later".into(),
            retry_after_ms: Some(1500),
        };
        assert!(matches!(
            classify(busy),
            Retry::Later { floor: Some(d), flooded: false } if d == Duration::from_millis(1500)
        ));
        let flood = ClientError::Closed {
            code: Some(close::FLOOD),
            reason: String::new(),
        };
        assert!(matches!(
            classify(flood),
            Retry::Later { flooded: true, .. }
        ));
        assert!(matches!(
            classify(ClientError::ConnectionLost),
            Retry::Later { flooded: false, .. }
        ));
    }
}
