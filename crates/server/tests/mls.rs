//! The MLS delivery service through the real server: key packages, per-device
//! mailboxes, acknowledgements, idempotent resends, commit ordering, and durability
//! across `kill -9`.
//!
//! It proves that one-time key packages are handed out once and then the last-resort
//! one (with `key_packages_low` warnings to the owner); that a message to a user reaches
//! every one of their devices, pushed when online and fetched after a reconnect; that
//! `mls_ack` removes what it acknowledges; that a resend with the same `message_id` is
//! answered with the first `group_seq` and stored once; that a second commit for an
//! epoch is refused with `epoch_conflict`; and, with the real `salon-server` binary
//! killed with SIGKILL and restarted on the same data directory, that every message the
//! server accepted is delivered exactly once and acknowledged ones never come back.

mod support;

use ed25519_dalek::SigningKey;
use salon_proto::mls::{MlsDelivery, MlsKind};
use salon_proto::{Blob, ClientRequest, ErrorCode, Event, MessageId, Reply, UserId};
use support::{
    Client, ServerProcess, TIMEOUT, new_key, public_key, random_message_id, start_server,
};

/// Links a second device to the account logged in on `first`; returns it logged in.
async fn link_second_device(url: &str, first: &mut Client) -> (Client, SigningKey) {
    let handle = first.me().handle.clone();
    let key = new_key();
    let mut second = Client::connect_hello(url).await;
    match second.link_device(&handle, &key).await {
        Reply::Ok => {}
        other => panic!("link_device answered {other:?}"),
    }
    first
        .expect_event("device_link_requested", TIMEOUT, |e| {
            matches!(e, Event::DeviceLinkRequested { .. })
        })
        .await;
    first
        .ok(ClientRequest::ApproveDevice {
            device_key: public_key(&key),
        })
        .await;
    second.authenticate(&handle, &key).await;
    (second, key)
}

/// An `mls_send` request.
fn send_request(
    message_id: MessageId,
    group: &[u8],
    kind: MlsKind,
    epoch: u64,
    recipients: Vec<UserId>,
    payload: &[u8],
) -> ClientRequest {
    ClientRequest::MlsSend {
        message_id,
        group: Blob(group.to_vec()),
        kind,
        epoch,
        recipients,
        payload: Blob(payload.to_vec()),
    }
}

/// Sends and expects `mls_accepted`; returns the group sequence number.
async fn send(client: &mut Client, request: ClientRequest) -> u64 {
    let what = format!("{request:?}");
    match client.request(request).await {
        Reply::MlsAccepted { group_seq } => group_seq,
        other => panic!("{what} answered {other:?}"),
    }
}

/// Sends an application message to `to`; returns its group sequence number.
async fn send_app(
    client: &mut Client,
    id: MessageId,
    group: &[u8],
    to: UserId,
    payload: &[u8],
) -> u64 {
    send(
        client,
        send_request(id, group, MlsKind::Application, 0, vec![to], payload),
    )
    .await
}

async fn next_mls_message(client: &mut Client, what: &str) -> MlsDelivery {
    match client
        .expect_event(what, TIMEOUT, |e| matches!(e, Event::MlsMessage(_)))
        .await
    {
        Event::MlsMessage(delivery) => delivery,
        _ => unreachable!(),
    }
}

/// Fetches the whole mailbox after `after`, following `more`, `limit` at a time.
async fn fetch_all(client: &mut Client, after: u64, limit: u16) -> Vec<MlsDelivery> {
    let mut all = Vec::new();
    let mut after = after;
    loop {
        match client
            .request(ClientRequest::MlsFetch {
                after,
                limit: Some(limit),
            })
            .await
        {
            Reply::MlsBatch { messages, more } => {
                assert!(messages.len() <= usize::from(limit));
                if let Some(last) = messages.last() {
                    after = last.seq;
                }
                let empty = messages.is_empty();
                all.extend(messages);
                if !more || empty {
                    assert!(!more, "`more` with an empty batch");
                    return all;
                }
            }
            other => panic!("mls_fetch answered {other:?}"),
        }
    }
}

fn payloads(messages: &[MlsDelivery]) -> Vec<Vec<u8>> {
    messages.iter().map(|m| m.payload.0.clone()).collect()
}

fn assert_increasing(messages: &[MlsDelivery]) {
    assert!(
        messages.windows(2).all(|w| w[0].seq < w[1].seq),
        "mailbox sequence numbers strictly increase: {:?}",
        messages.iter().map(|m| m.seq).collect::<Vec<_>>()
    );
}

