//! Stage actions one by one, with every refusal: hands, invitations to speak, moving
//! to the audience, muting, roles, removal and bans.

use salon_proto::room::{Role, RoomChange, Visibility};
use salon_proto::{ErrorCode, Event};

use super::*;

/// A public room with the host, a moderator (MOD), a speaker (ANN) and two listeners
/// (BOB, CAT), in that join order.
fn staged() -> (World, RoomId) {
    let mut w = World::new();
    let room = rid(1);
    w.create(room, HOST, Visibility::Public);
    for n in [HOST, MOD, ANN, BOB, CAT] {
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
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    w.act(ANN, Action::AcceptSpeakInvite { room });
    (w, room)
}

#[test]
fn only_listeners_raise_hands_and_the_queue_keeps_its_order() {
    let (mut w, room) = staged();
    for n in [HOST, MOD, ANN] {
        let err = w.refuse(n, Action::RaiseHand { room });
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("already on stage"));
    }
    // Lowering a hand that is down changes nothing.
    assert!(w.act(BOB, Action::LowerHand { room }).is_empty());
    assert!(w.act(HOST, Action::LowerHand { room }).is_empty());

    w.act(CAT, Action::RaiseHand { room });
    w.act(BOB, Action::RaiseHand { room });
    w.join(room, DAN);
    w.act(DAN, Action::RaiseHand { room });
    assert_eq!(
        w.snapshot(room, BOB).hand_queue,
        [uid(CAT), uid(BOB), uid(DAN)]
    );

    let d = w.act(BOB, Action::LowerHand { room });
    assert_eq!(deltas(&d), [RoomChange::HandLowered { user: uid(BOB) }]);
    assert_eq!(w.snapshot(room, BOB).hand_queue, [uid(CAT), uid(DAN)]);

    // Raised again: to the back of the queue.
    w.act(BOB, Action::RaiseHand { room });
    assert_eq!(
        w.snapshot(room, BOB).hand_queue,
        [uid(CAT), uid(DAN), uid(BOB)]
    );

    // Leaving lowers the hand first.
    let d = w.leave(room, CAT);
    assert_eq!(
        deltas(&d),
        [
            RoomChange::HandLowered { user: uid(CAT) },
            RoomChange::MemberLeft { user: uid(CAT) },
        ]
    );
    assert_eq!(w.snapshot(room, BOB).hand_queue, [uid(DAN), uid(BOB)]);
}

#[test]
fn invitations_to_speak_go_to_listeners_only() {
    let (mut w, room) = staged();
    // Speakers and listeners cannot invite.
    for n in [ANN, BOB] {
        let err = w.refuse(
            n,
            Action::InviteToSpeak {
                room,
                user: uid(CAT),
            },
        );
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert!(err.message.contains("invite people to speak"));
    }
    // Only listeners can be invited.
    for n in [HOST, MOD, ANN] {
        let err = w.refuse(MOD, Action::InviteToSpeak { room, user: uid(n) });
        assert_eq!(err.code, ErrorCode::InvalidArgument);
    }
    assert_eq!(
        w.refuse_code(
            MOD,
            Action::InviteToSpeak {
                room,
                user: uid(DAN)
            }
        ),
        ErrorCode::NotInRoom
    );
    // Nothing to accept or decline yet.
    for action in [
        Action::AcceptSpeakInvite { room },
        Action::DeclineSpeakInvite { room },
    ] {
        let err = w.refuse(BOB, action);
        assert_eq!(err.code, ErrorCode::NotInvited);
        assert!(err.message.contains("Raise your hand"));
    }
    // Speakers have nothing pending.
    assert_eq!(
        w.refuse_code(ANN, Action::AcceptSpeakInvite { room }),
        ErrorCode::NotInvited
    );

    // Inviting twice re-sends the invitation, from whoever asked last.
    w.act(
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(BOB),
        },
    );
    let d = w.act(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(BOB),
        },
    );
    assert_eq!(
        d,
        [(
            Target::User(uid(BOB)),
            Event::InvitedToSpeak {
                room,
                by: uid(HOST)
            }
        )]
    );

    // Declining tells the moderators and withdraws the invitation.
    let v = w.version(room);
    let d = w.act(BOB, Action::DeclineSpeakInvite { room });
    assert_eq!(
        d,
        [(
            Target::Moderators(room),
            Event::SpeakInviteDeclined {
                room,
                user: uid(BOB)
            }
        )]
    );
    assert_eq!(w.version(room), v);
    assert_eq!(
        w.refuse_code(BOB, Action::AcceptSpeakInvite { room }),
        ErrorCode::NotInvited
    );
    assert_eq!(
        w.rooms.recipients(&Target::Moderators(room)),
        [uid(HOST), uid(MOD)]
    );
}

