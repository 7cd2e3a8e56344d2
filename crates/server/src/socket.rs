//! Per-connection TCP settings for low audio latency.
//!
//! Audio frames are small (about a hundred bytes every 10–20 ms), so Nagle's algorithm
//! would hold each one back waiting for the previous to be acknowledged: it is turned
//! off. And the kernel's send buffer is capped: left to grow (to megabytes on Linux),
//! it would swallow many seconds of audio for a slow listener before the server's own
//! queue ([`crate::outbox`]) could drop the oldest frames, so that listener would hear
//! the room ever later instead of catching up.

use tokio::net::TcpStream;

/// Kernel send buffer per connection (Linux doubles the value for bookkeeping). Large
/// enough for a room snapshot to go out in a few writes, small enough to hold under a
/// second of a busy room's audio.
const SEND_BUFFER_BYTES: usize = 64 * 1024;

/// Applies the low-latency settings to an accepted connection. Failures only cost
/// latency, so they are logged and the connection is served anyway.
pub(crate) fn tune(stream: &TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY");
    }
    if let Err(err) = socket2::SockRef::from(stream).set_send_buffer_size(SEND_BUFFER_BYTES) {
        tracing::debug!(%err, "cannot cap the send buffer");
    }
}
