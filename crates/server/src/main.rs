//! `salon-server`: runs a Salon room server.
//!
//! Configuration comes from defaults, then an optional TOML file (`--config`), then
//! `SALON_*` environment variables, then flags: each later source wins.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use salon_server::{Registration, Server, ServerConfig};
use serde::Serialize;

/// Salon room server: accounts, stage rooms, audio fan-out and end-to-end encrypted
/// message delivery.
#[derive(Debug, Parser, Serialize)]
#[command(version)]
struct Args {
    /// TOML configuration file.
    #[arg(long, env = "SALON_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7300].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Data directory [default: the user's data dir].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://PATH`) [default: salon.db in the data dir].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Who may create accounts [default: open].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    registration: Option<Registration>,
    /// Most members per room [default: 5000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    room_capacity: Option<usize>,
    /// TLS certificate chain, PEM (serve wss://; needs --tls-key) [default: no TLS].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM (needs --tls-cert) [default: no TLS].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
}

fn load(args: &Args) -> anyhow::Result<ServerConfig> {
    let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
    if let Some(path) = &args.config {
        anyhow::ensure!(
            path.exists(),
            "configuration file {} does not exist",
            path.display()
        );
        figment = figment.merge(Toml::file(path));
    }
    figment
        .merge(Env::prefixed("SALON_").ignore(&["config"]))
        .merge(Serialized::defaults(args))
        .extract()
        .context("invalid configuration")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "salon_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = load(&args)?;
    let data_dir = config.data_dir.clone();
    let server = Server::start(config).await?;
    println!("listening on {}", server.ws_url());
    println!("data in {}", data_dir.display());

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("shutting down: telling clients and flushing the database");
    server.shutdown().await;
    Ok(())
}
