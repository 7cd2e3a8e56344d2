//! From the client library's types to the UI's ([`crate::dto`]) and back: pure
//! functions, unit-tested here.

use salon_client::proto::room::{self, RoomSnapshot, SpeakerLevel};
use salon_client::proto::{RoomId, UserId};
use salon_client::{ConnectionState, OfflineReason, RoomView};

use crate::dto::{self, Connection, ConnectionKind, Level, Member, Role, Room, Visibility};
use crate::error::{UiError, UiResult};

/// The account as the UI shows it.
pub fn account(account: &salon_client::Account) -> dto::Account {
    dto::Account {
        user_id: account.user.to_string(),
        handle: account.handle.to_string(),
        display_name: account.display_name.clone(),
    }
}

/// The connection banner's state.
pub fn connection(state: &ConnectionState) -> Connection {
    let (state, attempt, next_in_ms, reason) = match state {
        ConnectionState::Connecting => (ConnectionKind::Connecting, None, None, None),
        ConnectionState::Connected => (ConnectionKind::Connected, None, None, None),
        ConnectionState::Reconnecting { attempt, next_in } => (
            ConnectionKind::Reconnecting,
            Some(*attempt),
            Some(u32::try_from(next_in.as_millis()).unwrap_or(u32::MAX)),
            None,
        ),
        ConnectionState::Offline { reason } => {
            let reason = match reason {
                OfflineReason::ShutDown => "Disconnected.".to_owned(),
                OfflineReason::SessionEnded { message } => format!(
                    "The server ended this session ({message}); this device may have been \
                     removed from the account."
                ),
                OfflineReason::LoginRefused { message, .. } => {
                    format!("The server refused to log in again: {message}.")
                }
            };
            (ConnectionKind::Offline, None, None, Some(reason))
        }
    };
    Connection {
        state,
        attempt,
        next_in_ms,
        reason,
    }
}

/// A role as the UI names it.
pub fn role(role: room::Role) -> Role {
    match role {
        room::Role::Host => Role::Host,
        room::Role::Moderator => Role::Moderator,
        room::Role::Speaker => Role::Speaker,
        room::Role::Listener => Role::Listener,
    }
}

/// A role the UI asks for.
pub fn role_to_proto(role: Role) -> room::Role {
    match role {
        Role::Host => room::Role::Host,
        Role::Moderator => room::Role::Moderator,
        Role::Speaker => room::Role::Speaker,
        Role::Listener => room::Role::Listener,
    }
}

/// A visibility as the UI names it.
pub fn visibility(visibility: room::Visibility) -> Visibility {
    match visibility {
        room::Visibility::Public => Visibility::Public,
        room::Visibility::Unlisted => Visibility::Unlisted,
        room::Visibility::Private => Visibility::Private,
    }
}

/// A visibility the UI asks for.
pub fn visibility_to_proto(visibility: Visibility) -> room::Visibility {
    match visibility {
        Visibility::Public => room::Visibility::Public,
        Visibility::Unlisted => room::Visibility::Unlisted,
        Visibility::Private => room::Visibility::Private,
    }
}

/// A hallway entry.
pub fn summary(summary: &room::RoomSummary) -> dto::RoomSummary {
    dto::RoomSummary {
        room_id: summary.room.to_string(),
        title: summary.title.clone(),
        speakers: summary.speakers.clone(),
        listener_count: summary.listeners,
    }
}

/// The room as the UI shows it: stage (host first) and audience, hands in order.
pub fn room(view: &RoomView, invited: bool, volume: impl Fn(UserId) -> u16) -> Room {
    let snapshot: &RoomSnapshot = &view.snapshot;
    let member = |m: &room::Member| Member {
        user_id: m.user.to_string(),
        handle: m.handle.to_string(),
        display_name: m.display_name.clone(),
        role: role(m.role),
        muted: m.muted,
        moderator_muted: m.muted_by_moderator,
        hand_raised: m.hand_raised,
        volume: volume(m.user),
    };
    let mut stage: Vec<Member> = snapshot
        .members
        .iter()
        .filter(|m| m.role.on_stage())
        .map(member)
        .collect();
    // Host first, then moderators, then speakers; stable within a role.
    stage.sort_by_key(|m| match m.role {
        Role::Host => 0,
        Role::Moderator => 1,
        _ => 2,
    });
    let audience = snapshot
        .members
        .iter()
        .filter(|m| !m.role.on_stage())
        .map(member)
        .collect();
    let me = view.me();
    let on_stage = me.is_some_and(|m| m.role.on_stage());
    Room {
        room_id: snapshot.room.to_string(),
        title: snapshot.title.clone(),
        visibility: visibility(snapshot.visibility),
        me: view.me.to_string(),
        my_role: me.map_or(Role::Listener, |m| role(m.role)),
        stage,
        audience,
        hands: snapshot
            .hand_queue
            .iter()
            .map(ToString::to_string)
            .collect(),
        invited_to_speak: invited && !on_stage,
        muted: me.is_some_and(|m| m.muted || m.muted_by_moderator),
    }
}