#[test]
fn accepting_without_a_raised_hand_emits_no_hand_delta() {
    let (mut w, room) = staged();
    w.act(
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(BOB),
        },
    );
    let d = w.act(BOB, Action::AcceptSpeakInvite { room });
    assert_eq!(
        deltas(&d),
        [
            RoomChange::RoleChanged {
                user: uid(BOB),
                role: Role::Speaker
            },
            RoomChange::MuteChanged {
                user: uid(BOB),
                muted: false,
                muted_by_moderator: false
            },
        ]
    );
    // Accepting again: the invitation was used up.
    assert_eq!(
        w.refuse_code(BOB, Action::AcceptSpeakInvite { room }),
        ErrorCode::NotInvited
    );
}

#[test]
fn leaving_clears_a_pending_invitation() {
    let (mut w, room) = staged();
    w.act(
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(BOB),
        },
    );
    w.leave(room, BOB);
    w.join(room, BOB);
    assert_eq!(
        w.refuse_code(BOB, Action::AcceptSpeakInvite { room }),
        ErrorCode::NotInvited
    );
}

#[test]
fn going_on_stage_another_way_clears_the_invitation_and_the_hand() {
    let (mut w, room) = staged();
    w.act(BOB, Action::RaiseHand { room });
    w.act(
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(BOB),
        },
    );
    let d = w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(BOB),
            role: Role::Moderator,
        },
    );
    assert_eq!(
        deltas(&d),
        [
            RoomChange::HandLowered { user: uid(BOB) },
            RoomChange::RoleChanged {
                user: uid(BOB),
                role: Role::Moderator
            },
        ]
    );
    // Made a moderator from the audience: on stage but still muted until they choose.
    let bob = w.member(room, BOB);
    assert!(bob.muted && !bob.muted_by_moderator);
    assert_eq!(w.rooms.audio_sender(room, uid(BOB)), None);
    // Sent back to the audience, the old invitation does not come back.
    w.act(
        BOB,
        Action::MoveToAudience {
            room,
            user: uid(BOB),
        },
    );
    assert_eq!(
        w.refuse_code(BOB, Action::AcceptSpeakInvite { room }),
        ErrorCode::NotInvited
    );
}

