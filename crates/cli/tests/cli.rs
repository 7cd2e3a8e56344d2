//! `salon-cli` as people run it: the real binary in child processes, against the real
//! `salon-server` binary in another child process on `127.0.0.1:0` (`support`), with
//! key files (`--key-store file`) so no keyring is needed.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command};
use std::time::{Duration, Instant};

use salon_audio_io::{AudioSource as _, Pacing, WavSource};
use salon_client::{Client, ClientConfig, ClientHandle, KeyStore};
use salon_proto::RoomId;
use salon_voice::analysis;
use support::{Output, ServerProcess, cli, finish, run};

mod support;

/// Generous: a loaded 2-core machine; only matters when something is broken.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A `salon-server` process (see `support`) and a runtime for the few steps the test
/// drives through the client library.
struct TestServer {
    runtime: tokio::runtime::Runtime,
    url: String,
    _server: ServerProcess,
}

impl TestServer {
    fn start() -> Self {
        let server = ServerProcess::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        Self {
            runtime,
            url: server.url.clone(),
            _server: server,
        }
    }
}

/// A child's output up to and including the first line `done` accepts (or all of it,
/// if none does).
fn read_until(reader: &mut BufReader<ChildStdout>, done: impl Fn(&str) -> bool) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("the child's stdout");
        head.push_str(&line);
        if n == 0 || done(&line) {
            return head;
        }
    }
}

/// The rest of a child's output, read on a thread so the child never blocks on it.
fn read_rest(mut reader: BufReader<ChildStdout>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = reader.read_to_string(&mut text);
        text
    })
}

#[track_caller]
fn assert_ok(output: &Output) {
    assert!(output.status.success(), "salon-cli failed: {output:?}");
}

/// A failure is a non-zero exit and exactly one line `salon-cli: …` on stderr.
#[track_caller]
fn assert_fails_with(output: &Output, needle: &str) {
    assert!(!output.status.success(), "salon-cli succeeded: {output:?}");
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {output:?}");
    assert!(lines[0].starts_with("salon-cli: "), "{output:?}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "stderr should mention {needle:?}: {output:?}"
    );
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../voice/tests/fixtures/speech-48k-mono.wav")
}

/// The whole file's samples, mono.
fn read_wav(path: &Path) -> (u32, u16, Vec<f32>) {
    let mut source = WavSource::open(path, Pacing::AsFastAsPossible, false).expect("a valid WAV");
    let mut samples = Vec::new();
    let mut buffer = vec![0.0; 4800];
    loop {
        let n = source.read(&mut buffer);
        if n == 0 {
            break;
        }
        samples.extend_from_slice(&buffer[..n]);
    }
    (source.sample_rate(), source.channels(), samples)
}

/// Per 500 ms segment of `original` with speech in it, the best correlation with
/// `recorded` within ±200 ms of `lag` (the jitter buffer may shift playout by a frame
/// while it adapts, which one lag over the whole file cannot follow).
fn speech_segment_correlations(original: &[f32], recorded: &[f32], lag: usize) -> Vec<f32> {
    const SEGMENT: usize = 24_000;
    const SPAN: usize = 9_600;
    original
        .chunks_exact(SEGMENT)
        .enumerate()
        .filter(|(_, segment)| rms(segment) > 0.01)
        .filter_map(|(i, segment)| {
            let lo = (i * SEGMENT + lag).saturating_sub(SPAN);
            let window = recorded.get(lo..)?;
            analysis::best_lag(segment, window, 2 * SPAN).map(|(_, corr)| corr)
        })
        .collect()
}

fn median(values: &[f32]) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn rms(samples: &[f32]) -> f32 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt() as f32
}

