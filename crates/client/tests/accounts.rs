//! Accounts and keys against a real server: register once, log in by signature on
//! every later connection (a new process, or a reconnect after the server restarted)
//! with the same device key; the key in the OS keyring or in a 0600 file, never in a
//! file others can read.

mod support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;

use salon_client::{Client, ClientConfig, ClientError, ClientEvent, ConnectionState, KeyStore};
use salon_server::Server;
use support::{Profile, registered, server_config, start_server, unique_handle, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_once_then_log_in_with_the_same_key() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (first, profile) = registered(&url, "ada", "Ada").await;
    let account = first.account().expect("logged in");
    let key = first.public_key();
    let devices = first.list_devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_key, key);
    first.shutdown().await;

    // A new run of the app on the same profile logs in by itself.
    let again = Client::connect(profile.config(&url)).await.unwrap();
    assert_eq!(again.state(), ConnectionState::Connected);
    assert_eq!(again.account(), Some(account.clone()));
    assert_eq!(again.public_key(), key);
    let servers = again.store().known_servers().await.unwrap();
    assert_eq!(servers[0].account.as_ref(), Some(&account));

    // Registering again on the same connection is refused with the server's code.
    let err = again
        .register(&unique_handle("ada"), "Ada", None)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(salon_client::proto::ErrorCode::AlreadyAuthenticated)
    );
    again.shutdown().await;
    assert!(matches!(again.ping().await, Err(ClientError::ShutDown)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_after_a_server_restart_logs_in_again() {
    support::init_tracing();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(server_config(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        data.path(),
    ))
    .await
    .unwrap();
    let addr = server.local_addr();
    let url = server.ws_url();
    let (client, _profile) = registered(&url, "bob", "Bob").await;
    let account = client.account().unwrap();
    let mut events = client.events();

    server.shutdown().await;
    let hint = wait_for(&mut events, "Reconnecting", |e| match e {
        ClientEvent::ConnectionState(ConnectionState::Reconnecting {
            attempt: 1,
            next_in,
        }) => Some(*next_in),
        _ => None,
    })
    .await;
    // The server said `shutting_down` with a 2 s hint: no sooner than that.
    assert!(hint >= std::time::Duration::from_secs(2), "{hint:?}");
    assert!(matches!(
        client.ping().await,
        Err(ClientError::NotConnected)
    ));

    let server = Server::start(server_config(addr, data.path()))
        .await
        .unwrap();
    wait_for(&mut events, "Connected", |e| {
        matches!(e, ClientEvent::ConnectionState(ConnectionState::Connected)).then_some(())
    })
    .await;
    assert_eq!(client.account(), Some(account));
    client.ping().await.expect("logged in and answering");
    assert_eq!(client.list_devices().await.unwrap().len(), 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_others_can_read_is_refused() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let profile = Profile::new();
    let client = Client::connect(profile.config(&url)).await.unwrap();
    let key = client.public_key();
    client.shutdown().await;
    let path = profile.key_file();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "created owner-only");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Client::connect(profile.config(&url)).await.unwrap_err();
    assert!(
        matches!(err, ClientError::KeyFilePermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("chmod 600"),
        "says how to fix it: {err}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let client = Client::connect(profile.config(&url)).await.unwrap();
    assert_eq!(client.public_key(), key, "the same key");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_key_lives_in_the_os_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "this test needs a D-Bus session with an unlocked gnome-keyring: run it through \
         `cargo xtask test` (see shared/TESTING.md)"
    );
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let profile = Profile::new();
    let config = ClientConfig::new(&url, profile.dir.path(), KeyStore::Keyring);
    let client = match Client::connect(config.clone()).await {
        Ok(client) => client,
        Err(err @ ClientError::Keyring { .. }) => {
            panic!("{err}\n(run through `cargo xtask test`, which starts gnome-keyring)")
        }
        Err(err) => panic!("connect: {err}"),
    };
    let handle = unique_handle("keyring");
    let account = client.register(&handle, "Kay", None).await.unwrap();
    let key = client.public_key();
    client.shutdown().await;

    // Nothing secret was written into the profile: only the SQLite store is there.
    for entry in std::fs::read_dir(profile.dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name.starts_with(salon_client::DB_FILE),
            "unexpected file {name}"
        );
    }

    // The next run finds the same key in the keyring and logs in with it.
    let again = Client::connect(config).await.unwrap();
    assert_eq!(again.public_key(), key);
    assert_eq!(again.account().map(|a| a.user), Some(account.user));
    again.shutdown().await;

    // Another profile gets its own key.
    let other = Profile::new();
    let stranger = Client::connect(ClientConfig::new(&url, other.dir.path(), KeyStore::Keyring))
        .await
        .unwrap();
    assert_ne!(stranger.public_key(), key);
    stranger.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_keeps_volumes_and_settings() {
    let (server, _data) = start_server().await;
    let (client, _profile) = registered(&server.ws_url(), "vol", "Vol").await;
    let me = client.account().unwrap().user;
    let url = client.server_url().to_owned();
    client.store().set_volume(&url, me, 180).await.unwrap();
    assert_eq!(client.store().volume(&url, me).await.unwrap(), 180);
    assert!(client.store().set_volume(&url, me, 250).await.is_err());
    client.store().set_setting("theme", "dark").await.unwrap();
    assert_eq!(
        client.store().setting("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    client.shutdown().await;
    server.shutdown().await;
}
