//! Shared pieces of the client's integration tests: real servers (in-process, or in a
//! child process that can be killed with SIGKILL), clients on throwaway profiles, and
//! waiting for events with deadlines so a broken build fails instead of hanging.

#![allow(unreachable_pub, dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng as _;
use salon_client::proto::frame::{self, AudioLevel, Flags, FrameHeader};
use salon_client::{Client, ClientConfig, ClientEvent, ClientHandle, KeyStore};
use salon_server::{Server, ServerConfig};
use tempfile::TempDir;
use tokio::sync::broadcast;

/// The deadline for anything a test waits for: generous, since the machine may be a
/// loaded 2-core box; it only matters when something is broken.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A handle nobody else in this run has.
pub fn unique_handle(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..8)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect();
    format!("{prefix}_{suffix}")
}

/// Logs of the client (and server) when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A server configuration on `listen` with its database in `data_dir`.
pub fn server_config(listen: SocketAddr, data_dir: &Path) -> ServerConfig {
    ServerConfig {
        listen,
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        ..ServerConfig::default()
    }
}

/// An in-process server on `127.0.0.1:0` with a fresh data directory.
pub async fn start_server() -> (Server, TempDir) {
    let dir = tempfile::tempdir().expect("temporary data directory");
    let server = Server::start(server_config(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.path(),
    ))
    .await
    .expect("the server starts");
    (server, dir)
}

/// A throwaway profile: a directory for the local store and a 0600 key file.
#[derive(Debug)]
pub struct Profile {
    pub dir: TempDir,
}

impl Profile {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary profile"),
        }
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("device.key")
    }

    pub fn config(&self, url: &str) -> ClientConfig {
        ClientConfig::new(url, self.dir.path(), KeyStore::File(self.key_file()))
    }
}

/// Connects a client on a fresh profile and registers `prefix_…` on it.
pub async fn registered(url: &str, prefix: &str, name: &str) -> (ClientHandle, Profile) {
    let profile = Profile::new();
    let client = Client::connect(profile.config(url)).await.expect("connect");
    client
        .register(&unique_handle(prefix), name, None)
        .await
        .expect("register");
    (client, profile)
}

/// Waits for the first event that `pick` maps to `Some`; panics at the deadline.
pub async fn wait_for<T>(
    events: &mut broadcast::Receiver<ClientEvent>,
    what: &str,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Err(_) => panic!("no {what} within {TIMEOUT:?}"),
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                panic!("the event stream lagged by {n} while waiting for {what}")
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => panic!("events closed: no {what}"),
            Ok(Ok(event)) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
        }
    }
}

/// Polls `check` every 20 ms until it holds; panics at the deadline.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One encoded audio frame as a speaker's encoder would produce it.
pub fn audio_frame(sequence: u32, payload: &[u8]) -> Bytes {
    let header = FrameHeader::audio(
        sequence,
        sequence.wrapping_mul(960),
        AudioLevel::new(20, true),
        Flags::default(),
    );
    let mut out = Vec::new();
    frame::encode(&header, payload, &mut out).expect("payload within the limit");
    Bytes::from(out)
}

/// A speaker's encoder: queues a 20 ms frame every 20 ms until dropped.
#[derive(Debug)]
pub struct Talker {
    task: tokio::task::JoinHandle<()>,
}

impl Talker {
    pub fn start(client: ClientHandle) -> Self {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for sequence in 0u32.. {
                tick.tick().await;
                client.send_audio(audio_frame(sequence, &sequence.to_be_bytes()));
            }
        });
        Self { task }
    }
}

impl Drop for Talker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The environment variables that turn this test binary into a server process.
const CHILD_DIR: &str = "SALON_CLIENT_TEST_SERVER_DIR";
const CHILD_LISTEN: &str = "SALON_CLIENT_TEST_SERVER_LISTEN";

/// The body of the ignored test `server_process` in a test binary: when this binary
/// was started by [`ServerProcess::spawn`], runs a real server until killed.
pub fn serve_if_child() {
    let (Ok(dir), Ok(listen)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_LISTEN)) else {
        return;
    };
    let listen: SocketAddr = listen.parse().expect("a listen address");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let server = Server::start(server_config(listen, Path::new(&dir)))
            .await
            .expect("the server starts");
        println!("listening on {}", server.ws_url());
        std::future::pending::<()>().await;
    });
}

/// A real server in its own process (this test binary, re-run as the ignored test
/// `server_process`): `kill -9` takes it down with no goodbye, like a crash.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    pub url: String,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts a server on `listen` with its database in `data_dir`, and waits until it
    /// listens.
    pub fn spawn(data_dir: &Path, listen: SocketAddr) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "server_process", "--ignored", "--nocapture"])
            .env(CHILD_DIR, data_dir)
            .env(CHILD_LISTEN, listen.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server process");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, found) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = lines.send(url.trim().to_owned());
                }
            }
        });
        let url = match found.recv_timeout(TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server process did not start listening");
            }
        };
        let addr = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|host| host.parse().ok())
            .unwrap_or_else(|| panic!("unexpected url {url:?}"));
        Self {
            child: Some(child),
            url,
            addr,
        }
    }

    /// SIGKILL: no shutdown, no goodbye; the kernel resets its connections.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            child.wait().expect("reap the server");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP relay between clients and a server that can cut every connection through it
/// at once (a network drop), while the server and the relay keep running.
#[derive(Debug)]
pub struct Relay {
    pub addr: SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { addr, cut, task }
    }

    /// The WebSocket URL through the relay.
    pub fn url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    /// Drops every connection through the relay now.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
