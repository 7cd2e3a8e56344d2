//! Size limits every peer enforces, in one place so server and client agree.
//!
//! A limit exists so that a hostile or broken peer costs a bounded amount of memory and
//! CPU: anything over a limit is rejected with an error before it is parsed further.

/// Largest control message (one JSON text frame), in bytes. Big enough for a batch of
/// MLS key packages or a Welcome for a 50-person group, small enough to parse cheaply.
pub const MAX_CONTROL_BYTES: usize = 256 * 1024;

/// Largest message a server sends (one JSON text frame), in bytes. Larger than what
/// clients may send because a room snapshot lists every member: a full room of 5,000
/// people is about 1 MB of JSON.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Largest audio payload in one binary frame. Opus caps one frame at 1275 bytes; the
/// rest leaves room for an SFrame header and tag.
pub const MAX_FRAME_PAYLOAD: usize = 1500;

/// Display names: 1 to 64 characters after trimming, no control characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Room titles: 1 to 100 characters after trimming, no control characters.
pub const MAX_ROOM_TITLE_CHARS: usize = 100;

/// The most key packages one `publish_key_packages` may carry.
pub const MAX_KEY_PACKAGES_PER_PUBLISH: usize = 100;

/// The most recipients one `mls_send` may name (a group DM holds up to 50 people).
pub const MAX_MLS_RECIPIENTS: usize = 64;

/// Why a piece of user text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing left after trimming whitespace.
    #[error("must not be empty")]
    Empty,
    /// More characters than the limit.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit that was exceeded.
        max: usize,
    },
    /// A control character (newline, escape, ...) inside the text.
    #[error("must not contain control characters")]
    ControlCharacter,
}

fn check_text(text: &str, max: usize) -> Result<&str, TextError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    Ok(trimmed)
}

/// Validates a display name and returns it trimmed.
pub fn display_name(text: &str) -> Result<&str, TextError> {
    check_text(text, MAX_DISPLAY_NAME_CHARS)
}

/// Validates a room title and returns it trimmed.
pub fn room_title(text: &str) -> Result<&str, TextError> {
    check_text(text, MAX_ROOM_TITLE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(display_name("  Ada Lovelace "), Ok("Ada Lovelace"));
        assert_eq!(display_name("   "), Err(TextError::Empty));
        assert_eq!(display_name(&"é".repeat(64)).map(str::len), Ok(128));
        assert_eq!(
            display_name(&"é".repeat(65)),
            Err(TextError::TooLong { max: 64 })
        );
        assert_eq!(display_name("a\u{1b}b"), Err(TextError::ControlCharacter));
    }

    #[test]
    fn room_titles_are_bounded() {
        assert_eq!(room_title("Late night jazz"), Ok("Late night jazz"));
        assert_eq!(
            room_title(&"x".repeat(101)),
            Err(TextError::TooLong { max: 100 })
        );
        assert_eq!(room_title("two\nlines"), Err(TextError::ControlCharacter));
    }
}
