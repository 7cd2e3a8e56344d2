//! One suite, run against every database engine the server supports: SQLite (a file in a
//! temporary directory) and PostgreSQL (a real server, which `cargo xtask test` starts and
//! names in `SALON_TEST_POSTGRES_URL`; each test creates its own database in it).
//!
//! The store runs the same SQL on both, so these tests pin down that both engines give
//! the same answers: accounts, key packages handed out once, idempotent sends, the
//! first-commit-wins rule under real concurrency, and mailboxes that keep what is not
//! acknowledged. A full server on PostgreSQL is exercised at the end.

mod support;

use std::sync::Arc;

use salon_proto::mls::MlsKind;
use salon_proto::room::Visibility;
use salon_proto::{
    Blob, ClientRequest, DeviceId, Handle, MessageId, PublicKey, Reply, RoomId, UserId,
};
use salon_server::rooms::RoomRecord;
use salon_server::store::{Outgoing, Store, StoreError};
use sqlx::Connection as _;
use support::Client;

const NEEDS_POSTGRES: &str = "SALON_TEST_POSTGRES_URL is not set: run the tests with \
     `cargo xtask test`, which starts a throwaway PostgreSQL for them";

fn id16() -> [u8; 16] {
    rand::random()
}

/// A fresh, empty PostgreSQL database; its URL.
async fn fresh_postgres() -> String {
    let admin = std::env::var("SALON_TEST_POSTGRES_URL").expect(NEEDS_POSTGRES);
    let name = format!("salon_{}", hex(&id16()[..6]));
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let base = admin.rsplit_once('/').expect("the URL names a database").0;
    format!("{base}/{name}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("salon.db").display());
    (Store::open(&url).await.expect("open SQLite"), dir)
}

async fn postgres() -> Store {
    Store::open(&fresh_postgres().await)
        .await
        .expect("open PostgreSQL")
}

async fn account(store: &Store, handle: &str) -> (UserId, DeviceId) {
    let user = UserId::from_bytes(id16());
    let device = DeviceId::from_bytes(id16());
    let handle = Handle::parse(handle).unwrap();
    store
        .register(
            user,
            device,
            &handle,
            "Someone",
            &PublicKey(rand::random()),
            None,
        )
        .await
        .expect("register");
    (user, device)
}

async fn accounts_and_devices(store: Store) {
    let (ada, ada_phone) = account(&store, "ada").await;
    let key = PublicKey(rand::random());
    let handle = Handle::parse("ada").unwrap();
    assert!(matches!(
        store
            .register(
                UserId::from_bytes(id16()),
                DeviceId::from_bytes(id16()),
                &handle,
                "Imposter",
                &key,
                None
            )
            .await,
        Err(StoreError::HandleTaken)
    ));
    assert_eq!(
        store
            .account_by_handle(&handle)
            .await
            .unwrap()
            .unwrap()
            .user,
        ada
    );
    assert!(
        store
            .account_by_handle(&Handle::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // A second device: requested, approved, then it logs in.
    store.request_link(ada, &key).await.unwrap();
    store.request_link(ada, &key).await.unwrap(); // asking twice is fine
    let laptop = DeviceId::from_bytes(id16());
    assert_eq!(
        store.approve_link(ada, &key, laptop).await.unwrap(),
        Some(laptop)
    );
    assert_eq!(store.approve_link(ada, &key, laptop).await.unwrap(), None);
    let (found, device) = store.device_login(&handle, &key).await.unwrap().unwrap();
    assert_eq!((found.user, device), (ada, laptop));
    let devices = store.devices(ada).await.unwrap();
    assert_eq!(
        devices.iter().map(|d| d.device).collect::<Vec<_>>(),
        [ada_phone, laptop]
    );
    assert!(store.revoke_device(ada, laptop).await.unwrap());
    assert!(store.device_login(&handle, &key).await.unwrap().is_none());

    // Invites: a code with two uses works twice.
    store.create_invite(ada, "code-2", 2).await.unwrap();
    for name in ["bob", "cleo"] {
        let handle = Handle::parse(name).unwrap();
        store
            .register(
                UserId::from_bytes(id16()),
                DeviceId::from_bytes(id16()),
                &handle,
                "x",
                &PublicKey(rand::random()),
                Some("code-2"),
            )
            .await
            .expect("an invite use");
    }
    let handle = Handle::parse("dan").unwrap();
    assert!(matches!(
        store
            .register(
                UserId::from_bytes(id16()),
                DeviceId::from_bytes(id16()),
                &handle,
                "x",
                &PublicKey(rand::random()),
                Some("code-2")
            )
            .await,
        Err(StoreError::InvalidInvite)
    ));
}

async fn key_packages_are_handed_out_once(store: Store) {
    let (bob, phone) = account(&store, "bob").await;
    let stock = store
        .publish_key_packages(phone, &[Blob(vec![1]), Blob(vec![2])], Some(&Blob(vec![9])))
        .await
        .unwrap();
    assert_eq!(stock, 2);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let claimed = store.claim_key_packages(bob).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].device, phone);
        seen.push(claimed[0].key_package.0.clone());
    }
    assert_eq!(seen, [vec![1], vec![2], vec![9], vec![9]]);
    assert_eq!(store.key_package_stock(phone).await.unwrap(), 0);
}

