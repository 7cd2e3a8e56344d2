//! Audio fan-out through the real server: one speaker to many listeners.
//!
//! It proves that every listener of a room receives every frame of the speaker, in
//! order and byte for byte except the stream id the server stamps; that a listener too
//! slow to read its socket neither delays nor costs frames to the others (the server
//! drops the oldest frames queued for the slow one, counts them, and after seconds of
//! that closes it with 4000 `SLOW_CONSUMER`) while everyone else keeps receiving every
//! frame on time.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use salon_proto::close;
use salon_proto::frame::{AudioLevel, Flags, FrameHeader, MAX_FRAME_PAYLOAD};
use salon_proto::mls::MlsKind;
use salon_proto::room::Visibility;
use salon_proto::{Blob, ClientRequest, Event, Reply, RoomId, StreamId};
use support::{Client, TIMEOUT, create_room, join, metric, random_message_id, start_server};
use tokio::sync::Mutex;

/// The payload of frame `seq`: its length and bytes depend on `seq`, so a frame
/// delivered out of order or altered is caught.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as usize * 31 + i * 7) as u8)
        .collect()
}

/// Sets up a room whose host speaks, with `listeners` joined as listeners; every
/// client is synced to the room's latest version.
async fn room_with_listeners(
    url: &str,
    listeners: usize,
) -> (Client, RoomId, StreamId, Vec<Client>) {
    let mut host = Client::registered(url, "speaker", "Speaker").await;
    let room = create_room(&mut host, "Fan-out", Visibility::Unlisted).await;
    let (_, stream) = join(&mut host, room).await;
    let mut others = Vec::new();
    for _ in 0..listeners {
        let mut listener = Client::registered(url, "ear", "Ear").await;
        join(&mut listener, room).await;
        others.push(listener);
    }
    (host, room, stream, others)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_listeners_receive_every_frame_in_order() {
    const LISTENERS: usize = 20;
    const FRAMES: u32 = 150;
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let (mut speaker, _, stream, listeners) = room_with_listeners(&url, LISTENERS).await;

    let mut tasks = Vec::new();
    for mut listener in listeners {
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < FRAMES as usize {
                match listener.recv_audio(TIMEOUT).await {
                    Some(frame) => got.push(frame),
                    None => break,
                }
            }
            got
        }));
    }

    // Real time: one 20 ms frame every 20 ms.
    let mut sent = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for seq in 0..FRAMES {
        tick.tick().await;
        let bytes = speaker
            .send_audio(seq, seq * 960, &payload(seq, 60 + (seq as usize % 200)))
            .await;
        sent.push(bytes);
    }

    for (n, task) in tasks.into_iter().enumerate() {
        let got = task.await.expect("listener task");
        assert_eq!(
            got.len(),
            FRAMES as usize,
            "listener {n} received {} of {FRAMES} frames",
            got.len()
        );
        for (seq, (frame, bytes)) in got.iter().zip(&sent).enumerate() {
            assert_eq!(
                frame.header.sequence, seq as u32,
                "listener {n}: out of order"
            );
            let mut want = bytes.clone();
            want[2..4].copy_from_slice(&stream.0.to_be_bytes());
            assert_eq!(frame.raw, want, "listener {n}: frame {seq} altered");
        }
    }
    assert_eq!(
        server.metrics().audio_dropped_slow.load(Ordering::Relaxed),
        0,
        "nothing is dropped for listeners that keep up"
    );
    assert!(server.metrics().audio_in.load(Ordering::Relaxed) >= u64::from(FRAMES));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_forwarded_byte_for_byte_except_the_stream_id() {
    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let (mut speaker, _, stream, mut listeners) = room_with_listeners(&url, 2).await;

    let levels = [
        AudioLevel::new(0, true),
        AudioLevel::SILENT,
        AudioLevel::new(127, true),
        AudioLevel::new(64, false),
    ];
    let mut sent = Vec::new();
    let cases: [(u8, u32, u32, usize); 8] = [
        (0, 0, 0, 0),
        (Flags::E2EE, 1, 960, 1),
        (Flags::DTX, 2, 1920, 3),
        (Flags::FEC, 3, 2880, 160),
        (Flags::E2EE | Flags::DTX | Flags::FEC, 4, 3840, 1275),
        // Flag bits this version does not define are forwarded unchanged.
        (0xf8, 5, 4800, MAX_FRAME_PAYLOAD),
        (0xff, u32::MAX, u32::MAX, 17),
        (0x01, 0, 0, 2),
    ];
    for (i, (flags, seq, ts, len)) in cases.into_iter().enumerate() {
        let mut header = FrameHeader::audio(seq, ts, levels[i % levels.len()], Flags(flags));
        if i == 7 {
            // A client that wrongly fills the stream id gets it overwritten.
            header.stream = StreamId(0xbeef);
        }
        sent.push(speaker.send_frame(&header, &payload(seq, len)).await);
    }
    for listener in &mut listeners {
        for bytes in &sent {
            let got = listener.expect_audio("a forwarded frame").await;
            let mut want = bytes.clone();
            want[2..4].copy_from_slice(&stream.0.to_be_bytes());
            assert_eq!(got.raw.len(), bytes.len());
            assert_eq!(
                got.raw[..2],
                bytes[..2],
                "kind and flags are forwarded as sent"
            );
            assert_eq!(
                got.raw[4..],
                bytes[4..],
                "sequence, timestamp, level, payload"
            );
            assert_eq!(got.raw, want);
        }
    }
    // The speaker does not hear themselves.
    speaker.ping().await;
    assert_eq!(speaker.buffered_audio(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_listener_does_not_delay_the_others_and_is_eventually_closed() {
    const FAST: usize = 5;
    /// Upper bound on frames per phase: far beyond what either phase needs.
    const MAX_FRAMES: u32 = 1500;
    /// How late a frame may reach a listener that keeps up: very generous, the machine
    /// may be busy. Its audio queue holds 100 frames = 1 s, beyond which frames would
    /// be lost anyway.
    const MAX_LAG: Duration = Duration::from_secs(2);
    const PAYLOAD: usize = 1000;
    /// Raw MLS bytes per message used to fill the slow listener's pipe (base64 of this
    /// stays under the 256 KiB control-message limit).
    const MAIL: usize = 190_000;
    const MAILS: usize = 24;

    let (server, _dir) = start_server(|_| {}).await;
    let url = server.ws_url();
    let addr = server.local_addr();
    let (mut speaker, room, stream, fast) = room_with_listeners(&url, FAST).await;
    // The slow listener joins with a tiny TCP receive buffer and then stops reading.
    let mut slow = Client::connect_with(&url, Some(4096)).await;
    slow.hello().await;
    slow.register(&support::unique_handle("slow"), "Slow").await;
    join(&mut slow, room).await;
    speaker
        .wait_version(room, slow.room_version(room).unwrap())
        .await;

    // On loopback the kernel lets the server buffer megabytes for one socket; fill
    // that quickly with a few large MLS messages (control messages are never dropped),
    // so the audio that follows has nowhere to go but the slow listener's audio queue.
    let mut mailer = Client::registered(&url, "mailer", "Mailer").await;
    for _ in 0..MAILS {
        let reply = mailer
            .request(ClientRequest::MlsSend {
                message_id: random_message_id(),
                group: Blob(b"fill".to_vec()),
                kind: MlsKind::Application,
                epoch: 0,
                recipients: vec![slow.user()],
                payload: Blob(vec![0x5a; MAIL]),
            })
            .await;
        assert!(matches!(reply, Reply::MlsAccepted { .. }), "{reply:?}");
    }

    // Send times, shared with the listeners to measure lag.
    let sent_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let mut tasks = Vec::new();
    for mut listener in fast {
        let sent_at = sent_at.clone();
        tasks.push(tokio::spawn(async move {
            let mut next = 0u32;
            let mut worst = Duration::ZERO;
            loop {
                let Some(frame) = listener.recv_audio(TIMEOUT).await else {
                    panic!("a fast listener stopped receiving after {next} frames");
                };
                let arrived = Instant::now();
                assert_eq!(
                    frame.header.sequence, next,
                    "a fast listener lost or reordered frames"
                );
                assert_eq!(frame.header.stream, stream);
                assert_eq!(frame.payload, payload(next, PAYLOAD));
                let sent = sent_at.lock().await[next as usize];
                worst = worst.max(arrived.saturating_duration_since(sent));
                next += 1;
                if frame.header.flags.contains(Flags::DTX) {
                    // The speaker's last frame.
                    return (next, worst);
                }
            }
        }));
    }

    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u32;
    let dropped =
        |server: &salon_server::Server| server.metrics().audio_dropped_slow.load(Ordering::Relaxed);
    let slow_disconnects =
        |server: &salon_server::Server| server.metrics().slow_disconnects.load(Ordering::Relaxed);
    // Phase 1 (100 frames a second, under the audio rate limit): the slow listener's
    // queue overflows and the oldest frames are dropped.
    let mut phase = 0;
    while phase < 2 {
        tick.tick().await;
        let header = FrameHeader::audio(seq, seq * 960, AudioLevel::new(20, true), Flags(0));
        sent_at.lock().await.push(Instant::now());
        speaker.send_frame(&header, &payload(seq, PAYLOAD)).await;
        seq += 1;
        if phase == 0 && dropped(&server) > 0 {
            // Phase 2: keep talking until the server gives up on the slow listener.
            phase = 1;
        } else if phase == 1 && slow_disconnects(&server) > 0 {
            phase = 2;
        }
        if seq >= 2 * MAX_FRAMES {
            break;
        }
    }
    let last = FrameHeader::audio(seq, seq * 960, AudioLevel::SILENT, Flags(Flags::DTX));
    sent_at.lock().await.push(Instant::now());
    speaker.send_frame(&last, &payload(seq, PAYLOAD)).await;
    let total = seq + 1;
    assert!(
        phase >= 1,
        "no frame was dropped for the slow listener after {total} frames"
    );

    for task in tasks {
        let (received, worst) = task.await.expect("fast listener");
        assert_eq!(received, total, "a fast listener missed frames");
        assert!(
            worst <= MAX_LAG,
            "a fast listener was delayed by {worst:?} while another listener was slow"
        );
    }
    assert_eq!(
        phase,
        2,
        "the slow listener was not closed after {total} frames ({} s)",
        total / 100
    );
    let dropped = dropped(&server);
    assert!(metric(addr, "salon_audio_frames_dropped_total").await >= dropped);
    assert!(metric(addr, "salon_slow_disconnects_total").await >= 1);

    // The slow listener, reading again, finds a close with 4000 SLOW_CONSUMER at the
    // end of what was already on its way, and far fewer frames than were sent.
    let closed = slow.expect_closed(Duration::from_secs(60)).await;
    assert_eq!(closed.code, Some(close::SLOW_CONSUMER), "{closed:?}");
    assert!(
        slow.buffered_audio() < total as usize,
        "the slow listener received every frame ({})",
        slow.buffered_audio()
    );
    let mails = slow
        .log
        .iter()
        .filter(|e| matches!(e, Event::MlsMessage(_)))
        .count();
    assert_eq!(mails, MAILS, "control messages are never dropped");
}
