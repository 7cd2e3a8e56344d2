//! What the CLI's process tests share: the real `salon-server` binary in a child process
//! on a free port, its output kept for scanning, stopped with SIGTERM (then SIGKILL) on
//! drop; and running the real `salon-cli` binary against it with a deadline.
//!
//! The server binary is looked up beside the test's own target directory (`cargo test
//! --workspace` and `cargo xtask test` build it; `cargo build -p salon-server` does too).

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The `salon-server` binary of this build.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/salon-server
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("the target dir")
        .join("salon-server");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build -p salon-server`)",
        binary.display()
    );
    binary
}

/// A `salon-server` process with debug logging.
pub(crate) struct ServerProcess {
    process: Child,
    /// `ws://127.0.0.1:PORT`, as `salon-cli --server` takes it.
    pub(crate) url: String,
    /// Its data directory (the database).
    data: TempDir,
    log: Arc<Mutex<Vec<u8>>>,
}

/// Appends everything `from` yields to `log` until it ends.
fn keep(mut from: impl std::io::Read + Send + 'static, log: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(&buf[..n]);
        }
    });
}

impl ServerProcess {
    pub(crate) fn start() -> Self {
        let data = tempfile::tempdir().expect("data dir");
        let mut process = Command::new(server_binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("salon-server starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        keep(process.stderr.take().expect("piped stderr"), log.clone());
        let mut stdout = BufReader::new(process.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let url = loop {
            line.clear();
            let n = stdout.read_line(&mut line).expect("salon-server's stdout");
            assert!(n > 0, "salon-server exited before listening");
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(line.as_bytes());
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                break url.trim_end_matches("/v1/ws").to_owned();
            }
        };
        keep(stdout, log.clone());
        Self {
            process,
            url,
            data,
            log,
        }
    }

    /// Its data directory (the database files).
    #[allow(dead_code, reason = "used by some of the test files only")]
    pub(crate) fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Everything the server printed so far (stdout and its log on stderr).
    #[allow(dead_code, reason = "used by some of the test files only")]
    pub(crate) fn log(&self) -> Vec<u8> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the server (SIGTERM: it flushes the database) and waits for it.
    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.process.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.process.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long one `salon-cli` run may take: generous for a loaded 2-core machine; it only
/// matters when something is broken.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished run printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn cli(server: &str, profile: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_salon-cli"));
    command
        .arg("--server")
        .arg(server)
        .arg("--profile")
        .arg(profile)
        .args(["--key-store", "file"])
        .args(args)
        .env_remove("SALON_SERVER")
        .env_remove("SALON_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` with a deadline (killing it when it passes) and collects its output
/// (stdout only if the caller has not taken it).
pub(crate) fn finish(mut child: Child) -> Output {
    let stdout = child.stdout.take();
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stdout) = stdout {
            let _ = stdout.read_to_string(&mut text);
        }
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > CLI_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("salon-cli did not finish within {CLI_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

pub(crate) fn run(server: &str, profile: &Path, args: &[&str]) -> Output {
    finish(
        cli(server, profile, args)
            .spawn()
            .expect("salon-cli starts"),
    )
}
