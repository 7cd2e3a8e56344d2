//! Private messages end to end, against the real server: people with several
//! devices, a device added later, tampering, racing commits, offline delivery, a server
//! killed between send and delivery, restarts, and what the server's database and the
//! client's store contain (never the words).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use salon_client::proto::mls::MlsKind;
use salon_client::proto::{Blob, MessageId};
use salon_client::{Client, ClientEvent, ClientHandle, DirectMessages, DmEvent};
use support::{
    Profile, ServerProcess, TIMEOUT, registered, serve_if_child, start_server, wait_for,
};
use tokio::sync::broadcast;

/// Not a test: the server half of the kill -9 test, run in a child process.
#[test]
#[ignore = "runs only as the server process of the kill -9 test in this file"]
fn server_process() {
    serve_if_child();
}

struct Person {
    client: ClientHandle,
    dm: DirectMessages,
    events: broadcast::Receiver<ClientEvent>,
    profile: Profile,
}

impl Person {
    fn handle(&self) -> String {
        self.client.account().unwrap().handle.as_str().to_owned()
    }
}

async fn person(url: &str, prefix: &str) -> Person {
    let (client, profile) = registered(url, prefix, prefix).await;
    let events = client.events();
    let dm = DirectMessages::start(&client).await.expect("dm start");
    Person {
        client,
        dm,
        events,
        profile,
    }
}

/// Another device of `of`'s account: linked, approved, logged in, messages started.
async fn another_device(url: &str, of: &Person) -> Person {
    let profile = Profile::new();
    let client = Client::connect(profile.config(url)).await.expect("connect");
    let handle = of.handle();
    client.link_device(&handle).await.expect("link");
    of.client
        .approve_device(client.public_key())
        .await
        .expect("approve");
    client.login(&handle).await.expect("login");
    let events = client.events();
    let dm = DirectMessages::start(&client).await.expect("dm start");
    Person {
        client,
        dm,
        events,
        profile,
    }
}

/// Waits for the next text message (not a notice) on a person's event stream.
async fn next_text(person: &mut Person) -> (String, String) {
    wait_for(&mut person.events, "a private message", |e| match e {
        ClientEvent::Dm(DmEvent::Message(m)) if !m.notice => {
            Some((m.sender.clone(), m.text.clone()))
        }
        _ => None,
    })
    .await
}

/// Sends from this device and consumes the event of its own message, so the
/// device's stream then shows only what others send.
async fn say(person: &mut Person, conversation: &str, text: &str) {
    let sent = person.dm.send(conversation, text).await.expect("send");
    assert!(sent.mine);
    let own = next_text(person).await;
    assert_eq!(own.1, text);
}

async fn texts(person: &Person, conversation: &str) -> Vec<String> {
    person
        .dm
        .history(conversation)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| !m.notice)
        .map(|m| m.text)
        .collect()
}

