//! Accounts through the real server: registering, logging in, the error codes of every
//! way a login can go wrong, invite-only registration, exact-handle profile lookups and
//! their per-account rate limit, device linking, and a graceful shutdown.
//!
//! Each test drives a server started in-process on `127.0.0.1:0` over real WebSockets
//! with the test client in `support`, and asserts on the wire replies, so removing any
//! of these features from the server makes a test here fail.

mod support;

use std::time::{Duration, Instant};

use salon_proto::auth::Purpose;
use salon_proto::room::{EndReason, Visibility};
use salon_proto::{
    ClientEnvelope, ClientRequest, ErrorCode, Event, Handle, Nonce, Reply, Signature, close,
};
use salon_server::Registration;
use support::{
    Client, TIMEOUT, create_room, http_get, join, new_key, public_key, sign, start_server,
    start_server_in, unique_handle,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_then_log_in_again_on_a_new_connection_with_the_same_key() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();

    let mut first = Client::connect_hello(&url).await;
    let handle = unique_handle("ada");
    let ada = first.register(&handle, "  Ada Lovelace ").await;
    assert_eq!(
        ada.display_name, "Ada Lovelace",
        "display names are stored trimmed"
    );

    // Logged in: a second register or authenticate on this connection is refused.
    let again = first
        .try_register(&unique_handle("ada2"), "Ada", &new_key(), None)
        .await;
    assert!(
        matches!(&again, Reply::Error(e) if e.code == ErrorCode::AlreadyAuthenticated),
        "{again:?}"
    );

    // A new connection, a new nonce, the same key: the same account and device.
    let mut second = Client::connect_hello(&url).await;
    assert_ne!(
        second.nonce, first.nonce,
        "every connection gets a fresh nonce"
    );
    let again = second.authenticate(&handle, &ada.key).await;
    assert_eq!(again.user, ada.user);
    assert_eq!(again.device, ada.device);
    assert_eq!(again.display_name, "Ada Lovelace");

    // The same key under another (existing) handle is not a login.
    let mut third = Client::connect_hello(&url).await;
    let bob = Client::registered(&url, "bob", "Bob").await;
    let reply = third.try_authenticate(&bob.me().handle, &ada.key).await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::AuthenticationFailed),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_that_does_not_verify_is_invalid_signature() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut client = Client::connect_hello(&url).await;
    let handle = unique_handle("eve");
    let key = new_key();
    let nonce = client.nonce.expect("hello");

    // Register signed over another connection's nonce (a replay).
    let replayed = sign(&key, Purpose::Register, &Nonce([7; 32]), &handle);
    // Register signed with the right transcript but by another key.
    let wrong_key = sign(&new_key(), Purpose::Register, &nonce, &handle);
    // A signature made for another purpose.
    let wrong_purpose = sign(&key, Purpose::Authenticate, &nonce, &handle);
    for signature in [replayed, wrong_key, wrong_purpose, Signature([0; 64])] {
        client
            .refused(
                ClientRequest::Register {
                    handle: handle.clone(),
                    display_name: "Eve".into(),
                    device_key: public_key(&key),
                    invite: None,
                    signature,
                },
                ErrorCode::InvalidSignature,
            )
            .await;
    }
    // Nothing was created by the refused attempts: the handle is still free.
    client.register(&handle, "Eve").await;

    // link_device checks its signature too.
    let mut linker = Client::connect_hello(&url).await;
    let new_device = new_key();
    linker
        .refused(
            ClientRequest::LinkDevice {
                handle: handle.clone(),
                device_key: public_key(&new_device),
                signature: sign(
                    &new_device,
                    Purpose::Register,
                    &linker.nonce.unwrap(),
                    &handle,
                ),
            },
            ErrorCode::InvalidSignature,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_with_a_signature_that_does_not_verify_is_invalid_signature() {
    // PROTOCOL.md, `authenticate`: "An unknown account, an unknown device and a device
    // not yet approved all give the same error, `authentication_failed` ...; a
    // signature that does not verify gives `invalid_signature`."
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let client = Client::registered(&url, "eve", "Eve").await;
    let me = client.me().clone();
    let handle = me.handle.clone();
    let mut login = Client::connect_hello(&url).await;
    login
        .refused(
            ClientRequest::Authenticate {
                handle: handle.clone(),
                device_key: public_key(&me.key),
                signature: sign(&me.key, Purpose::Authenticate, &Nonce([9; 32]), &handle),
            },
            ErrorCode::InvalidSignature,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_accounts_and_keys_fail_to_authenticate() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let known = Client::registered(&url, "known", "Known").await;

    let mut client = Client::connect_hello(&url).await;
    // A key nobody registered, for an existing handle.
    let reply = client
        .try_authenticate(&known.me().handle, &new_key())
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::AuthenticationFailed),
        "{reply:?}"
    );
    // A handle nobody has: the same code, so logins cannot probe for handles.
    let reply = client
        .try_authenticate(&unique_handle("ghost"), &new_key())
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::AuthenticationFailed),
        "{reply:?}"
    );
    // Still anonymous.
    client
        .refused(ClientRequest::ListDevices, ErrorCode::NotAuthenticated)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_handle_is_refused() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let first = Client::registered(&url, "taken", "First").await;
    let mut second = Client::connect_hello(&url).await;
    let reply = second
        .try_register(&first.me().handle, "Second", &new_key(), None)
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::HandleTaken),
        "{reply:?}"
    );
    // The refusal left the connection anonymous and usable.
    second.register(&unique_handle("other"), "Second").await;
}

