//! MLS delivery for the encryption layer: messages arrive as events, an acknowledgement
//! is remembered locally, and a later run resumes after it: what was acknowledged never
//! comes again, what was not comes exactly once.

mod support;

use salon_client::proto::mls::MlsKind;
use salon_client::proto::{Blob, MessageId};
use salon_client::{Client, ClientEvent, ClientHandle};
use support::{registered, start_server, wait_for};
use tokio::sync::broadcast;

async fn send(from: &ClientHandle, to: &ClientHandle, text: &[u8]) {
    let id = MessageId::from_bytes(rand::random());
    from.mls_send(
        id,
        Blob(b"group-1".to_vec()),
        MlsKind::Application,
        0,
        vec![to.account().unwrap().user],
        Blob(text.to_vec()),
    )
    .await
    .expect("mls_send");
}

async fn next_message(events: &mut broadcast::Receiver<ClientEvent>) -> (u64, Vec<u8>) {
    wait_for(events, "an MLS message", |e| match e {
        ClientEvent::MlsMessage(m) => Some((m.seq, m.payload.0.clone())),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_the_last_acknowledged_message() {
    let (server, _data) = start_server().await;
    let url = server.ws_url();
    let (alice, _ap) = registered(&url, "alice", "Alice").await;
    let (bob, bob_profile) = registered(&url, "bob", "Bob").await;
    let mut events = bob.events();

    send(&alice, &bob, b"one").await;
    let (first, payload) = next_message(&mut events).await;
    assert_eq!(payload, b"one");
    bob.mls_ack(first).await.unwrap();
    send(&alice, &bob, b"two").await;
    let (_, payload) = next_message(&mut events).await;
    assert_eq!(payload, b"two", "pushed, not yet acknowledged");
    bob.shutdown().await;
    send(&alice, &bob, b"three").await;

    // The next run fetches after the acknowledged one: "two" again (never acknowledged)
    // and "three" (sent while away), each once, in order.
    let bob = Client::connect(bob_profile.config(&url)).await.unwrap();
    let mut events = bob.events();
    let (second, payload) = next_message(&mut events).await;
    assert_eq!(payload, b"two");
    let (third, payload) = next_message(&mut events).await;
    assert_eq!(payload, b"three");
    assert!(first < second && second < third);
    bob.mls_ack(third).await.unwrap();
    let url_key = bob.server_url().to_owned();
    let device = bob.account().unwrap().device;
    let deadline = std::time::Instant::now() + support::TIMEOUT;
    while bob.store().last_acked(&url_key, device).await.unwrap() != third {
        assert!(
            std::time::Instant::now() < deadline,
            "the acknowledgement is remembered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    bob.shutdown().await;

    let bob = Client::connect(bob_profile.config(&url)).await.unwrap();
    let fetched = bob.mls_fetch(0, None).await.unwrap();
    assert!(fetched.messages.is_empty(), "all acknowledged: {fetched:?}");
    bob.shutdown().await;
    alice.shutdown().await;
    server.shutdown().await;
}