/// Loudness in -dBov (0 loudest, 127 silence) as 0..1 over the 60 dB that matter.
pub fn level01(dbov: u8) -> f32 {
    (1.0 - f32::from(dbov.min(60)) / 60.0).clamp(0.0, 1.0)
}

/// Levels with user ids (streams of people no longer in the room are dropped).
/// Someone is speaking when their voice-activity detector says so or they are louder
/// than -40 dBov.
pub fn levels(view: &RoomView, levels: &[SpeakerLevel]) -> Vec<Level> {
    levels
        .iter()
        .filter_map(|level| {
            let member = view.member_by_stream(level.stream)?;
            Some(Level {
                user_id: member.user.to_string(),
                level: level01(level.level),
                speaking: level.voice || level.level <= 40,
            })
        })
        .collect()
}

/// A user id from the UI.
pub fn user_id(text: &str) -> UiResult<UserId> {
    text.parse()
        .map_err(|_| UiError::invalid(format!("{text:?} is not a user id.")))
}

/// A room id from the UI.
pub fn room_id(text: &str) -> UiResult<RoomId> {
    text.parse()
        .map_err(|_| UiError::invalid(format!("{text:?} is not a room id.")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn levels_map_loudness_to_0_1() {
        assert_eq!(level01(0), 1.0);
        assert_eq!(level01(127), 0.0);
        assert!((level01(30) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn reconnecting_carries_the_next_attempt() {
        let c = connection(&ConnectionState::Reconnecting {
            attempt: 3,
            next_in: Duration::from_millis(1600),
        });
        assert_eq!(c.state, ConnectionKind::Reconnecting);
        assert_eq!(c.attempt, Some(3));
        assert_eq!(c.next_in_ms, Some(1600));
    }

    fn member(n: u8, handle: &str, role: room::Role) -> room::Member {
        room::Member {
            user: UserId::from_bytes([n; 16]),
            handle: salon_client::proto::Handle::parse(handle).unwrap(),
            display_name: handle.to_uppercase(),
            role,
            stream: salon_client::proto::StreamId(u16::from(n)),
            muted: n == 3,
            muted_by_moderator: false,
            hand_raised: n == 4,
        }
    }

    #[test]
    fn the_room_puts_the_host_first_and_splits_stage_and_audience() {
        let view = RoomView {
            snapshot: RoomSnapshot {
                room: RoomId::from_bytes([9; 16]),
                title: "Friday".into(),
                visibility: room::Visibility::Public,
                version: 7,
                members: vec![
                    member(1, "speaker_one", room::Role::Speaker),
                    member(2, "the_host", room::Role::Host),
                    member(3, "moderator", room::Role::Moderator),
                    member(4, "listener", room::Role::Listener),
                ],
                hand_queue: vec![UserId::from_bytes([4; 16])],
            },
            me: UserId::from_bytes([3; 16]),
            my_stream: salon_client::proto::StreamId(3),
        };
        let room = room(
            &view,
            true,
            |user| if user.as_bytes()[0] == 1 { 150 } else { 100 },
        );
        let stage: Vec<&str> = room.stage.iter().map(|m| m.handle.as_str()).collect();
        assert_eq!(stage, ["the_host", "moderator", "speaker_one"]);
        assert_eq!(room.audience.len(), 1);
        assert_eq!(room.audience[0].handle, "listener");
        assert!(room.audience[0].hand_raised);
        assert_eq!(room.hands, [UserId::from_bytes([4; 16]).to_string()]);
        assert_eq!(room.my_role, Role::Moderator);
        assert!(room.muted, "me (the moderator) muted myself");
        assert!(
            !room.invited_to_speak,
            "an invitation means nothing on stage"
        );
        assert_eq!(room.stage[2].volume, 150);
        // Levels map streams to people; unknown streams are dropped.
        let levels = levels(
            &view,
            &[
                SpeakerLevel {
                    stream: salon_client::proto::StreamId(1),
                    level: 20,
                    voice: true,
                },
                SpeakerLevel {
                    stream: salon_client::proto::StreamId(99),
                    level: 0,
                    voice: true,
                },
            ],
        );
        assert_eq!(levels.len(), 1);
        assert_eq!(levels[0].user_id, UserId::from_bytes([1; 16]).to_string());
        assert!(levels[0].speaking);
    }

    #[test]
    fn bad_ids_are_invalid_input() {
        assert_eq!(user_id("nope").unwrap_err().code, "invalid_input");
        assert_eq!(room_id("").unwrap_err().code, "invalid_input");
    }
}
