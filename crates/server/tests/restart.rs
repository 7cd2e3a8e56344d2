//! Rooms outlive a server restart: after `kill -9` or a graceful shutdown, a room comes
//! back under the same id with its title, visibility, host seat, invitations and bans,
//! while a room its host ended stays gone and a room nobody returns to ends.

mod support;

use std::time::Duration;

use salon_proto::room::{Role, Visibility};
use salon_proto::{ClientRequest, ErrorCode, RoomId};
use support::{Client, ServerProcess, create_room, join, member, start_server_in};

/// Expects `join_room` to be refused with `code`.
async fn join_refused(client: &mut Client, room: RoomId, code: ErrorCode) {
    client.refused(ClientRequest::JoinRoom { room }, code).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_survive_kill_9_and_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();

    // Run 1 (the real binary): an ended room, then a private room with an invitation
    // and a ban; SIGKILL right after.
    let server = ServerProcess::spawn(dir.path(), &[]);
    let mut host = Client::registered(&server.url, "host", "Host").await;
    let ann = Client::registered(&server.url, "ann", "Ann").await;
    let mut bob = Client::registered(&server.url, "bob", "Bob").await;
    let cat = Client::registered(&server.url, "cat", "Cat").await;
    let ids = [&host, &ann, &bob, &cat].map(|c| (c.me().handle.clone(), c.me().key.clone()));

    let ended = create_room(&mut host, "Over soon", Visibility::Public).await;
    join(&mut host, ended).await;
    host.ok(ClientRequest::EndRoom { room: ended }).await;

    let room = create_room(&mut host, "Night owls", Visibility::Private).await;
    join(&mut host, room).await;
    for user in [ann.user(), bob.user()] {
        host.ok(ClientRequest::InviteToRoom { room, user }).await;
    }
    join(&mut bob, room).await;
    host.ok(ClientRequest::BanMember {
        room,
        user: bob.user(),
    })
    .await;
    // Requests are handled one at a time: once this is answered, the ban is stored.
    host.ping().await;
    server.kill9();

    // Run 2 (in process, same data directory): everything is back under the same id.
    let server = start_server_in(dir.path(), |_| {}).await;
    let url = server.ws_url();
    let [host_id, ann_id, bob_id, cat_id] = &ids;
    let mut host = Client::logged_in(&url, &host_id.0, &host_id.1).await;
    let (snapshot, _) = join(&mut host, room).await;
    assert_eq!(snapshot.room, room);
    assert_eq!(snapshot.title, "Night owls");
    assert_eq!(snapshot.visibility, Visibility::Private);
    assert_eq!(member(&snapshot, host.user()).role, Role::Host);
    let mut ann = Client::logged_in(&url, &ann_id.0, &ann_id.1).await;
    let (snapshot, _) = join(&mut ann, room).await;
    assert_eq!(member(&snapshot, ann.user()).role, Role::Listener);
    let mut bob = Client::logged_in(&url, &bob_id.0, &bob_id.1).await;
    join_refused(&mut bob, room, ErrorCode::Banned).await;
    let mut cat = Client::logged_in(&url, &cat_id.0, &cat_id.1).await;
    join_refused(&mut cat, room, ErrorCode::RoomNotFound).await;
    join_refused(&mut cat, ended, ErrorCode::RoomNotFound).await;
    join_refused(&mut host, ended, ErrorCode::RoomNotFound).await;
    // Shut down with people still in the room: their connections closing must not
    // forget it.
    server.shutdown().await;
    drop((host, ann, bob, cat));

    // Run 3, after a graceful shutdown: back again. Nobody returns to the stage this
    // time, so the room ends after the (short) grace period ...
    let server = start_server_in(dir.path(), |config| config.stage_grace_secs = 3).await;
    let url = server.ws_url();
    let mut bob = Client::logged_in(&url, &bob_id.0, &bob_id.1).await;
    join_refused(&mut bob, room, ErrorCode::Banned).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = bob.request(ClientRequest::JoinRoom { room }).await;
        match reply {
            salon_proto::Reply::Error(err) if err.code == ErrorCode::RoomNotFound => break,
            salon_proto::Reply::Error(err) if err.code == ErrorCode::Banned => {}
            other => panic!("join_room answered {other:?}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the restored room never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bob.close().await;
    server.shutdown().await;

    // ... and, having ended, it does not come back.
    let server = start_server_in(dir.path(), |_| {}).await;
    let mut host = Client::logged_in(&server.ws_url(), &host_id.0, &host_id.1).await;
    join_refused(&mut host, room, ErrorCode::RoomNotFound).await;
    host.close().await;
    server.shutdown().await;
}
