//! Creating, joining, leaving and finding rooms: titles, visibility, invitations,
//! capacity, stream ids, snapshots and the hallway listing.

use std::collections::HashSet;

use salon_proto::room::{Role, RoomChange, RoomSummary, Visibility};
use salon_proto::{ErrorCode, Event, StreamId};

use super::*;

#[test]
fn titles_are_validated_and_trimmed() {
    let mut w = World::new();
    for bad in ["", "   ", "two\nlines", &"x".repeat(101)] {
        let err = w
            .try_create_titled(rid(1), HOST, bad, Visibility::Public)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{bad:?}");
        assert!(
            err.message.starts_with("The room title must"),
            "{}",
            err.message
        );
    }
    assert_eq!(w.rooms.room_count(), 0);
    w.try_create_titled(rid(1), HOST, "  Late night jazz ", Visibility::Public)
        .unwrap();
    w.join(rid(1), HOST);
    assert_eq!(w.snapshot(rid(1), HOST).title, "Late night jazz");
    assert_eq!(w.snapshot(rid(1), HOST).visibility, Visibility::Public);

    let taken = w.try_create(rid(1), BOB, Visibility::Public).unwrap_err();
    assert_eq!(taken.code, ErrorCode::Internal);
    assert_eq!(w.rooms.room_count(), 1);
}

#[test]
fn joining_twice_answers_the_same_snapshot_without_a_delta() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Unlisted);
    w.join(room, HOST);
    let stream = w.join(room, BOB);
    let version = w.version(room);
    let (snapshot, again, deliveries) = w.try_join(room, BOB).unwrap();
    assert_eq!(again, stream);
    assert!(deliveries.is_empty());
    assert_eq!(snapshot.version, version);
    assert_eq!(snapshot, w.snapshot(room, HOST));
    assert_eq!(w.rooms.member_count(), 2);
}

#[test]
fn unknown_rooms_and_non_members_are_refused() {
    let mut w = World::new();
    let room = rid(1);
    assert_eq!(w.join_code(room, BOB), ErrorCode::RoomNotFound);
    assert_eq!(
        w.try_leave(room, BOB).unwrap_err().code,
        ErrorCode::RoomNotFound
    );
    assert_eq!(
        w.refuse_code(BOB, Action::RaiseHand { room }),
        ErrorCode::RoomNotFound
    );
    assert_eq!(
        w.rooms.snapshot(room, uid(BOB)).unwrap_err().code,
        ErrorCode::RoomNotFound
    );

    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    assert_eq!(
        w.try_leave(room, BOB).unwrap_err().code,
        ErrorCode::NotInRoom
    );
    assert_eq!(
        w.refuse_code(BOB, Action::RaiseHand { room }),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        w.refuse_code(BOB, Action::End { room }),
        ErrorCode::NotInRoom
    );
    let err = w.rooms.snapshot(room, uid(BOB)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotInRoom);
    assert!(err.message.contains("Join it first"));
    // The creator is not a member before joining either.
    let mut w2 = World::new();
    w2.create(room, HOST, Visibility::Public);
    assert_eq!(
        w2.refuse_code(HOST, Action::End { room }),
        ErrorCode::NotInRoom
    );

    // A target who is not a member.
    let err = w.refuse(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(DAN),
        },
    );
    assert_eq!(err.code, ErrorCode::NotInRoom);
    assert!(err.message.starts_with("That person is not in this room"));
}

#[test]
fn leaving_frees_the_seat_and_the_stream_and_tells_the_others() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    let stream = w.join(room, BOB);
    assert_eq!(w.rooms.rooms_of(uid(BOB)), [room]);
    let d = w.leave(room, BOB);
    assert_eq!(deltas(&d), [RoomChange::MemberLeft { user: uid(BOB) }]);
    assert!(others(&d).is_empty());
    assert!(w.rooms.rooms_of(uid(BOB)).is_empty());
    assert_eq!(w.rooms.member_users(room), [uid(HOST)]);
    assert_eq!(w.rooms.member_count(), 1);
    // A new stream on rejoining: the counter moves on rather than reusing at once.
    assert_ne!(w.join(room, BOB), stream);
}

