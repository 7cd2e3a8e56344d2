//! `salon-bench fanout`: how many listeners one server feeds, and how late.
//!
//! One room on a real `salon-server` process: S speakers send a 20 ms frame each every
//! 20 ms, N listener connections receive. Listeners are [`crate::wire`] connections in
//! this process that decode nothing: each frame's payload carries the speaker, and the
//! instant it was sent on this process's clock, so a listener checks the order per
//! speaker and records send → receipt delay in a shared [`Histogram`]. Only frames sent
//! inside the measured window count (a warm-up before it lets queues settle); frames
//! expected are the frames sent in the window times N.
//!
//! With several listener counts the room grows step by step on the same server, and the
//! knee is the largest count that still held p99 ≤ 50 ms with at least 99 % delivered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use salon_proto::frame::{AudioLevel, Flags, FrameHeader, HEADER_LEN};
use salon_proto::{ClientRequest, RoomId};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

use crate::histogram::Histogram;
use crate::server::{self, ServerProcess};
use crate::session::Session;
use crate::wire::{Incoming, Reader, Writer};

/// The frame period.
const FRAME: Duration = Duration::from_millis(20);
/// Payload bytes per frame: a 32 kb/s Opus packet of 20 ms.
const PAYLOAD: usize = 80;
/// Marks a benchmark frame.
const MAGIC: [u8; 4] = *b"SBFO";
/// Delay bound of the knee.
const KNEE_P99_MS: f64 = 50.0;
/// Logins in flight at once while listeners connect.
const CONNECTING_AT_ONCE: usize = 32;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct FanoutConfig {
    /// Listener counts, one measurement each, ascending.
    pub(crate) listeners: Vec<usize>,
    /// Speakers.
    pub(crate) speakers: usize,
    /// Measured seconds per step.
    pub(crate) seconds: f64,
    /// Unmeasured seconds of sending before each measurement.
    pub(crate) warmup: f64,
    /// The `salon-server` binary.
    pub(crate) server: PathBuf,
    /// Whether to stop growing the room once a step misses the knee's bounds.
    pub(crate) stop_at_knee: bool,
}

/// One measured step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FanoutStep {
    pub(crate) listeners: usize,
    pub(crate) speakers: usize,
    pub(crate) seconds: f64,
    pub(crate) expected: u64,
    pub(crate) delivered: u64,
    /// Audio frames the server dropped for slow listeners (its counter).
    pub(crate) dropped: u64,
    /// Audio frames the server refused (its counter; over a speaker's rate, etc.).
    pub(crate) rejected: u64,
    /// Frames that arrived out of order or twice.
    pub(crate) reordered: u64,
    /// Listener connections the server closed.
    pub(crate) closed: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) server_cpu_s: f64,
    /// Server CPU seconds per wall-clock second (1.0 = one core busy).
    pub(crate) server_cores: f64,
    pub(crate) deliveries_per_cpu_s: f64,
    /// This process's CPU per wall-clock second (the listeners and speakers).
    pub(crate) bench_cores: f64,
    /// Seconds the server's threads were runnable but waited for a CPU (other load).
    pub(crate) server_run_queue_wait_s: f64,
    /// The same for this process's threads.
    pub(crate) bench_run_queue_wait_s: f64,
    /// Seconds the listeners took to connect, log in and join (the room's join storm).
    pub(crate) join_seconds: f64,
    pub(crate) server_peak_rss_mb: f64,
}

