//! The `type` name of every message, in one place.
//!
//! Decoding needs the list of known names to tell an unknown `type` (answered with
//! `unknown_message`, connection kept) from a malformed known one; servers use
//! `type_name` to count requests by kind. Tests check both against serde's own names.

use super::{ClientRequest, Event, Reply};

impl ClientRequest {
    /// Every `type` this build knows, as serde names them.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "register",
        "authenticate",
        "link_device",
        "approve_device",
        "revoke_device",
        "list_devices",
        "list_user_devices",
        "create_invite",
        "get_profile",
        "update_profile",
        "create_room",
        "list_rooms",
        "invite_to_room",
        "join_room",
        "leave_room",
        "end_room",
        "get_snapshot",
        "raise_hand",
        "lower_hand",
        "invite_to_speak",
        "accept_speak_invite",
        "decline_speak_invite",
        "move_to_audience",
        "set_role",
        "set_muted",
        "moderator_mute",
        "moderator_unmute",
        "remove_member",
        "ban_member",
        "publish_key_packages",
        "claim_key_packages",
        "mls_send",
        "mls_ack",
        "mls_fetch",
        "ping",
    ];

    /// This message's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientRequest::Hello { .. } => "hello",
            ClientRequest::Register { .. } => "register",
            ClientRequest::Authenticate { .. } => "authenticate",
            ClientRequest::LinkDevice { .. } => "link_device",
            ClientRequest::ApproveDevice { .. } => "approve_device",
            ClientRequest::RevokeDevice { .. } => "revoke_device",
            ClientRequest::ListDevices => "list_devices",
            ClientRequest::ListUserDevices { .. } => "list_user_devices",
            ClientRequest::CreateInvite { .. } => "create_invite",
            ClientRequest::GetProfile { .. } => "get_profile",
            ClientRequest::UpdateProfile { .. } => "update_profile",
            ClientRequest::CreateRoom { .. } => "create_room",
            ClientRequest::ListRooms { .. } => "list_rooms",
            ClientRequest::InviteToRoom { .. } => "invite_to_room",
            ClientRequest::JoinRoom { .. } => "join_room",
            ClientRequest::LeaveRoom { .. } => "leave_room",
            ClientRequest::EndRoom { .. } => "end_room",
            ClientRequest::GetSnapshot { .. } => "get_snapshot",
            ClientRequest::RaiseHand { .. } => "raise_hand",
            ClientRequest::LowerHand { .. } => "lower_hand",
            ClientRequest::InviteToSpeak { .. } => "invite_to_speak",
            ClientRequest::AcceptSpeakInvite { .. } => "accept_speak_invite",
            ClientRequest::DeclineSpeakInvite { .. } => "decline_speak_invite",
            ClientRequest::MoveToAudience { .. } => "move_to_audience",
            ClientRequest::SetRole { .. } => "set_role",
            ClientRequest::SetMuted { .. } => "set_muted",
            ClientRequest::ModeratorMute { .. } => "moderator_mute",
            ClientRequest::ModeratorUnmute { .. } => "moderator_unmute",
            ClientRequest::RemoveMember { .. } => "remove_member",
            ClientRequest::BanMember { .. } => "ban_member",
            ClientRequest::PublishKeyPackages { .. } => "publish_key_packages",
            ClientRequest::ClaimKeyPackages { .. } => "claim_key_packages",
            ClientRequest::MlsSend { .. } => "mls_send",
            ClientRequest::MlsAck { .. } => "mls_ack",
            ClientRequest::MlsFetch { .. } => "mls_fetch",
            ClientRequest::Ping => "ping",
        }
    }
}

impl Reply {
    /// Every `type` this build knows, as serde names them.
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "authenticated",
        "devices",
        "invite_created",
        "profile",
        "room_created",
        "room_list",
        "joined",
        "snapshot",
        "key_packages_published",
        "key_packages_claimed",
        "mls_accepted",
        "mls_batch",
        "ok",
        "pong",
        "error",
    ];

    /// This message's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Reply::Welcome { .. } => "welcome",
            Reply::Authenticated { .. } => "authenticated",
            Reply::Devices { .. } => "devices",
            Reply::InviteCreated { .. } => "invite_created",
            Reply::Profile { .. } => "profile",
            Reply::RoomCreated { .. } => "room_created",
            Reply::RoomList { .. } => "room_list",
            Reply::Joined { .. } => "joined",
            Reply::Snapshot { .. } => "snapshot",
            Reply::KeyPackagesPublished { .. } => "key_packages_published",
            Reply::KeyPackagesClaimed { .. } => "key_packages_claimed",
            Reply::MlsAccepted { .. } => "mls_accepted",
            Reply::MlsBatch { .. } => "mls_batch",
            Reply::Ok => "ok",
            Reply::Pong => "pong",
            Reply::Error(_) => "error",
        }
    }
}

impl Event {
    /// Every `type` this build knows, as serde names them.
    pub const TYPES: &'static [&'static str] = &[
        "room_delta",
        "speaking_levels",
        "invited_to_speak",
        "speak_invite_declined",
        "room_invitation",
        "removed_from_room",
        "room_ended",
        "device_link_requested",
        "key_packages_low",
        "mls_message",
        "shutting_down",
    ];

    /// This message's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::RoomDelta { .. } => "room_delta",
            Event::SpeakingLevels { .. } => "speaking_levels",
            Event::InvitedToSpeak { .. } => "invited_to_speak",
            Event::SpeakInviteDeclined { .. } => "speak_invite_declined",
            Event::RoomInvitation { .. } => "room_invitation",
            Event::RemovedFromRoom { .. } => "removed_from_room",
            Event::RoomEnded { .. } => "room_ended",
            Event::DeviceLinkRequested { .. } => "device_link_requested",
            Event::KeyPackagesLow { .. } => "key_packages_low",
            Event::MlsMessage(_) => "mls_message",
            Event::ShuttingDown { .. } => "shutting_down",
        }
    }
}