#[test]
fn moving_to_the_audience() {
    let (mut w, room) = staged();
    // Listeners may not move others, and the host may not be moved.
    assert_eq!(
        w.refuse_code(
            BOB,
            Action::MoveToAudience {
                room,
                user: uid(ANN)
            }
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        w.refuse_code(
            ANN,
            Action::MoveToAudience {
                room,
                user: uid(MOD)
            }
        ),
        ErrorCode::Forbidden
    );
    let err = w.refuse(
        MOD,
        Action::MoveToAudience {
            room,
            user: uid(HOST),
        },
    );
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("host"));
    let err = w.refuse(
        HOST,
        Action::MoveToAudience {
            room,
            user: uid(HOST),
        },
    );
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.contains("hand the room to someone else"));
    assert_eq!(
        w.refuse_code(
            MOD,
            Action::MoveToAudience {
                room,
                user: uid(DAN)
            }
        ),
        ErrorCode::NotInRoom
    );

    // Listeners are already there.
    assert!(
        w.act(
            BOB,
            Action::MoveToAudience {
                room,
                user: uid(BOB)
            }
        )
        .is_empty()
    );
    assert!(
        w.act(
            MOD,
            Action::MoveToAudience {
                room,
                user: uid(BOB)
            }
        )
        .is_empty()
    );

    // A speaker steps down by themselves.
    let d = w.act(
        ANN,
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

    // A moderator-muted moderator moved by the host: one mute delta clears both flags.
    w.act(
        HOST,
        Action::ModeratorMute {
            room,
            user: uid(MOD),
        },
    );
    let d = w.act(
        HOST,
        Action::MoveToAudience {
            room,
            user: uid(MOD),
        },
    );
    assert_eq!(
        deltas(&d),
        [
            RoomChange::RoleChanged {
                user: uid(MOD),
                role: Role::Listener
            },
            RoomChange::MuteChanged {
                user: uid(MOD),
                muted: true,
                muted_by_moderator: false
            },
        ]
    );
    assert_eq!(w.rooms.moderators(room), [uid(HOST)]);
    // A muted speaker moved: only the role changes.
    w.act(
        HOST,
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    w.act(ANN, Action::AcceptSpeakInvite { room });
    w.act(ANN, Action::SetMuted { room, muted: true });
    let d = w.act(
        HOST,
        Action::MoveToAudience {
            room,
            user: uid(ANN),
        },
    );
    assert_eq!(
        deltas(&d),
        [RoomChange::RoleChanged {
            user: uid(ANN),
            role: Role::Listener
        }]
    );
}

#[test]
fn moderators_may_move_other_moderators() {
    let (mut w, room) = staged();
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(BOB),
            role: Role::Moderator,
        },
    );
    w.act(
        BOB,
        Action::MoveToAudience {
            room,
            user: uid(MOD),
        },
    );
    assert_eq!(w.member(room, MOD).role, Role::Listener);
}

#[test]
fn muting_oneself() {
    let (mut w, room) = staged();
    // Listeners are muted and cannot unmute.
    assert!(
        w.act(BOB, Action::SetMuted { room, muted: true })
            .is_empty()
    );
    let err = w.refuse(BOB, Action::SetMuted { room, muted: false });
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("Raise your hand"));
    // Same state: nothing.
    assert!(
        w.act(ANN, Action::SetMuted { room, muted: false })
            .is_empty()
    );
    // The host and moderators mute and unmute like speakers.
    w.act(HOST, Action::SetMuted { room, muted: true });
    assert_eq!(w.rooms.audio_sender(room, uid(HOST)), None);
    w.act(HOST, Action::SetMuted { room, muted: false });
    assert!(w.rooms.audio_sender(room, uid(HOST)).is_some());
    w.act(MOD, Action::SetMuted { room, muted: false });
    assert!(w.rooms.audio_sender(room, uid(MOD)).is_some());
}