/// As the host (through the client library, with the host's profile): joins `room`,
/// waits until `handle` is in it, and invites them to speak.
async fn invite_to_speak(url: &str, host: &Path, room: RoomId, handle: &str) -> ClientHandle {
    let config = ClientConfig::new(url, host, KeyStore::File(host.join("device.key")));
    let client = Client::connect(config).await.expect("the host connects");
    let user = client.get_profile(handle).await.expect("profile").user;
    client.join_room(room).await.expect("the host joins");
    let start = Instant::now();
    while client
        .room()
        .and_then(|view| view.member(user).cloned())
        .is_none()
    {
        assert!(start.elapsed() < TIMEOUT, "{handle} never joined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.invite_to_speak(user).await.expect("invited");
    client
}

#[test]
fn accounts_rooms_speaking_and_listening_end_to_end() {
    let server = TestServer::start();
    let url = server.url.as_str();
    let dir = tempfile::tempdir().expect("temp dir");
    let host = dir.path().join("host");
    let listener = dir.path().join("listener");

    // (1) Accounts.
    let out = run(
        url,
        &host,
        &["account", "create", "cli_host", "--display-name", "Host"],
    );
    assert_ok(&out);
    assert_ok(&run(url, &listener, &["account", "create", "cli_listener"]));
    let mode = std::fs::metadata(host.join("device.key"))
        .expect("the key file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // (2) A room; its id alone on the last line.
    let out = run(
        url,
        &host,
        &["room", "create", "Test", "--visibility", "public"],
    );
    assert_ok(&out);
    let room = out.stdout.lines().last().expect("a last line").to_owned();
    assert_eq!(room.len(), 32, "{out:?}");
    assert!(room.chars().all(|c| c.is_ascii_hexdigit()), "{out:?}");

    // (3) It is listed.
    let out = run(url, &listener, &["room", "list"]);
    assert_ok(&out);
    assert!(out.stdout.contains("Test"), "{out:?}");

    // (4) The listener records while the host speaks the fixture.
    let recording = dir.path().join("out.wav");
    let mut listen = cli(
        url,
        &listener,
        &[
            "room",
            "listen",
            &room,
            "--record",
            recording.to_str().expect("utf-8 path"),
            "--seconds",
            "5",
        ],
    )
    .spawn()
    .expect("listen starts");
    // Start speaking once the listener is in the room.
    let mut reader = BufReader::new(listen.stdout.take().expect("piped stdout"));
    let listen_head = read_until(&mut reader, |line| line.starts_with("recording"));
    assert!(
        listen_head.contains("recording"),
        "listen never started recording: {listen_head:?}"
    );
    listen.stdout = None;
    let fixture = fixture();
    let speak = cli(
        url,
        &host,
        &[
            "room",
            "speak",
            &room,
            "--wav",
            fixture.to_str().expect("utf-8 path"),
        ],
    )
    .spawn()
    .expect("speak starts");
    let speak = finish(speak);
    let rest = read_rest(reader);
    let listen = finish(listen);
    let listen_out = rest.join().expect("reader");
    assert_ok(&speak);
    assert!(speak.stdout.contains("sent"), "{speak:?}");
    assert!(!speak.stdout.contains("sent 0 "), "{speak:?}");
    assert_ok(&listen);
    assert!(listen_out.contains("frames received"), "{listen_out:?}");
    assert!(!listen_out.contains(": 0 audio frames"), "{listen_out:?}");
    let (rate, channels, samples) = read_wav(&recording);
    assert_eq!((rate, channels), (48_000, 1));
    assert!(
        samples.len() >= 48_000 * 2,
        "at least 2 s recorded, got {} samples",
        samples.len()
    );
    let level = rms(&samples);
    assert!(level > 0.005, "the recording is silent (RMS {level})");
    // The recording is the speech: per half-second of speech, the best match within
    // ±200 ms of the whole file's best lag. That lag is the mouth-to-ear delay through
    // both processes and the server, plus the time between the listener starting to
    // record and the speaker starting to read the file.
    let (_, _, original) = read_wav(&fixture);
    let (lag, whole) = analysis::best_lag(
        &original,
        &samples,
        samples.len().saturating_sub(original.len()).max(1),
    )
    .expect("both have samples");
    let segments = speech_segment_correlations(&original, &samples, lag);
    let median = median(&segments);
    println!(
        "CLI to CLI: speech found {:.1} ms into the recording (whole-file correlation \
         {whole:.3}); median correlation over {} speech segments {median:.3}",
        lag as f64 * 1000.0 / 48_000.0,
        segments.len()
    );
    assert!(segments.len() >= 3, "speech segments: {}", segments.len());
    // Measured here: medians of 0.93-0.95 (the library-level test sees the same); the
    // bound leaves room for a frame of playout shift under load.
    assert!(median >= 0.6, "median segment correlation {median}");

    // Ctrl-C (SIGINT) during `--loop` leaves cleanly, with success.
    let mut looping = cli(
        url,
        &host,
        &[
            "room",
            "speak",
            &room,
            "--wav",
            fixture.to_str().expect("utf-8 path"),
            "--loop",
        ],
    )
    .spawn()
    .expect("speak starts");
    let mut reader = BufReader::new(looping.stdout.take().expect("piped stdout"));
    let head = read_until(&mut reader, |line| line.starts_with("speaking"));
    assert!(head.contains("speaking"), "speak never started: {head:?}");
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &looping.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let rest = read_rest(reader);
    let stopped = finish(looping);
    assert_ok(&stopped);
    let tail = rest.join().expect("reader");
    assert!(tail.contains("sent"), "{tail:?}");

    // (5) Errors a person can act on.
    let nowhere = dir.path().join("nowhere.wav");
    let out = run(
        url,
        &listener,
        &[
            "room",
            "listen",
            &"0".repeat(32),
            "--record",
            nowhere.to_str().expect("utf-8 path"),
            "--seconds",
            "1",
        ],
    );
    assert_fails_with(&out, "does not exist or has ended");
    assert!(!nowhere.exists(), "no recording is left behind");

    let out = run(
        url,
        &host,
        &["room", "speak", &room, "--wav", "/nonexistent/speech.wav"],
    );
    assert_fails_with(&out, "/nonexistent/speech.wav");

    let out = run(
        url,
        &host,
        &[
            "room",
            "speak",
            "not-a-room",
            "--wav",
            fixture.to_str().expect("utf-8 path"),
        ],
    );
    assert_fails_with(&out, "is not a room id");

    let fresh = dir.path().join("fresh");
    let out = run(url, &fresh, &["room", "list"]);
    assert_fails_with(&out, "no account in this profile");

    // An audience member's `room speak` waits for an invitation, accepts it and speaks.
    let mut invited = cli(
        url,
        &listener,
        &[
            "room",
            "speak",
            &room,
            "--wav",
            fixture.to_str().expect("utf-8 path"),
        ],
    )
    .spawn()
    .expect("speak starts");
    let mut reader = BufReader::new(invited.stdout.take().expect("piped stdout"));
    let head = read_until(&mut reader, |line| line.contains("waiting"));
    assert!(head.contains("waiting"), "speak did not wait: {head:?}");
    let host_client = server.runtime.block_on(invite_to_speak(
        url,
        &host,
        room.parse().expect("room id"),
        "cli_listener",
    ));
    let rest = read_rest(reader);
    let spoke = finish(invited);
    server.runtime.block_on(host_client.shutdown());
    assert_ok(&spoke);
    let tail = rest.join().expect("reader");
    assert!(tail.contains("invited to speak"), "{tail:?}");
    assert!(
        tail.contains("sent") && !tail.contains("sent 0 "),
        "{tail:?}"
    );

    std::fs::set_permissions(
        host.join("device.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let out = run(url, &host, &["room", "list"]);
    assert_fails_with(&out, "chmod 600");
}

#[test]
fn an_unreachable_server_is_one_clear_line() {
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(
        &format!("ws://127.0.0.1:{port}"),
        dir.path(),
        &["account", "create", "nobody"],
    );
    assert_fails_with(&out, "cannot reach the Salon server");
}
