//! How rooms end and who inherits them: host succession, the empty-stage grace period
//! with an injected clock, ending by the host and server shutdown.

use std::time::Duration;

use salon_proto::room::{EndReason, Role, RoomChange, Visibility};
use salon_proto::{ErrorCode, Event};

use super::*;

const GRACE: Duration = Duration::from_secs(30);
const TINY: Duration = Duration::from_millis(1);

#[test]
fn the_longest_present_moderator_inherits_the_host_seat() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    // DAN arrives before MOD but is made moderator after: arrival is what counts.
    for n in [DAN, HOST, MOD, ANN] {
        w.join(room, n);
    }
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(MOD),
            role: Role::Moderator,
        },
    );
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
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    w.act(ANN, Action::AcceptSpeakInvite { room });

    let d = w.leave(room, HOST);
    assert_eq!(
        deltas(&d),
        [
            RoomChange::MemberLeft { user: uid(HOST) },
            RoomChange::RoleChanged {
                user: uid(DAN),
                role: Role::Host
            },
        ]
    );
    assert_eq!(w.rooms.moderators(room), [uid(DAN), uid(MOD)]);
    // The old host comes back as a listener; the new one has the host's powers.
    w.join(room, HOST);
    assert_eq!(w.member(room, HOST).role, Role::Listener);
    w.act(
        DAN,
        Action::SetRole {
            room,
            user: uid(HOST),
            role: Role::Moderator,
        },
    );
    assert_eq!(
        w.refuse_code(MOD, Action::End { room }),
        ErrorCode::Forbidden
    );

    // And again when the new host leaves: MOD arrived before HOST rejoined.
    let d = w.leave(room, DAN);
    assert_eq!(
        deltas(&d)[1],
        RoomChange::RoleChanged {
            user: uid(MOD),
            role: Role::Host
        }
    );
    let d = w.act(MOD, Action::End { room });
    assert_eq!(others(&d).len(), 1);
}

#[test]
fn an_heir_that_was_moderator_muted_is_released() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    w.join(room, MOD);
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(MOD),
            role: Role::Moderator,
        },
    );
    w.act(
        HOST,
        Action::ModeratorMute {
            room,
            user: uid(MOD),
        },
    );
    let d = w.leave(room, HOST);
    assert_eq!(
        deltas(&d),
        [
            RoomChange::MemberLeft { user: uid(HOST) },
            RoomChange::RoleChanged {
                user: uid(MOD),
                role: Role::Host
            },
            RoomChange::MuteChanged {
                user: uid(MOD),
                muted: true,
                muted_by_moderator: false
            },
        ]
    );
    w.act(MOD, Action::SetMuted { room, muted: false });
    assert!(w.rooms.audio_sender(room, uid(MOD)).is_some());
}

#[test]
fn without_a_moderator_the_seat_waits_for_the_host() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    w.join(room, ANN);
    w.join(room, BOB);
    w.act(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    w.act(ANN, Action::AcceptSpeakInvite { room });

    let d = w.leave(room, HOST);
    assert_eq!(deltas(&d), [RoomChange::MemberLeft { user: uid(HOST) }]);
    assert!(w.rooms.moderators(room).is_empty());
    // Nobody can moderate meanwhile; the speaker keeps the room alive.
    assert_eq!(
        w.refuse_code(
            ANN,
            Action::InviteToSpeak {
                room,
                user: uid(BOB)
            }
        ),
        ErrorCode::Forbidden
    );
    w.advance(GRACE * 10);
    assert!(w.tick().is_empty());
    // The host returns to the seat, unmuted.
    w.join(room, HOST);
    let host = w.member(room, HOST);
    assert_eq!((host.role, host.muted), (Role::Host, false));
}

#[test]
fn a_room_nobody_joins_ends_after_the_grace_period() {
    let mut w = World::new();
    w.create(rid(1), HOST, Visibility::Public);
    w.advance(GRACE - TINY);
    assert!(w.tick().is_empty());
    assert_eq!(w.rooms.room_count(), 1);
    w.advance(TINY);
    assert!(w.tick().is_empty(), "nobody to tell");
    assert_eq!(w.rooms.room_count(), 0);
    assert_eq!(w.join_code(rid(1), HOST), ErrorCode::RoomNotFound);
}

