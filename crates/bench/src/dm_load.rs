//! `salon-bench dm --senders …`: how many private messages one server sustains.
//!
//! For private messages the server is only MLS's delivery service: it stores each message
//! for every recipient device (SQLite), pushes it, and deletes it once acknowledged; it
//! never reads the payload. Its capacity is therefore measured without MLS on the client
//! side, whose cost is the clients' own (the conversation part of `salon-bench dm` and
//! the e2ee crate's criterion benchmark measure it): each sender is a real account that
//! sends opaque application messages of a realistic size to its own recipient at a steady
//! rate under the per-connection request limit, naming both people as a client does; each
//! recipient acknowledges what it received at most every 100 ms, as a client does after
//! handling a batch. The first payload bytes carry the send instant, so delay and
//! delivery are counted per message sent in the measured window.
//!
//! Several sender counts grow the load step by step on one server (earlier pairs keep
//! sending); the sustained rate is the highest delivered rate of a step that delivered
//! ≥ 99 % of what was sent, with nothing refused and p99 ≤ 100 ms.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use salon_proto::mls::MlsKind;
use salon_proto::{
    Blob, ClientEnvelope, ClientRequest, Event, MessageId, Reply, ServerMessage, UserId,
};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::histogram::Histogram;
use crate::server::{self, ServerProcess};
use crate::session::Session;
use crate::wire::{Reader, Writer};

/// Bounds a step must hold for its rate to count as sustained.
const MIN_DELIVERED: f64 = 0.99;
const MAX_P99_MS: f64 = 100.0;
/// Unmeasured seconds after new senders start, and after the window for late deliveries.
const WARMUP: Duration = Duration::from_secs(2);
const DRAIN: Duration = Duration::from_secs(3);
/// How often a recipient acknowledges at most.
const ACK_EVERY: Duration = Duration::from_millis(100);
/// Accounts registered at once while a step is set up.
const REGISTER_AT_ONCE: usize = 25;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct LoadConfig {
    /// Sender counts, ascending; each sender has its own recipient.
    pub(crate) senders: Vec<usize>,
    /// Messages per second each sender sends.
    pub(crate) rate: f64,
    /// Measured seconds per step.
    pub(crate) seconds: f64,
    /// Bytes of each opaque message (an MLS PrivateMessage with a short text is a few
    /// hundred bytes).
    pub(crate) payload: usize,
}

/// One step's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadStep {
    pub(crate) senders: usize,
    pub(crate) offered_per_s: f64,
    /// Sent in the window.
    pub(crate) sent: u64,
    /// Of those, received by their recipient.
    pub(crate) delivered: u64,
    /// Sends the server refused (any error), during the whole step.
    pub(crate) refused: u64,
    pub(crate) delivered_per_s: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) server_cpu_s: f64,
    pub(crate) messages_per_cpu_s: f64,
}

/// Every step, and the sustained rate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadReport {
    pub(crate) rate_per_sender: f64,
    pub(crate) payload_bytes: usize,
    pub(crate) steps: Vec<LoadStep>,
    /// Highest delivered rate of a step within the bounds, if any.
    pub(crate) sustained_msgs_per_s: Option<f64>,
}

/// Counters and delays shared by every task, for the current window.
#[derive(Debug)]
struct Shared {
    base: Instant,
    /// The window, in nanoseconds since `base` (end 0: not set yet).
    window_start: AtomicU64,
    window_end: AtomicU64,
    sent: AtomicU64,
    delivered: AtomicU64,
    refused: AtomicU64,
    delays: Histogram,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn in_window(&self, at_ns: u64) -> bool {
        let start = self.window_start.load(Ordering::Relaxed);
        let end = self.window_end.load(Ordering::Relaxed);
        end != 0 && (start..end).contains(&at_ns)
    }
}

