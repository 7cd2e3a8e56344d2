//! A typed method for every request of the protocol, so callers never build a
//! `ClientRequest` or match a `Reply` by hand.
//!
//! Room and stage actions act on the room this client is in (one room per connection,
//! as on the server) and fail with [`ClientError::NotInRoom`] before sending when there
//! is none. Every method answers [`ClientError::Server`] with the server's code when the
//! server refuses.

use salon_proto::mls::{DeviceKeyPackage, GroupId, MlsDelivery, MlsKind};
use salon_proto::room::{Role, RoomSummary, Visibility};
use salon_proto::{
    Blob, ClientRequest, DeviceId, DeviceInfo, Handle, MessageId, PublicKey, Reply, RoomId, UserId,
};

use crate::room::RoomView;
use crate::{ClientError, ClientHandle, Result};

/// Someone found by their exact handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The account.
    pub user: UserId,
    /// The handle.
    pub handle: Handle,
    /// The display name.
    pub display_name: String,
}

/// One page of the MLS mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsBatch {
    /// Messages in mailbox order.
    pub messages: Vec<MlsDelivery>,
    /// Whether more are waiting after the last one.
    pub more: bool,
}

fn unexpected(request: &'static str, reply: Reply) -> ClientError {
    ClientError::UnexpectedReply {
        request,
        reply: format!("{reply:?}"),
    }
}

