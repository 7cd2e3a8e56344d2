//! Hostile and broken input through the real server: nothing a peer sends crashes it,
//! and only persistent abuse closes a connection.
//!
//! It proves that malformed JSON is answered `malformed` with `re: null` and the
//! connection stays usable; that an unknown `type` is answered `unknown_message` with
//! the request id; that an oversized text message is refused (closing that connection
//! at most) while the server keeps serving others; that oversized, truncated and
//! unknown-kind binary frames, and binary frames before logging in, are dropped and
//! counted without closing the connection or reaching anyone; that a control-message
//! flood is answered `rate_limited` and then closed with 4001 `FLOOD` while another
//! client is served normally; that a connection that never says hello is closed with
//! 4005; that a plain HTTP request on the WebSocket path is told to upgrade (426) and a
//! WebSocket ping is answered with its pong; and that `/healthz` answers 200 throughout.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use salon_proto::frame::{AudioLevel, Flags, FrameHeader, HEADER_LEN, MAX_FRAME_PAYLOAD};
use salon_proto::limits::MAX_CONTROL_BYTES;
use salon_proto::room::Visibility;
use salon_proto::{ClientEnvelope, ClientRequest, ErrorCode, Reply, close};
use support::{Client, TIMEOUT, create_room, http_get, join, start_server};

async fn assert_healthy(addr: SocketAddr) {
    let (status, body) = http_get(addr, "/healthz").await;
    assert_eq!(status, 200, "GET /healthz: {body}");
}

