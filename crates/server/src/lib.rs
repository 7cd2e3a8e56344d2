//! Salon's room server, as a library the desktop app embeds ("Host on this computer")
//! and as the `salon-server` binary.
//!
//! One process serves accounts (handles and device keys, never phone numbers), live
//! stage rooms, audio fan-out and the MLS delivery service over one WebSocket per
//! client. Durable state is in SQLite ([`store`]); live rooms are in memory
//! ([`rooms`]), and what of them outlives a restart is stored too; [`hub`] routes events and audio between connections ([`session`]).

pub mod config;
mod http;
mod hub;
mod limiter;
pub mod metrics;
mod outbox;
pub mod rooms;
mod session;
mod socket;
pub mod store;
mod tls;
mod verify;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{Registration, ServerConfig};
use hub::Hub;
use store::{Store, StoreError};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// Only one of the TLS certificate and key was given.
    #[error(
        "TLS needs both a certificate (tls_cert, --tls-cert) and a key (tls_key, \
         --tls-key), but only the {given} was given"
    )]
    TlsIncomplete {
        /// `"certificate"` or `"key"`: the one that was given.
        given: &'static str,
    },
    /// The TLS certificate or key could not be read, parsed or used.
    #[error("cannot use the TLS file {path}: {reason}")]
    Tls {
        /// The certificate or key file at fault.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    hub: Arc<Hub>,
    addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Opens the database, binds the address and starts serving.
    pub async fn start(config: ServerConfig) -> Result<Self, StartError> {
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::load(cert, key)?),
            (None, None) => None,
            (Some(_), None) => {
                return Err(StartError::TlsIncomplete {
                    given: "certificate",
                });
            }
            (None, Some(_)) => return Err(StartError::TlsIncomplete { given: "key" }),
        };
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let store = Store::open(&config.database_url()).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let stored_rooms = store.rooms().await?;
        let mut hub = Hub::new(config, store);
        hub.restore_rooms(stored_rooms);
        let hub = Arc::new(hub);
        let (stop, mut stopped) = watch::channel(false);

        let ticker_hub = hub.clone();
        let mut ticker_stop = stop.subscribe();
        tokio::spawn(async move {
            let mut levels = tokio::time::interval(Duration::from_millis(200));
            let mut rounds = 0u32;
            loop {
                tokio::select! {
                    _ = levels.tick() => {
                        ticker_hub.publish_levels();
                        rounds += 1;
                        if rounds.is_multiple_of(5) {
                            let ended = ticker_hub.tick();
                            ticker_hub.persist_rooms(&ended).await;
                        }
                    }
                    _ = ticker_stop.changed() => break,
                }
            }
        });

        let app = http::router(hub.clone());
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let serves_tls = tls.is_some();
        let task = match tls {
            None => {
                let listener = listener.tap_io(|stream| socket::tune(stream));
                tokio::spawn(serve(listener, app, shutdown))
            }
            Some(config) => tokio::spawn(serve(
                tls::TlsListener::new(listener, config),
                app,
                shutdown,
            )),
        };
        Ok(Self {
            hub,
            addr,
            tls: serves_tls,
            stop,
            task,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket URL clients connect to: `wss://…` when TLS is on, else `ws://…`.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.addr, salon_proto::WS_PATH)
    }

    /// The server's counters.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.hub.metrics
    }

    /// Stops accepting, tells every client, closes their connections and flushes the
    /// database.
    pub async fn shutdown(self) {
        self.hub.shut_down();
        let _ = self.stop.send(true);
        // Give writers a moment to deliver the goodbye.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.hub.store.close().await;
    }
}

/// Serves `app` on `listener` (plain TCP or [`tls::TlsListener`]) until `shutdown`.
async fn serve<L>(
    listener: L,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%err, "server stopped with an error");
    }
}