#[test]
fn moderator_mutes_and_their_limits() {
    let (mut w, room) = staged();
    let mute = |n| Action::ModeratorMute { room, user: uid(n) };
    let unmute = |n| Action::ModeratorUnmute { room, user: uid(n) };

    for n in [ANN, BOB] {
        let err = w.refuse(n, mute(ANN));
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert!(err.message.contains("mute speakers"));
        assert_eq!(w.refuse_code(n, unmute(ANN)), ErrorCode::Forbidden);
    }
    let err = w.refuse(MOD, mute(HOST));
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("cannot mute the host"));
    assert_eq!(w.refuse_code(MOD, mute(MOD)), ErrorCode::InvalidArgument);
    assert_eq!(w.refuse_code(HOST, mute(HOST)), ErrorCode::InvalidArgument);
    assert_eq!(w.refuse_code(MOD, mute(BOB)), ErrorCode::InvalidArgument);
    assert_eq!(w.refuse_code(MOD, mute(DAN)), ErrorCode::NotInRoom);
    assert_eq!(w.refuse_code(MOD, unmute(DAN)), ErrorCode::NotInRoom);

    // Lifting a mute nobody set does nothing.
    assert!(w.act(MOD, unmute(ANN)).is_empty());

    // Muting twice: one delta.
    assert_eq!(deltas(&w.act(MOD, mute(ANN))).len(), 1);
    assert!(w.act(HOST, mute(ANN)).is_empty());
    // Muting herself while moderator-muted changes nothing either.
    assert!(
        w.act(ANN, Action::SetMuted { room, muted: true })
            .is_empty()
    );

    // The host may moderator-mute a moderator, who then may not lift it themselves.
    w.act(HOST, mute(MOD));
    let err = w.refuse(MOD, unmute(MOD));
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("another moderator"));
    assert_eq!(
        w.refuse_code(MOD, Action::SetMuted { room, muted: false }),
        ErrorCode::Forbidden
    );
    // ...but they may still act on others.
    w.act(MOD, unmute(ANN));
    assert!(!w.member(room, ANN).muted_by_moderator);
    assert!(w.member(room, ANN).muted);
    w.act(HOST, unmute(MOD));
    w.act(MOD, Action::SetMuted { room, muted: false });
    assert!(w.rooms.audio_sender(room, uid(MOD)).is_some());
}

