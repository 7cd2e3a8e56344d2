//! WebSocket close codes the server uses when it ends a connection itself.
//!
//! Each close also carries a short human reason. Codes in the 4000–4999 range are the
//! application's own (RFC 6455 §7.4.2); a client decides from the code whether to
//! reconnect at once, back off, or tell the user.

/// The connection could not keep up with the room's audio for too long; reconnect.
pub const SLOW_CONSUMER: u16 = 4000;
/// The peer sent more than its rate limit allows even after warnings; back off.
pub const FLOOD: u16 = 4001;
/// The peer broke the protocol in a way that makes continuing unsafe (for example
/// binary frames before logging in, repeatedly).
pub const PROTOCOL_VIOLATION: u16 = 4002;
/// The server is shutting down; reconnect later.
pub const SHUTTING_DOWN: u16 = 4003;
/// The device was revoked or logged in elsewhere; do not reconnect automatically.
pub const SESSION_ENDED: u16 = 4004;
/// No hello or login within the server's deadline.
pub const HANDSHAKE_TIMEOUT: u16 = 4005;
