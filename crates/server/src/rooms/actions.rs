//! The stage actions members ask for, and who may ask for which.
//!
//! This is where the product's permission rules live, apart from the mechanics of
//! changing a room ([`super::room`]). Every action first checks everything that could
//! refuse it and only then changes the room, so a refused action changes nothing.
//! Checks run in a fixed order: the caller's membership, the caller's role
//! (`forbidden`), the target's membership (`not_in_room`), then the target's state.

use salon_proto::room::{Role, Visibility};
use salon_proto::{ClientRequest, ErrorBody, Event, RoomId, UserId};

use super::errors;
use super::room::Room;
use super::{Deliveries, Target};

/// A stage action on one room, by a member of it. `user` names the member acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ends the room for everyone (host only).
    End {
        /// The room.
        room: RoomId,
    },
    /// Lets someone into a private room and tells them (host and moderators).
    InviteToRoom {
        /// The room.
        room: RoomId,
        /// Who (need not be online; the account store checks they exist).
        user: UserId,
    },
    /// Puts the caller's hand up (listeners only).
    RaiseHand {
        /// The room.
        room: RoomId,
    },
    /// Takes the caller's hand down.
    LowerHand {
        /// The room.
        room: RoomId,
    },
    /// Privately invites a listener to the stage (host and moderators).
    InviteToSpeak {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// The caller accepts an invitation to speak and becomes an unmuted speaker.
    AcceptSpeakInvite {
        /// The room.
        room: RoomId,
    },
    /// The caller declines an invitation to speak; the moderators are told.
    DeclineSpeakInvite {
        /// The room.
        room: RoomId,
    },
    /// Moves someone on stage to the audience (host and moderators; anyone but the host
    /// for themselves).
    MoveToAudience {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Makes or unmakes a moderator, or hands the host seat over (host only).
    SetRole {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
        /// `Moderator`, `Speaker` (unmakes a moderator) or `Host` (hands the room over).
        role: Role,
    },
    /// Mutes or unmutes the caller (on stage).
    SetMuted {
        /// The room.
        room: RoomId,
        /// Muted or not.
        muted: bool,
    },
    /// Mutes someone on stage until a moderator lifts it (host and moderators).
    ModeratorMute {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Lifts a moderator mute; the speaker then unmutes themselves (host and moderators).
    ModeratorUnmute {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Removes someone; they may come back (host and moderators).
    Remove {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
    /// Removes someone and keeps them out of the room (host and moderators).
    Ban {
        /// The room.
        room: RoomId,
        /// Who.
        user: UserId,
    },
}

impl Action {
    /// The room the action is about.
    pub fn room(&self) -> RoomId {
        match *self {
            Action::End { room }
            | Action::InviteToRoom { room, .. }
            | Action::RaiseHand { room }
            | Action::LowerHand { room }
            | Action::InviteToSpeak { room, .. }
            | Action::AcceptSpeakInvite { room }
            | Action::DeclineSpeakInvite { room }
            | Action::MoveToAudience { room, .. }
            | Action::SetRole { room, .. }
            | Action::SetMuted { room, .. }
            | Action::ModeratorMute { room, .. }
            | Action::ModeratorUnmute { room, .. }
            | Action::Remove { room, .. }
            | Action::Ban { room, .. } => room,
        }
    }

    /// The action a client request asks for, if it is a stage action (joining, leaving,
    /// creating, listing and snapshots have their own [`super::Rooms`] methods).
    pub fn from_request(request: &ClientRequest) -> Option<Self> {
        Some(match *request {
            ClientRequest::EndRoom { room } => Action::End { room },
            ClientRequest::InviteToRoom { room, user } => Action::InviteToRoom { room, user },
            ClientRequest::RaiseHand { room } => Action::RaiseHand { room },
            ClientRequest::LowerHand { room } => Action::LowerHand { room },
            ClientRequest::InviteToSpeak { room, user } => Action::InviteToSpeak { room, user },
            ClientRequest::AcceptSpeakInvite { room } => Action::AcceptSpeakInvite { room },
            ClientRequest::DeclineSpeakInvite { room } => Action::DeclineSpeakInvite { room },
            ClientRequest::MoveToAudience { room, user } => Action::MoveToAudience { room, user },
            ClientRequest::SetRole { room, user, role } => Action::SetRole { room, user, role },
            ClientRequest::SetMuted { room, muted } => Action::SetMuted { room, muted },
            ClientRequest::ModeratorMute { room, user } => Action::ModeratorMute { room, user },
            ClientRequest::ModeratorUnmute { room, user } => Action::ModeratorUnmute { room, user },
            ClientRequest::RemoveMember { room, user } => Action::Remove { room, user },
            ClientRequest::BanMember { room, user } => Action::Ban { room, user },
            _ => return None,
        })
    }
}

/// Checks that `actor` may end the room (the caller then ends it).
pub(super) fn check_end(room: &Room, actor: UserId) -> Result<(), ErrorBody> {
    let role = role_of(room, actor)?;
    if role != Role::Host {
        return Err(errors::only_host("end the room"));
    }
    Ok(())
}

/// Performs every action but [`Action::End`], which is only checked here: ending removes
/// the room, which [`super::Rooms::act`] does. Answers the member the action took out of
/// the room, if any, so the caller can update its index of memberships.
pub(super) fn apply(
    room: &mut Room,
    actor: UserId,
    action: Action,
    out: &mut Deliveries,
) -> Result<Option<UserId>, ErrorBody> {
    let role = role_of(room, actor)?;
    match action {
        Action::End { .. } => check_end(room, actor)?,
        Action::InviteToRoom { user, .. } => invite_to_room(room, actor, role, user, out)?,
        Action::RaiseHand { .. } => {
            if role.on_stage() {
                return Err(errors::invalid(
                    "You are already on stage; raising a hand is for the audience.",
                ));
            }
            room.raise_hand(actor, out);
        }
        Action::LowerHand { .. } => room.lower_hand(actor, out),
        Action::InviteToSpeak { user, .. } => invite_to_speak(room, actor, role, user, out)?,
        Action::AcceptSpeakInvite { .. } => {
            pending_invite(room, actor)?;
            room.set_role(actor, Role::Speaker, out);
            room.set_mute(actor, false, false, out);
        }
        Action::DeclineSpeakInvite { .. } => {
            pending_invite(room, actor)?;
            room.set_speak_invite(actor, None);
            out.push((
                Target::Moderators(room.id()),
                Event::SpeakInviteDeclined {
                    room: room.id(),
                    user: actor,
                },
            ));
        }
        Action::MoveToAudience { user, .. } => move_to_audience(room, actor, role, user, out)?,
        Action::SetRole {
            user, role: new, ..
        } => set_role(room, actor, role, user, new, out)?,
        Action::SetMuted { muted, .. } => set_muted(room, actor, role, muted, out)?,
        Action::ModeratorMute { user, .. } => {
            let target = moderated_target(room, role, user, "mute speakers")?;
            if user == actor {
                return Err(errors::invalid(
                    "To mute yourself, use your own mute button.",
                ));
            }
            if target == Role::Host {
                return Err(errors::forbidden("Moderators cannot mute the host."));
            }
            if !target.on_stage() {
                return Err(errors::invalid(
                    "That person is in the audience, where nobody can be heard.",
                ));
            }
            room.set_mute(user, true, true, out);
        }
        Action::ModeratorUnmute { user, .. } => {
            moderated_target(room, role, user, "lift a moderator mute")?;
            if user == actor {
                return Err(errors::forbidden(
                    "You cannot lift a moderator mute on yourself; another moderator or \
                     the host must allow it.",
                ));
            }
            if let Some(target) = room.member(user) {
                let muted = target.muted;
                room.set_mute(user, muted, false, out);
            }
        }
        Action::Remove { user, .. } => {
            remove(room, actor, role, user, false, out)?;
            return Ok(Some(user));
        }
        Action::Ban { user, .. } => {
            remove(room, actor, role, user, true, out)?;
            return Ok(Some(user));
        }
    }
    Ok(None)
}

/// The caller's role, if they are a member.
fn role_of(room: &Room, actor: UserId) -> Result<Role, ErrorBody> {
    room.member(actor)
        .map(|present| present.role)
        .ok_or_else(errors::not_in_room)
}

/// Checks that the caller moderates and the target is a member; answers the target's
/// role. `what` completes "Only the host or a moderator can …".
fn moderated_target(room: &Room, role: Role, user: UserId, what: &str) -> Result<Role, ErrorBody> {
    if !role.moderates() {
        return Err(errors::only_moderators(what));
    }
    room.member(user)
        .map(|present| present.role)
        .ok_or_else(errors::target_not_in_room)
}

/// Checks that the caller has an invitation to speak waiting.
fn pending_invite(room: &Room, actor: UserId) -> Result<(), ErrorBody> {
    match room.member(actor).and_then(|present| present.speak_invite) {
        Some(_) => Ok(()),
        None => Err(errors::not_invited()),
    }
}

fn invite_to_room(
    room: &mut Room,
    actor: UserId,
    role: Role,
    user: UserId,
    out: &mut Deliveries,
) -> Result<(), ErrorBody> {
    if !role.moderates() {
        return Err(errors::only_moderators("invite people into the room"));
    }
    if room.visibility() != Visibility::Private {
        return Err(errors::invalid(
            "Only private rooms need invitations; share the room link instead.",
        ));
    }
    if room.is_banned(user) {
        return Err(errors::forbidden(
            "That person is banned from this room and cannot be invited.",
        ));
    }
    if room.member(user).is_some() {
        return Ok(());
    }
    room.invite(user);
    out.push((
        Target::User(user),
        Event::RoomInvitation {
            room: room.id(),
            title: room.title().to_owned(),
            by: actor,
        },
    ));
    Ok(())
}

fn invite_to_speak(
    room: &mut Room,
    actor: UserId,
    role: Role,
    user: UserId,
    out: &mut Deliveries,
) -> Result<(), ErrorBody> {
    let target = moderated_target(room, role, user, "invite people to speak")?;
    if target.on_stage() {
        return Err(errors::invalid("That person is already on stage."));
    }
    room.set_speak_invite(user, Some(actor));
    out.push((
        Target::User(user),
        Event::InvitedToSpeak {
            room: room.id(),
            by: actor,
        },
    ));
    Ok(())
}

fn move_to_audience(
    room: &mut Room,
    actor: UserId,
    role: Role,
    user: UserId,
    out: &mut Deliveries,
) -> Result<(), ErrorBody> {
    let target = if user == actor {
        role
    } else {
        moderated_target(room, role, user, "move others to the audience")?
    };
    if target == Role::Host {
        return Err(if user == actor {
            errors::invalid(
                "The host cannot join the audience; hand the room to someone else first, \
                 or end it.",
            )
        } else {
            errors::forbidden("Moderators cannot move the host to the audience.")
        });
    }
    if !target.on_stage() {
        return Ok(());
    }
    room.set_role(user, Role::Listener, out);
    room.set_mute(user, true, false, out);
    Ok(())
}

fn set_role(
    room: &mut Room,
    actor: UserId,
    role: Role,
    user: UserId,
    new: Role,
    out: &mut Deliveries,
) -> Result<(), ErrorBody> {
    if role != Role::Host {
        return Err(errors::only_host(
            "make or unmake moderators or hand the room over",
        ));
    }
    let target = room
        .member(user)
        .map(|present| present.role)
        .ok_or_else(errors::target_not_in_room)?;
    if user == actor {
        return Err(errors::invalid(
            "You are the host; to give that up, make someone else the host.",
        ));
    }
    match new {
        Role::Host => room.hand_over(user, out),
        Role::Moderator => room.set_role(user, Role::Moderator, out),
        Role::Speaker if matches!(target, Role::Moderator | Role::Speaker) => {
            room.set_role(user, Role::Speaker, out);
        }
        Role::Speaker => {
            return Err(errors::invalid(
                "Listeners come on stage by accepting an invitation; invite them to speak \
                 instead.",
            ));
        }
        Role::Listener => {
            return Err(errors::invalid(
                "To send someone to the audience, move them to the audience.",
            ));
        }
    }
    Ok(())
}

fn set_muted(
    room: &mut Room,
    actor: UserId,
    role: Role,
    muted: bool,
    out: &mut Deliveries,
) -> Result<(), ErrorBody> {
    let Some(me) = room.member(actor) else {
        return Err(errors::not_in_room());
    };
    if muted == me.muted {
        return Ok(());
    }
    if !role.on_stage() {
        return Err(errors::forbidden(
            "Listeners cannot unmute. Raise your hand and a moderator may invite you to \
             speak.",
        ));
    }
    if me.muted_by_moderator {
        return Err(errors::forbidden(
            "A moderator muted you; a moderator must allow it before you can unmute.",
        ));
    }
    room.set_mute(actor, muted, false, out);
    Ok(())
}

fn remove(
    room: &mut Room,
    actor: UserId,
    role: Role,
    user: UserId,
    banned: bool,
    out: &mut Deliveries,
) -> Result<(), ErrorBody> {
    let what = if banned {
        "ban people"
    } else {
        "remove people"
    };
    let target = moderated_target(room, role, user, what)?;
    if user == actor {
        return Err(errors::invalid("To leave the room, use leave."));
    }
    if target == Role::Host {
        return Err(errors::forbidden(if banned {
            "The host cannot be banned."
        } else {
            "The host cannot be removed."
        }));
    }
    room.remove(user, out);
    if banned {
        room.ban(user);
    }
    out.push((
        Target::User(user),
        Event::RemovedFromRoom {
            room: room.id(),
            banned,
        },
    ));
    Ok(())
}
