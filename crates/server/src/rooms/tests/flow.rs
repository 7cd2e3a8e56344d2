//! The whole life of one room, step by step, as the product describes it.

use salon_proto::room::{EndReason, Role, RoomChange, Visibility};
use salon_proto::{ErrorCode, Event, StreamId};

use super::*;

#[test]
fn a_room_from_creation_to_its_end() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    assert_eq!(w.version(room), 0);
    assert_eq!(
        w.rooms.member_count(),
        0,
        "the host is not a member until they join"
    );

    // The host joins unmuted on stage; everyone else joins as a muted listener.
    let (snapshot, host_stream, deliveries) = w.try_join(room, HOST).unwrap();
    assert_eq!(host_stream, StreamId(1));
    assert_eq!(snapshot.version, 1);
    assert_eq!(snapshot.members.len(), 1);
    assert_eq!(snapshot.members[0].role, Role::Host);
    assert!(!snapshot.members[0].muted);
    assert_eq!(
        deltas(&deliveries),
        [RoomChange::MemberJoined {
            member: snapshot.members[0].clone()
        }]
    );
    assert_eq!(w.rooms.audio_sender(room, uid(HOST)), Some(host_stream));
    for n in [MOD, ANN, BOB] {
        w.join(room, n);
        let me = w.member(room, n);
        assert_eq!(
            (me.role, me.muted, me.muted_by_moderator),
            (Role::Listener, true, false)
        );
        assert_eq!(w.rooms.audio_sender(room, uid(n)), None);
    }

    // The host makes a moderator.
    let d = w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(MOD),
            role: Role::Moderator,
        },
    );
    assert_eq!(
        deltas(&d),
        [RoomChange::RoleChanged {
            user: uid(MOD),
            role: Role::Moderator
        }]
    );
    assert_eq!(w.rooms.moderators(room), [uid(HOST), uid(MOD)]);

    // Hands go up in order; raising twice changes nothing.
    let d = w.act(ANN, Action::RaiseHand { room });
    assert_eq!(deltas(&d), [RoomChange::HandRaised { user: uid(ANN) }]);
    w.act(BOB, Action::RaiseHand { room });
    let v = w.version(room);
    assert!(w.act(ANN, Action::RaiseHand { room }).is_empty());
    assert_eq!(w.version(room), v);
    assert_eq!(w.snapshot(room, HOST).hand_queue, [uid(ANN), uid(BOB)]);

    // The moderator invites Ann privately: no delta, one event for Ann only.
    let d = w.act(
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    assert_eq!(
        d,
        [(
            Target::User(uid(ANN)),
            Event::InvitedToSpeak { room, by: uid(MOD) }
        )]
    );
    assert_eq!(w.version(room), v);

    // Ann accepts: hand down, on stage, unmuted, in consecutive versions.
    let d = w.act(ANN, Action::AcceptSpeakInvite { room });
    assert_eq!(
        deltas(&d),
        [
            RoomChange::HandLowered { user: uid(ANN) },
            RoomChange::RoleChanged {
                user: uid(ANN),
                role: Role::Speaker
            },
            RoomChange::MuteChanged {
                user: uid(ANN),
                muted: false,
                muted_by_moderator: false
            },
        ]
    );
    let versions: Vec<u64> = d
        .iter()
        .map(|(_, e)| match e {
            Event::RoomDelta { version, .. } => *version,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(versions, [v + 1, v + 2, v + 3]);
    let ann_stream = w.member(room, ANN).stream;
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), Some(ann_stream));
    assert_eq!(w.snapshot(room, ANN).hand_queue, [uid(BOB)]);

    // Ann mutes and unmutes herself.
    let d = w.act(ANN, Action::SetMuted { room, muted: true });
    assert_eq!(
        deltas(&d),
        [RoomChange::MuteChanged {
            user: uid(ANN),
            muted: true,
            muted_by_moderator: false
        }]
    );
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), None);
    w.act(ANN, Action::SetMuted { room, muted: false });
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), Some(ann_stream));

    // The moderator mutes Ann; she may not unmute herself.
    let d = w.act(
        MOD,
        Action::ModeratorMute {
            room,
            user: uid(ANN),
        },
    );
    assert_eq!(
        deltas(&d),
        [RoomChange::MuteChanged {
            user: uid(ANN),
            muted: true,
            muted_by_moderator: true
        }]
    );
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), None);
    let err = w.refuse(ANN, Action::SetMuted { room, muted: false });
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(
        err.message.contains("moderator must allow"),
        "{}",
        err.message
    );

    // The moderator lifts it; Ann stays muted until she unmutes herself.
    let d = w.act(
        MOD,
        Action::ModeratorUnmute {
            room,
            user: uid(ANN),
        },
    );
    assert_eq!(
        deltas(&d),
        [RoomChange::MuteChanged {
            user: uid(ANN),
            muted: true,
            muted_by_moderator: false
        }]
    );
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), None);
    w.act(ANN, Action::SetMuted { room, muted: false });
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), Some(ann_stream));

    // Back to the audience.
    let d = w.act(
        MOD,
        Action::MoveToAudience {
            room,
            user: uid(ANN),
        },
    );
    assert_eq!(
        deltas(&d),
        [
            RoomChange::RoleChanged {
                user: uid(ANN),
                role: Role::Listener
            },
            RoomChange::MuteChanged {
                user: uid(ANN),
                muted: true,
                muted_by_moderator: false
            },
        ]
    );
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), None);

    // Bob is removed (his hand goes down with him) and may come back.
    let d = w.act(
        MOD,
        Action::Remove {
            room,
            user: uid(BOB),
        },
    );
    assert_eq!(
        deltas(&d),
        [
            RoomChange::HandLowered { user: uid(BOB) },
            RoomChange::MemberLeft { user: uid(BOB) },
        ]
    );
    assert_eq!(
        others(&d),
        [(
            Target::User(uid(BOB)),
            Event::RemovedFromRoom {
                room,
                banned: false
            }
        )]
    );
    assert!(w.rooms.rooms_of(uid(BOB)).is_empty());
    assert!(!w.rooms.member_users(room).contains(&uid(BOB)));
    w.join(room, BOB);

    // Bob is banned and may not come back.
    let d = w.act(
        MOD,
        Action::Ban {
            room,
            user: uid(BOB),
        },
    );
    assert_eq!(deltas(&d), [RoomChange::MemberLeft { user: uid(BOB) }]);
    assert_eq!(
        others(&d),
        [(
            Target::User(uid(BOB)),
            Event::RemovedFromRoom { room, banned: true }
        )]
    );
    assert_eq!(w.join_code(room, BOB), ErrorCode::Banned);

    // The host ends the room: every member hears it, then the room is gone.
    let d = w.act(HOST, Action::End { room });
    assert_eq!(
        d,
        [(
            Target::Users(vec![uid(HOST), uid(MOD), uid(ANN)]),
            Event::RoomEnded {
                room,
                reason: EndReason::EndedByHost
            }
        )]
    );
    assert_eq!(w.rooms.room_count(), 0);
    assert_eq!(w.rooms.member_count(), 0);
    assert!(w.rooms.rooms_of(uid(HOST)).is_empty());
    assert!(!w.rooms.exists(room));
    let gone = w.rooms.snapshot(room, uid(HOST)).unwrap_err();
    assert_eq!(gone.code, ErrorCode::RoomNotFound);
    assert_eq!(w.join_code(room, ANN), ErrorCode::RoomNotFound);
    assert_eq!(
        w.refuse_code(HOST, Action::RaiseHand { room }),
        ErrorCode::RoomNotFound
    );
}