/// A `register` request as JSON whose `handle` field is then replaced by `bad`.
fn register_json_with_handle(id: u32, nonce: &Nonce, bad: &str) -> String {
    let key = new_key();
    let handle = Handle::parse("placeholder").unwrap();
    let request = ClientRequest::Register {
        handle: handle.clone(),
        display_name: "Bad".into(),
        device_key: public_key(&key),
        invite: None,
        signature: sign(&key, Purpose::Register, nonce, &handle),
    };
    let mut value: serde_json::Value =
        serde_json::from_str(&ClientEnvelope::new(id, request).to_json()).unwrap();
    value["handle"] = serde_json::Value::String(bad.into());
    value.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_handles_are_malformed() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut client = Client::connect_hello(&url).await;
    let nonce = client.nonce.unwrap();
    for bad in [
        "Ada",
        "ab",
        "a-b",
        "ada lovelace",
        &"a".repeat(31),
        "adé",
        "",
    ] {
        let id = client.take_id();
        client
            .send_text(register_json_with_handle(id, &nonce, bad))
            .await;
        let reply = client.wait_reply(id, bad).await;
        assert!(
            matches!(&reply, Reply::Error(e) if e.code == ErrorCode::Malformed),
            "handle {bad:?}: {reply:?}"
        );
    }
    // Logged in, a lookup of an invalid handle is malformed too (not user_not_found).
    client.register(&unique_handle("valid"), "Valid").await;
    let id = client.take_id();
    client
        .send_text(format!(
            r#"{{"id":{id},"type":"get_profile","handle":"Valid"}}"#
        ))
        .await;
    let reply = client.wait_reply(id, "get_profile Valid").await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::Malformed),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_before_hello_and_before_login_are_refused() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();

    let mut client = Client::connect(&url).await;
    for request in [
        ClientRequest::Ping,
        ClientRequest::ListRooms { limit: None },
        ClientRequest::GetProfile {
            handle: Handle::parse("bob").unwrap(),
        },
        ClientRequest::MlsFetch {
            after: 0,
            limit: None,
        },
    ] {
        client.refused(request, ErrorCode::HelloRequired).await;
    }
    client.hello().await;
    // A second hello is refused too.
    client
        .refused(
            ClientRequest::Hello {
                version: salon_proto::PROTOCOL_VERSION,
                client: "again".into(),
            },
            ErrorCode::HelloRequired,
        )
        .await;
    // After hello, before login: liveness works, everything else needs a login.
    client.ping().await;
    let someone = unique_handle("someone");
    let room = "726f6f6d2d69642d31362d6279746573".parse().unwrap();
    for request in [
        ClientRequest::GetProfile {
            handle: someone.clone(),
        },
        ClientRequest::UpdateProfile {
            display_name: "x".into(),
        },
        ClientRequest::ListDevices,
        ClientRequest::ApproveDevice {
            device_key: public_key(&new_key()),
        },
        ClientRequest::CreateInvite { uses: 1 },
        ClientRequest::CreateRoom {
            title: "t".into(),
            visibility: Visibility::Public,
        },
        ClientRequest::ListRooms { limit: None },
        ClientRequest::JoinRoom { room },
        ClientRequest::PublishKeyPackages {
            key_packages: vec![],
            last_resort: None,
        },
        ClientRequest::MlsFetch {
            after: 0,
            limit: None,
        },
        ClientRequest::MlsAck { seq: 1 },
    ] {
        client.refused(request, ErrorCode::NotAuthenticated).await;
    }

    // A hello with another protocol version is refused.
    let mut old = Client::connect(&url).await;
    old.refused(
        ClientRequest::Hello {
            version: 99,
            client: "future".into(),
        },
        ErrorCode::UnsupportedVersion,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_only_registration_enforces_codes_and_their_use_limit() {
    // The first account of an invite-only server registers without a code (nobody could
    // have made one); it survives a restart.
    let dir = tempfile::tempdir().unwrap();
    let first = start_server_in(dir.path(), |c| c.registration = Registration::Invite).await;
    let founder_handle = unique_handle("founder");
    let mut founder = Client::connect_hello(&first.ws_url()).await;
    let founder_me = founder.register(&founder_handle, "Founder").await;
    founder.close().await;
    first.shutdown().await;

    let server = start_server_in(dir.path(), |c| c.registration = Registration::Invite).await;
    let url = server.ws_url();
    let mut founder = Client::logged_in(&url, &founder_handle, &founder_me.key).await;

    // Without a code: invite_required.
    let mut stranger = Client::connect_hello(&url).await;
    let reply = stranger
        .try_register(&unique_handle("stranger"), "Stranger", &new_key(), None)
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::InviteRequired),
        "{reply:?}"
    );
    // With a made-up code: invalid_invite.
    let reply = stranger
        .try_register(
            &unique_handle("stranger"),
            "Stranger",
            &new_key(),
            Some("not-a-code"),
        )
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::InvalidInvite),
        "{reply:?}"
    );

    // Invites allow 1 to 100 registrations.
    founder
        .refused(
            ClientRequest::CreateInvite { uses: 0 },
            ErrorCode::InvalidArgument,
        )
        .await;
    let code = match founder
        .request(ClientRequest::CreateInvite { uses: 2 })
        .await
    {
        Reply::InviteCreated { code, uses } => {
            assert_eq!(uses, 2);
            code
        }
        other => panic!("create_invite answered {other:?}"),
    };

    // Two registrations with the code work; the third is refused.
    for n in 0..2 {
        let mut guest = Client::connect_hello(&url).await;
        guest
            .register_with(&unique_handle(&format!("guest{n}")), "Guest", Some(&code))
            .await;
    }
    let mut late = Client::connect_hello(&url).await;
    let reply = late
        .try_register(&unique_handle("late"), "Late", &new_key(), Some(&code))
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::InvalidInvite),
        "a used-up invite must be refused: {reply:?}"
    );
    // An invited member can invite in turn.
    let mut guest = Client::connect_hello(&url).await;
    let fresh = match founder
        .request(ClientRequest::CreateInvite { uses: 1 })
        .await
    {
        Reply::InviteCreated { code, .. } => code,
        other => panic!("create_invite answered {other:?}"),
    };
    guest
        .register_with(&unique_handle("guest"), "Guest", Some(&fresh))
        .await;
    match guest.request(ClientRequest::CreateInvite { uses: 1 }).await {
        Reply::InviteCreated { .. } => {}
        other => panic!("create_invite by an invited member answered {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_found_by_exact_handle_only_and_users_cannot_be_listed() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let bob = Client::registered(&url, "bobby", "Bob").await;
    let mut ada = Client::registered(&url, "ada", "Ada").await;

    match ada
        .request(ClientRequest::GetProfile {
            handle: bob.me().handle.clone(),
        })
        .await
    {
        Reply::Profile {
            user,
            handle,
            display_name,
        } => {
            assert_eq!(user, bob.user());
            assert_eq!(handle, bob.me().handle);
            assert_eq!(display_name, "Bob");
        }
        other => panic!("get_profile answered {other:?}"),
    }
    // Unknown handle, and prefixes / extensions of a real one: user_not_found.
    let real = bob.me().handle.as_str().to_owned();
    for probe in [
        unique_handle("nobody").as_str().to_owned(),
        real[..real.len() - 1].to_owned(),
        "bobby".to_owned(),
        format!("{}x", &real[..real.len().min(29)]),
    ] {
        ada.refused(
            ClientRequest::GetProfile {
                handle: Handle::parse(&probe).unwrap(),
            },
            ErrorCode::UserNotFound,
        )
        .await;
    }
    // A display-name change shows in the profile.
    ada.ok(ClientRequest::UpdateProfile {
        display_name: "Ada L.".into(),
    })
    .await;
    let mut bob = bob;
    match bob
        .request(ClientRequest::GetProfile {
            handle: ada.me().handle.clone(),
        })
        .await
    {
        Reply::Profile { display_name, .. } => assert_eq!(display_name, "Ada L."),
        other => panic!("get_profile answered {other:?}"),
    }

    // No request lists or searches users ...
    for name in ["list_users", "search_users", "list_profiles", "find_user"] {
        let id = ada.take_id();
        ada.send_text(format!(r#"{{"id":{id},"type":"{name}","prefix":"b"}}"#))
            .await;
        let reply = ada.wait_reply(id, name).await;
        assert!(
            matches!(&reply, Reply::Error(e) if e.code == ErrorCode::UnknownMessage),
            "{name}: {reply:?}"
        );
    }
    for request_type in ClientRequest::TYPES {
        assert!(
            !request_type.contains("users") && !request_type.contains("search"),
            "a request type that looks like a user listing: {request_type}"
        );
    }
    // ... and no HTTP path does either.
    for path in ["/users", "/v1/users", "/profiles", "/v1/profiles"] {
        let (status, body) = http_get(server.local_addr(), path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
    }
}

/// Classifies the reply to one `get_profile`: `true` if the lookup went through
/// (`profile` or `user_not_found`), `false` if it was rate-limited.
fn lookup_went_through(reply: &Reply) -> bool {
    match reply {
        Reply::Profile { .. } => true,
        Reply::Error(e) if e.code == ErrorCode::UserNotFound => true,
        Reply::Error(e) if e.code == ErrorCode::RateLimited => {
            assert!(
                e.retry_after_ms.is_some(),
                "rate_limited carries a retry hint: {e:?}"
            );
            false
        }
        other => panic!("get_profile answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_lookups_is_cut_at_the_configured_burst() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut client = Client::registered(&url, "looker", "Looker").await;
    // 40 lookups stay under the control-message burst (50), so only the lookup limit
    // (burst 20, 30 a minute) can refuse any.
    let mut through = Vec::new();
    for _ in 0..40 {
        let reply = client
            .request(ClientRequest::GetProfile {
                handle: unique_handle("probe"),
            })
            .await;
        through.push(lookup_went_through(&reply));
    }
    assert!(
        through[..20].iter().all(|t| *t),
        "the first 20 lookups are within the burst: {through:?}"
    );
    let extra = through[20..].iter().filter(|t| **t).count();
    assert!(
        extra <= 2,
        "after the burst of 20, lookups refill at 30 a minute; {extra} more went through"
    );
    client.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_lookups_from_one_account_are_throttled() {
    const CONNECTIONS: usize = 10;
    const PER_CONNECTION: usize = 100;
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut first = Client::connect_hello(&url).await;
    let handle = unique_handle("scraper");
    let me = first.register(&handle, "Scraper").await;
    let real = Client::registered(&url, "real", "Real").await;
    let real_handle = real.me().handle.clone();

    // One account on ten connections: each connection stays well inside its own
    // control-message budget (burst 50, 20/s) by sending 40 at once and then 10 a
    // second, so every refusal below comes from the per-account lookup limit.
    let mut clients = vec![first];
    for _ in 1..CONNECTIONS {
        clients.push(Client::logged_in(&url, &handle, &me.key).await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, mut client) in clients.into_iter().enumerate() {
        let real_handle = real_handle.clone();
        tasks.push(tokio::spawn(async move {
            let begin = Instant::now();
            let mut through = 0usize;
            let mut refused = 0usize;
            for i in 0..PER_CONNECTION {
                if i >= 40 {
                    let due = begin + Duration::from_millis(100 * (i as u64 - 39));
                    tokio::time::sleep_until(due.into()).await;
                }
                // Mostly random handles, now and then a real one.
                let handle = if (n + i) % 50 == 0 {
                    real_handle.clone()
                } else {
                    unique_handle("rnd")
                };
                let reply = client.request(ClientRequest::GetProfile { handle }).await;
                if lookup_went_through(&reply) {
                    through += 1;
                } else {
                    refused += 1;
                }
            }
            // Throttled, not disconnected.
            client.ping().await;
            assert!(client.closed().is_none());
            (through, refused)
        }));
    }
    let (mut through, mut refused) = (0, 0);
    for task in tasks {
        let (t, r) = task.await.expect("lookup task");
        through += t;
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(through + refused, CONNECTIONS * PER_CONNECTION);
    // Burst 20, then 30 a minute (0.5/s), counted over the whole run, plus one for
    // rounding.
    let allowed = 20 + (elapsed * 0.5).ceil() as usize + 1;
    assert!(
        through <= allowed,
        "{through} of 1000 lookups went through in {elapsed:.1}s; the limit allows {allowed}"
    );
    assert!(
        through >= 20,
        "the burst of 20 lookups must be allowed, only {through} went through"
    );
    assert!(
        refused >= 1000 - allowed,
        "most lookups must be refused: {refused}"
    );
    assert!(
        server.metrics().rejected(ErrorCode::RateLimited) >= refused as u64,
        "refusals are counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_lookup_never_says_retry_after_0_ms() {
    // `retry_after_ms` means "wait at least this long"; a refused lookup told to wait
    // 0 ms would be refused again at once. With a token every 10 ms, refusals land at
    // every point of the refill period, including its last millisecond, where a
    // truncated (instead of rounded-up) wait becomes 0. This test cannot fail on a
    // server that rounds up; on one that truncates it fails with near certainty.
    const CONNECTIONS: usize = 5;
    const LOOKUPS: usize = 45; // under the control-message burst of each connection
    let (server, _dir) = start_server(|c| {
        c.lookup_burst = 1;
        c.lookups_per_minute = 6000;
    })
    .await;
    let url = server.ws_url();
    let mut first = Client::connect_hello(&url).await;
    let handle = unique_handle("hinted");
    let me = first.register(&handle, "Hinted").await;
    let mut clients = vec![first];
    for _ in 1..CONNECTIONS {
        clients.push(Client::logged_in(&url, &handle, &me.key).await);
    }
    let mut tasks = Vec::new();
    for mut client in clients {
        tasks.push(tokio::spawn(async move {
            let mut hints = Vec::new();
            for _ in 0..LOOKUPS {
                let reply = client
                    .request(ClientRequest::GetProfile {
                        handle: unique_handle("rnd"),
                    })
                    .await;
                if !lookup_went_through(&reply) {
                    let Reply::Error(e) = reply else {
                        unreachable!()
                    };
                    hints.push(e.retry_after_ms.expect("checked"));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            hints
        }));
    }
    let mut hints = Vec::new();
    for task in tasks {
        hints.extend(task.await.expect("lookup task"));
    }
    assert!(!hints.is_empty(), "no lookup was refused");
    assert!(
        hints.iter().all(|ms| *ms <= 10),
        "a token comes every 10 ms: {hints:?}"
    );
    let zeros = hints.iter().filter(|ms| **ms == 0).count();
    assert_eq!(
        zeros,
        0,
        "{zeros} of {} rate_limited replies said retry_after_ms: 0",
        hints.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_is_linked_by_approval_from_an_existing_one() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut phone = Client::connect_hello(&url).await;
    let handle = unique_handle("linker");
    let me = phone.register(&handle, "Linker").await;

    let mut laptop = Client::connect_hello(&url).await;
    let laptop_key = new_key();
    match laptop.link_device(&handle, &laptop_key).await {
        Reply::Ok => {}
        other => panic!("link_device answered {other:?}"),
    }
    let event = phone
        .expect_event("device_link_requested", TIMEOUT, |e| {
            matches!(e, Event::DeviceLinkRequested { .. })
        })
        .await;
    assert_eq!(
        event,
        Event::DeviceLinkRequested {
            device_key: public_key(&laptop_key)
        }
    );

    // Not approved yet: the same answer as an unknown device.
    let reply = laptop.try_authenticate(&handle, &laptop_key).await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::AuthenticationFailed),
        "an unapproved device must not log in: {reply:?}"
    );
    // Approving a key that never asked is refused.
    phone
        .refused(
            ClientRequest::ApproveDevice {
                device_key: public_key(&new_key()),
            },
            ErrorCode::InvalidArgument,
        )
        .await;
    phone
        .ok(ClientRequest::ApproveDevice {
            device_key: public_key(&laptop_key),
        })
        .await;

    let linked = laptop.authenticate(&handle, &laptop_key).await;
    assert_eq!(linked.user, me.user);
    assert_ne!(linked.device, me.device);
    match phone.request(ClientRequest::ListDevices).await {
        Reply::Devices { devices } => {
            let mut keys: Vec<_> = devices.iter().map(|d| d.device_key).collect();
            keys.sort_by_key(|k| k.0);
            let mut want = vec![public_key(&me.key), public_key(&laptop_key)];
            want.sort_by_key(|k| k.0);
            assert_eq!(keys, want);
            assert!(devices.iter().any(|d| d.device == linked.device));
        }
        other => panic!("list_devices answered {other:?}"),
    }
    // A fresh connection logs in with the linked key as well.
    let again = Client::logged_in(&url, &handle, &laptop_key).await;
    assert_eq!(again.user(), me.user);

    // Asking to link to a handle that does not exist answers the same `ok`, so it
    // cannot be used to probe for accounts.
    let mut prober = Client::connect_hello(&url).await;
    match prober
        .link_device(&unique_handle("ghost"), &new_key())
        .await
    {
        Reply::Ok => {}
        other => panic!("link_device to an unknown handle answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_clients_and_closes_with_4003() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let addr = server.local_addr();
    let mut host = Client::registered(&url, "host", "Host").await;
    let room = create_room(&mut host, "Closing time", Visibility::Public).await;
    join(&mut host, room).await;
    let mut anonymous = Client::connect_hello(&url).await;

    let stopping = tokio::spawn(server.shutdown());

    let event = host
        .expect_event("shutting_down", TIMEOUT, |e| {
            matches!(e, Event::ShuttingDown { .. })
        })
        .await;
    let Event::ShuttingDown { reconnect_after_ms } = event else {
        unreachable!()
    };
    assert!(reconnect_after_ms > 0);
    assert!(
        host.saw(|e| matches!(e, Event::RoomEnded { room: r, reason: EndReason::ServerShutdown } if *r == room)),
        "the room ends with reason server_shutdown before the goodbye: {:?}",
        host.log
    );
    let closed = host.expect_closed(TIMEOUT).await;
    assert_eq!(closed.code, Some(close::SHUTTING_DOWN), "{closed:?}");

    let closed = anonymous.expect_closed(TIMEOUT).await;
    assert!(
        anonymous.saw(|e| matches!(e, Event::ShuttingDown { .. })),
        "every connection is told, logged in or not"
    );
    assert_eq!(closed.code, Some(close::SHUTTING_DOWN), "{closed:?}");

    tokio::time::timeout(TIMEOUT, stopping)
        .await
        .expect("shutdown finishes")
        .expect("shutdown task");
    // Gone: nothing accepts connections any more.
    let refused = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "the listener is closed after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_honours_the_registration_flag() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::ServerProcess::spawn(dir.path(), &["--registration", "invite"]);
    // The first account needs no code: nobody could have made one.
    let mut founder = Client::connect_hello(&server.url).await;
    let reply = founder
        .try_register(&unique_handle("founder"), "Founder", &new_key(), None)
        .await;
    assert!(matches!(reply, Reply::Authenticated { .. }), "{reply:?}");
    // Everyone after it does.
    let mut client = Client::connect_hello(&server.url).await;
    let reply = client
        .try_register(&unique_handle("walkin"), "Walk-in", &new_key(), None)
        .await;
    assert!(
        matches!(&reply, Reply::Error(e) if e.code == ErrorCode::InviteRequired),
        "{reply:?}\n{}",
        server.stderr()
    );
    let (status, _) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 200);
}
