//! The refusals the room state machine answers with, in one place so the codes stay
//! consistent and every message tells a person what to do next.

use salon_proto::limits::TextError;
use salon_proto::{ErrorBody, ErrorCode};

/// Unknown room, ended room, or a private room the caller may not know about: the same
/// answer for all three, so private rooms cannot be discovered by probing ids.
pub(super) fn room_not_found() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::RoomNotFound,
        "This room does not exist or has ended. If it is private, ask its host for an \
         invitation.",
    )
}

/// The caller is not a member of the room.
pub(super) fn not_in_room() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotInRoom,
        "You are not in this room. Join it first.",
    )
}

/// The person an action names is not a member of the room.
pub(super) fn target_not_in_room() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotInRoom,
        "That person is not in this room; they may have just left. Refresh the member \
         list and try again.",
    )
}

/// A moderator-only action by someone who is not the host or a moderator.
pub(super) fn only_moderators(what: &str) -> ErrorBody {
    forbidden(format!("Only the host or a moderator can {what}."))
}

/// A host-only action by someone else.
pub(super) fn only_host(what: &str) -> ErrorBody {
    forbidden(format!("Only the host can {what}."))
}

/// The role does not allow it.
pub(super) fn forbidden(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::Forbidden, message)
}

/// The request makes no sense in the current state.
pub(super) fn invalid(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, message)
}

/// Joining a room one was banned from.
pub(super) fn banned() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Banned,
        "You were banned from this room and cannot join it again.",
    )
}

/// Joining a full room.
pub(super) fn room_full(capacity: usize) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::RoomFull,
        format!("This room is full ({capacity} people). Try again when someone leaves."),
    )
}

/// Answering an invitation to speak that does not exist.
pub(super) fn not_invited() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotInvited,
        "You have no pending invitation to speak in this room; it may have been \
         withdrawn. Raise your hand to ask again.",
    )
}

/// A room title that breaks the rules of [`salon_proto::limits::room_title`].
pub(super) fn invalid_title(error: TextError) -> ErrorBody {
    invalid(format!("The room title {error}."))
}

/// A room id that is already in use (the server draws them at random, so this is a
/// server-side accident, and retrying draws a new one).
pub(super) fn room_id_taken() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Internal,
        "The server picked a room id that is already in use. Please create the room again.",
    )
}
