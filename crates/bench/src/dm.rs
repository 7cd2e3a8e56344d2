//! `salon-bench dm`: private messages through a real server: conversation setup time
//! and send → receive delay.
//!
//! Two people, each a real client with its own profile and device key, on a
//! `salon-server` process. Setup is `open` (claim the other's key package, create the
//! MLS group, commit, Welcome) until the first message is decrypted on the other side.
//! Then one message every 250 ms: the delay runs from `send` on one client to the
//! decrypted message event on the other. Sends are paced because each send makes
//! several requests and the server limits requests per connection; so the messages one
//! server sustains is bounded per connection by that limit, not measured here.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use salon_client::{
    Client, ClientConfig, ClientEvent, ClientHandle, DirectMessages, DmEvent, KeyStore,
};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::histogram::Histogram;
use crate::server::ServerProcess;

/// The result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DmReport {
    pub(crate) messages: u64,
    /// `open` until the first message is decrypted by the other person.
    pub(crate) setup_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

struct Person {
    client: ClientHandle,
    dm: DirectMessages,
    events: broadcast::Receiver<ClientEvent>,
}

async fn person(url: &str, profiles: &Path, handle: &str) -> anyhow::Result<Person> {
    let dir = profiles.join(handle);
    std::fs::create_dir_all(&dir)?;
    let config = ClientConfig::new(url, &dir, KeyStore::File(dir.join("device.key")));
    let client = Client::connect(config).await?;
    client.register(handle, handle, None).await?;
    let events = client.events();
    let dm = DirectMessages::start(&client).await?;
    Ok(Person { client, dm, events })
}

/// Waits for the next message from someone else with this text.
async fn received(person: &mut Person, text: &str) -> anyhow::Result<()> {
    let wait = async {
        loop {
            match person.events.recv().await {
                Ok(ClientEvent::Dm(DmEvent::Message(m))) if !m.mine && m.text == text => {
                    return Ok(());
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => bail!("the client stopped"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .with_context(|| format!("message {text:?} did not arrive"))?
}

/// Runs the benchmark.
pub(crate) async fn run(server_binary: &Path, messages: u64) -> anyhow::Result<DmReport> {
    let server = ServerProcess::start(server_binary, 16)?;
    let url = format!("ws://{}/v1/ws", server.addr());
    let profiles = tempfile::Builder::new().prefix("salon-bench-").tempdir()?;
    let alice = person(&url, profiles.path(), "bench_alice").await?;
    let mut bob = person(&url, profiles.path(), "bench_bob").await?;

    let started = Instant::now();
    let conversation = alice.dm.open("bench_bob").await?;
    alice.dm.send(&conversation.id, "hello").await?;
    received(&mut bob, "hello").await?;
    let setup = started.elapsed();

    let delays = Histogram::default();
    for i in 0..messages {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let text = format!("message {i}");
        let sent = Instant::now();
        alice.dm.send(&conversation.id, &text).await?;
        received(&mut bob, &text).await?;
        delays.record(sent.elapsed());
    }
    let p = delays.percentiles();
    for person in [&alice, &bob] {
        person.client.shutdown().await;
    }
    Ok(DmReport {
        messages,
        setup_ms: setup.as_secs_f64() * 1000.0,
        p50_ms: p.p50_ms,
        p95_ms: p.p95_ms,
        p99_ms: p.p99_ms,
        max_ms: p.max_ms,
    })
}

/// Prints the human summary.
pub(crate) fn print(report: &DmReport) {
    println!(
        "dm: conversation setup (open → first message decrypted) {:.1} ms",
        report.setup_ms
    );
    println!(
        "dm: send → receive over {} messages: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.messages, report.p50_ms, report.p95_ms, report.p99_ms, report.max_ms
    );
}