/// Runs every step on one server.
pub(crate) async fn run(
    server_binary: &std::path::Path,
    config: &LoadConfig,
) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(
        config.rate > 0.0 && config.rate <= 18.0,
        "--rate is 0 to 18 messages a second per sender (the server's steady limit is 20 requests)"
    );
    anyhow::ensure!(
        (8..=4096).contains(&config.payload),
        "--payload is 8 to 4096 bytes"
    );
    server::raise_fd_limit()?;
    let server = ServerProcess::start(server_binary, 16)?;
    let shared = Arc::new(Shared {
        base: Instant::now(),
        window_start: AtomicU64::new(0),
        window_end: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        delays: Histogram::default(),
    });
    let mut tasks = JoinSet::new();
    let mut running = 0;
    let mut steps = Vec::new();
    for &senders in &config.senders {
        let new_pairs = senders.saturating_sub(running);
        start_pairs(
            server.addr(),
            running,
            new_pairs,
            config,
            &shared,
            &mut tasks,
        )
        .await?;
        running = running.max(senders);
        tokio::time::sleep(WARMUP).await;
        let step = measure(&server, running, config, &shared).await?;
        print_step(&step);
        let within = within_bounds(&step);
        steps.push(step);
        if !within {
            break;
        }
    }
    tasks.abort_all();
    let sustained_msgs_per_s = steps
        .iter()
        .filter(|step| within_bounds(step))
        .map(|step| step.delivered_per_s)
        .reduce(f64::max);
    Ok(LoadReport {
        rate_per_sender: config.rate,
        payload_bytes: config.payload,
        steps,
        sustained_msgs_per_s,
    })
}

fn within_bounds(step: &LoadStep) -> bool {
    step.sent > 0
        && step.delivered as f64 >= MIN_DELIVERED * step.sent as f64
        && step.refused == 0
        && step.p99_ms <= MAX_P99_MS
}

/// Registers `count` sender/recipient pairs (numbered from `first`) and starts them.
async fn start_pairs(
    addr: SocketAddr,
    first: usize,
    count: usize,
    config: &LoadConfig,
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let mut registered = Vec::with_capacity(count);
    for chunk_start in (first..first + count).step_by(REGISTER_AT_ONCE) {
        let mut pending = JoinSet::new();
        for n in chunk_start..(chunk_start + REGISTER_AT_ONCE).min(first + count) {
            pending.spawn(async move {
                let sender = Session::register(addr, &format!("dm_send_{n}")).await?;
                let recipient = Session::register(addr, &format!("dm_recv_{n}")).await?;
                anyhow::Ok((sender, recipient))
            });
        }
        while let Some(pair) = pending.join_next().await {
            registered.push(pair.context("a registration task failed")??);
        }
    }
    for (sender, recipient) in registered {
        let people = [recipient.user, sender.user];
        let Session { reader, writer, .. } = recipient;
        tasks.spawn(receive(reader, writer, shared.clone()));
        let Session { reader, writer, .. } = sender;
        tasks.spawn(count_replies(reader, shared.clone()));
        tasks.spawn(send(writer, people, config.clone(), shared.clone()));
    }
    Ok(())
}

