//! One sample of every message, shared by the round-trip and snapshot tests.
//!
//! The samples are looked up by `type` name from each enum's `TYPES` list, so a message
//! added to the protocol without a sample here fails the tests instead of going untested.

#![allow(dead_code, unreachable_pub)]

use salon_proto::mls::{DeviceKeyPackage, MlsDelivery, MlsKind};
use salon_proto::room::{
    EndReason, Member, Role, RoomChange, RoomSnapshot, RoomSummary, SpeakerLevel, Visibility,
};
use salon_proto::{
    Blob, ClientRequest, DeviceId, DeviceInfo, ErrorBody, ErrorCode, Event, Handle, MessageId,
    Nonce, PublicKey, Reply, RoomId, Signature, StreamId, UserId,
};

pub fn user(n: u8) -> UserId {
    UserId::from_bytes([n; 16])
}
pub fn device(n: u8) -> DeviceId {
    DeviceId::from_bytes([n; 16])
}
pub fn room() -> RoomId {
    RoomId::from_bytes(*b"room-id-16-bytes")
}
pub fn handle(text: &str) -> Handle {
    Handle::parse(text).unwrap()
}

fn member(n: u8, name: &str, role: Role) -> Member {
    Member {
        user: user(n),
        handle: handle(name),
        display_name: format!("{}{}", name[..1].to_uppercase(), &name[1..]),
        role,
        stream: StreamId(u16::from(n)),
        muted: role == Role::Listener,
        muted_by_moderator: false,
        hand_raised: n == 3,
    }
}

pub fn snapshot() -> RoomSnapshot {
    RoomSnapshot {
        room: room(),
        title: "Late night jazz".into(),
        visibility: Visibility::Public,
        version: 12,
        members: vec![
            member(1, "ada", Role::Host),
            member(2, "bob", Role::Speaker),
            member(3, "cleo", Role::Listener),
        ],
        hand_queue: vec![user(3)],
    }
}

fn delivery() -> MlsDelivery {
    MlsDelivery {
        seq: 41,
        group: Blob(b"group-1".to_vec()),
        sender: user(1),
        sender_device: device(1),
        kind: MlsKind::Application,
        epoch: 3,
        payload: Blob(vec![0x00, 0x01, 0xfe, 0xff]),
        sent_at_ms: 1_790_000_000_000,
    }
}

pub fn client_sample(type_name: &str) -> ClientRequest {
    let key = PublicKey([0x11; 32]);
    let signature = Signature([0x22; 64]);
    match type_name {
        "hello" => ClientRequest::Hello {
            version: 1,
            client: "salon-cli/0.1.0".into(),
        },
        "register" => ClientRequest::Register {
            handle: handle("ada"),
            display_name: "Ada".into(),
            device_key: key,
            invite: Some("k7p2-9wqx".into()),
            signature,
        },
        "authenticate" => ClientRequest::Authenticate {
            handle: handle("ada"),
            device_key: key,
            signature,
        },
        "link_device" => ClientRequest::LinkDevice {
            handle: handle("ada"),
            device_key: key,
            signature,
        },
        "approve_device" => ClientRequest::ApproveDevice { device_key: key },
        "revoke_device" => ClientRequest::RevokeDevice { device: device(2) },
        "list_devices" => ClientRequest::ListDevices,
        "list_user_devices" => ClientRequest::ListUserDevices { user: user(2) },
        "create_invite" => ClientRequest::CreateInvite { uses: 5 },
        "get_profile" => ClientRequest::GetProfile {
            handle: handle("bob"),
        },
        "update_profile" => ClientRequest::UpdateProfile {
            display_name: "Ada L.".into(),
        },
        "create_room" => ClientRequest::CreateRoom {
            title: "Late night jazz".into(),
            visibility: Visibility::Unlisted,
        },
        "list_rooms" => ClientRequest::ListRooms { limit: Some(50) },
        "invite_to_room" => ClientRequest::InviteToRoom {
            room: room(),
            user: user(2),
        },
        "join_room" => ClientRequest::JoinRoom { room: room() },
        "leave_room" => ClientRequest::LeaveRoom { room: room() },
        "end_room" => ClientRequest::EndRoom { room: room() },
        "get_snapshot" => ClientRequest::GetSnapshot { room: room() },
        "raise_hand" => ClientRequest::RaiseHand { room: room() },
        "lower_hand" => ClientRequest::LowerHand { room: room() },
        "invite_to_speak" => ClientRequest::InviteToSpeak {
            room: room(),
            user: user(3),
        },
        "accept_speak_invite" => ClientRequest::AcceptSpeakInvite { room: room() },
        "decline_speak_invite" => ClientRequest::DeclineSpeakInvite { room: room() },
        "move_to_audience" => ClientRequest::MoveToAudience {
            room: room(),
            user: user(2),
        },
        "set_role" => ClientRequest::SetRole {
            room: room(),
            user: user(2),
            role: Role::Moderator,
        },
        "set_muted" => ClientRequest::SetMuted {
            room: room(),
            muted: true,
        },
        "moderator_mute" => ClientRequest::ModeratorMute {
            room: room(),
            user: user(2),
        },
        "moderator_unmute" => ClientRequest::ModeratorUnmute {
            room: room(),
            user: user(2),
        },
        "remove_member" => ClientRequest::RemoveMember {
            room: room(),
            user: user(3),
        },
        "ban_member" => ClientRequest::BanMember {
            room: room(),
            user: user(3),
        },
        "publish_key_packages" => ClientRequest::PublishKeyPackages {
            key_packages: vec![Blob(vec![1, 2, 3]), Blob(vec![4, 5, 6])],
            last_resort: Some(Blob(vec![7, 8, 9])),
        },
        "claim_key_packages" => ClientRequest::ClaimKeyPackages { user: user(2) },
        "mls_send" => ClientRequest::MlsSend {
            message_id: MessageId::from_bytes([0x5a; 16]),
            group: Blob(b"group-1".to_vec()),
            kind: MlsKind::Commit,
            epoch: 3,
            recipients: vec![user(1), user(2)],
            payload: Blob(vec![9; 8]),
        },
        "mls_ack" => ClientRequest::MlsAck { seq: 41 },
        "mls_fetch" => ClientRequest::MlsFetch {
            after: 40,
            limit: Some(100),
        },
        "ping" => ClientRequest::Ping,
        other => panic!("no sample for client request type {other:?}: add one"),
    }
}

