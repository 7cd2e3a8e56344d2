//! The start of every connection, before anything else may happen on it: `hello` →
//! `welcome` (the login nonce), then, when this profile has an account on the server,
//! `authenticate` with the nonce signed by the device key.
//!
//! Done in sequence on the raw socket, before the session loop starts, so no user
//! request can overtake the login and a reconnect is either fully logged in or failed.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use salon_proto::auth::Purpose;
use salon_proto::{
    ClientEnvelope, ClientRequest, Handle, Nonce, PROTOCOL_VERSION, Reply, RequestId, ServerMessage,
};
use tokio_tungstenite::tungstenite::Message;

use super::transport::Transport;
use crate::keys::DeviceKey;
use crate::store::Account;
use crate::{ClientError, Result};

/// Sends `hello` and waits for `welcome`; answers the login nonce.
pub(crate) async fn hello(
    transport: &mut Transport,
    client_name: &str,
    id: RequestId,
    timeout: Duration,
) -> Result<Nonce> {
    let request = ClientRequest::Hello {
        version: PROTOCOL_VERSION,
        client: client_name.to_owned(),
    };
    match call(transport, id, request, timeout).await? {
        Reply::Welcome { nonce, .. } => Ok(nonce),
        other => Err(unexpected("hello", &other)),
    }
}

/// The signed login request (`register`, `authenticate` or `link_device`) for `nonce`.
pub(crate) fn login_request(
    key: &DeviceKey,
    nonce: &Nonce,
    purpose: Purpose,
    handle: Handle,
    display_name: Option<String>,
    invite: Option<String>,
) -> ClientRequest {
    let signature = key.sign(purpose, nonce, &handle);
    let device_key = key.public_key();
    match purpose {
        Purpose::Register => ClientRequest::Register {
            handle,
            display_name: display_name.unwrap_or_default(),
            device_key,
            invite,
            signature,
        },
        Purpose::Authenticate => ClientRequest::Authenticate {
            handle,
            device_key,
            signature,
        },
        Purpose::LinkDevice => ClientRequest::LinkDevice {
            handle,
            device_key,
            signature,
        },
    }
}

/// The account an `authenticated` reply names.
pub(crate) fn account_of(reply: &Reply) -> Option<Account> {
    match reply {
        Reply::Authenticated {
            user,
            device,
            handle,
            display_name,
        } => Some(Account {
            handle: handle.clone(),
            user: *user,
            device: *device,
            display_name: display_name.clone(),
        }),
        _ => None,
    }
}

/// Logs in as `handle` (an existing, approved device).
pub(crate) async fn authenticate(
    transport: &mut Transport,
    key: &DeviceKey,
    nonce: &Nonce,
    handle: &Handle,
    id: RequestId,
    timeout: Duration,
) -> Result<Account> {
    let request = login_request(
        key,
        nonce,
        Purpose::Authenticate,
        handle.clone(),
        None,
        None,
    );
    let reply = call(transport, id, request, timeout).await?;
    account_of(&reply).ok_or_else(|| unexpected("authenticate", &reply))
}

fn unexpected(request: &'static str, reply: &Reply) -> ClientError {
    match reply {
        Reply::Error(body) => body.clone().into(),
        other => ClientError::UnexpectedReply {
            request,
            reply: format!("{other:?}"),
        },
    }
}

/// Sends one request and reads until its reply. Events before it are skipped: nothing
/// the server pushes before login concerns this client yet.
async fn call(
    transport: &mut Transport,
    id: RequestId,
    request: ClientRequest,
    timeout: Duration,
) -> Result<Reply> {
    if !transport.send(&ClientEnvelope::new(id, request)) {
        return Err(ClientError::ConnectionLost);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(left, transport.incoming.next()).await {
            Err(_) => return Err(ClientError::Timeout(timeout)),
            Ok(None) => return Err(ClientError::ConnectionLost),
            Ok(Some(Err(err))) => {
                return Err(ClientError::Closed {
                    code: None,
                    reason: err.to_string(),
                });
            }
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                if let Ok(ServerMessage::Reply(reply)) = ServerMessage::from_json(text.as_str())
                    && reply.re == Some(id)
                {
                    return match reply.reply {
                        Reply::Error(body) => Err(body.into()),
                        reply => Ok(reply),
                    };
                }
            }
            Message::Close(frame) => {
                return Err(ClientError::Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
}