/// Sends opaque application messages at the configured rate.
async fn send(
    mut writer: Writer,
    people: [UserId; 2],
    config: LoadConfig,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let group = Blob(rand::random::<[u8; 16]>().to_vec());
    let mut payload: Vec<u8> = (0..config.payload).map(|_| rand::random()).collect();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Spread the senders over the period instead of sending all at once.
    tokio::time::sleep(Duration::from_secs_f64(rand::random::<f64>() / config.rate)).await;
    for id in 1_000u32.. {
        ticks.tick().await;
        let at = shared.now_ns();
        payload[..8].copy_from_slice(&at.to_le_bytes());
        let request = ClientRequest::MlsSend {
            message_id: MessageId::from_bytes(rand::random()),
            group: group.clone(),
            kind: MlsKind::Application,
            epoch: 1,
            recipients: people.to_vec(),
            payload: Blob(payload.clone()),
        };
        writer
            .send_text(&ClientEnvelope::new(id, request).to_json())
            .await?;
        if shared.in_window(at) {
            shared.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Reads a sender's replies and counts refusals.
async fn count_replies(mut reader: Reader, shared: Arc<Shared>) -> anyhow::Result<()> {
    loop {
        let text = reader.next_text().await?;
        if let Ok(ServerMessage::Reply(envelope)) = ServerMessage::from_json(&text)
            && matches!(envelope.reply, Reply::Error(_))
        {
            shared.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Receives messages, records their delay, and acknowledges them.
async fn receive(
    mut reader: Reader,
    mut writer: Writer,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let mut handled = 0;
    let mut acked = 0;
    let mut last_ack = Instant::now();
    for id in 1_000u32.. {
        let text = reader.next_text().await?;
        if let Ok(ServerMessage::Event(Event::MlsMessage(delivery))) =
            ServerMessage::from_json(&text)
        {
            let now = shared.now_ns();
            let sent_at = delivery
                .payload
                .0
                .get(..8)
                .and_then(|bytes| bytes.try_into().ok())
                .map(u64::from_le_bytes)
                .context("a delivery without the send instant")?;
            if shared.in_window(sent_at) {
                shared.delivered.fetch_add(1, Ordering::Relaxed);
                shared
                    .delays
                    .record(Duration::from_nanos(now.saturating_sub(sent_at)));
            }
            handled = delivery.seq;
        }
        if handled > acked && last_ack.elapsed() >= ACK_EVERY {
            let ack = ClientRequest::MlsAck { seq: handled };
            writer
                .send_text(&ClientEnvelope::new(id, ack).to_json())
                .await?;
            acked = handled;
            last_ack = Instant::now();
        }
    }
    Ok(())
}

/// One measured window with `senders` sending.
async fn measure(
    server: &ServerProcess,
    senders: usize,
    config: &LoadConfig,
    shared: &Shared,
) -> anyhow::Result<LoadStep> {
    shared.sent.store(0, Ordering::Relaxed);
    shared.delivered.store(0, Ordering::Relaxed);
    shared.refused.store(0, Ordering::Relaxed);
    shared.delays.reset();
    let cpu_before = server.cpu_seconds()?;
    let start = shared.now_ns();
    let window = Duration::from_secs_f64(config.seconds);
    shared.window_start.store(start, Ordering::Relaxed);
    shared.window_end.store(
        start + u64::try_from(window.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    tokio::time::sleep(window).await;
    let server_cpu_s = server.cpu_seconds()? - cpu_before;
    tokio::time::sleep(DRAIN).await;
    let sent = shared.sent.load(Ordering::Relaxed);
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let p = shared.delays.percentiles();
    let delivered_per_s = delivered as f64 / config.seconds;
    Ok(LoadStep {
        senders,
        offered_per_s: senders as f64 * config.rate,
        sent,
        delivered,
        refused: shared.refused.load(Ordering::Relaxed),
        delivered_per_s,
        p50_ms: p.p50_ms,
        p95_ms: p.p95_ms,
        p99_ms: p.p99_ms,
        max_ms: p.max_ms,
        server_cpu_s,
        messages_per_cpu_s: if server_cpu_s > 0.0 {
            delivered as f64 / server_cpu_s
        } else {
            0.0
        },
    })
}

fn print_step(step: &LoadStep) {
    println!(
        "dm load: {} senders ({:.0} msg/s offered): {} of {} delivered ({:.0}/s), {} refused; \
         send → receive p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server {:.2} \
         CPU-s, {:.0} messages per CPU-s",
        step.senders,
        step.offered_per_s,
        step.delivered,
        step.sent,
        step.delivered_per_s,
        step.refused,
        step.p50_ms,
        step.p95_ms,
        step.p99_ms,
        step.max_ms,
        step.server_cpu_s,
        step.messages_per_cpu_s
    );
}

/// Prints the sustained rate.
pub(crate) fn print(report: &LoadReport) {
    match report.sustained_msgs_per_s {
        Some(rate) => println!(
            "dm load: sustained {rate:.0} messages/s (≥ 99 % delivered, none refused, p99 ≤ 100 ms)"
        ),
        None => println!("dm load: no step held ≥ 99 % delivered with p99 ≤ 100 ms"),
    }
}
