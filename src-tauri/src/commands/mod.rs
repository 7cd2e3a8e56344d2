//! The commands the UI invokes, one file per area. Each is thin: check the input, call
//! the client (or the state), map the answer to the UI's types. Every one answers
//! `Result<T, UiError>`.

pub mod dm;
pub mod moderation;
pub mod onboarding;
pub mod rooms;
pub mod settings;
