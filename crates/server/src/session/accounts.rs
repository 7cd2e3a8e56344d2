//! Requests about accounts: registering and logging in (before login), then devices,
//! invites and profiles.

use std::sync::Arc;

use rand::rngs::OsRng;
use rand::seq::SliceRandom as _;
use salon_proto::auth::Purpose;
use salon_proto::{ClientRequest, DeviceId, ErrorCode, Event, Handle, Nonce, Reply, UserId};

use super::{Outcome, Phase, Session, fail, fell_through, internal, random_16, retry_ms};
use crate::config::Registration;
use crate::hub::Peer;
use crate::rooms::Target;
use crate::store::StoreError;
use crate::verify::verify;

impl Session {
    /// Answers a request before login.
    pub(super) async fn anonymous(&mut self, nonce: Nonce, request: ClientRequest) -> Outcome {
        match request {
            ClientRequest::Register {
                handle,
                display_name,
                device_key,
                invite,
                signature,
            } => {
                verify(Purpose::Register, &nonce, &handle, &device_key, &signature)?;
                let name = salon_proto::limits::display_name(&display_name)
                    .map_err(|e| fail(ErrorCode::InvalidArgument, format!("display name {e}")))?
                    .to_owned();
                // The first account of an invite-only server needs no code: nobody
                // could have made one yet.
                let needs_invite =
                    self.hub.config.registration == Registration::Invite && invite.is_none();
                if needs_invite && self.hub.store.has_accounts().await.map_err(internal)? {
                    return Err(fail(
                        ErrorCode::InviteRequired,
                        "this server registers by invitation; ask a member for a code",
                    ));
                }
                let user = UserId::from_bytes(random_16());
                let device = DeviceId::from_bytes(random_16());
                let account = self
                    .hub
                    .store
                    .register(user, device, &handle, &name, &device_key, invite.as_deref())
                    .await
                    .map_err(|err| match err {
                        StoreError::HandleTaken => fail(
                            ErrorCode::HandleTaken,
                            format!("@{handle} is taken; choose another handle"),
                        ),
                        StoreError::KeyTaken => fail(
                            ErrorCode::InvalidArgument,
                            "this device key already belongs to an account",
                        ),
                        StoreError::InvalidInvite => fail(
                            ErrorCode::InvalidInvite,
                            "that invite code is unknown or used up",
                        ),
                        other => internal(other),
                    })?;
                Ok(self.log_in(account.user, device, account.handle, account.display_name))
            }
            ClientRequest::Authenticate {
                handle,
                device_key,
                signature,
            } => {
                let denied = || {
                    fail(
                        ErrorCode::AuthenticationFailed,
                        "unknown handle or device, or device not approved",
                    )
                };
                verify(
                    Purpose::Authenticate,
                    &nonce,
                    &handle,
                    &device_key,
                    &signature,
                )?;
                let found = self
                    .hub
                    .store
                    .device_login(&handle, &device_key)
                    .await
                    .map_err(internal)?;
                let (account, device) = found.ok_or_else(denied)?;
                Ok(self.log_in(account.user, device, account.handle, account.display_name))
            }
            ClientRequest::LinkDevice {
                handle,
                device_key,
                signature,
            } => {
                verify(
                    Purpose::LinkDevice,
                    &nonce,
                    &handle,
                    &device_key,
                    &signature,
                )?;
                // The same answer whether or not the handle exists, so this cannot be
                // used to probe for accounts.
                if let Some(account) = self
                    .hub
                    .store
                    .account_by_handle(&handle)
                    .await
                    .map_err(internal)?
                {
                    self.hub
                        .store
                        .request_link(account.user, &device_key)
                        .await
                        .map_err(internal)?;
                    self.after_reply.push((
                        Target::User(account.user),
                        Event::DeviceLinkRequested { device_key },
                    ));
                }
                Ok(Reply::Ok)
            }
            _ => Err(fail(
                ErrorCode::NotAuthenticated,
                "log in or register first",
            )),
        }
    }