pub fn reply_sample(type_name: &str) -> Reply {
    match type_name {
        "welcome" => Reply::Welcome {
            version: 1,
            server: "salon-server/0.1.0".into(),
            nonce: Nonce([0x33; 32]),
        },
        "authenticated" => Reply::Authenticated {
            user: user(1),
            device: device(1),
            handle: handle("ada"),
            display_name: "Ada".into(),
        },
        "devices" => Reply::Devices {
            devices: vec![DeviceInfo {
                device: device(1),
                device_key: PublicKey([0x11; 32]),
                added_at_ms: 1_790_000_000_000,
            }],
        },
        "invite_created" => Reply::InviteCreated {
            code: "k7p2-9wqx".into(),
            uses: 5,
        },
        "profile" => Reply::Profile {
            user: user(2),
            handle: handle("bob"),
            display_name: "Bob".into(),
        },
        "room_created" => Reply::RoomCreated { room: room() },
        "room_list" => Reply::RoomList {
            rooms: vec![RoomSummary {
                room: room(),
                title: "Late night jazz".into(),
                speakers: vec!["Ada".into(), "Bob".into()],
                listeners: 1204,
            }],
        },
        "joined" => Reply::Joined {
            snapshot: snapshot(),
            stream: StreamId(3),
        },
        "snapshot" => Reply::Snapshot {
            snapshot: snapshot(),
        },
        "key_packages_published" => Reply::KeyPackagesPublished { stock: 100 },
        "key_packages_claimed" => Reply::KeyPackagesClaimed {
            user: user(2),
            key_packages: vec![DeviceKeyPackage {
                device: device(2),
                key_package: Blob(vec![4, 5]),
            }],
        },
        "mls_accepted" => Reply::MlsAccepted { group_seq: 7 },
        "mls_batch" => Reply::MlsBatch {
            messages: vec![delivery()],
            more: false,
        },
        "ok" => Reply::Ok,
        "pong" => Reply::Pong,
        "error" => Reply::Error(ErrorBody {
            code: ErrorCode::RateLimited,
            message: "Too many profile lookups; try again in a moment.".into(),
            retry_after_ms: Some(1500),
        }),
        other => panic!("no sample for reply type {other:?}: add one"),
    }
}

pub fn event_sample(type_name: &str) -> Event {
    match type_name {
        "room_delta" => Event::RoomDelta {
            room: room(),
            version: 13,
            change: RoomChange::HandRaised { user: user(3) },
        },
        "speaking_levels" => Event::SpeakingLevels {
            room: room(),
            levels: vec![SpeakerLevel {
                stream: StreamId(1),
                level: 24,
                voice: true,
            }],
        },
        "invited_to_speak" => Event::InvitedToSpeak {
            room: room(),
            by: user(1),
        },
        "speak_invite_declined" => Event::SpeakInviteDeclined {
            room: room(),
            user: user(3),
        },
        "room_invitation" => Event::RoomInvitation {
            room: room(),
            title: "Book club".into(),
            by: user(1),
        },
        "removed_from_room" => Event::RemovedFromRoom {
            room: room(),
            banned: true,
        },
        "room_ended" => Event::RoomEnded {
            room: room(),
            reason: EndReason::EndedByHost,
        },
        "device_link_requested" => Event::DeviceLinkRequested {
            device_key: PublicKey([0x44; 32]),
        },
        "key_packages_low" => Event::KeyPackagesLow { stock: 3 },
        "mls_message" => Event::MlsMessage(delivery()),
        "shutting_down" => Event::ShuttingDown {
            reconnect_after_ms: 2000,
        },
        other => panic!("no sample for event type {other:?}: add one"),
    }
}

/// Every kind of room change, for the delta tests.
pub fn room_changes() -> Vec<RoomChange> {
    let snap = snapshot();
    vec![
        RoomChange::MemberJoined {
            member: snap.members[2].clone(),
        },
        RoomChange::MemberLeft { user: user(3) },
        RoomChange::RoleChanged {
            user: user(3),
            role: Role::Speaker,
        },
        RoomChange::MuteChanged {
            user: user(2),
            muted: true,
            muted_by_moderator: true,
        },
        RoomChange::HandRaised { user: user(3) },
        RoomChange::HandLowered { user: user(3) },
    ]
}