async fn publish(client: &mut Client, packages: &[&[u8]], last_resort: Option<&[u8]>) -> u32 {
    match client
        .request(ClientRequest::PublishKeyPackages {
            key_packages: packages.iter().map(|p| Blob(p.to_vec())).collect(),
            last_resort: last_resort.map(|p| Blob(p.to_vec())),
        })
        .await
    {
        Reply::KeyPackagesPublished { stock } => stock,
        other => panic!("publish_key_packages answered {other:?}"),
    }
}

async fn claim(client: &mut Client, user: UserId) -> Vec<(salon_proto::DeviceId, Vec<u8>)> {
    match client
        .request(ClientRequest::ClaimKeyPackages { user })
        .await
    {
        Reply::KeyPackagesClaimed {
            user: whose,
            key_packages,
        } => {
            assert_eq!(whose, user);
            key_packages
                .into_iter()
                .map(|k| (k.device, k.key_package.0))
                .collect()
        }
        other => panic!("claim_key_packages answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_key_packages_are_handed_out_once_then_the_last_resort() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut alice = Client::registered(&url, "alice", "Alice").await;
    let mut bob = Client::registered(&url, "bob", "Bob").await;
    let b = bob.user();
    let device = bob.me().device;

    // Nothing published yet.
    alice
        .refused(
            ClientRequest::ClaimKeyPackages { user: b },
            ErrorCode::NoKeyPackage,
        )
        .await;

    let one_time: Vec<Vec<u8>> = (0..12u8).map(|n| vec![b'k', n]).collect();
    let refs: Vec<&[u8]> = one_time.iter().map(Vec::as_slice).collect();
    assert_eq!(publish(&mut bob, &refs, Some(b"last-resort")).await, 12);

    let mut handed_out = Vec::new();
    for _ in 0..12 {
        let claimed = claim(&mut alice, b).await;
        assert_eq!(claimed.len(), 1, "one package per device");
        assert_eq!(claimed[0].0, device);
        handed_out.push(claimed[0].1.clone());
    }
    let mut sorted = handed_out.clone();
    sorted.sort();
    assert_eq!(
        sorted, one_time,
        "each one-time package is handed out exactly once"
    );
    // Then the last-resort package, as often as needed.
    for _ in 0..3 {
        let claimed = claim(&mut alice, b).await;
        assert_eq!(claimed, [(device, b"last-resort".to_vec())]);
    }

    // Bob was warned once his stock went low (below 10), not before.
    let first_low = bob
        .expect_event("key_packages_low", TIMEOUT, |e| {
            matches!(e, Event::KeyPackagesLow { .. })
        })
        .await;
    assert_eq!(first_low, Event::KeyPackagesLow { stock: 9 });
    let lows: Vec<u32> = bob
        .log
        .iter()
        .filter_map(|e| match e {
            Event::KeyPackagesLow { stock } => Some(*stock),
            _ => None,
        })
        .collect();
    bob.ping().await;
    assert!(lows.iter().all(|s| *s < 10), "{lows:?}");
    // Publishing more restores the stock.
    assert_eq!(publish(&mut bob, &[b"fresh"], None).await, 1);
    assert_eq!(claim(&mut alice, b).await, [(device, b"fresh".to_vec())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_every_device_online_or_after_reconnecting() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut alice = Client::registered(&url, "alice", "Alice").await;
    let mut bob1 = Client::registered(&url, "bob", "Bob").await;
    let (mut bob2, bob2_key) = link_second_device(&url, &mut bob1).await;
    let b = bob1.user();
    let bob_handle = bob1.me().handle.clone();
    assert_eq!(bob2.user(), b);

    // Each of Bob's devices has its own key packages.
    publish(&mut bob1, &[b"kp-phone"], None).await;
    publish(&mut bob2, &[b"kp-laptop"], None).await;
    let mut claimed = claim(&mut alice, b).await;
    claimed.sort_by_key(|(_, kp)| kp.clone());
    assert_eq!(
        claimed,
        [
            (bob2.me().device, b"kp-laptop".to_vec()),
            (bob1.me().device, b"kp-phone".to_vec())
        ]
    );

    let group = b"group-ab";
    let m1 = random_message_id();
    let seq1 = send_app(&mut alice, m1, group, b, b"hello bob").await;
    for device in [&mut bob1, &mut bob2] {
        let got = next_mls_message(device, "the first message").await;
        assert_eq!(got.payload.0, b"hello bob");
        assert_eq!(got.group.0, group);
        assert_eq!(got.sender, alice.user());
        assert_eq!(got.sender_device, alice.me().device);
        assert_eq!(got.kind, MlsKind::Application);
        assert!(got.sent_at_ms > 0);
    }

    // The laptop goes offline; two more messages arrive meanwhile.
    bob2.close().await;
    let seq2 = send_app(&mut alice, random_message_id(), group, b, b"second").await;
    let m3 = random_message_id();
    let seq3 = send_app(&mut alice, m3, group, b, b"third").await;
    assert!(
        seq1 < seq2 && seq2 < seq3,
        "group order: {seq1} {seq2} {seq3}"
    );
    assert_eq!(
        next_mls_message(&mut bob1, "second").await.payload.0,
        b"second"
    );
    assert_eq!(
        next_mls_message(&mut bob1, "third").await.payload.0,
        b"third"
    );

    // Back online, the laptop fetches everything it has not acknowledged.
    let mut bob2 = Client::logged_in(&url, &bob_handle, &bob2_key).await;
    let mailbox = fetch_all(&mut bob2, 0, 100).await;
    assert_eq!(
        payloads(&mailbox),
        [b"hello bob".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
    assert_increasing(&mailbox);
    // Fetching after a sequence number skips what came before it.
    let tail = fetch_all(&mut bob2, mailbox[0].seq, 100).await;
    assert_eq!(payloads(&tail), [b"second".to_vec(), b"third".to_vec()]);
    // Acknowledging removes, for this device only.
    bob2.ok(ClientRequest::MlsAck {
        seq: mailbox[1].seq,
    })
    .await;
    assert_eq!(
        payloads(&fetch_all(&mut bob2, 0, 100).await),
        [b"third".to_vec()]
    );
    bob2.ok(ClientRequest::MlsAck {
        seq: mailbox[2].seq,
    })
    .await;
    assert!(fetch_all(&mut bob2, 0, 100).await.is_empty());
    assert_eq!(fetch_all(&mut bob1, 0, 100).await.len(), 3);

    // A resend after a lost reply: the same group_seq, stored and pushed only once.
    let again = send_app(&mut alice, m3, group, b, b"third").await;
    assert_eq!(again, seq3);
    let seq4 = send_app(&mut alice, random_message_id(), group, b, b"fourth").await;
    assert!(seq4 > seq3);
    assert_eq!(
        next_mls_message(&mut bob1, "the message after a resend")
            .await
            .payload
            .0,
        b"fourth",
        "a resend was pushed again"
    );
    assert_eq!(
        payloads(&fetch_all(&mut bob1, 0, 100).await),
        [
            b"hello bob".to_vec(),
            b"second".to_vec(),
            b"third".to_vec(),
            b"fourth".to_vec()
        ],
        "a resend was stored twice"
    );
    assert_eq!(
        next_mls_message(&mut bob2, "fourth").await.payload.0,
        b"fourth"
    );

    // The sender's own device never receives its message, even when the sender names
    // themselves; their other devices do.
    let (mut alice2, _) = link_second_device(&url, &mut alice).await;
    let a = alice.user();
    send(
        &mut alice,
        send_request(
            random_message_id(),
            group,
            MlsKind::Application,
            0,
            vec![a, b],
            b"to all",
        ),
    )
    .await;
    assert_eq!(
        next_mls_message(&mut alice2, "own message on the other device")
            .await
            .payload
            .0,
        b"to all"
    );
    assert!(
        !alice.saw(|e| matches!(e, Event::MlsMessage(_))),
        "the sending device received a message"
    );
    assert!(
        fetch_all(&mut alice, 0, 100).await.is_empty(),
        "the sending device's mailbox holds its own message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_commit_for_the_same_epoch_is_refused() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut alice = Client::registered(&url, "alice", "Alice").await;
    let mut bob = Client::registered(&url, "bob", "Bob").await;
    let (a, b) = (alice.user(), bob.user());
    let group = b"group-commits";

    let first = random_message_id();
    let seq = send(
        &mut alice,
        send_request(
            first,
            group,
            MlsKind::Commit,
            5,
            vec![b],
            b"alice commit e5",
        ),
    )
    .await;
    // Bob raced Alice with his own commit for epoch 5: refused, and not delivered.
    let error = bob
        .refused(
            send_request(
                random_message_id(),
                group,
                MlsKind::Commit,
                5,
                vec![a],
                b"bob commit e5",
            ),
            ErrorCode::EpochConflict,
        )
        .await;
    assert!(!error.message.is_empty());
    // Alice's resend of her accepted commit is not a conflict: same answer.
    let again = send(
        &mut alice,
        send_request(
            first,
            group,
            MlsKind::Commit,
            5,
            vec![b],
            b"alice commit e5",
        ),
    )
    .await;
    assert_eq!(again, seq);
    // Bob re-applies on the new epoch.
    let next = send(
        &mut bob,
        send_request(
            random_message_id(),
            group,
            MlsKind::Commit,
            6,
            vec![a],
            b"bob commit e6",
        ),
    )
    .await;
    assert!(next > seq);
    let got = next_mls_message(&mut alice, "bob's commit").await;
    assert_eq!(
        (got.payload.0.as_slice(), got.epoch, got.kind),
        (&b"bob commit e6"[..], 6, MlsKind::Commit),
        "the refused commit was delivered"
    );
    // An old epoch is a conflict too; application messages are not ordered by epoch.
    bob.refused(
        send_request(
            random_message_id(),
            group,
            MlsKind::Commit,
            5,
            vec![a],
            b"stale",
        ),
        ErrorCode::EpochConflict,
    )
    .await;
    send(
        &mut bob,
        send_request(
            random_message_id(),
            group,
            MlsKind::Application,
            6,
            vec![a],
            b"app",
        ),
    )
    .await;
    // Another group has its own epochs.
    send(
        &mut bob,
        send_request(
            random_message_id(),
            b"other-group",
            MlsKind::Commit,
            0,
            vec![a],
            b"other",
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_kill_9_and_acknowledged_ones_never_come_back() {
    const MESSAGES: usize = 30;
    let dir = tempfile::tempdir().unwrap();

    // Run 1: accounts, then messages to an offline recipient, then SIGKILL right after
    // the last `mls_accepted`.
    let server = ServerProcess::spawn(dir.path(), &[]);
    let mut alice = Client::registered(&server.url, "alice", "Alice").await;
    let alice_handle = alice.me().handle.clone();
    let alice_key = alice.me().key.clone();
    let bob = Client::registered(&server.url, "bob", "Bob").await;
    let b = bob.user();
    let bob_handle = bob.me().handle.clone();
    let bob_key = bob.me().key.clone();
    bob.close().await;

    let group = b"durable";
    let mut ids = Vec::new();
    let mut group_seqs = Vec::new();
    for n in 0..MESSAGES {
        let id = random_message_id();
        let seq = send_app(&mut alice, id, group, b, format!("m{n}").as_bytes()).await;
        ids.push(id);
        group_seqs.push(seq);
    }
    let want: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|n| format!("m{n}").into_bytes())
        .collect();
    server.kill9();

    // Run 2: every accepted message is there exactly once, in order.
    let server = ServerProcess::spawn(dir.path(), &[]);
    let mut bob = Client::logged_in(&server.url, &bob_handle, &bob_key).await;
    let mailbox = fetch_all(&mut bob, 0, 7).await;
    assert_eq!(
        payloads(&mailbox),
        want,
        "after kill -9 the mailbox must hold every accepted message exactly once\n{}",
        server.stderr()
    );
    assert_increasing(&mailbox);
    // The idempotency record survived too: a resend is not stored again.
    let mut alice = Client::logged_in(&server.url, &alice_handle, &alice_key).await;
    let again = send_app(&mut alice, ids[3], group, b, b"m3").await;
    assert_eq!(again, group_seqs[3]);
    assert_eq!(
        fetch_all(&mut bob, 0, 100).await.len(),
        MESSAGES,
        "a resend after the restart was stored again"
    );
    // Acknowledge the first half, then SIGKILL right after the `ok`.
    let half = MESSAGES / 2;
    bob.ok(ClientRequest::MlsAck {
        seq: mailbox[half - 1].seq,
    })
    .await;
    server.kill9();

    // Run 3: the acknowledged half never comes back; the rest is still there.
    let server = ServerProcess::spawn(dir.path(), &[]);
    let mut bob = Client::logged_in(&server.url, &bob_handle, &bob_key).await;
    let mailbox = fetch_all(&mut bob, 0, 100).await;
    assert_eq!(
        payloads(&mailbox),
        want[half..],
        "after kill -9 acknowledged messages came back or others were lost"
    );
    // New messages keep counting up after the restarts.
    let mut alice = Client::logged_in(&server.url, &alice_handle, &alice_key).await;
    let seq = send_app(&mut alice, random_message_id(), group, b, b"after").await;
    assert!(seq > *group_seqs.last().unwrap());
    let pushed = next_mls_message(&mut bob, "a message after the restarts").await;
    assert!(pushed.seq > mailbox.last().unwrap().seq);
    drop(server);
}
