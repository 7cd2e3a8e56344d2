//! Handles: the names people type to find each other.
//!
//! A handle is the only way to look someone up, and only by its exact value, so the
//! rules are strict and the same everywhere: 3 to 30 characters of `a`–`z`, `0`–`9`
//! and `_`. Lower-case only, so `Ada` and `ada` can never be two different people.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Shortest handle, in characters.
pub const MIN_HANDLE_LEN: usize = 3;
/// Longest handle, in characters.
pub const MAX_HANDLE_LEN: usize = 30;

/// A validated handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Handle(String);

/// Why a string is not a valid handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Shorter than [`MIN_HANDLE_LEN`] or longer than [`MAX_HANDLE_LEN`].
    #[error("a handle is 3 to 30 characters long")]
    Length,
    /// A character outside `a`–`z`, `0`–`9`, `_`.
    #[error("a handle may only use lower-case letters a-z, digits and _ (found {0:?})")]
    Character(char),
}

impl Handle {
    /// Validates `text` as a handle.
    pub fn parse(text: &str) -> Result<Self, HandleError> {
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(HandleError::Character(bad));
        }
        if !(MIN_HANDLE_LEN..=MAX_HANDLE_LEN).contains(&text.len()) {
            return Err(HandleError::Length);
        }
        Ok(Self(text.to_owned()))
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Handle {
    type Err = HandleError;

    fn from_str(text: &str) -> Result<Self, HandleError> {
        Self::parse(text)
    }
}

impl<'de> Deserialize<'de> for Handle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_handles() {
        for good in ["ada", "ada_lovelace", "x_1", &"a".repeat(30)] {
            assert_eq!(Handle::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn invalid_handles() {
        assert_eq!(Handle::parse("ab"), Err(HandleError::Length));
        assert_eq!(Handle::parse(&"a".repeat(31)), Err(HandleError::Length));
        assert_eq!(Handle::parse("Ada"), Err(HandleError::Character('A')));
        assert_eq!(Handle::parse("ada-l"), Err(HandleError::Character('-')));
        assert_eq!(Handle::parse("adé"), Err(HandleError::Character('é')));
        assert_eq!(Handle::parse("a d"), Err(HandleError::Character(' ')));
        assert!(serde_json::from_str::<Handle>("\"ADA\"").is_err());
    }
}