fn message<'a>(
    sender: (UserId, DeviceId),
    id: MessageId,
    kind: MlsKind,
    epoch: u64,
    to: &'a [UserId],
) -> Outgoing<'a> {
    Outgoing {
        sender: sender.0,
        sender_device: sender.1,
        message_id: id,
        group: b"group-1",
        kind,
        epoch,
        recipients: to,
        payload: b"ciphertext",
    }
}

async fn mailboxes_order_and_keep(store: Store) {
    let ada = account(&store, "ada").await;
    let bob = account(&store, "bob").await;
    let to = [ada.0, bob.0];

    // Idempotent: the same message id is stored once and answered the same.
    let id = MessageId::from_bytes(id16());
    let first = store
        .store_message(message(ada, id, MlsKind::Application, 0, &to))
        .await
        .unwrap();
    let again = store
        .store_message(message(ada, id, MlsKind::Application, 0, &to))
        .await
        .unwrap();
    assert!(first.fresh && !again.fresh);
    assert_eq!(first.group_seq, again.group_seq);
    // The sender's own device never receives its message; Bob's one device does.
    assert_eq!(first.deliveries.len(), 1);
    assert_eq!(first.deliveries[0].1, bob.1);

    // Commits: the first for an epoch wins.
    let commit = store
        .store_message(message(
            bob,
            MessageId::from_bytes(id16()),
            MlsKind::Commit,
            0,
            &to,
        ))
        .await
        .unwrap();
    assert_eq!(commit.group_seq, first.group_seq + 1);
    let late = store
        .store_message(message(
            ada,
            MessageId::from_bytes(id16()),
            MlsKind::Commit,
            0,
            &to,
        ))
        .await;
    assert!(
        matches!(
            late,
            Err(StoreError::EpochConflict {
                current: 1,
                attempted: 0
            })
        ),
        "{late:?}"
    );
    store
        .store_message(message(
            ada,
            MessageId::from_bytes(id16()),
            MlsKind::Commit,
            1,
            &to,
        ))
        .await
        .unwrap();

    // Bob's mailbox: everything in order, until acknowledged.
    let mailbox = store.fetch_mailbox(bob.1, 0, 100).await.unwrap();
    assert_eq!(
        mailbox.len(),
        2,
        "Bob gets Ada's message and Ada's commit, not his own"
    );
    assert!(mailbox[0].seq < mailbox[1].seq);
    assert_eq!(mailbox[0].payload.0, b"ciphertext");
    assert_eq!(store.ack_mailbox(bob.1, mailbox[0].seq).await.unwrap(), 1);
    let rest = store.fetch_mailbox(bob.1, 0, 100).await.unwrap();
    assert_eq!(rest, mailbox[1..]);
}