#[test]
fn private_rooms_admit_only_the_creator_and_invited_people() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Private);

    // Nobody else can even tell it exists.
    assert_eq!(w.join_code(room, BOB), ErrorCode::RoomNotFound);
    assert_eq!(
        w.refuse_code(BOB, Action::RaiseHand { room }),
        ErrorCode::RoomNotFound
    );
    assert_eq!(
        w.rooms.snapshot(room, uid(BOB)).unwrap_err().code,
        ErrorCode::RoomNotFound
    );
    assert_eq!(
        w.try_leave(room, BOB).unwrap_err().code,
        ErrorCode::RoomNotFound
    );
    assert!(w.rooms.list_public(10).is_empty());

    w.join(room, HOST);
    let v = w.version(room);
    let d = w.act(
        HOST,
        Action::InviteToRoom {
            room,
            user: uid(BOB),
        },
    );
    assert_eq!(
        d,
        [(
            Target::User(uid(BOB)),
            Event::RoomInvitation {
                room,
                title: "Room 1".into(),
                by: uid(HOST)
            }
        )]
    );
    assert_eq!(w.version(room), v, "invitations are not room changes");
    // Invited but not yet in: the room is visible, the member-only answers apply.
    assert_eq!(
        w.refuse_code(BOB, Action::RaiseHand { room }),
        ErrorCode::NotInRoom
    );
    w.join(room, BOB);

    // Listeners cannot invite.
    let err = w.refuse(
        BOB,
        Action::InviteToRoom {
            room,
            user: uid(CAT),
        },
    );
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("Only the host or a moderator"));
    assert_eq!(w.join_code(room, CAT), ErrorCode::RoomNotFound);

    // Moderators can.
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(BOB),
            role: Role::Moderator,
        },
    );
    let d = w.act(
        BOB,
        Action::InviteToRoom {
            room,
            user: uid(CAT),
        },
    );
    assert_eq!(others(&d).len(), 1);
    w.join(room, CAT);

    // Inviting a member does nothing.
    assert!(
        w.act(
            HOST,
            Action::InviteToRoom {
                room,
                user: uid(CAT)
            }
        )
        .is_empty()
    );

    // Removed people keep their invitation; banned ones cannot be invited again.
    w.act(
        HOST,
        Action::Remove {
            room,
            user: uid(CAT),
        },
    );
    w.join(room, CAT);
    w.act(
        HOST,
        Action::Ban {
            room,
            user: uid(CAT),
        },
    );
    assert_eq!(w.join_code(room, CAT), ErrorCode::Banned);
    let err = w.refuse(
        HOST,
        Action::InviteToRoom {
            room,
            user: uid(CAT),
        },
    );
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("banned"));
}

#[test]
fn only_private_rooms_take_invitations() {
    let mut w = World::new();
    for (n, vis) in [(1, Visibility::Public), (2, Visibility::Unlisted)] {
        let room = rid(n);
        w.create(room, HOST, vis);
        w.join(room, HOST);
        let err = w.refuse(
            HOST,
            Action::InviteToRoom {
                room,
                user: uid(BOB),
            },
        );
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        // Anyone with the id may join anyway.
        w.join(room, BOB);
    }
}

#[test]
fn a_full_room_refuses_everyone_but_the_host() {
    let config = RoomsConfig {
        capacity: 3,
        ..RoomsConfig::default()
    };
    let mut w = World::with_config(config);
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    w.join(room, ANN);
    w.join(room, BOB);
    let err = w.try_join(room, CAT).unwrap_err();
    assert_eq!(err.code, ErrorCode::RoomFull);
    assert!(err.message.contains("full (3 people)"), "{}", err.message);

    // Someone leaves: there is room again.
    w.leave(room, BOB);
    w.join(room, CAT);
    assert_eq!(w.join_code(room, BOB), ErrorCode::RoomFull);

    // The host drops out and the seat fills up; the host still gets back in.
    w.leave(room, HOST);
    w.join(room, BOB);
    assert_eq!(w.rooms.member_count(), 3);
    w.join(room, HOST);
    assert_eq!(w.member(room, HOST).role, Role::Host);
    assert_eq!(w.rooms.member_count(), 4);
    // Already a member: answered even though the room is over capacity.
    assert!(w.try_join(room, BOB).is_ok());
}

#[test]
fn capacity_is_limited_by_the_stream_id_space() {
    let config = RoomsConfig {
        capacity: usize::MAX,
        ..RoomsConfig::default()
    };
    assert_eq!(
        Rooms::new(config).config().capacity,
        super::super::MAX_CAPACITY
    );
    assert_eq!(Rooms::new(RoomsConfig::default()).config().capacity, 5000);
}

