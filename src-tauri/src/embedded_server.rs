//! "Host on this computer": the room server, as a library, inside the app.
//!
//! It listens on all interfaces so friends on the LAN can join, keeps its database in
//! the app's data directory (`server/`), and stops when the app quits. The addresses
//! shown to the user are loopback plus the address of the interface that routes
//! outwards (found without sending anything: a UDP socket's local address after
//! `connect`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;

use anyhow::Context as _;
use salon_server::{Server, ServerConfig};

use crate::dto::Hosting;

/// The port hosting uses when none is given.
pub const DEFAULT_PORT: u16 = 7300;

/// A running embedded server.
#[derive(Debug)]
pub struct EmbeddedServer {
    server: Server,
}

impl EmbeddedServer {
    /// Starts a server on `port` (0: any free port) with its data in `data_dir`.
    pub async fn start(port: u16, data_dir: &Path) -> anyhow::Result<Self> {
        let config = ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            data_dir: data_dir.to_path_buf(),
            ..ServerConfig::default()
        };
        let server = Server::start(config)
            .await
            .with_context(|| format!("cannot start the server on port {port}"))?;
        tracing::info!("hosting on {}", server.local_addr());
        Ok(Self { server })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// The URL this app connects to (loopback).
    pub fn local_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port())
    }

    /// What the UI shows.
    pub fn hosting(&self) -> Hosting {
        let port = self.port();
        let mut urls = vec![format!("ws://127.0.0.1:{port}")];
        if let Some(ip) = lan_address() {
            urls.push(format!("ws://{ip}:{port}"));
        }
        Hosting { port, urls }
    }

    /// Stops it: rooms end and members are told.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The address of the interface that routes outwards, when there is one (no packet is
/// sent: connecting a UDP socket only picks a route).
fn lan_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hosts_a_real_server_that_answers_health_checks() {
        let dir = tempfile::tempdir().unwrap();
        let server = EmbeddedServer::start(0, dir.path()).await.unwrap();
        let hosting = server.hosting();
        assert_ne!(hosting.port, 0);
        assert_eq!(hosting.urls[0], format!("ws://127.0.0.1:{}", hosting.port));
        // A plain HTTP request to /healthz over TCP.
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", hosting.port))
            .await
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        server.shutdown().await;
    }
}