    fn log_in(
        &mut self,
        user: UserId,
        device: DeviceId,
        handle: Handle,
        display_name: String,
    ) -> Reply {
        let peer = Arc::new(Peer {
            conn: self.conn,
            user,
            device,
            outbox: self.outbox.clone(),
        });
        self.hub.log_in(peer.clone());
        self.phase = Phase::LoggedIn(peer);
        self.account = Some((handle.clone(), display_name.clone()));
        Reply::Authenticated {
            user,
            device,
            handle,
            display_name,
        }
    }

    /// Answers the account requests of a logged-in device.
    pub(super) async fn account_request(&mut self, peer: &Peer, request: ClientRequest) -> Outcome {
        let hub = self.hub.clone();
        let store = &hub.store;
        match request {
            ClientRequest::ApproveDevice { device_key } => {
                let device = DeviceId::from_bytes(random_16());
                match store.approve_link(peer.user, &device_key, device).await {
                    Ok(Some(_)) => Ok(Reply::Ok),
                    Ok(None) => Err(fail(
                        ErrorCode::InvalidArgument,
                        "no device with this key asked to be linked",
                    )),
                    Err(StoreError::KeyTaken) => Err(fail(
                        ErrorCode::InvalidArgument,
                        "this device key already belongs to an account",
                    )),
                    Err(other) => Err(internal(other)),
                }
            }
            ClientRequest::RevokeDevice { device } => {
                if device == peer.device {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        "a device cannot revoke itself; use another device",
                    ));
                }
                if store
                    .revoke_device(peer.user, device)
                    .await
                    .map_err(internal)?
                {
                    Ok(Reply::Ok)
                } else {
                    Err(fail(
                        ErrorCode::InvalidArgument,
                        "no such device on this account",
                    ))
                }
            }
            ClientRequest::ListDevices => Ok(Reply::Devices {
                devices: store.devices(peer.user).await.map_err(internal)?,
            }),
            ClientRequest::ListUserDevices { user } => Ok(Reply::Devices {
                devices: store.devices(user).await.map_err(internal)?,
            }),
            ClientRequest::CreateInvite { uses } => {
                if !(1..=100).contains(&uses) {
                    return Err(fail(
                        ErrorCode::InvalidArgument,
                        "an invite allows 1 to 100 registrations",
                    ));
                }
                // Unambiguous characters (no 0/o, 1/l/i), drawn without bias: 10 of 31
                // symbols is about 50 bits, far beyond guessing at the request rate.
                const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
                let code: String = (0..10)
                    .map(|_| char::from(*ALPHABET.choose(&mut OsRng).unwrap_or(&b'a')))
                    .collect();
                store
                    .create_invite(peer.user, &code, uses)
                    .await
                    .map_err(internal)?;
                Ok(Reply::InviteCreated { code, uses })
            }
            ClientRequest::GetProfile { handle } => {
                if let Err(wait) = hub.take_lookup(peer.user) {
                    let mut error = fail(
                        ErrorCode::RateLimited,
                        "too many profile lookups; try again shortly",
                    );
                    error.retry_after_ms = Some(retry_ms(wait));
                    return Err(error);
                }
                let account = store.account_by_handle(&handle).await.map_err(internal)?;
                let account = account.ok_or_else(|| {
                    fail(
                        ErrorCode::UserNotFound,
                        format!("nobody has the handle @{handle}"),
                    )
                })?;
                Ok(Reply::Profile {
                    user: account.user,
                    handle: account.handle,
                    display_name: account.display_name,
                })
            }
            ClientRequest::UpdateProfile { display_name } => {
                let name = salon_proto::limits::display_name(&display_name)
                    .map_err(|e| fail(ErrorCode::InvalidArgument, format!("display name {e}")))?;
                store
                    .set_display_name(peer.user, name)
                    .await
                    .map_err(internal)?;
                if let Some((_, current)) = &mut self.account {
                    name.clone_into(current);
                }
                Ok(Reply::Ok)
            }
            other => Err(fell_through(&other)),
        }
    }
}