impl FanoutStep {
    /// Whether this step holds the knee's bounds.
    pub(crate) fn holds(&self) -> bool {
        self.p99_ms <= KNEE_P99_MS && self.delivered * 100 >= self.expected * 99
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FanoutReport {
    pub(crate) steps: Vec<FanoutStep>,
    /// The largest listener count that held p99 ≤ 50 ms with ≥ 99 % delivered.
    pub(crate) knee_listeners: Option<usize>,
}

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    epoch: Instant,
    /// Send-time window that counts, in nanoseconds since `epoch`.
    window_start: AtomicU64,
    window_end: AtomicU64,
    delay: Histogram,
    delivered: AtomicU64,
    reordered: AtomicU64,
    closed: AtomicU64,
    ready: AtomicUsize,
    failure: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn fail(&self, error: &anyhow::Error) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert_with(|| format!("{error:#}"));
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Runs the benchmark; prints progress to stderr.
pub(crate) async fn run(config: &FanoutConfig) -> anyhow::Result<FanoutReport> {
    anyhow::ensure!(config.speakers >= 1, "at least one speaker");
    anyhow::ensure!(!config.listeners.is_empty(), "at least one listener count");
    let most = *config.listeners.iter().max().unwrap_or(&0);
    let limit = server::raise_fd_limit()?;
    anyhow::ensure!(
        (most + config.speakers + 64) as u64 <= limit,
        "{most} listeners need more open files than the limit of {limit}"
    );
    let server = ServerProcess::start(&config.server, most + config.speakers + 8)?;
    let addr = server.addr();
    eprintln!(
        "fanout: salon-server pid {} on {addr}; {} speaker(s)",
        server.pid(),
        config.speakers
    );
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        window_start: AtomicU64::new(u64::MAX),
        window_end: AtomicU64::new(0),
        delay: Histogram::default(),
        delivered: AtomicU64::new(0),
        reordered: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        ready: AtomicUsize::new(0),
        failure: std::sync::Mutex::default(),
    });
    let (room, writers) = setup_speakers(addr, config.speakers, &shared).await?;
    let mut steps = Vec::new();
    let mut connected = 0;
    for &listeners in &config.listeners {
        let started = Instant::now();
        connect_listeners(addr, room, connected, listeners, config.speakers, &shared).await?;
        connected = connected.max(listeners);
        let join_seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "fanout: {connected} listeners in the room ({join_seconds:.1} s to connect the new ones)"
        );
        // Let the join storm's room deltas drain before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let step = measure(config, &server, &shared, &writers, listeners, join_seconds).await?;
        print_step(&step);
        let holds = step.holds();
        steps.push(step);
        if config.stop_at_knee && !holds {
            break;
        }
    }
    let knee_listeners = steps
        .iter()
        .filter(|s| s.holds())
        .map(|s| s.listeners)
        .max();
    Ok(FanoutReport {
        steps,
        knee_listeners,
    })
}

/// The host (speaker 0) makes the room; the others join and are invited on stage.
async fn setup_speakers(
    addr: SocketAddr,
    speakers: usize,
    shared: &Arc<Shared>,
) -> anyhow::Result<(RoomId, Vec<Arc<Mutex<(Writer, u32)>>>)> {
    let mut host = Session::register(addr, "bench_host").await?;
    let room = host.host_room("Fan-out benchmark").await?;
    let mut sessions = Vec::with_capacity(speakers);
    for index in 1..speakers {
        let mut speaker = Session::register(addr, &format!("bench_speaker_{index}")).await?;
        speaker.join(room).await?;
        host.request(ClientRequest::InviteToSpeak {
            room,
            user: speaker.user,
        })
        .await
        .context("inviting a speaker")?;
        speaker
            .request(ClientRequest::AcceptSpeakInvite { room })
            .await
            .context("accepting to speak")?;
        sessions.push(speaker);
    }
    sessions.insert(0, host);
    let mut writers = Vec::with_capacity(speakers);
    for session in sessions {
        let Session { reader, writer, .. } = session;
        tokio::spawn(listen(reader, Arc::clone(shared), speakers, false));
        writers.push(Arc::new(Mutex::new((writer, 0))));
    }
    Ok((room, writers))
}