#[test]
fn stream_ids_are_unique_never_zero_and_wrap_around() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    assert_eq!(w.join(room, HOST), StreamId(1));
    assert_eq!(w.join(room, ANN), StreamId(2));
    assert_eq!(w.join(room, BOB), StreamId(3));
    // Free stream 3 so the wrap has a gap to find.
    w.leave(room, BOB);
    let kept: HashSet<StreamId> = [StreamId(1), StreamId(2)].into();

    // Churn one seat through the whole id space and past it, using the raw state
    // machine (the harness checks every room fully after each step).
    let mut seen = Vec::new();
    for _ in 0..70_000 {
        let (_, stream, _) = w.rooms.join(room, person(CAT), w.now).unwrap();
        assert_ne!(stream, StreamId(0));
        assert!(!kept.contains(&stream), "{stream} is in use");
        seen.push(stream.0);
        w.rooms.leave(room, uid(CAT), w.now).unwrap();
    }
    assert_eq!(seen[0], 4);
    let wrap = seen.iter().position(|s| *s == u16::MAX).unwrap();
    assert_eq!(seen[wrap + 1], 3, "after 65535 comes the lowest free id");
    assert_eq!(seen[wrap + 2], 4);
}

#[test]
fn stream_ids_stay_unique_in_a_crowd() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    let now = Instant::now();
    let room = rid(1);
    rooms
        .create(room, uid(0), "Crowd", Visibility::Public, now)
        .unwrap();
    for n in 0..300 {
        rooms.join(room, person(n), now).unwrap();
    }
    // Every other member leaves; newcomers never collide with who stayed.
    for n in (0..300).step_by(2) {
        rooms.leave(room, uid(n), now).unwrap();
    }
    let mut present: HashSet<StreamId> = rooms.rooms[&room]
        .snapshot()
        .members
        .iter()
        .map(|m| m.stream)
        .collect();
    assert_eq!(present.len(), 150);
    for n in 1000..1300 {
        let (_, stream, _) = rooms.join(room, person(n), now).unwrap();
        assert!(present.insert(stream), "{stream} is taken");
    }
    rooms.rooms[&room].check_invariants();
}

#[test]
fn snapshots_list_the_stage_first_then_the_audience_by_join_time() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    // Everyone but the host arrives first.
    for n in [ANN, BOB, CAT, DAN] {
        w.join(room, n);
    }
    w.join(room, HOST);
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(DAN),
            role: Role::Moderator,
        },
    );
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(BOB),
            role: Role::Moderator,
        },
    );
    w.act(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(CAT),
        },
    );
    w.act(CAT, Action::AcceptSpeakInvite { room });
    w.join(room, 7);
    w.act(7, Action::RaiseHand { room });
    w.act(ANN, Action::RaiseHand { room });

    let snapshot = w.snapshot(room, ANN);
    let order: Vec<UserId> = snapshot.members.iter().map(|m| m.user).collect();
    assert_eq!(
        order,
        [uid(HOST), uid(BOB), uid(DAN), uid(CAT), uid(ANN), uid(7)]
    );
    assert_eq!(snapshot.hand_queue, [uid(7), uid(ANN)]);
    assert!(snapshot.members[4].hand_raised && snapshot.members[5].hand_raised);
    assert_eq!(
        w.rooms.member_users(room),
        [uid(ANN), uid(BOB), uid(CAT), uid(DAN), uid(HOST), uid(7)]
    );
    assert_eq!(w.rooms.moderators(room), [uid(HOST), uid(BOB), uid(DAN)]);
    assert_eq!(
        w.rooms.recipients(&Target::Moderators(room)),
        w.rooms.moderators(room)
    );
    assert_eq!(
        w.rooms.recipients(&Target::Room(room)),
        w.rooms.member_users(room)
    );
    assert_eq!(w.rooms.recipients(&Target::User(uid(9))), [uid(9)]);
    assert!(w.rooms.member_users(rid(9)).is_empty());
    assert!(w.rooms.moderators(rid(9)).is_empty());
}