#[test]
fn a_room_whose_stage_empties_ends_after_the_grace_period() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.advance(Duration::from_secs(20));
    w.join(room, HOST);
    w.join(room, BOB);
    // Long after creation, but the stage was never empty for the grace period.
    w.advance(Duration::from_secs(60));
    assert!(w.tick().is_empty());

    w.leave(room, HOST);
    let emptied = w.now;
    w.advance(GRACE - TINY);
    assert!(w.tick().is_empty());
    w.advance(TINY);
    let d = w.tick();
    assert_eq!(
        d,
        [(
            Target::Users(vec![uid(BOB)]),
            Event::RoomEnded {
                room,
                reason: EndReason::StageEmpty
            }
        )]
    );
    assert_eq!(w.now - emptied, GRACE);
    assert_eq!(w.rooms.room_count(), 0);
    assert!(w.rooms.rooms_of(uid(BOB)).is_empty());
    assert_eq!(w.rooms.member_count(), 0);
}

#[test]
fn someone_back_on_stage_restarts_the_clock() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    w.join(room, HOST);
    w.join(room, BOB);
    w.leave(room, HOST);
    w.advance(Duration::from_secs(20));
    w.join(room, HOST);
    w.advance(Duration::from_secs(5));
    // The host hands the stage to Bob, then Bob steps down: empty again from here.
    w.act(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(BOB),
        },
    );
    w.act(BOB, Action::AcceptSpeakInvite { room });
    w.leave(room, HOST);
    w.advance(Duration::from_secs(20));
    assert!(w.tick().is_empty(), "Bob is on stage");
    w.act(
        BOB,
        Action::MoveToAudience {
            room,
            user: uid(BOB),
        },
    );
    let emptied = w.now;
    w.advance(GRACE - TINY);
    assert!(w.tick().is_empty());
    w.now = emptied + GRACE;
    assert_eq!(w.tick().len(), 1);
    assert_eq!(w.rooms.room_count(), 0);
    assert!(w.now > w.t0);
}

#[test]
fn tick_ends_only_the_rooms_that_are_due() {
    let config = RoomsConfig {
        stage_grace: Duration::from_secs(5),
        ..RoomsConfig::default()
    };
    let mut w = World::with_config(config);
    w.create(rid(1), 10, Visibility::Public);
    w.join(rid(1), 11);
    w.advance(Duration::from_secs(2));
    w.create(rid(2), 20, Visibility::Private);
    w.join(rid(2), 20);
    w.create(rid(3), 30, Visibility::Unlisted);
    w.join(rid(3), 31);
    w.advance(Duration::from_secs(3));
    let d = w.tick();
    assert_eq!(
        d,
        [(
            Target::Users(vec![uid(11)]),
            Event::RoomEnded {
                room: rid(1),
                reason: EndReason::StageEmpty
            }
        )]
    );
    w.advance(Duration::from_secs(2));
    let d = w.tick();
    assert_eq!(
        d,
        [(
            Target::Users(vec![uid(31)]),
            Event::RoomEnded {
                room: rid(3),
                reason: EndReason::StageEmpty
            }
        )]
    );
    assert_eq!(w.rooms.room_count(), 1);
    assert!(w.rooms.exists(rid(2)));
}

#[test]
fn only_the_host_ends_a_room() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    for n in [HOST, MOD, ANN, BOB] {
        w.join(room, n);
    }
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(MOD),
            role: Role::Moderator,
        },
    );
    w.act(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    w.act(ANN, Action::AcceptSpeakInvite { room });
    for n in [MOD, ANN, BOB] {
        let err = w.refuse(n, Action::End { room });
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert_eq!(err.message, "Only the host can end the room.");
    }
    assert_eq!(
        w.refuse_code(CAT, Action::End { room }),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        w.refuse_code(HOST, Action::End { room: rid(2) }),
        ErrorCode::RoomNotFound
    );
    let d = w.act(HOST, Action::End { room });
    assert_eq!(
        d,
        [(
            Target::Users(vec![uid(HOST), uid(MOD), uid(ANN), uid(BOB)]),
            Event::RoomEnded {
                room,
                reason: EndReason::EndedByHost
            }
        )]
    );
    assert_eq!(
        w.rooms.recipients(&d[0].0).len(),
        4,
        "resolvable after the room is gone"
    );
    assert!(w.rooms.member_users(room).is_empty());
}

