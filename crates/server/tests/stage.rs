//! The whole stage flow of a live room through the real server, with three people: a
//! host, a listener who comes on stage, and a listener who stays in the audience.
//!
//! It proves, over real WebSockets: creating, listing and joining a room; raised hands
//! reaching the host in order; a private invitation to speak; accepting it; a speaker's
//! audio reaching everyone else with the stream id of their member entry and otherwise
//! byte for byte; listeners' audio reaching nobody (and being counted at `/metrics`);
//! self-mute and moderator mute cutting audio at once (the first frame after the `ok` is
//! never delivered) and a moderator mute not being liftable by the speaker; moving to
//! the audience; removing (the removed person may come back) and banning (they may not);
//! ending the room for everyone; and that every client sees the room's versions one
//! apart from its snapshot on, with no gap.

mod support;

use salon_proto::frame::{AudioLevel, Flags, FrameHeader};
use salon_proto::room::{EndReason, Role, RoomChange, Visibility};
use salon_proto::{ClientRequest, ErrorCode, Event, Reply, RoomId, StreamId, UserId};
use support::{AudioFrame, Client, TIMEOUT, create_room, join, member, metric, start_server};

/// Asserts that `got` is `sent` with only the stream id (bytes 2–3) stamped.
fn assert_forwarded(sent: &[u8], got: &AudioFrame, stream: StreamId) {
    let mut want = sent.to_vec();
    want[2..4].copy_from_slice(&stream.0.to_be_bytes());
    assert_eq!(
        got.raw, want,
        "a forwarded frame differs from what was sent in more than the stream id"
    );
    assert_eq!(got.header.stream, stream);
}

async fn list_public(client: &mut Client) -> Vec<salon_proto::room::RoomSummary> {
    match client
        .request(ClientRequest::ListRooms { limit: None })
        .await
    {
        Reply::RoomList { rooms } => rooms,
        other => panic!("list_rooms answered {other:?}"),
    }
}

/// Waits until every client has followed `room` to `version`.
async fn sync(clients: &mut [&mut Client], room: RoomId, version: u64) {
    for client in clients.iter_mut() {
        client.wait_version(room, version).await;
    }
}

