//! Long random sequences of requests, many of them refused, each checked by the
//! harness: deltas stay complete and contiguous, indexes stay consistent, refusals
//! change nothing, whatever order things happen in.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use salon_proto::room::{Role, Visibility};

use super::*;

/// People in the random walks: more than a room holds.
const PEOPLE: u16 = 14;

fn random_action(rng: &mut StdRng, room: RoomId, user: UserId) -> Action {
    match rng.gen_range(0..14) {
        0 => Action::End { room },
        1 => Action::InviteToRoom { room, user },
        2 => Action::RaiseHand { room },
        3 => Action::LowerHand { room },
        4 => Action::InviteToSpeak { room, user },
        5 => Action::AcceptSpeakInvite { room },
        6 => Action::DeclineSpeakInvite { room },
        7 => Action::MoveToAudience { room, user },
        8 => {
            let role =
                [Role::Host, Role::Moderator, Role::Speaker, Role::Listener][rng.gen_range(0..4)];
            Action::SetRole { room, user, role }
        }
        9 => Action::SetMuted {
            room,
            muted: rng.gen_bool(0.5),
        },
        10 => Action::ModeratorMute { room, user },
        11 => Action::ModeratorUnmute { room, user },
        12 => Action::Remove { room, user },
        _ => Action::Ban { room, user },
    }
}

/// Someone from `among` most of the time, anyone otherwise.
fn pick(rng: &mut StdRng, among: &[UserId], bias: f64) -> u16 {
    if !among.is_empty() && rng.gen_bool(bias) {
        let user = among[rng.gen_range(0..among.len())];
        u16::from_be_bytes([user.as_bytes()[0], user.as_bytes()[1]])
    } else {
        rng.gen_range(1..=PEOPLE)
    }
}

#[test]
fn random_walks_keep_every_room_consistent() {
    // Outcomes per action kind, to prove the walk reaches the interesting paths.
    let mut outcomes: HashMap<(String, bool), u32> = HashMap::new();
    for seed in 0..6 {
        let mut rng = StdRng::seed_from_u64(seed);
        let config = RoomsConfig {
            capacity: 10,
            stage_grace: Duration::from_secs(30),
            rejoin_grace: Duration::from_secs(30),
        };
        let mut w = World::with_config(config);
        let visibilities = [
            Visibility::Public,
            Visibility::Unlisted,
            Visibility::Private,
        ];
        let mut next_room = 1u8;
        for _ in 0..4000 {
            let mut live: Vec<RoomId> = w.rooms.rooms.keys().copied().collect();
            live.sort();
            if live.len() < 3 && rng.gen_bool(0.2) {
                let vis = visibilities[rng.gen_range(0..3)];
                let host = rng.gen_range(1..=PEOPLE);
                w.create(rid(next_room), host, vis);
                next_room = next_room.checked_add(1).unwrap();
                continue;
            }
            let room = if !live.is_empty() && rng.gen_bool(0.95) {
                live[rng.gen_range(0..live.len())]
            } else {
                rid(rng.gen_range(1..=next_room))
            };
            let members = w.rooms.member_users(room);
            let moderators = w.rooms.moderators(room);
            // Errors are expected; the harness checks that they changed nothing.
            match rng.gen_range(0..100) {
                0..=19 => drop(w.try_join(room, pick(&mut rng, &[], 0.0))),
                20..=25 => drop(w.try_leave(room, pick(&mut rng, &members, 0.9))),
                26..=27 => {
                    w.advance(Duration::from_secs(rng.gen_range(0..20)));
                    w.tick();
                }
                _ => {
                    let actor = if rng.gen_bool(0.5) {
                        pick(&mut rng, &moderators, 0.9)
                    } else {
                        pick(&mut rng, &members, 0.9)
                    };
                    let target = uid(pick(&mut rng, &members, 0.9));
                    let action = random_action(&mut rng, room, target);
                    let result = w.try_act(actor, action);
                    let kind = format!("{action:?}");
                    let kind = kind.split(' ').next().unwrap_or_default().to_owned();
                    *outcomes.entry((kind, result.is_ok())).or_default() += 1;
                }
            }
        }
        w.end_all();
    }
    for kind in [
        "End",
        "InviteToRoom",
        "RaiseHand",
        "LowerHand",
        "InviteToSpeak",
        "AcceptSpeakInvite",
        "DeclineSpeakInvite",
        "MoveToAudience",
        "SetRole",
        "SetMuted",
        "ModeratorMute",
        "ModeratorUnmute",
        "Remove",
        "Ban",
    ] {
        for ok in [true, false] {
            let count = outcomes.get(&(kind.to_owned(), ok)).copied().unwrap_or(0);
            assert!(
                count >= 3,
                "{kind} {} only {count} times",
                if ok { "done" } else { "refused" }
            );
        }
    }
}
