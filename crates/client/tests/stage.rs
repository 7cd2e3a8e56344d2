//! The stage flow through the client API against a real server: a host opens a room, a
//! listener joins and raises a hand, the host invites them, they accept and speak, and
//! the audio reaches the other side through the audio hooks. Both clients' views of the
//! room must agree with the server's own snapshot at every step that matters.

mod support;

use std::time::Duration;

use salon_client::proto::room::{Role, RoomSnapshot, Visibility};
use salon_client::{ClientEvent, ClientHandle, RoomUpdate};
use support::{TIMEOUT, audio_frame, eventually, registered, start_server, wait_for};

/// A snapshot with members in a fixed order, to compare views built from deltas (where
/// newcomers are appended) with the server's (stage first).
fn normalized(mut snapshot: RoomSnapshot) -> RoomSnapshot {
    snapshot.members.sort_by_key(|m| m.user);
    snapshot
}

/// Both clients' rooms equal the server's snapshot (once their deltas have arrived).
async fn views_agree(host: &ClientHandle, listener: &ClientHandle) {
    let server = normalized(
        host.refresh_room()
            .await
            .expect("a fresh snapshot")
            .snapshot,
    );
    for (who, client) in [("host", host), ("listener", listener)] {
        eventually(&format!("the {who}'s view matches the server"), || {
            client
                .room()
                .is_some_and(|view| normalized(view.snapshot) == server)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_flow_and_audio_through_the_client_api() {
    support::init_tracing();
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (host, _host_profile) = registered(&url, "host", "Hostess").await;
    let (guest, _guest_profile) = registered(&url, "guest", "Guest").await;
    let host_id = host.account().unwrap().user;
    let guest_id = guest.account().unwrap().user;

    // The host opens a public room; the hallway lists it.
    let room = host
        .create_room("Late night jazz", Visibility::Public)
        .await
        .unwrap();
    let joined = host.join_room(room).await.unwrap();
    assert_eq!(joined.my_role(), Some(Role::Host));
    assert!(host.may_speak(), "the host joins unmuted, on stage");
    let listed = guest.list_rooms(None).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|r| r.room == room && r.speakers == ["Hostess"])
    );

    // The listener joins: muted, in the audience.
    let mut host_events = host.events();
    let mut guest_events = guest.events();
    let view = guest.join_room(room).await.unwrap();
    assert_eq!(view.my_role(), Some(Role::Listener));
    assert!(!guest.may_speak());
    assert_eq!(guest.my_stream(), Some(view.my_stream));
    wait_for(&mut host_events, "the guest's member_joined", |e| match e {
        ClientEvent::RoomState(RoomUpdate::Delta { change, .. }) => {
            matches!(change, salon_client::proto::room::RoomChange::MemberJoined { member } if member.user == guest_id)
                .then_some(())
        }
        _ => None,
    })
    .await;
    views_agree(&host, &guest).await;

    // Hand up: the host sees it in the queue.
    guest.raise_hand().await.unwrap();
    let queue = wait_for(&mut host_events, "the hand queue", |e| match e {
        ClientEvent::HandQueue { queue, .. } if !queue.is_empty() => Some(queue.clone()),
        _ => None,
    })
    .await;
    assert_eq!(queue, [guest_id]);
    assert_eq!(host.room().unwrap().hand_queue(), [guest_id]);

    // The host invites; the listener is told, accepts and becomes an unmuted speaker.
    host.invite_to_speak(guest_id).await.unwrap();
    let by = wait_for(&mut guest_events, "the invitation to speak", |e| match e {
        ClientEvent::InvitedToSpeak { room: r, by } if *r == room => Some(*by),
        _ => None,
    })
    .await;
    assert_eq!(by, host_id);
    guest.accept_speak_invite().await.unwrap();
    eventually("the guest may speak", || guest.may_speak()).await;
    assert_eq!(guest.room().unwrap().my_role(), Some(Role::Speaker));
    eventually("the host sees a speaker", || {
        host.room().and_then(|v| v.member(guest_id).map(|m| m.role)) == Some(Role::Speaker)
    })
    .await;
    assert!(
        host.room().unwrap().hand_queue().is_empty(),
        "the hand went down"
    );
    views_agree(&host, &guest).await;

    // Audio: the new speaker's frames reach the host, stamped with the speaker's stream.
    let mut host_audio = host.audio_frames();
    let guest_stream = guest.my_stream().unwrap();
    for sequence in 0..5u32 {
        assert!(guest.send_audio(audio_frame(sequence, b"opus from the guest")));
    }
    for sequence in 0..5u32 {
        let frame = tokio::time::timeout(TIMEOUT, host_audio.recv())
            .await
            .expect("a frame in time")
            .expect("the receiver is open");
        assert_eq!(frame.header.stream, guest_stream);
        assert_eq!(frame.header.sequence, sequence);
        assert_eq!(&frame.payload[..], b"opus from the guest");
        let speaker = host.room().unwrap();
        assert_eq!(
            speaker.member_by_stream(frame.header.stream).unwrap().user,
            guest_id
        );
    }

    // And the host's frames reach the speaker.
    let mut guest_audio = guest.audio_frames();
    assert!(host.send_audio(audio_frame(7, b"opus from the host")));
    let frame = tokio::time::timeout(TIMEOUT, guest_audio.recv())
        .await
        .expect("a frame in time")
        .expect("open");
    assert_eq!(frame.header.stream, host.my_stream().unwrap());
    assert_eq!(&frame.payload[..], b"opus from the host");

    // Muting stops being allowed to speak at once; the moderator mute too.
    guest.set_muted(true).await.unwrap();
    assert!(!guest.may_speak());
    guest.set_muted(false).await.unwrap();
    host.moderator_mute(guest_id).await.unwrap();
    eventually("the moderator mute arrives", || !guest.may_speak()).await;
    assert!(
        guest.set_muted(false).await.is_err(),
        "forbidden while moderator-muted"
    );
    host.moderator_unmute(guest_id).await.unwrap();
    host.move_to_audience(guest_id).await.unwrap();
    eventually("back in the audience", || {
        guest.room().and_then(|v| v.my_role()) == Some(Role::Listener)
    })
    .await;
    views_agree(&host, &guest).await;

    // The host ends the room: the listener is told and is in no room.
    host.end_room().await.unwrap();
    wait_for(&mut guest_events, "room_ended", |e| match e {
        ClientEvent::RoomEnded { room: r, .. } if *r == room => Some(()),
        _ => None,
    })
    .await;
    assert!(guest.room().is_none());
    assert!(host.room().is_none());
    assert!(!guest.send_audio(audio_frame(0, b"x")), "no room, no audio");

    host.shutdown().await;
    guest.shutdown().await;
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("the server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_servers_code() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (host, _p1) = registered(&url, "boss", "Boss").await;
    let (guest, _p2) = registered(&url, "crowd", "Crowd").await;
    let room = host
        .create_room("Rules", Visibility::Unlisted)
        .await
        .unwrap();
    host.join_room(room).await.unwrap();
    guest.join_room(room).await.unwrap();
    let err = guest.end_room().await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(salon_client::proto::ErrorCode::Forbidden),
        "{err}"
    );
    let err = guest.accept_speak_invite().await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(salon_client::proto::ErrorCode::NotInvited),
        "{err}"
    );
    let err = host.get_profile("nobody_here_at_all").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(salon_client::proto::ErrorCode::UserNotFound),
        "{err}"
    );
    let found = host
        .get_profile(guest.account().unwrap().handle.as_str())
        .await
        .unwrap();
    assert_eq!(found.display_name, "Crowd");
    guest.leave_room().await.unwrap();
    assert!(matches!(
        guest.raise_hand().await,
        Err(salon_client::ClientError::NotInRoom)
    ));
    host.shutdown().await;
    guest.shutdown().await;
    server.shutdown().await;
}
