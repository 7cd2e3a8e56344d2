//! The room this client is in: its state ([`state`]) and how the client gets back into
//! it after the server forgot it ([`recovery`]).

pub(crate) mod recovery;
mod state;

pub(crate) use state::DeltaOutcome;
pub use state::RoomView;
