//! Optional TLS on the server's one listener (`tls_cert` + `tls_key`, PEM files).
//!
//! Why it is here and shaped this way: a server reached over the internet must serve
//! `wss://`, and doing it in-process (rustls with the `ring` provider, no C build) saves
//! running a reverse proxy next to it. [`TlsListener`] implements axum's
//! [`Listener`], so `axum::serve(listener, app).with_graceful_shutdown(…)` in
//! `lib.rs` is the same with or without TLS. axum accepts connections one after
//! another, so the TLS handshake must not happen inline in `accept()`: a client that
//! opens TCP and then says nothing would stop everyone else from connecting. Each
//! handshake therefore runs in its own task with a deadline ([`HANDSHAKE_TIMEOUT`]),
//! and `accept()` hands out whichever finishes first. Dropping the listener (on
//! shutdown) aborts the handshakes still under way.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject as _};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::StartError;

/// How long a client has, from its TCP connection, to finish the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a PEM certificate chain and private key and builds the rustls server
/// configuration (ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`).
pub(crate) fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, StartError> {
    let error = |path: &Path, reason: String| StartError::Tls {
        path: path.to_path_buf(),
        reason,
    };

    let cert_pem = std::fs::read(cert_path)
        .map_err(|err| error(cert_path, format!("cannot read it: {err}")))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| error(cert_path, format!("not a valid PEM file: {err}")))?;
    if certs.is_empty() {
        return Err(error(
            cert_path,
            "no certificate found (expected a PEM `BEGIN CERTIFICATE` block)".into(),
        ));
    }

    let key_pem =
        std::fs::read(key_path).map_err(|err| error(key_path, format!("cannot read it: {err}")))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| match err {
        pem::Error::NoItemsFound => error(
            key_path,
            "no private key found (expected a PEM PKCS#8, RSA or EC `PRIVATE KEY` block)".into(),
        ),
        err => error(key_path, format!("not a valid PEM file: {err}")),
    })?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| error(cert_path, format!("cannot set up TLS: {err}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| match err {
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                error(cert_path, format!("unusable certificate: {err}"))
            }
            rustls::Error::InconsistentKeys(_) => error(
                key_path,
                format!(
                    "the key does not belong to the certificate in {}",
                    cert_path.display()
                ),
            ),
            err => error(key_path, format!("unusable private key: {err}")),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener that hands out connections after their TLS handshake.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("tcp", &self.tcp)
            .field("handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }

    fn start_handshake(&mut self, stream: TcpStream, peer: SocketAddr) {
        crate::socket::tune(&stream);
        let handshake = self.acceptor.accept(stream);
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(stream)) => Some((stream, peer)),
                Ok(Err(err)) => {
                    tracing::debug!(%peer, %err, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Cancel-safe, as axum needs (it drops this future on shutdown): both awaited
    // futures are, and all state lives in `self`.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => self.start_handshake(stream, peer),
                    Err(err) => handle_accept_error(err).await,
                },
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// What axum's own TCP listener does with an accept error: per-connection errors are
/// skipped; anything else (such as running out of file descriptors) is logged and
/// retried after a pause instead of spinning.
async fn handle_accept_error(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accept error");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