/// Waits for the next reply with `re: null`.
async fn null_reply(client: &mut Client, what: &str) -> Reply {
    let reply = client
        .next_reply(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no reply to {what}"));
    assert_eq!(reply.re, None, "{what}: {reply:?}");
    reply.reply
}

fn assert_error(reply: &Reply, code: ErrorCode) {
    assert!(
        matches!(reply, Reply::Error(e) if e.code == code),
        "expected {code}, got {reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unknown_messages_get_errors_and_the_connection_stays_usable() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut client = Client::connect_hello(&url).await;

    for garbage in [
        "{not json",
        "",
        "[1, 2, 3]",
        "\"a string\"",
        "42",
        r#"{"type": "ping"}"#,
        r#"{"id": -1, "type": "ping"}"#,
        r#"{"id": 4294967296, "type": "ping"}"#,
        r#"{"id": "7", "type": "ping"}"#,
    ] {
        client.send_text(garbage).await;
        let reply = null_reply(&mut client, garbage).await;
        assert_error(&reply, ErrorCode::Malformed);
        client.ping().await;
    }

    // With a readable id, the error names it.
    for (body, code) in [
        (
            r#""type": "teleport", "to": "mars""#,
            ErrorCode::UnknownMessage,
        ),
        (r#""kind": "ping""#, ErrorCode::Malformed),
        (r#""type": 7"#, ErrorCode::Malformed),
        (r#""type": "get_profile""#, ErrorCode::Malformed),
        (
            r#""type": "list_rooms", "limit": 70000"#,
            ErrorCode::Malformed,
        ),
        (
            r#""type": "join_room", "room": "NOT-AN-ID""#,
            ErrorCode::Malformed,
        ),
    ] {
        let id = client.take_id();
        client.send_text(format!(r#"{{"id": {id}, {body}}}"#)).await;
        let reply = client.wait_reply(id, body).await;
        assert_error(&reply, code);
        client.ping().await;
    }
    // Unknown fields are ignored.
    let id = client.take_id();
    client
        .send_text(format!(
            r#"{{"id": {id}, "type": "ping", "future_field": {{"x": [1]}}}}"#
        ))
        .await;
    assert_eq!(client.wait_reply(id, "ping with extras").await, Reply::Pong);
    assert!(client.closed().is_none());
    assert_healthy(server.local_addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_text_message_is_refused_and_the_server_keeps_serving() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut client = Client::connect_hello(&url).await;
    let mut bystander = Client::connect_hello(&url).await;

    // A valid-looking request padded past the limit.
    let id = client.take_id();
    let padding = "x".repeat(MAX_CONTROL_BYTES + 1);
    client
        .send_text(format!(
            r#"{{"id": {id}, "type": "ping", "padding": "{padding}"}}"#
        ))
        .await;
    // Either the WebSocket is closed, or the message is answered `too_large` (with
    // `re: null`: an oversized message is not parsed at all).
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match client.recv_until(deadline).await {
            Some(support::Incoming::Closed(_)) => break,
            Some(support::Incoming::Reply(reply)) => {
                assert_eq!(reply.re, None, "{reply:?}");
                assert_error(&reply.reply, ErrorCode::TooLarge);
                client.ping().await;
                break;
            }
            Some(_) => {}
            None => panic!("an oversized message was neither refused nor closed"),
        }
    }
    // The server is fine: others are served, and new connections work.
    bystander.ping().await;
    let mut fresh = Client::connect_hello(&url).await;
    fresh.ping().await;
    assert_healthy(server.local_addr()).await;
    // Exactly at the limit is not oversized.
    let mut edge = Client::connect_hello(&url).await;
    let id = edge.take_id();
    let frame = format!(r#"{{"id": {id}, "type": "ping", "padding": ""}}"#);
    let padding = "y".repeat(MAX_CONTROL_BYTES - frame.len());
    edge.send_text(format!(
        r#"{{"id": {id}, "type": "ping", "padding": "{padding}"}}"#
    ))
    .await;
    assert_eq!(
        edge.wait_reply(id, "a message of exactly 256 KiB").await,
        Reply::Pong
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_binary_frames_are_dropped_and_counted() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let rejected = || server.metrics().audio_rejected.load(Ordering::Relaxed);

    // Before logging in (and before hello), a valid frame is dropped.
    let mut early = Client::connect(&url).await;
    let before = rejected();
    let mut frame = Vec::new();
    salon_proto::frame::encode(
        &FrameHeader::audio(1, 960, AudioLevel::new(10, true), Flags::default()),
        b"early",
        &mut frame,
    )
    .unwrap();
    early.send_binary(frame.clone()).await;
    early.hello().await;
    early.send_binary(frame.clone()).await;
    early.ping().await;
    assert_eq!(rejected(), before + 2, "frames before login are counted");
    assert!(early.closed().is_none());

    // A speaker in a room with a listener.
    let mut host = Client::registered(&url, "host", "Host").await;
    let room = create_room(&mut host, "Bad frames", Visibility::Unlisted).await;
    let (_, stream) = join(&mut host, room).await;
    let mut listener = Client::registered(&url, "ear", "Ear").await;
    join(&mut listener, room).await;

    let before = rejected();
    let mut oversized = frame.clone();
    oversized.truncate(HEADER_LEN);
    oversized.extend(std::iter::repeat_n(0u8, MAX_FRAME_PAYLOAD + 1));
    let mut unknown_kind = frame.clone();
    unknown_kind[0] = 2;
    let mut zero_kind = frame.clone();
    zero_kind[0] = 0;
    let bad: Vec<Vec<u8>> = vec![
        oversized,
        frame[..HEADER_LEN - 1].to_vec(),
        vec![1],
        Vec::new(),
        unknown_kind,
        zero_kind,
    ];
    for bytes in &bad {
        host.send_binary(bytes.clone()).await;
    }
    host.ping().await;
    assert_eq!(
        rejected(),
        before + bad.len() as u64,
        "every invalid frame is counted as rejected"
    );
    // None reached the listener: the next frame it hears is the valid one after them.
    let good = host.send_audio(77, 77 * 960, b"the good one").await;
    let got = listener.expect_audio("the valid frame").await;
    assert_eq!(got.header.sequence, 77, "an invalid frame was forwarded");
    assert_eq!(got.raw[4..], good[4..]);
    assert_eq!(got.header.stream, stream);
    // A frame with an empty payload is valid.
    host.send_audio(78, 78 * 960, b"").await;
    let got = listener.expect_audio("the empty frame").await;
    assert_eq!((got.header.sequence, got.payload.len()), (78, 0));
    assert!(host.closed().is_none());
    host.ping().await;
    assert_healthy(server.local_addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_flood_is_rate_limited_then_closed_while_others_are_served() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let addr = server.local_addr();
    let mut flooder = Client::connect_hello(&url).await;
    let mut neighbour = Client::connect_hello(&url).await;

    let mut pongs = 0usize;
    let mut limited = 0usize;
    let mut sent = 0usize;
    let started = Instant::now();
    let closed = 'flood: loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the flood was never closed: {pongs} pongs, {limited} refusals"
        );
        // A chunk of pings as fast as the socket takes them ...
        const CHUNK: usize = 200;
        for _ in 0..CHUNK {
            let id = flooder.take_id();
            flooder
                .feed_text(ClientEnvelope::new(id, ClientRequest::Ping).to_json())
                .await;
        }
        flooder.flush().await;
        sent += CHUNK;
        // ... then read their replies (so nothing piles up on the server's side).
        let mut answered = 0;
        while answered < CHUNK {
            match flooder.next_reply(TIMEOUT).await {
                Some(reply) => {
                    answered += 1;
                    match reply.reply {
                        Reply::Pong => pongs += 1,
                        Reply::Error(e) if e.code == ErrorCode::RateLimited => {
                            assert!(reply.re.is_some(), "the refused request is named");
                            assert!(e.retry_after_ms.is_some(), "{e:?}");
                            limited += 1;
                        }
                        other => panic!("a flooded ping answered {other:?}"),
                    }
                }
                None => match flooder.closed() {
                    Some(closed) => break 'flood closed.clone(),
                    None => panic!("no reply and no close while flooding"),
                },
            }
        }
        // Meanwhile the neighbour is served normally, and so is HTTP.
        neighbour.ping().await;
        assert_healthy(addr).await;
    };
    assert_eq!(
        closed.code,
        Some(close::FLOOD),
        "{closed:?} after {sent} pings"
    );
    // The burst of 50 control messages, less the one `hello` took, is answered.
    assert!(pongs >= 49, "the burst is answered: {pongs}");
    assert!(
        limited >= 99,
        "warnings come before the close: {limited} rate_limited"
    );
    assert!(server.metrics().rejected(ErrorCode::RateLimited) >= limited as u64);
    neighbour.ping().await;
    assert_healthy(addr).await;
    let mut fresh = Client::connect_hello(&url).await;
    fresh.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_hello_is_closed_with_4005() {
    let (server, _dir) = start_server(|_| {}).await;
    let mut silent = Client::connect(&server.ws_url()).await;
    let closed = silent.expect_closed(Duration::from_secs(30)).await;
    assert_eq!(closed.code, Some(close::HANDSHAKE_TIMEOUT), "{closed:?}");
    assert_healthy(server.local_addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_path_refuses_plain_http_and_answers_pings() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    let (server, _dir) = start_server(|_| {}).await;
    let (status, body) = http_get(server.local_addr(), salon_proto::WS_PATH).await;
    assert_eq!(status, 426, "plain GET {}: {body}", salon_proto::WS_PATH);
    assert!(body.contains("WebSocket"), "{body}");

    // The server's own WebSocket layer answers a ping with a pong carrying its payload,
    // between the replies to requests.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("WebSocket handshake");
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .expect("send ping");
    ws.send(Message::text(
        ClientEnvelope::new(1, ClientRequest::Ping).to_json(),
    ))
    .await
    .expect("send request");
    let (mut pong, mut reply) = (false, false);
    let deadline = Instant::now() + TIMEOUT;
    while !(pong && reply) && Instant::now() < deadline {
        match tokio::time::timeout(TIMEOUT, ws.next()).await {
            Ok(Some(Ok(Message::Pong(payload)))) => {
                assert_eq!(&payload[..], b"are you there");
                pong = true;
            }
            Ok(Some(Ok(Message::Text(text)))) => reply |= text.contains("\"re\":1"),
            Ok(Some(Ok(_))) => {}
            other => panic!("connection ended early: {other:?}"),
        }
    }
    assert!(pong, "no pong");
    assert!(reply, "no reply to the request");
}
