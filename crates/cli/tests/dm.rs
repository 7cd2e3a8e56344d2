//! `salon-cli dm` as people run it: the real `salon-cli` binary against the real
//! `salon-server` binary (found beside this test's target directory, as in `cli.rs`),
//! with key files. Two people write to each other; a message sent while the other is
//! offline arrives when they read, once; and neither the server's database nor its
//! log output nor the profiles contain the words, in any common encoding.

use std::path::Path;

use support::{Output, ServerProcess, run};

mod support;

#[track_caller]
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "salon-cli failed: {} {}",
        output.stdout,
        output.stderr
    );
    output.stdout
}

fn handle(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id() % 100_000)
}

fn files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    all
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 of the word's own 3-byte groups, at each of the three alignments.
fn base64_forms(word: &str) -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut forms = Vec::new();
    for shift in 0..3 {
        let bytes: Vec<u8> = word.bytes().skip((3 - shift) % 3).collect();
        let mut out = String::new();
        for group in bytes.chunks_exact(3) {
            let n = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
            for i in (0..4).rev() {
                out.push(char::from(ALPHABET[((n >> (6 * i)) & 63) as usize]));
            }
        }
        if out.len() >= 4 {
            forms.push(out);
        }
    }
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn two_people_write_to_each_other_and_nothing_readable_is_left_behind() {
    let mut server = ServerProcess::start();
    let url = server.url.clone();
    let alice_dir = tempfile::tempdir().unwrap();
    let bob_dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (handle("alice"), handle("bob"));
    ok(run(&url, alice_dir.path(), &["account", "create", &alice]));
    ok(run(&url, bob_dir.path(), &["account", "create", &bob]));

    // Bob has never run a dm command: his key packages went up with his account.
    ok(run(
        &url,
        alice_dir.path(),
        &["dm", "send", &bob, "the quokka juggles saxophones"],
    ));
    ok(run(
        &url,
        alice_dir.path(),
        &["dm", "send", &bob, "bring the periwinkle umbrella"],
    ));
    let read = ok(run(
        &url,
        bob_dir.path(),
        &["dm", "read", &alice, "--wait-seconds", "20"],
    ));
    assert_eq!(
        read.lines().collect::<Vec<_>>(),
        [
            format!("{alice}: the quokka juggles saxophones"),
            format!("{alice}: bring the periwinkle umbrella"),
        ],
        "oldest first"
    );
    assert_eq!(
        ok(run(&url, bob_dir.path(), &["dm", "read", &alice])),
        "",
        "each message is printed once"
    );
    ok(run(
        &url,
        bob_dir.path(),
        &["dm", "send", &alice, "zanzibar mango accepted"],
    ));
    let read = ok(run(
        &url,
        alice_dir.path(),
        &["dm", "read", &bob, "--wait-seconds", "20"],
    ));
    assert_eq!(read.trim(), format!("{bob}: zanzibar mango accepted"));

    let refused = run(
        &url,
        alice_dir.path(),
        &["dm", "send", "nobody_here_at_all", "hi"],
    );
    assert!(!refused.status.success());
    assert!(
        refused.stderr.starts_with("salon-cli: "),
        "{}",
        refused.stderr
    );

    server.stop();
    let server_bytes = files(server.data_dir());
    let log = server.log();
    assert!(contains(&log, b"listening on"), "the log was captured");
    let profiles = [files(alice_dir.path()), files(bob_dir.path())];
    for word in [
        "quokka",
        "saxophones",
        "periwinkle",
        "umbrella",
        "zanzibar",
        "mango",
    ] {
        let mut forms = vec![word.as_bytes().to_vec(), hex(word.as_bytes()).into_bytes()];
        forms.extend(base64_forms(word).into_iter().map(String::into_bytes));
        for form in &forms {
            let shown = String::from_utf8_lossy(form);
            assert!(
                !contains(&server_bytes, form),
                "{shown} in the server's database"
            );
            assert!(!contains(&log, form), "{shown} in the server's log");
            for profile in &profiles {
                assert!(!contains(profile, form), "{shown} in a profile");
            }
        }
    }
    // The scan itself finds what is there.
    assert!(
        base64_forms("saxophones")
            .iter()
            .any(|f| "c2F4b3Bob25lcw==".contains(f.as_str()))
    );
}