#[test]
fn every_request_maps_to_its_action() {
    use salon_proto::ClientRequest as R;
    let (room, user) = (rid(1), uid(BOB));
    let pairs = [
        (R::EndRoom { room }, Action::End { room }),
        (
            R::InviteToRoom { room, user },
            Action::InviteToRoom { room, user },
        ),
        (R::RaiseHand { room }, Action::RaiseHand { room }),
        (R::LowerHand { room }, Action::LowerHand { room }),
        (
            R::InviteToSpeak { room, user },
            Action::InviteToSpeak { room, user },
        ),
        (
            R::AcceptSpeakInvite { room },
            Action::AcceptSpeakInvite { room },
        ),
        (
            R::DeclineSpeakInvite { room },
            Action::DeclineSpeakInvite { room },
        ),
        (
            R::MoveToAudience { room, user },
            Action::MoveToAudience { room, user },
        ),
        (
            R::SetRole {
                room,
                user,
                role: Role::Moderator,
            },
            Action::SetRole {
                room,
                user,
                role: Role::Moderator,
            },
        ),
        (
            R::SetMuted { room, muted: true },
            Action::SetMuted { room, muted: true },
        ),
        (
            R::ModeratorMute { room, user },
            Action::ModeratorMute { room, user },
        ),
        (
            R::ModeratorUnmute { room, user },
            Action::ModeratorUnmute { room, user },
        ),
        (
            R::RemoveMember { room, user },
            Action::Remove { room, user },
        ),
        (R::BanMember { room, user }, Action::Ban { room, user }),
    ];
    for (request, action) in pairs {
        assert_eq!(Action::from_request(&request), Some(action));
        assert_eq!(action.room(), room);
    }
    for request in [
        R::JoinRoom { room },
        R::LeaveRoom { room },
        R::GetSnapshot { room },
        R::Ping,
    ] {
        assert_eq!(Action::from_request(&request), None);
    }
}