#[test]
fn shutdown_ends_every_room_in_creation_order() {
    let mut w = World::new();
    for n in [3, 1, 2] {
        w.create(rid(n), u16::from(n) * 10, Visibility::Public);
        w.join(rid(n), u16::from(n) * 10);
        w.join(rid(n), 99);
    }
    w.create(rid(4), 40, Visibility::Public);
    let d = w.end_all();
    let ended: Vec<_> = d
        .iter()
        .map(|(target, event)| match event {
            Event::RoomEnded {
                room,
                reason: EndReason::ServerShutdown,
            } => (*room, target.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ended,
        [
            (rid(3), Target::Users(vec![uid(30), uid(99)])),
            (rid(1), Target::Users(vec![uid(10), uid(99)])),
            (rid(2), Target::Users(vec![uid(20), uid(99)])),
        ]
    );
    assert_eq!(w.rooms.room_count(), 0);
    assert_eq!(w.rooms.member_count(), 0);
    assert!(w.rooms.rooms_of(uid(99)).is_empty());
    assert!(w.end_all().is_empty());
}

#[test]
fn one_person_in_several_rooms() {
    let mut w = World::new();
    for n in [2, 1] {
        w.create(rid(n), HOST, Visibility::Public);
        w.join(rid(n), HOST);
        w.join(rid(n), BOB);
    }
    assert_eq!(w.rooms.rooms_of(uid(BOB)), [rid(1), rid(2)]);
    assert_eq!(w.rooms.member_count(), 4);
    // A dropped connection leaves them all.
    for room in w.rooms.rooms_of(uid(HOST)) {
        w.leave(room, HOST);
    }
    assert!(w.rooms.rooms_of(uid(HOST)).is_empty());
    assert_eq!(w.rooms.rooms_of(uid(BOB)).len(), 2);
}

#[test]
fn a_record_round_trips_through_restore() {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Private);
    w.join(room, HOST);
    for n in [BOB, CAT, ANN] {
        w.act(HOST, Action::InviteToRoom { room, user: uid(n) });
    }
    w.join(room, CAT);
    w.act(
        HOST,
        Action::Ban {
            room,
            user: uid(CAT),
        },
    );
    let record = w.rooms.record(room).expect("a live room has a record");
    let mut invited = vec![uid(ANN), uid(BOB), uid(CAT)];
    invited.sort();
    assert_eq!(record.host, uid(HOST));
    assert_eq!(record.title, "Room 1");
    assert_eq!(record.visibility, Visibility::Private);
    assert_eq!(record.invited, invited);
    assert_eq!(record.banned, [uid(CAT)]);
    assert_eq!(w.rooms.record(rid(9)), None);

    // A new server brings it back, empty, with its stage empty.
    let mut restored = World::new();
    restored
        .rooms
        .restore(record.clone(), restored.now)
        .unwrap();
    restored.mirrors.insert(room, Default::default());
    restored.check();
    assert_eq!(restored.rooms.record(room), Some(record.clone()));
    assert_eq!(restored.rooms.member_count(), 0);
    assert_eq!(restored.version(room), 0);
    assert_eq!(
        restored
            .rooms
            .restore(record, restored.now)
            .unwrap_err()
            .code,
        ErrorCode::Internal
    );
    restored.advance(GRACE);
    restored.tick();
    assert!(
        !restored.rooms.exists(room),
        "nobody came back to the stage"
    );
}

#[test]
fn a_restored_private_room_admits_the_invited_and_refuses_the_banned() {
    let mut w = World::new();
    let room = rid(2);
    let record = RoomRecord {
        room,
        host: uid(MOD),
        title: "Back again".into(),
        visibility: Visibility::Private,
        invited: vec![uid(BOB), uid(CAT)],
        banned: vec![uid(CAT)],
    };
    w.rooms.restore(record, w.now).unwrap();
    w.mirrors.insert(room, Default::default());
    w.check();
    assert_eq!(w.join_code(room, DAN), ErrorCode::RoomNotFound);
    assert_eq!(w.join_code(room, CAT), ErrorCode::Banned);
    w.join(room, BOB);
    assert_eq!(w.member(room, BOB).role, Role::Listener);
    // The seat holder comes back as host, on stage, and the room lives on.
    w.join(room, MOD);
    assert_eq!(w.member(room, MOD).role, Role::Host);
    w.advance(GRACE + TINY);
    w.tick();
    assert!(w.rooms.exists(room));
    assert_eq!(w.rooms.record(room).unwrap().host, uid(MOD));
}