#[test]
fn roles_are_the_hosts_to_give() {
    let (mut w, room) = staged();
    let set = |n, role| Action::SetRole {
        room,
        user: uid(n),
        role,
    };
    for n in [MOD, ANN, BOB] {
        let err = w.refuse(n, set(CAT, Role::Moderator));
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert!(err.message.starts_with("Only the host"));
    }
    assert_eq!(
        w.refuse_code(MOD, set(MOD, Role::Host)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        w.refuse_code(HOST, set(DAN, Role::Moderator)),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        w.refuse_code(HOST, set(HOST, Role::Moderator)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        w.refuse_code(HOST, set(ANN, Role::Listener)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        w.refuse_code(HOST, set(BOB, Role::Speaker)),
        ErrorCode::InvalidArgument
    );

    // Already so: nothing.
    assert!(w.act(HOST, set(MOD, Role::Moderator)).is_empty());
    assert!(w.act(HOST, set(ANN, Role::Speaker)).is_empty());

    // A speaker becomes a moderator and back, keeping their mute state.
    let d = w.act(HOST, set(ANN, Role::Moderator));
    assert_eq!(
        deltas(&d),
        [RoomChange::RoleChanged {
            user: uid(ANN),
            role: Role::Moderator
        }]
    );
    assert!(!w.member(room, ANN).muted);
    let d = w.act(HOST, set(ANN, Role::Speaker));
    assert_eq!(
        deltas(&d),
        [RoomChange::RoleChanged {
            user: uid(ANN),
            role: Role::Speaker
        }]
    );
    assert!(!w.member(room, ANN).muted);
}

#[test]
fn handing_the_room_over() {
    let (mut w, room) = staged();
    // The new host was moderator-muted: the host seat lifts that.
    w.act(
        HOST,
        Action::ModeratorMute {
            room,
            user: uid(ANN),
        },
    );
    let d = w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(ANN),
            role: Role::Host,
        },
    );
    assert_eq!(
        deltas(&d),
        [
            RoomChange::RoleChanged {
                user: uid(HOST),
                role: Role::Moderator
            },
            RoomChange::RoleChanged {
                user: uid(ANN),
                role: Role::Host
            },
            RoomChange::MuteChanged {
                user: uid(ANN),
                muted: true,
                muted_by_moderator: false
            },
        ]
    );
    assert_eq!(w.rooms.moderators(room), [uid(ANN), uid(HOST), uid(MOD)]);
    // The old host is a moderator now.
    assert_eq!(
        w.refuse_code(HOST, Action::End { room }),
        ErrorCode::Forbidden
    );
    assert_eq!(
        w.refuse_code(
            HOST,
            Action::SetRole {
                room,
                user: uid(BOB),
                role: Role::Moderator
            }
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        w.refuse_code(
            HOST,
            Action::Remove {
                room,
                user: uid(ANN)
            }
        ),
        ErrorCode::Forbidden
    );
    // ...and may be removed by the new host.
    w.act(
        ANN,
        Action::MoveToAudience {
            room,
            user: uid(HOST),
        },
    );
    w.act(
        ANN,
        Action::Remove {
            room,
            user: uid(HOST),
        },
    );
    // Rejoining, the creator is an ordinary listener: the seat is Ann's.
    w.join(room, HOST);
    assert_eq!(w.member(room, HOST).role, Role::Listener);

    // Handing over to a listener brings them on stage, hand down, still muted.
    w.act(BOB, Action::RaiseHand { room });
    let d = w.act(
        ANN,
        Action::SetRole {
            room,
            user: uid(BOB),
            role: Role::Host,
        },
    );
    assert_eq!(
        deltas(&d),
        [
            RoomChange::RoleChanged {
                user: uid(ANN),
                role: Role::Moderator
            },
            RoomChange::HandLowered { user: uid(BOB) },
            RoomChange::RoleChanged {
                user: uid(BOB),
                role: Role::Host
            },
        ]
    );
    assert!(w.member(room, BOB).muted);
    w.act(BOB, Action::End { room });
}

#[test]
fn removing_and_banning_and_their_limits() {
    let (mut w, room) = staged();
    for (action, word) in [
        (
            Action::Remove {
                room,
                user: uid(HOST),
            },
            "removed",
        ),
        (
            Action::Ban {
                room,
                user: uid(HOST),
            },
            "banned",
        ),
    ] {
        let err = w.refuse(MOD, action);
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert!(err.message.contains(word), "{}", err.message);
    }
    for n in [ANN, BOB] {
        assert_eq!(
            w.refuse_code(
                n,
                Action::Remove {
                    room,
                    user: uid(CAT)
                }
            ),
            ErrorCode::Forbidden
        );
        assert_eq!(
            w.refuse_code(
                n,
                Action::Ban {
                    room,
                    user: uid(CAT)
                }
            ),
            ErrorCode::Forbidden
        );
    }
    let err = w.refuse(
        MOD,
        Action::Remove {
            room,
            user: uid(MOD),
        },
    );
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.contains("leave"));
    assert_eq!(
        w.refuse_code(
            HOST,
            Action::Ban {
                room,
                user: uid(HOST)
            }
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        w.refuse_code(
            MOD,
            Action::Ban {
                room,
                user: uid(DAN)
            }
        ),
        ErrorCode::NotInRoom
    );

    // A speaker is removed: their stream stops at once.
    assert!(w.rooms.audio_sender(room, uid(ANN)).is_some());
    w.act(
        MOD,
        Action::Remove {
            room,
            user: uid(ANN),
        },
    );
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), None);
    assert_eq!(
        w.refuse_code(ANN, Action::RaiseHand { room }),
        ErrorCode::NotInRoom
    );
    w.join(room, ANN);

    // Moderators may remove each other; the host may ban a moderator.
    w.act(
        HOST,
        Action::SetRole {
            room,
            user: uid(BOB),
            role: Role::Moderator,
        },
    );
    w.act(
        BOB,
        Action::Remove {
            room,
            user: uid(MOD),
        },
    );
    w.join(room, MOD);
    assert_eq!(
        w.member(room, MOD).role,
        Role::Listener,
        "roles do not survive leaving"
    );
    let d = w.act(
        HOST,
        Action::Ban {
            room,
            user: uid(BOB),
        },
    );
    assert_eq!(deltas(&d), [RoomChange::MemberLeft { user: uid(BOB) }]);
    assert_eq!(w.rooms.moderators(room), [uid(HOST)]);
    let err = w.try_join(room, BOB).unwrap_err();
    assert_eq!(err.code, ErrorCode::Banned);
    assert!(err.message.contains("banned"));
}

