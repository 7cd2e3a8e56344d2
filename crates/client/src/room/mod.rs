//! The room this client is in: its state ([`state`]), followed from a snapshot and
//! deltas.

mod state;

pub(crate) use state::DeltaOutcome;
pub use state::RoomView;
