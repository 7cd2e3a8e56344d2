//! The server under test: a real `salon-server` process on loopback, its CPU time from
//! `/proc`, and its counters from `/metrics`.
//!
//! The server runs as its own process (the release binary built next to this one), in a
//! throwaway data directory, so its CPU time is its own and nothing the benchmark does
//! is counted for it. Open file limits are raised to the hard limit first; the child
//! inherits them, so both sides can hold thousands of connections.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// A running `salon-server` child process.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

/// Raises this process's open-file limit to its hard limit; answers the new limit.
pub(crate) fn raise_fd_limit() -> anyhow::Result<u64> {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}

/// The `salon-server` binary: `SALON_BENCH_SERVER`, else next to this executable.
pub(crate) fn default_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SALON_BENCH_SERVER") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("salon-server")))
        .unwrap_or_else(|| PathBuf::from("salon-server"))
}

impl ServerProcess {
    /// Starts `binary` on a free loopback port with rooms of up to `room_capacity`.
    pub(crate) fn start(binary: &Path, room_capacity: usize) -> anyhow::Result<Self> {
        raise_fd_limit()?;
        let data = tempfile::Builder::new().prefix("salon-bench-").tempdir()?;
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(["--room-capacity", &room_capacity.to_string()])
            .env("RUST_LOG", "salon_server=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (build it with `cargo build --release -p salon-server`)",
                    binary.display()
                )
            })?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        // The server keeps writing to its stdout: keep reading it, or it dies of SIGPIPE.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let Some(url) = line.trim().strip_prefix("listening on ws://") else {
            let _ = child.kill();
            bail!("salon-server did not start: {line:?}");
        };
        let addr: SocketAddr = url
            .split('/')
            .next()
            .unwrap_or_default()
            .parse()
            .with_context(|| format!("cannot read the server address from {line:?}"))?;
        Ok(Self {
            child,
            addr,
            _data: data,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) it has used so far.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.pid())
    }

    /// Its peak resident memory in bytes.
    pub(crate) fn peak_rss(&self) -> anyhow::Result<u64> {
        peak_rss(self.pid())
    }

    /// Its `/metrics` counters.
    pub(crate) fn metrics(&self) -> anyhow::Result<Metrics> {
        Metrics::fetch(self.addr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) used by process `pid`, from `/proc/PID/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is field 3, utime
    // field 14, stime field 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
    };
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    Ok((ticks(11)? + ticks(12)?) / per_second)
}

/// Seconds the threads of process `pid` spent runnable but waiting for a CPU (from
/// `/proc/PID/task/*/schedstat`): how much other load on the machine held it back.
pub(crate) fn run_queue_wait_seconds(pid: u32) -> anyhow::Result<f64> {
    let mut nanos: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue; // the thread ended meanwhile
        };
        nanos += stat
            .split_whitespace()
            .nth(1)
            .and_then(|wait| wait.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(nanos as f64 / 1e9)
}

/// Peak resident memory of process `pid` in bytes (`VmHWM`).
pub(crate) fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmHWM in /proc status")?;
    Ok(kib * 1024)
}

/// The server's counters, by metric name (labels included).
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics(HashMap<String, f64>);

impl Metrics {
    fn fetch(addr: SocketAddr) -> anyhow::Result<Self> {
        let mut socket = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        socket.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            socket,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        socket.read_to_string(&mut response)?;
        let (_, body) = response
            .split_once("\r\n\r\n")
            .context("no HTTP body from /metrics")?;
        let values = body
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect();
        Ok(Self(values))
    }

    /// One counter, 0 when absent.
    pub(crate) fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    /// How much a counter grew since `earlier`.
    pub(crate) fn since(&self, earlier: &Metrics, name: &str) -> u64 {
        (self.get(name) - earlier.get(name)).max(0.0) as u64
    }
}