#[test]
fn the_hallway_lists_public_rooms_busiest_first() {
    let mut w = World::new();
    // Room 1: host plus two listeners. Room 2: host, a moderator who joined before the
    // host, a speaker and four listeners. Room 3: nobody yet. Unlisted and private
    // rooms with more people are never listed.
    w.create(rid(1), 10, Visibility::Public);
    w.join(rid(1), 10);
    w.join(rid(1), 11);
    w.join(rid(1), 12);

    w.create(rid(2), 20, Visibility::Public);
    w.join(rid(2), 21);
    w.join(rid(2), 20);
    w.act(
        20,
        Action::SetRole {
            room: rid(2),
            user: uid(21),
            role: Role::Moderator,
        },
    );
    w.join(rid(2), 22);
    w.act(
        21,
        Action::InviteToSpeak {
            room: rid(2),
            user: uid(22),
        },
    );
    w.act(22, Action::AcceptSpeakInvite { room: rid(2) });
    for n in 23..27 {
        w.join(rid(2), n);
    }

    w.create(rid(3), 30, Visibility::Public);
    for (n, vis) in [(4, Visibility::Unlisted), (5, Visibility::Private)] {
        let room = rid(n);
        w.create(room, 40, vis);
        w.join(room, 40);
        for m in 41..50 {
            if vis == Visibility::Private {
                w.act(40, Action::InviteToRoom { room, user: uid(m) });
            }
            w.join(room, m);
        }
    }

    let list = w.rooms.list_public(10);
    assert_eq!(
        list,
        [
            RoomSummary {
                room: rid(2),
                title: "Room 2".into(),
                speakers: vec![name(20), name(21), name(22)],
                listeners: 4,
            },
            RoomSummary {
                room: rid(1),
                title: "Room 1".into(),
                speakers: vec![name(10)],
                listeners: 2,
            },
            RoomSummary {
                room: rid(3),
                title: "Room 3".into(),
                speakers: vec![],
                listeners: 0
            },
        ]
    );
    assert_eq!(w.rooms.list_public(2), list[..2]);
    assert!(w.rooms.list_public(0).is_empty());

    // Equal rooms keep their creation order.
    w.join(rid(3), 31);
    w.join(rid(3), 32);
    w.join(rid(1), 13);
    w.join(rid(3), 33);
    let order: Vec<RoomId> = w.rooms.list_public(10).iter().map(|s| s.room).collect();
    assert_eq!(order, [rid(2), rid(1), rid(3)]);
}

#[test]
fn a_joiner_sees_their_own_join_at_the_snapshot_version() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    let (snapshot, _, d) = w.try_join(room, BOB).unwrap();
    let Event::RoomDelta {
        version, change, ..
    } = &d[0].1
    else {
        panic!()
    };
    assert_eq!(*version, snapshot.version);
    assert!(matches!(change, RoomChange::MemberJoined { member } if member.user == uid(BOB)));
    assert_eq!(d[0].0, Target::Room(room));
}

#[test]
fn a_room_of_five_thousand() {
    let mut rooms = Rooms::new(RoomsConfig::default());
    let now = Instant::now();
    let room = rid(1);
    rooms
        .create(room, uid(0), "Town hall", Visibility::Public, now)
        .unwrap();
    rooms.join(room, person(0), now).unwrap();
    for n in 1..5000 {
        let (_, _, deliveries) = rooms.join(room, person(n), now).unwrap();
        assert_eq!(deliveries.len(), 1);
        if n % 2 == 0 {
            rooms.act(uid(n), Action::RaiseHand { room }, now).unwrap();
        }
    }
    assert_eq!(
        rooms.join(room, person(5000), now).unwrap_err().code,
        ErrorCode::RoomFull
    );
    let state = &rooms.rooms[&room];
    state.check_invariants();
    let snapshot = state.snapshot();
    assert_eq!(snapshot.members.len(), 5000);
    assert_eq!(snapshot.hand_queue.len(), 2499);
    assert_eq!(rooms.list_public(1)[0].listeners, 4999);
    // Per audio frame: only the host is heard.
    for _ in 0..20 {
        for n in 0..5000 {
            assert_eq!(rooms.audio_sender(room, uid(n)).is_some(), n == 0);
        }
    }
    // Everyone leaves, latest first and then earliest first.
    for n in (2500..5000).rev().chain(1..2500) {
        rooms.leave(room, uid(n), now).unwrap();
    }
    rooms.rooms[&room].check_invariants();
    assert_eq!(rooms.member_users(room), [uid(0)]);
    assert!(rooms.snapshot(room, uid(0)).unwrap().hand_queue.is_empty());
}