async fn conversation_with(person: &Person, handle: &str) -> String {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(c) = person.dm.find(handle).await.unwrap() {
            return c.id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no conversation with {handle}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_reads_in_order_and_a_later_device_only_what_follows() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let mut alice = person(&url, "alice").await;
    let mut alice2 = another_device(&url, &alice).await;
    let mut bob = person(&url, "bob").await;
    let mut bob2 = another_device(&url, &bob).await;

    let conversation = alice.dm.open(&bob.handle()).await.expect("open");
    assert_eq!(conversation.peers, [bob.handle()]);
    say(&mut alice, &conversation.id, "one").await;
    say(&mut alice, &conversation.id, "two").await;
    for device in [&mut bob, &mut bob2, &mut alice2] {
        assert_eq!(next_text(device).await.1, "one");
        assert_eq!(next_text(device).await.1, "two");
    }
    let on_bob = conversation_with(&bob, &alice.handle()).await;
    let on_bob2 = conversation_with(&bob2, &alice.handle()).await;
    say(&mut bob2, &on_bob2, "three").await;
    let bob_handle = bob.handle();
    for device in [&mut alice, &mut alice2, &mut bob] {
        assert_eq!(
            next_text(device).await,
            (bob_handle.clone(), "three".into())
        );
    }
    assert_eq!(texts(&bob, &on_bob).await, ["one", "two", "three"]);
    let listed = bob.dm.conversations().await.unwrap();
    assert_eq!(
        listed[0].unread, 2,
        "two from alice, unread; bob's own device's message is not"
    );
    bob.dm.mark_read(&on_bob).await.unwrap();
    assert_eq!(bob.dm.conversations().await.unwrap()[0].unread, 0);

    // Safety numbers agree, and change when bob adds a third device.
    let before = alice.dm.safety_number(&conversation.id).await.unwrap();
    assert_eq!(before, bob.dm.safety_number(&on_bob).await.unwrap());
    alice.dm.verify(&conversation.id).await.unwrap();
    assert!(
        alice
            .dm
            .safety_number(&conversation.id)
            .await
            .unwrap()
            .verified
    );
    let mut bob3 = another_device(&url, &bob).await;
    say(&mut alice, &conversation.id, "after the third device").await;
    assert_eq!(next_text(&mut bob3).await.1, "after the third device");
    let on_bob3 = conversation_with(&bob3, &alice.handle()).await;
    assert_eq!(
        texts(&bob3, &on_bob3).await,
        ["after the third device"],
        "nothing from before it joined"
    );
    let after = alice.dm.safety_number(&conversation.id).await.unwrap();
    assert_ne!(after.digits, before.digits);
    assert!(!after.verified, "a new device needs verifying again");
    let history = alice.dm.history(&conversation.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|m| m.notice && m.text.contains("safety number changed")),
        "the conversation says so: {history:?}"
    );
    assert_eq!(next_text(&mut bob).await.1, "after the third device");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_people_one_with_two_devices_share_a_conversation() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let mut alice = person(&url, "alice").await;
    let mut alice2 = another_device(&url, &alice).await;
    let mut bob = person(&url, "bob").await;
    let mut carol = person(&url, "carol").await;
    let (a, b, c) = (alice.handle(), bob.handle(), carol.handle());
    let group = alice.dm.open_group(&[&b, &c]).await.expect("open a group");
    let mut peers = group.peers.clone();
    peers.sort();
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(peers, expected);
    say(&mut alice, &group.id, "hello both").await;
    for device in [&mut bob, &mut carol, &mut alice2] {
        assert_eq!(next_text(device).await, (a.clone(), "hello both".into()));
    }
    let on_carol = carol
        .dm
        .find_group(&[&a, &b])
        .await
        .unwrap()
        .expect("carol has the group")
        .id;
    say(&mut carol, &on_carol, "hi from carol").await;
    for device in [&mut alice, &mut alice2, &mut bob] {
        assert_eq!(next_text(device).await, (c.clone(), "hi from carol".into()));
    }
    let on_bob = bob.dm.find_group(&[&a, &c]).await.unwrap().unwrap().id;
    let number = alice.dm.safety_number(&group.id).await.unwrap();
    assert_eq!(number, bob.dm.safety_number(&on_bob).await.unwrap());
    assert_eq!(number, carol.dm.safety_number(&on_carol).await.unwrap());
    assert_eq!(texts(&bob, &on_bob).await, ["hello both", "hi from carol"]);

    // A reply and a reaction travel with the id of the message they are about.
    let first = alice.dm.history(&group.id).await.unwrap();
    let hello = first
        .iter()
        .find(|m| m.text == "hello both")
        .unwrap()
        .id
        .clone();
    let reply = bob.dm.reply(&on_bob, &hello, "hello to you").await.unwrap();
    bob.dm.react(&on_bob, &hello, "👍").await.unwrap();
    let got = wait_for(&mut carol.events, "the reaction", |e| match e {
        ClientEvent::Dm(DmEvent::Message(m)) if m.reaction_to.is_some() => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (got.text.as_str(), got.reaction_to.as_deref()),
        ("👍", Some(hello.as_str()))
    );
    let history = carol.dm.history(&on_carol).await.unwrap();
    let stored = history
        .iter()
        .find(|m| m.id == reply.id)
        .expect("the reply");
    assert_eq!(stored.reply_to.as_deref(), Some(hello.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_removed_from_the_conversation() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let mut alice = person(&url, "alice").await;
    let mut bob = person(&url, "bob").await;
    let mut lost = another_device(&url, &bob).await;
    let conversation = alice.dm.open(&bob.handle()).await.unwrap();
    say(&mut alice, &conversation.id, "before").await;
    assert_eq!(next_text(&mut bob).await.1, "before");
    assert_eq!(next_text(&mut lost).await.1, "before");
    let with_lost = alice.dm.safety_number(&conversation.id).await.unwrap();

    // Bob revokes the lost device; the next message removes it from the group first.
    let lost_device = lost.client.account().unwrap().device;
    bob.client.revoke_device(lost_device).await.unwrap();
    say(&mut alice, &conversation.id, "after").await;
    assert_eq!(next_text(&mut bob).await.1, "after");
    let without = alice.dm.safety_number(&conversation.id).await.unwrap();
    assert_ne!(without.digits, with_lost.digits);
    let on_bob = conversation_with(&bob, &alice.handle()).await;
    assert_eq!(bob.dm.safety_number(&on_bob).await.unwrap(), without);
    let history = alice.dm.history(&conversation.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|m| m.notice && m.text.contains("was removed")),
        "{history:?}"
    );
    let on_lost = conversation_with(&lost, &alice.handle()).await;
    assert_eq!(
        texts(&lost, &on_lost).await,
        ["before"],
        "the lost device read nothing after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_ciphertext_is_refused_and_the_conversation_goes_on() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let mut alice = person(&url, "alice").await;
    let mut bob = person(&url, "bob").await;
    let (mallory, _mp) = registered(&url, "mallory", "Mallory").await;
    let conversation = alice.dm.open(&bob.handle()).await.unwrap();
    say(&mut alice, &conversation.id, "genuine").await;
    let (group, payload) = wait_for(&mut bob.events, "the raw delivery", |e| match e {
        ClientEvent::MlsMessage(m) if m.kind == MlsKind::Application => {
            Some((m.group.clone(), m.payload.0.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(next_text(&mut bob).await.1, "genuine");
    // One bit flipped inside the encrypted sender data, relayed by someone else.
    let mut flipped = payload.clone();
    flipped[40] ^= 0x04;
    mallory
        .mls_send(
            MessageId::from_bytes(rand::random()),
            group,
            MlsKind::Application,
            1,
            vec![bob.client.account().unwrap().user],
            Blob(flipped),
        )
        .await
        .unwrap();
    let reason = wait_for(&mut bob.events, "a refusal", |e| match e {
        ClientEvent::Dm(DmEvent::Rejected { reason, .. }) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("integrity"), "{reason}");
    say(&mut alice, &conversation.id, "still working").await;
    assert_eq!(next_text(&mut bob).await.1, "still working");
    let on_bob = conversation_with(&bob, &alice.handle()).await;
    assert_eq!(texts(&bob, &on_bob).await, ["genuine", "still working"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commits_from_two_devices_lose_no_message() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let mut alice = person(&url, "alice").await;
    let mut bob = person(&url, "bob").await;
    let conversation = alice.dm.open(&bob.handle()).await.unwrap();
    say(&mut alice, &conversation.id, "hello").await;
    assert_eq!(next_text(&mut bob).await.1, "hello");
    let on_bob = conversation_with(&bob, &alice.handle()).await;
    // Both get a new device; both then send at once, each adding a device in the same
    // epoch: one commit wins, the other is built again on the new epoch.
    let mut alice2 = another_device(&url, &alice).await;
    let mut bob2 = another_device(&url, &bob).await;
    let (a, b) = tokio::join!(
        alice.dm.send(&conversation.id, "from alice"),
        bob.dm.send(&on_bob, "from bob"),
    );
    a.expect("alice's send");
    b.expect("bob's send");

    for device in [&mut alice2, &mut bob2, &mut alice, &mut bob] {
        let mut got = vec![next_text(device).await.1, next_text(device).await.1];
        got.sort();
        assert_eq!(got, ["from alice", "from bob"]);
    }
    let a_number = alice.dm.safety_number(&conversation.id).await.unwrap();
    assert_eq!(a_number, bob.dm.safety_number(&on_bob).await.unwrap());
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn encodings(word: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let hex: String = word.bytes().map(|b| format!("{b:02x}")).collect();
    let mut forms = vec![word.as_bytes().to_vec(), hex.into_bytes()];
    // base64 of the word at each of the three alignments: only the groups made of the
    // word's own bytes (the first group of a shifted word also holds the prefix).
    for shift in 0..3usize {
        let padded = format!("{}{}", &"xx"[..shift], word);
        let encoded = b64.encode(padded.as_bytes());
        let start = if shift == 0 { 0 } else { 4 };
        let end = 4 * (padded.len() / 3);
        if end >= start + 4 {
            forms.push(encoded.as_bytes()[start..end].to_vec());
        }
    }
    forms
}

/// Every file under `dir` (database, WAL, SHM, logs), concatenated.
fn read_tree(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(read_tree(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_survives_a_killed_server_and_arrives_once_and_nothing_is_readable_at_rest() {
    let data = tempfile::tempdir().unwrap();
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = ServerProcess::spawn(data.path(), listen);
    let url = server.url.clone();
    let mut alice = person(&url, "alice").await;
    let mut bob = person(&url, "bob").await;
    let conversation = alice.dm.open(&bob.handle()).await.unwrap();
    say(
        &mut alice,
        &conversation.id,
        "the heron flies at quarterpast",
    )
    .await;
    assert_eq!(
        next_text(&mut bob).await.1,
        "the heron flies at quarterpast"
    );
    let on_bob = conversation_with(&bob, &alice.handle()).await;

    // Bob goes offline; a message waits for him; the server is killed; it comes back.
    let bob_profile = bob.profile;
    bob.client.shutdown().await;
    drop(bob.dm);
    say(&mut alice, &conversation.id, "marmalade zeppelin whispers").await;
    server.kill9();
    let server = ServerProcess::spawn(data.path(), listen);
    let client = Client::connect(bob_profile.config(&server.url))
        .await
        .expect("reconnect");
    let dm = DirectMessages::start(&client).await.unwrap();
    let expected = [
        "the heron flies at quarterpast",
        "marmalade zeppelin whispers",
    ];
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let bob_again = Person {
        events: client.events(),
        client,
        dm,
        profile: bob_profile,
    };
    while texts(&bob_again, &on_bob).await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the waiting message did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(texts(&bob_again, &on_bob).await, expected, "once, in order");

    // A restart of the client keeps the history and delivers nothing twice.
    bob_again.client.shutdown().await;
    drop(bob_again.dm);
    let client = Client::connect(bob_again.profile.config(&server.url))
        .await
        .unwrap();
    let dm = DirectMessages::start(&client).await.unwrap();
    let mut restarted = Person {
        events: client.events(),
        client,
        dm,
        profile: bob_again.profile,
    };
    assert_eq!(texts(&restarted, &on_bob).await, expected);
    say(&mut restarted, &on_bob, "heard you").await;
    assert_eq!(next_text(&mut alice).await.1, "heard you");

    // Nothing readable in the server's files, nor in either client's store.
    restarted.client.shutdown().await;
    alice.client.shutdown().await;
    let server_files = read_tree(data.path());
    assert!(!server_files.is_empty());
    let alice_files = read_tree(alice.profile.dir.path());
    let bob_files = read_tree(restarted.profile.dir.path());
    for word in ["heron", "quarterpast", "marmalade", "zeppelin", "whispers"] {
        for form in encodings(word) {
            assert_eq!(
                count(&server_files, &form),
                0,
                "{word} in the server's database"
            );
            assert_eq!(count(&alice_files, &form), 0, "{word} in alice's store");
            assert_eq!(count(&bob_files, &form), 0, "{word} in bob's store");
        }
    }
    drop(server);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Not a test: measures send → receive delay through a real in-process server for
/// BENCHMARKS.md (`cargo test -p salon-client --test dm -- --ignored --nocapture
/// measure_send_to_receive_delay`). Asserts only that every message arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md, not a check"]
async fn measure_send_to_receive_delay() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let mut alice = person(&url, "alice").await;
    let mut bob = person(&url, "bob").await;
    let conversation = alice.dm.open(&bob.handle()).await.unwrap();
    say(&mut alice, &conversation.id, "warm-up").await;
    assert_eq!(next_text(&mut bob).await.1, "warm-up");
    let mut delays = Vec::new();
    // Paced: each send makes four requests (mailbox, two device lists, the send), and
    // the server limits requests per connection.
    for i in 0..100 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let text = format!("message {i}");
        let start = std::time::Instant::now();
        alice.dm.send(&conversation.id, &text).await.unwrap();
        assert_eq!(next_text(&mut bob).await.1, text);
        delays.push(start.elapsed());
        let _ = next_text(&mut alice).await;
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "send → receive over {} messages: p50 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        at(0.5),
        at(0.99),
        delays[delays.len() - 1]
    );
}