/// Many devices race to commit on the same epoch at once: exactly one wins, on every
/// engine, and the others are told the epoch moved on.
async fn concurrent_commits_have_one_winner(store: Store) {
    let members: Vec<(UserId, DeviceId)> = {
        let mut members = Vec::new();
        for n in 0..8 {
            members.push(account(&store, &format!("member_{n}")).await);
        }
        members
    };
    let to: Arc<Vec<UserId>> = Arc::new(members.iter().map(|m| m.0).collect());
    // The group exists at epoch 5.
    store
        .store_message(message(
            members[0],
            MessageId::from_bytes(id16()),
            MlsKind::Application,
            5,
            &to,
        ))
        .await
        .unwrap();
    let mut racers = tokio::task::JoinSet::new();
    for member in members.clone() {
        let store = store.clone();
        let to = to.clone();
        racers.spawn(async move {
            store
                .store_message(message(
                    member,
                    MessageId::from_bytes(id16()),
                    MlsKind::Commit,
                    5,
                    &to,
                ))
                .await
        });
    }
    let (mut won, mut lost) = (0, 0);
    while let Some(result) = racers.join_next().await {
        match result.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::EpochConflict {
                current: 6,
                attempted: 5,
            }) => lost += 1,
            Err(other) => panic!("a racing commit failed otherwise: {other}"),
        }
    }
    assert_eq!((won, lost), (1, 7));
}

async fn rooms_are_saved_replaced_and_forgotten(store: Store) {
    assert_eq!(store.rooms().await.unwrap(), []);
    let mut users: Vec<UserId> = (0..3).map(|_| UserId::from_bytes(id16())).collect();
    users.sort();
    let mut private = RoomRecord {
        room: RoomId::from_bytes(id16()),
        host: users[0],
        title: "Late night – ünïcode".into(),
        visibility: Visibility::Private,
        invited: vec![users[1], users[2]],
        banned: vec![],
    };
    let public = RoomRecord {
        room: RoomId::from_bytes(id16()),
        host: users[2],
        title: "Hallway".into(),
        visibility: Visibility::Public,
        invited: vec![],
        banned: vec![users[0]],
    };
    store.save_room(&private).await.unwrap();
    store.save_room(&public).await.unwrap();
    let mut stored = store.rooms().await.unwrap();
    stored.sort_by_key(|record| record.room);
    let mut expected = vec![private.clone(), public.clone()];
    expected.sort_by_key(|record| record.room);
    assert_eq!(stored, expected);

    // Saving again replaces: a new host, a ban.
    private.host = users[1];
    private.banned = vec![users[2]];
    private.visibility = Visibility::Unlisted;
    store.save_room(&private).await.unwrap();
    let stored = store.rooms().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.contains(&private));

    store.forget_room(public.room).await.unwrap();
    store.forget_room(public.room).await.unwrap();
    assert_eq!(store.rooms().await.unwrap(), [private]);
}

macro_rules! on_both_engines {
    ($($suite:ident),* $(,)?) => {
        mod sqlite_engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    let (store, _dir) = super::sqlite().await;
                    super::$suite(store).await;
                }
            )*
        }
        mod postgres_engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    super::$suite(super::postgres().await).await;
                }
            )*
        }
    };
}

on_both_engines!(
    accounts_and_devices,
    key_packages_are_handed_out_once,
    mailboxes_order_and_keep,
    concurrent_commits_have_one_winner,
    rooms_are_saved_replaced_and_forgotten,
);

/// The whole server on PostgreSQL: what a client sent survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_keeps_messages_across_restarts() {
    let url = fresh_postgres().await;
    let (server, dir) =
        support::start_server(|config| config.database_url = Some(url.clone())).await;
    let ws = server.ws_url();
    let mut ada = Client::registered(&ws, "ada", "Ada").await;
    let bob = Client::registered(&ws, "bob", "Bob").await;
    let (bob_handle, bob_key, bob_user) =
        (bob.me().handle.clone(), bob.me().key.clone(), bob.user());
    bob.close().await;
    let reply = ada
        .request(ClientRequest::MlsSend {
            message_id: MessageId::from_bytes(id16()),
            group: Blob(b"dm".to_vec()),
            kind: MlsKind::Application,
            epoch: 0,
            recipients: vec![bob_user],
            payload: Blob(b"sealed".to_vec()),
        })
        .await;
    assert!(matches!(reply, Reply::MlsAccepted { .. }), "{reply:?}");
    server.shutdown().await;

    let server =
        support::start_server_in(dir.path(), |config| config.database_url = Some(url)).await;
    let mut bob = Client::logged_in(&server.ws_url(), &bob_handle, &bob_key).await;
    let Reply::MlsBatch { messages, more } = bob
        .request(ClientRequest::MlsFetch {
            after: 0,
            limit: None,
        })
        .await
    else {
        panic!("mls_fetch answers with a batch");
    };
    assert!(!more);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].payload.0, b"sealed");
    server.shutdown().await;
}