#[test]
fn audio_is_forwarded_only_for_unmuted_people_on_stage() {
    let (mut w, room) = staged();
    assert!(w.rooms.audio_sender(room, uid(HOST)).is_some());
    assert!(w.rooms.audio_sender(room, uid(ANN)).is_some());
    assert_eq!(
        w.rooms.audio_sender(room, uid(MOD)),
        None,
        "made moderator from the audience"
    );
    assert_eq!(w.rooms.audio_sender(room, uid(BOB)), None);
    assert_eq!(w.rooms.audio_sender(room, uid(DAN)), None);
    assert_eq!(w.rooms.audio_sender(rid(9), uid(HOST)), None);
    let host_stream = w.member(room, HOST).stream;
    assert_eq!(w.rooms.audio_sender(room, uid(HOST)), Some(host_stream));
    w.leave(room, ANN);
    assert_eq!(w.rooms.audio_sender(room, uid(ANN)), None);
}

/// The role and mute flags of `n` in `room` as the snapshot shows them.
fn place(w: &World, room: RoomId, n: u16) -> (Role, bool, bool) {
    let snapshot = w.rooms.snapshot(room, uid(HOST)).unwrap();
    let member = snapshot
        .members
        .iter()
        .find(|m| m.user == uid(n))
        .expect("a member");
    (member.role, member.muted, member.muted_by_moderator)
}

#[test]
fn a_dropped_connection_keeps_a_speakers_place_for_the_rejoin_grace() {
    let (mut w, room) = staged();
    w.act(ANN, Action::SetMuted { room, muted: false });
    assert_eq!(place(&w, room, ANN), (Role::Speaker, false, false));
    assert_eq!(place(&w, room, MOD).0, Role::Moderator);

    // The connection drops: the others see them leave, like any departure.
    let d = w.drop_connection(room, ANN);
    assert_eq!(deltas(&d), [RoomChange::MemberLeft { user: uid(ANN) }]);
    w.drop_connection(room, MOD);

    // Back within the grace: same role, same (un)muted state.
    w.advance(Duration::from_secs(10));
    w.join(room, ANN);
    assert_eq!(place(&w, room, ANN), (Role::Speaker, false, false));
    w.join(room, MOD);
    assert_eq!(place(&w, room, MOD).0, Role::Moderator);

    // Past the grace: the audience, like anyone else.
    w.drop_connection(room, ANN);
    w.advance(DEFAULT_STAGE_GRACE);
    w.tick();
    w.join(room, ANN);
    assert_eq!(place(&w, room, ANN), (Role::Listener, true, false));
}

#[test]
fn leaving_or_being_removed_forgets_the_place_and_moderator_mutes_survive_a_drop() {
    let (mut w, room) = staged();
    // Leaving on purpose is not a dropped connection.
    w.drop_connection(room, ANN);
    w.join(room, ANN);
    w.leave(room, ANN);
    w.join(room, ANN);
    assert_eq!(place(&w, room, ANN).0, Role::Listener);

    // A moderator's mute is not shed by dropping the connection.
    w.act(
        MOD,
        Action::InviteToSpeak {
            room,
            user: uid(ANN),
        },
    );
    w.act(ANN, Action::AcceptSpeakInvite { room });
    w.act(ANN, Action::SetMuted { room, muted: false });
    w.act(
        MOD,
        Action::ModeratorMute {
            room,
            user: uid(ANN),
        },
    );
    w.drop_connection(room, ANN);
    w.join(room, ANN);
    assert_eq!(place(&w, room, ANN), (Role::Speaker, true, true));

    // Removed while connected, then back: the audience.
    w.act(
        MOD,
        Action::Remove {
            room,
            user: uid(ANN),
        },
    );
    w.join(room, ANN);
    assert_eq!(place(&w, room, ANN).0, Role::Listener);

    // A listener's dropped connection keeps nothing.
    w.drop_connection(room, BOB);
    w.join(room, BOB);
    assert_eq!(place(&w, room, BOB), (Role::Listener, true, false));
}