/// Connects listeners `from..to`, each registering its own account and joining.
async fn connect_listeners(
    addr: SocketAddr,
    room: RoomId,
    from: usize,
    to: usize,
    speakers: usize,
    shared: &Arc<Shared>,
) -> anyhow::Result<()> {
    if to <= from {
        return Ok(());
    }
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let target = shared.ready.load(Ordering::Relaxed) + (to - from);
    for index in from..to {
        let gate = Arc::clone(&gate);
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            let joined = async {
                let _permit = gate.acquire().await?;
                let mut session = Session::register(addr, &format!("bench_l{index}")).await?;
                session.join(room).await?;
                anyhow::Ok(session)
            }
            .await;
            match joined {
                Ok(session) => {
                    shared.ready.fetch_add(1, Ordering::Relaxed);
                    let mut reader = session.reader;
                    reader.shrink();
                    listen(reader, shared, speakers, true).await;
                }
                Err(error) => shared.fail(&error.context(format!("listener {index}"))),
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60 + (to - from) as u64 / 20);
    while shared.ready.load(Ordering::Relaxed) < target {
        if let Some(failure) = shared.failure() {
            bail!("a listener could not join: {failure}");
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {target} listeners joined in time",
                shared.ready.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Reads one connection until it closes, counting the benchmark's frames.
async fn listen(mut reader: Reader, shared: Arc<Shared>, speakers: usize, counts: bool) {
    let mut last_sequence: Vec<Option<u32>> = vec![None; speakers];
    loop {
        let mut closed = false;
        let read = reader
            .read_batch(|message| match message {
                Incoming::Binary(frame) => {
                    on_frame(frame, &shared, &mut last_sequence, counts);
                }
                Incoming::Closed => closed = true,
                Incoming::Text | Incoming::Control => {}
            })
            .await;
        if read.is_err() || closed {
            shared
                .closed
                .fetch_add(u64::from(counts), Ordering::Relaxed);
            return;
        }
    }
}

fn on_frame(frame: &[u8], shared: &Shared, last_sequence: &mut [Option<u32>], counts: bool) {
    let received = shared.now_ns();
    let Some(body) = frame.get(HEADER_LEN..HEADER_LEN + 16) else {
        return;
    };
    if body[..4] != MAGIC {
        return;
    }
    let speaker = u32::from_be_bytes(body[4..8].try_into().expect("4 bytes")) as usize;
    let sent = u64::from_be_bytes(body[8..16].try_into().expect("8 bytes"));
    let sequence = u32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
    if let Some(last) = last_sequence.get_mut(speaker) {
        if last.is_some_and(|last| sequence <= last) {
            shared
                .reordered
                .fetch_add(u64::from(counts), Ordering::Relaxed);
        }
        *last = Some(sequence);
    }
    let start = shared.window_start.load(Ordering::Relaxed);
    let end = shared.window_end.load(Ordering::Relaxed);
    if counts && (start..end).contains(&sent) {
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        shared
            .delay
            .record(Duration::from_nanos(received.saturating_sub(sent)));
    }
}

/// One measurement at the current room size.
async fn measure(
    config: &FanoutConfig,
    server: &ServerProcess,
    shared: &Arc<Shared>,
    writers: &[Arc<Mutex<(Writer, u32)>>],
    listeners: usize,
    join_seconds: f64,
) -> anyhow::Result<FanoutStep> {
    shared.delay.reset();
    shared.delivered.store(0, Ordering::Relaxed);
    shared.reordered.store(0, Ordering::Relaxed);
    let closed_before = shared.closed.load(Ordering::Relaxed);
    let speakers = writers.len();
    let warmup = Duration::from_secs_f64(config.warmup);
    let measured = Duration::from_secs_f64(config.seconds);
    let begin = Instant::now() + Duration::from_millis(50);
    let window_start = begin + warmup;
    let window_end = window_start + measured;
    let ns = |at: Instant| at.duration_since(shared.epoch).as_nanos() as u64;
    shared
        .window_start
        .store(ns(window_start), Ordering::Relaxed);
    shared.window_end.store(ns(window_end), Ordering::Relaxed);

    // Speakers spread over the frame period, as independent people would be.
    let mut senders = Vec::with_capacity(speakers);
    for (index, writer) in writers.iter().enumerate() {
        let offset = FRAME * index as u32 / speakers as u32;
        let writer = Arc::clone(writer);
        let shared = Arc::clone(shared);
        senders.push(tokio::spawn(async move {
            speak(
                index,
                writer,
                shared,
                begin + offset,
                window_start,
                window_end,
            )
            .await
        }));
    }
    tokio::time::sleep_until(window_start.into()).await;
    let metrics_before = server.metrics()?;
    let cpu_before = server.cpu_seconds()?;
    let bench_before = server::cpu_seconds(std::process::id())?;
    let server_wait_before = server::run_queue_wait_seconds(server.pid())?;
    let bench_wait_before = server::run_queue_wait_seconds(std::process::id())?;
    let wall_before = Instant::now();
    tokio::time::sleep_until(window_end.into()).await;
    let cpu_after = server.cpu_seconds()?;
    let bench_after = server::cpu_seconds(std::process::id())?;
    let server_wait = server::run_queue_wait_seconds(server.pid())? - server_wait_before;
    let bench_wait = server::run_queue_wait_seconds(std::process::id())? - bench_wait_before;
    let wall = wall_before.elapsed().as_secs_f64();
    let mut sent_in_window = 0;
    for sender in senders {
        sent_in_window += sender.await.context("a speaker task failed")??;
    }
    // Frames still on their way.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let metrics_after = server.metrics()?;
    let delay = shared.delay.percentiles();
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let server_cpu_s = cpu_after - cpu_before;
    Ok(FanoutStep {
        listeners,
        speakers,
        seconds: config.seconds,
        expected: sent_in_window * listeners as u64,
        delivered,
        dropped: metrics_after.since(&metrics_before, "salon_audio_frames_dropped_total"),
        rejected: metrics_after.since(&metrics_before, "salon_audio_frames_rejected_total"),
        reordered: shared.reordered.load(Ordering::Relaxed),
        closed: shared.closed.load(Ordering::Relaxed) - closed_before,
        p50_ms: delay.p50_ms,
        p95_ms: delay.p95_ms,
        p99_ms: delay.p99_ms,
        max_ms: delay.max_ms,
        server_cpu_s,
        server_cores: server_cpu_s / wall,
        deliveries_per_cpu_s: if server_cpu_s > 0.0 {
            delivered as f64 / server_cpu_s
        } else {
            0.0
        },
        bench_cores: (bench_after - bench_before) / wall,
        server_run_queue_wait_s: server_wait,
        bench_run_queue_wait_s: bench_wait,
        join_seconds,
        server_peak_rss_mb: server.peak_rss()? as f64 / (1 << 20) as f64,
    })
}

/// Sends a frame every 20 ms from `first` until `window_end`; answers how many were
/// sent inside the window.
async fn speak(
    index: usize,
    writer: Arc<Mutex<(Writer, u32)>>,
    shared: Arc<Shared>,
    first: Instant,
    window_start: Instant,
    window_end: Instant,
) -> anyhow::Result<u64> {
    let mut guard = writer.lock().await;
    // The sequence carries on from the previous step: listeners already in the room
    // check the order across steps.
    let (writer, sequence) = &mut *guard;
    let mut frame = vec![0u8; HEADER_LEN + PAYLOAD];
    let mut in_window = 0;
    let mut due = first;
    while due < window_end {
        tokio::time::sleep_until(due.into()).await;
        let header = FrameHeader::audio(
            *sequence,
            sequence.wrapping_mul(960),
            AudioLevel::new(20, true),
            Flags::default(),
        );
        let head: &mut [u8; HEADER_LEN] = (&mut frame[..HEADER_LEN]).try_into()?;
        header.write(head);
        frame[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&MAGIC);
        frame[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&(index as u32).to_be_bytes());
        let sent = shared.now_ns();
        frame[HEADER_LEN + 8..HEADER_LEN + 16].copy_from_slice(&sent.to_be_bytes());
        writer.send_binary(&frame).await?;
        let sent_at = shared.epoch + Duration::from_nanos(sent);
        if sent_at >= window_start && sent_at < window_end {
            in_window += 1;
        }
        *sequence = sequence.wrapping_add(1);
        due += FRAME;
    }
    Ok(in_window)
}

fn print_step(step: &FanoutStep) {
    let lost = step.expected.saturating_sub(step.delivered);
    println!(
        "fanout: {} listeners × {} speakers, {:.0} s: delivered {} of {} ({lost} missing), \
         server dropped {}, rejected {}, reordered {}, closed {}",
        step.listeners,
        step.speakers,
        step.seconds,
        step.delivered,
        step.expected,
        step.dropped,
        step.rejected,
        step.reordered,
        step.closed
    );
    println!(
        "fanout:   delay send→receipt p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        step.p50_ms, step.p95_ms, step.p99_ms, step.max_ms
    );
    println!(
        "fanout:   server CPU {:.2} s ({:.2} cores), {:.0} deliveries per CPU-second, \
         peak RSS {:.0} MB; benchmark process {:.2} cores",
        step.server_cpu_s,
        step.server_cores,
        step.deliveries_per_cpu_s,
        step.server_peak_rss_mb,
        step.bench_cores
    );
    println!(
        "fanout:   waiting for a CPU (other load): server {:.2} s, benchmark {:.2} s; \
         joining took {:.1} s",
        step.server_run_queue_wait_s, step.bench_run_queue_wait_s, step.join_seconds
    );
}