async fn role_changed(client: &mut Client, room: RoomId, user: UserId, role: Role) -> u64 {
    client
        .expect_delta(room, "role_changed", |c| {
            matches!(c, RoomChange::RoleChanged { user: u, role: r } if *u == user && *r == role)
        })
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_stage_flow() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let addr = server.local_addr();
    let mut host = Client::registered(&url, "host", "Hana Host").await;
    let mut speaker = Client::registered(&url, "spk", "Sam Speaker").await;
    let mut listener = Client::registered(&url, "lis", "Lou Listener").await;
    let (h, s, l) = (host.user(), speaker.user(), listener.user());

    // Create, join, list.
    let room = create_room(&mut host, "Stage test", Visibility::Public).await;
    let (snapshot, host_stream) = join(&mut host, room).await;
    assert_eq!(member(&snapshot, h).role, Role::Host);
    assert!(!member(&snapshot, h).muted, "the host joins unmuted");
    let (snapshot, speaker_stream) = join(&mut speaker, room).await;
    assert_eq!(member(&snapshot, s).role, Role::Listener);
    assert!(member(&snapshot, s).muted, "others join as muted listeners");
    assert_eq!(member(&snapshot, s).stream, speaker_stream);
    assert_eq!(member(&snapshot, h).stream, host_stream);
    assert_ne!(host_stream, speaker_stream);
    let (snapshot, listener_stream) = join(&mut listener, room).await;
    assert_eq!(snapshot.members.len(), 3);
    assert_eq!(snapshot.members[0].user, h, "stage first");
    let joined_at = snapshot.version;
    sync(
        &mut [&mut host, &mut speaker, &mut listener],
        room,
        joined_at,
    )
    .await;
    let (v, change) = host
        .expect_delta(
            room,
            "member_joined of the listener",
            |c| matches!(c, RoomChange::MemberJoined { member } if member.user == l),
        )
        .await;
    assert_eq!(v, joined_at);
    let RoomChange::MemberJoined { member: joined } = change else {
        unreachable!()
    };
    assert_eq!(joined.stream, listener_stream);
    assert_eq!(joined.display_name, "Lou Listener");

    let rooms = list_public(&mut listener).await;
    let summary = rooms
        .iter()
        .find(|r| r.room == room)
        .expect("a public room is listed");
    assert_eq!(summary.title, "Stage test");
    assert_eq!(summary.speakers, ["Hana Host"]);
    assert_eq!(summary.listeners, 2);

    // Raised hands: the host sees each, and the snapshot keeps them in order.
    speaker.ok(ClientRequest::RaiseHand { room }).await;
    let (v1, _) = host
        .expect_delta(
            room,
            "hand_raised by the speaker-to-be",
            |c| matches!(c, RoomChange::HandRaised { user } if *user == s),
        )
        .await;
    listener.ok(ClientRequest::RaiseHand { room }).await;
    let (v2, _) = host
        .expect_delta(
            room,
            "hand_raised by the listener",
            |c| matches!(c, RoomChange::HandRaised { user } if *user == l),
        )
        .await;
    assert_eq!(v2, v1 + 1);
    let snapshot = match host.request(ClientRequest::GetSnapshot { room }).await {
        Reply::Snapshot { snapshot } => snapshot,
        other => panic!("get_snapshot answered {other:?}"),
    };
    assert_eq!(snapshot.hand_queue, [s, l], "oldest hand first");
    assert!(member(&snapshot, s).hand_raised && member(&snapshot, l).hand_raised);
    assert_eq!(snapshot.version, v2);
    // Only moderators invite to speak.
    listener
        .refused(
            ClientRequest::InviteToSpeak { room, user: s },
            ErrorCode::Forbidden,
        )
        .await;
    // Accepting an invitation that was never made.
    speaker
        .refused(
            ClientRequest::AcceptSpeakInvite { room },
            ErrorCode::NotInvited,
        )
        .await;

    // The invitation reaches only the invitee.
    host.ok(ClientRequest::InviteToSpeak { room, user: s })
        .await;
    let invited = speaker
        .expect_event("invited_to_speak", TIMEOUT, |e| {
            matches!(e, Event::InvitedToSpeak { .. })
        })
        .await;
    assert_eq!(invited, Event::InvitedToSpeak { room, by: h });
    speaker.ok(ClientRequest::AcceptSpeakInvite { room }).await;
    let v = role_changed(&mut host, room, s, Role::Speaker).await;
    role_changed(&mut listener, room, s, Role::Speaker).await;
    role_changed(&mut speaker, room, s, Role::Speaker).await;
    assert!(v > v2);
    for other in [&host, &listener] {
        assert!(
            !other.saw(|e| matches!(e, Event::InvitedToSpeak { .. })),
            "invited_to_speak went to someone else: {:?}",
            other.log
        );
    }
    let snapshot = match listener.request(ClientRequest::GetSnapshot { room }).await {
        Reply::Snapshot { snapshot } => snapshot,
        other => panic!("get_snapshot answered {other:?}"),
    };
    let on_stage = member(&snapshot, s);
    assert_eq!(on_stage.role, Role::Speaker);
    assert!(!on_stage.muted && !on_stage.hand_raised);
    assert_eq!(snapshot.hand_queue, [l], "coming on stage lowers the hand");
    let stamped = on_stage.stream;
    assert_eq!(stamped, speaker_stream, "the stream id stays the member's");
    let now = snapshot.version;
    sync(&mut [&mut host, &mut speaker, &mut listener], room, now).await;

    // The speaker's audio reaches the others, stamped with their stream id.
    let mut sent = Vec::new();
    for seq in 1..=5u32 {
        let header = FrameHeader::audio(
            seq,
            seq * 960,
            AudioLevel::new(30, true),
            Flags(Flags::FEC | 0x80),
        );
        let payload = vec![seq as u8; 40 + seq as usize];
        sent.push(speaker.send_frame(&header, &payload).await);
    }
    for receiver in [&mut host, &mut listener] {
        for bytes in &sent {
            let got = receiver.expect_audio("the speaker's frame").await;
            assert_forwarded(bytes, &got, stamped);
        }
    }
    // Levels of the stage reach the room.
    let levels = listener
        .expect_event("speaking_levels with the speaker", TIMEOUT, |e| {
            matches!(e, Event::SpeakingLevels { room: r, levels } if *r == room && levels.iter().any(|lv| lv.stream == stamped))
        })
        .await;
    let Event::SpeakingLevels { levels, .. } = levels else {
        unreachable!()
    };
    let level = levels.iter().find(|lv| lv.stream == stamped).unwrap();
    assert_eq!((level.level, level.voice), (30, true));

    // A listener's audio reaches nobody and is counted as rejected.
    let rejected_before = metric(addr, "salon_audio_frames_rejected_total").await;
    for seq in 0..5u32 {
        listener.send_audio(seq, seq * 960, b"listener").await;
    }
    listener.ping().await; // the server has handled the frames
    let marker = speaker.send_audio(6, 6 * 960, b"speaker marker").await;
    let got = host.expect_audio("the speaker's marker").await;
    assert_forwarded(&marker, &got, stamped);
    let host_marker = host.send_audio(1, 960, b"host marker").await;
    let got = speaker.expect_audio("the host's marker").await;
    assert_forwarded(&host_marker, &got, host_stream);
    // The listener hears both markers (from two connections, so in either order).
    let mut heard = [
        listener.expect_audio("a marker").await,
        listener.expect_audio("a marker").await,
    ];
    heard.sort_by_key(|f| f.header.stream != stamped);
    assert_forwarded(&marker, &heard[0], stamped);
    assert_forwarded(&host_marker, &heard[1], host_stream);
    let rejected_after = metric(addr, "salon_audio_frames_rejected_total").await;
    assert!(
        rejected_after >= rejected_before + 5,
        "listener frames are counted as rejected: {rejected_before} -> {rejected_after}"
    );

    // Self-mute takes effect at once: the frame sent right after `ok` is never heard.
    speaker
        .ok(ClientRequest::SetMuted { room, muted: true })
        .await;
    let (_, change) = listener
        .expect_delta(
            room,
            "mute_changed (self-muted)",
            |c| matches!(c, RoomChange::MuteChanged { user, muted: true, .. } if *user == s),
        )
        .await;
    assert_eq!(
        change,
        RoomChange::MuteChanged {
            user: s,
            muted: true,
            muted_by_moderator: false
        }
    );
    speaker.send_audio(7, 7 * 960, b"while muted").await;
    speaker
        .ok(ClientRequest::SetMuted { room, muted: false })
        .await;
    let unmuted = speaker.send_audio(8, 8 * 960, b"unmuted again").await;
    for receiver in [&mut host, &mut listener] {
        let got = receiver.expect_audio("the frame after unmuting").await;
        assert_eq!(
            got.header.sequence, 8,
            "the frame sent while muted was delivered"
        );
        assert_forwarded(&unmuted, &got, stamped);
    }

    // A moderator mute: the speaker cannot lift it; their audio is dropped meanwhile.
    host.ok(ClientRequest::ModeratorMute { room, user: s })
        .await;
    let (_, change) = speaker
        .expect_delta(room, "mute_changed by the moderator", |c| {
            matches!(c, RoomChange::MuteChanged { user, muted_by_moderator: true, .. } if *user == s)
        })
        .await;
    assert_eq!(
        change,
        RoomChange::MuteChanged {
            user: s,
            muted: true,
            muted_by_moderator: true
        }
    );
    speaker.send_audio(9, 9 * 960, b"moderator-muted").await;
    speaker
        .refused(
            ClientRequest::SetMuted { room, muted: false },
            ErrorCode::Forbidden,
        )
        .await;
    // Only moderators mute others.
    listener
        .refused(
            ClientRequest::ModeratorMute { room, user: h },
            ErrorCode::Forbidden,
        )
        .await;
    let marker = host.send_audio(2, 2 * 960, b"host marker 2").await;
    let got = listener.expect_audio("the host's second marker").await;
    assert_forwarded(&marker, &got, host_stream);
    let got = speaker.expect_audio("the host's second marker").await;
    assert_forwarded(&marker, &got, host_stream);
    // Lifting it lets the speaker unmute.
    host.ok(ClientRequest::ModeratorUnmute { room, user: s })
        .await;
    speaker
        .ok(ClientRequest::SetMuted { room, muted: false })
        .await;
    let back = speaker.send_audio(10, 10 * 960, b"back").await;
    let got = host.expect_audio("the speaker after the lifted mute").await;
    assert_eq!(
        got.header.sequence, 10,
        "a frame sent under a moderator mute was delivered"
    );
    assert_forwarded(&back, &got, stamped);
    let got = listener
        .expect_audio("the speaker after the lifted mute")
        .await;
    assert_eq!(got.header.sequence, 10);

    // Back to the audience: the speaker's audio is dropped again.
    host.ok(ClientRequest::MoveToAudience { room, user: s })
        .await;
    role_changed(&mut speaker, room, s, Role::Listener).await;
    role_changed(&mut listener, room, s, Role::Listener).await;
    speaker.send_audio(11, 11 * 960, b"from the audience").await;
    speaker.ping().await;
    let marker = host.send_audio(3, 3 * 960, b"host marker 3").await;
    let got = listener.expect_audio("the host's third marker").await;
    assert_forwarded(&marker, &got, host_stream);
    let got = speaker.expect_audio("the host's third marker").await;
    assert_forwarded(&marker, &got, host_stream);
    let snapshot = match host.request(ClientRequest::GetSnapshot { room }).await {
        Reply::Snapshot { snapshot } => snapshot,
        other => panic!("get_snapshot answered {other:?}"),
    };
    assert_eq!(member(&snapshot, s).role, Role::Listener);
    assert!(member(&snapshot, s).muted);

    // Removing: the removed person is told, the others see member_left; they may return.
    host.ok(ClientRequest::RemoveMember { room, user: s }).await;
    let removed = speaker
        .expect_event("removed_from_room", TIMEOUT, |e| {
            matches!(e, Event::RemovedFromRoom { .. })
        })
        .await;
    assert_eq!(
        removed,
        Event::RemovedFromRoom {
            room,
            banned: false
        }
    );
    for other in [&mut host, &mut listener] {
        other
            .expect_delta(
                room,
                "member_left after removal",
                |c| matches!(c, RoomChange::MemberLeft { user } if *user == s),
            )
            .await;
    }
    speaker
        .refused(ClientRequest::RaiseHand { room }, ErrorCode::NotInRoom)
        .await;
    let (snapshot, _) = join(&mut speaker, room).await;
    assert_eq!(
        member(&snapshot, s).role,
        Role::Listener,
        "roles are not remembered"
    );
    host.expect_delta(
        room,
        "member_joined after coming back",
        |c| matches!(c, RoomChange::MemberJoined { member } if member.user == s),
    )
    .await;

    // Banning: told, gone, and cannot come back.
    host.ok(ClientRequest::BanMember { room, user: s }).await;
    let removed = speaker
        .expect_event("removed_from_room (banned)", TIMEOUT, |e| {
            matches!(e, Event::RemovedFromRoom { banned: true, .. })
        })
        .await;
    assert_eq!(removed, Event::RemovedFromRoom { room, banned: true });
    for other in [&mut host, &mut listener] {
        other
            .expect_delta(
                room,
                "member_left after the ban",
                |c| matches!(c, RoomChange::MemberLeft { user } if *user == s),
            )
            .await;
    }
    speaker
        .refused(ClientRequest::JoinRoom { room }, ErrorCode::Banned)
        .await;

    // Only the host ends a room; it ends for everyone and leaves the hallway.
    listener
        .refused(ClientRequest::EndRoom { room }, ErrorCode::Forbidden)
        .await;
    assert!(
        list_public(&mut listener)
            .await
            .iter()
            .any(|r| r.room == room)
    );
    host.ok(ClientRequest::EndRoom { room }).await;
    for member in [&mut host, &mut listener] {
        let ended = member
            .expect_event("room_ended", TIMEOUT, |e| {
                matches!(e, Event::RoomEnded { .. })
            })
            .await;
        assert_eq!(
            ended,
            Event::RoomEnded {
                room,
                reason: EndReason::EndedByHost
            }
        );
    }
    assert!(
        !list_public(&mut listener)
            .await
            .iter()
            .any(|r| r.room == room),
        "an ended room is no longer listed"
    );
    listener
        .refused(ClientRequest::JoinRoom { room }, ErrorCode::RoomNotFound)
        .await;

    // Nobody but the host was ever heard, so the host never received audio; and every
    // client followed the room without a gap in its versions.
    assert_eq!(host.buffered_audio(), 0, "the host heard someone off stage");
    assert_eq!(listener.buffered_audio(), 0);
    assert_eq!(speaker.buffered_audio(), 0);
    for client in [&host, &speaker, &listener] {
        assert!(
            client.version_gaps.is_empty(),
            "room versions skipped: {:?}",
            client.version_gaps
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_room_per_connection_and_a_private_room_needs_an_invitation() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut host = Client::registered(&url, "host", "Host").await;
    let mut guest = Client::registered(&url, "guest", "Guest").await;
    let g = guest.user();

    let private = create_room(&mut host, "Secret", Visibility::Private).await;
    join(&mut host, private).await;
    // Not invited: the room does not exist for the guest, and it is not listed.
    guest
        .refused(
            ClientRequest::JoinRoom { room: private },
            ErrorCode::RoomNotFound,
        )
        .await;
    match guest
        .request(ClientRequest::ListRooms { limit: None })
        .await
    {
        Reply::RoomList { rooms } => assert!(rooms.iter().all(|r| r.room != private)),
        other => panic!("list_rooms answered {other:?}"),
    }
    host.ok(ClientRequest::InviteToRoom {
        room: private,
        user: g,
    })
    .await;
    let invitation = guest
        .expect_event("room_invitation", TIMEOUT, |e| {
            matches!(e, Event::RoomInvitation { .. })
        })
        .await;
    assert_eq!(
        invitation,
        Event::RoomInvitation {
            room: private,
            title: "Secret".into(),
            by: host.user()
        }
    );
    join(&mut guest, private).await;

    // Joining a second room on the same connection leaves the first.
    let other = create_room(&mut host, "Other", Visibility::Unlisted).await;
    join(&mut guest, other).await;
    host.expect_delta(
        private,
        "member_left when the guest moved on",
        |c| matches!(c, RoomChange::MemberLeft { user } if *user == g),
    )
    .await;
    guest
        .refused(
            ClientRequest::GetSnapshot { room: private },
            ErrorCode::NotInRoom,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_enforces_room_capacity_but_always_admits_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::ServerProcess::spawn(dir.path(), &["--room-capacity", "2"]);
    let mut host = Client::registered(&server.url, "host", "Host").await;
    let mut first = Client::registered(&server.url, "one", "One").await;
    let mut second = Client::registered(&server.url, "two", "Two").await;
    let room = create_room(&mut host, "Tiny", Visibility::Public).await;
    join(&mut first, room).await;
    join(&mut second, room).await;
    // Full at 2, so a third person is refused ...
    let mut third = Client::registered(&server.url, "three", "Three").await;
    third
        .refused(ClientRequest::JoinRoom { room }, ErrorCode::RoomFull)
        .await;
    // ... but the holder of the host seat gets in.
    let (snapshot, _) = join(&mut host, room).await;
    assert_eq!(snapshot.members.len(), 3);
    assert_eq!(member(&snapshot, host.user()).role, Role::Host);
    // Someone leaving makes room again.
    first.ok(ClientRequest::LeaveRoom { room }).await;
    second
        .expect_delta(
            room,
            "member_left",
            |c| matches!(c, RoomChange::MemberLeft { user } if *user == first.user()),
        )
        .await;
    third
        .refused(ClientRequest::JoinRoom { room }, ErrorCode::RoomFull)
        .await;
    second.ok(ClientRequest::LeaveRoom { room }).await;
    join(&mut third, room).await;
}