impl ClientHandle {
    /// Sends a request that answers `ok`.
    async fn ok(&self, name: &'static str, request: ClientRequest) -> Result<()> {
        match self.request(request).await? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(name, other)),
        }
    }

    fn current_room(&self) -> Result<RoomId> {
        self.room()
            .map(|view| view.room())
            .ok_or(ClientError::NotInRoom)
    }

    // ---- rooms -------------------------------------------------------------------

    /// Creates a room with this client as host (it still has to join it).
    pub async fn create_room(&self, title: &str, visibility: Visibility) -> Result<RoomId> {
        let request = ClientRequest::CreateRoom {
            title: title.to_owned(),
            visibility,
        };
        match self.request(request).await? {
            Reply::RoomCreated { room } => Ok(room),
            other => Err(unexpected("create_room", other)),
        }
    }

    /// Public rooms, busiest first (at most `limit`, capped by the server).
    pub async fn list_rooms(&self, limit: Option<u16>) -> Result<Vec<RoomSummary>> {
        match self.request(ClientRequest::ListRooms { limit }).await? {
            Reply::RoomList { rooms } => Ok(rooms),
            other => Err(unexpected("list_rooms", other)),
        }
    }

    /// Enters a room (leaving the current one); answers the room as joined.
    pub async fn join_room(&self, room: RoomId) -> Result<RoomView> {
        match self.request(ClientRequest::JoinRoom { room }).await? {
            Reply::Joined { .. } => self.room().ok_or(ClientError::NotInRoom),
            other => Err(unexpected("join_room", other)),
        }
    }

    /// Leaves the current room.
    pub async fn leave_room(&self) -> Result<()> {
        let room = self.current_room()?;
        self.ok("leave_room", ClientRequest::LeaveRoom { room })
            .await
    }

    /// Ends the current room for everyone (host only).
    pub async fn end_room(&self) -> Result<()> {
        let room = self.current_room()?;
        self.ok("end_room", ClientRequest::EndRoom { room }).await
    }

    /// Asks for a fresh snapshot of the current room (done by itself after a skipped
    /// version); answers the room as it is now.
    pub async fn refresh_room(&self) -> Result<RoomView> {
        let room = self.current_room()?;
        match self.request(ClientRequest::GetSnapshot { room }).await? {
            Reply::Snapshot { .. } => self.room().ok_or(ClientError::NotInRoom),
            other => Err(unexpected("get_snapshot", other)),
        }
    }

    /// Invites someone into the current (private) room (host and moderators).
    pub async fn invite_to_room(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok("invite_to_room", ClientRequest::InviteToRoom { room, user })
            .await
    }

    // ---- the stage ---------------------------------------------------------------

    /// Raises this client's hand (listeners).
    pub async fn raise_hand(&self) -> Result<()> {
        let room = self.current_room()?;
        self.ok("raise_hand", ClientRequest::RaiseHand { room })
            .await
    }

    /// Lowers this client's hand.
    pub async fn lower_hand(&self) -> Result<()> {
        let room = self.current_room()?;
        self.ok("lower_hand", ClientRequest::LowerHand { room })
            .await
    }

    /// Invites a member to the stage (host and moderators).
    pub async fn invite_to_speak(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok(
            "invite_to_speak",
            ClientRequest::InviteToSpeak { room, user },
        )
        .await
    }

    /// Accepts an invitation to speak: this client becomes an unmuted speaker.
    pub async fn accept_speak_invite(&self) -> Result<()> {
        let room = self.current_room()?;
        self.ok(
            "accept_speak_invite",
            ClientRequest::AcceptSpeakInvite { room },
        )
        .await
    }

    /// Declines an invitation to speak.
    pub async fn decline_speak_invite(&self) -> Result<()> {
        let room = self.current_room()?;
        self.ok(
            "decline_speak_invite",
            ClientRequest::DeclineSpeakInvite { room },
        )
        .await
    }

    /// Moves someone (or oneself) from the stage to the audience.
    pub async fn move_to_audience(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok(
            "move_to_audience",
            ClientRequest::MoveToAudience { room, user },
        )
        .await
    }

    /// Changes a member's role (host only): make or unmake a moderator, or hand the
    /// room over with [`Role::Host`].
    pub async fn set_role(&self, user: UserId, role: Role) -> Result<()> {
        let room = self.current_room()?;
        self.ok("set_role", ClientRequest::SetRole { room, user, role })
            .await
    }

    /// Mutes or unmutes this client. Muting takes effect on the server at once.
    pub async fn set_muted(&self, muted: bool) -> Result<()> {
        let room = self.current_room()?;
        self.ok("set_muted", ClientRequest::SetMuted { room, muted })
            .await
    }

    /// Mutes a speaker; they cannot unmute until lifted (host and moderators).
    pub async fn moderator_mute(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok(
            "moderator_mute",
            ClientRequest::ModeratorMute { room, user },
        )
        .await
    }

    /// Lifts a moderator mute (host and moderators).
    pub async fn moderator_unmute(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok(
            "moderator_unmute",
            ClientRequest::ModeratorUnmute { room, user },
        )
        .await
    }

    /// Removes someone from the room; they may come back (host and moderators).
    pub async fn remove_member(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok("remove_member", ClientRequest::RemoveMember { room, user })
            .await
    }

    /// Removes someone and keeps them out of this room (host and moderators).
    pub async fn ban_member(&self, user: UserId) -> Result<()> {
        let room = self.current_room()?;
        self.ok("ban_member", ClientRequest::BanMember { room, user })
            .await
    }

    // ---- accounts, devices, profiles ---------------------------------------------

    /// Looks someone up by exact handle (rate-limited by the server).
    pub async fn get_profile(&self, handle: &str) -> Result<Profile> {
        let handle = Handle::parse(handle)
            .map_err(|err| ClientError::InvalidArgument(format!("handle {handle:?}: {err}")))?;
        match self.request(ClientRequest::GetProfile { handle }).await? {
            Reply::Profile {
                user,
                handle,
                display_name,
            } => Ok(Profile {
                user,
                handle,
                display_name,
            }),
            other => Err(unexpected("get_profile", other)),
        }
    }

    /// Changes this account's display name.
    pub async fn update_profile(&self, display_name: &str) -> Result<()> {
        let request = ClientRequest::UpdateProfile {
            display_name: display_name.to_owned(),
        };
        self.ok("update_profile", request).await
    }

    /// The devices of this account.
    pub async fn list_devices(&self) -> Result<Vec<DeviceInfo>> {
        match self.request(ClientRequest::ListDevices).await? {
            Reply::Devices { devices } => Ok(devices),
            other => Err(unexpected("list_devices", other)),
        }
    }

    /// Approves a new device that asked to be linked
    /// ([`ClientEvent::DeviceLinkRequested`](crate::ClientEvent::DeviceLinkRequested)).
    pub async fn approve_device(&self, device_key: PublicKey) -> Result<()> {
        self.ok(
            "approve_device",
            ClientRequest::ApproveDevice { device_key },
        )
        .await
    }

    /// Removes a device from this account.
    pub async fn revoke_device(&self, device: DeviceId) -> Result<()> {
        self.ok("revoke_device", ClientRequest::RevokeDevice { device })
            .await
    }

    /// Creates an invite code allowing `uses` registrations; answers the code.
    pub async fn create_invite(&self, uses: u32) -> Result<String> {
        match self.request(ClientRequest::CreateInvite { uses }).await? {
            Reply::InviteCreated { code, .. } => Ok(code),
            other => Err(unexpected("create_invite", other)),
        }
    }

    /// Measures the round trip to the server.
    pub async fn ping(&self) -> Result<std::time::Duration> {
        let start = std::time::Instant::now();
        match self.request(ClientRequest::Ping).await? {
            Reply::Pong => Ok(start.elapsed()),
            other => Err(unexpected("ping", other)),
        }
    }

    // ---- MLS delivery (for the end-to-end encryption layer) -----------------------

    /// Publishes this device's MLS key packages; answers the stock now on the server.
    pub async fn publish_key_packages(
        &self,
        key_packages: Vec<Blob>,
        last_resort: Option<Blob>,
    ) -> Result<u32> {
        let request = ClientRequest::PublishKeyPackages {
            key_packages,
            last_resort,
        };
        match self.request(request).await? {
            Reply::KeyPackagesPublished { stock } => Ok(stock),
            other => Err(unexpected("publish_key_packages", other)),
        }
    }

    /// Claims one key package for every device of `user`.
    pub async fn claim_key_packages(&self, user: UserId) -> Result<Vec<DeviceKeyPackage>> {
        match self
            .request(ClientRequest::ClaimKeyPackages { user })
            .await?
        {
            Reply::KeyPackagesClaimed { key_packages, .. } => Ok(key_packages),
            other => Err(unexpected("claim_key_packages", other)),
        }
    }

    /// Sends an MLS message to every device of `recipients`; answers its group-wide
    /// order. Resending with the same `message_id` is safe.
    pub async fn mls_send(
        &self,
        message_id: MessageId,
        group: GroupId,
        kind: MlsKind,
        epoch: u64,
        recipients: Vec<UserId>,
        payload: Blob,
    ) -> Result<u64> {
        let request = ClientRequest::MlsSend {
            message_id,
            group,
            kind,
            epoch,
            recipients,
            payload,
        };
        match self.request(request).await? {
            Reply::MlsAccepted { group_seq } => Ok(group_seq),
            other => Err(unexpected("mls_send", other)),
        }
    }

    /// Acknowledges every mailbox message up to `seq`: the server deletes them, and
    /// delivery resumes after `seq` on later connections (remembered locally).
    pub async fn mls_ack(&self, seq: u64) -> Result<()> {
        self.ok("mls_ack", ClientRequest::MlsAck { seq }).await
    }

    /// Fetches mailbox messages after `after` by hand (the client already does so after
    /// every login and delivers them as events).
    pub async fn mls_fetch(&self, after: u64, limit: Option<u16>) -> Result<MlsBatch> {
        match self
            .request(ClientRequest::MlsFetch { after, limit })
            .await?
        {
            Reply::MlsBatch { messages, more } => Ok(MlsBatch { messages, more }),
            other => Err(unexpected("mls_fetch", other)),
        }
    }
}
