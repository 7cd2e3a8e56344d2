//! Devices that vanish and return under a running session: the handles stay valid, the
//! stream falls back to the default device, samples keep flowing, and the stream moves
//! back when the device returns. The "device" is a PulseAudio null sink this test loads
//! and unloads, as a USB headset would be unplugged and plugged in again.

mod common;

use std::time::Duration;

use common::{NullSink, Pump, Tone, drain_events, require_pulse, wait_until};
use salon_audio_io::{
    Capture, DeviceEvent, DeviceId, Direction, Playback, StreamOptions, StreamState, list_devices,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// The id of the listed device called `name` in `direction`, waiting for it to appear.
fn device_named(name: &str, direction: Direction) -> DeviceId {
    let mut found = None;
    let appeared = wait_until(DEADLINE, || {
        found = list_devices()
            .expect("list devices")
            .into_iter()
            .find(|d| d.direction == direction && d.id.name() == name)
            .map(|d| d.id);
        found.is_some() || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(
        appeared,
        "{name} ({direction}) never appeared in the device list"
    );
    found.unwrap()
}

fn default_device(direction: Direction) -> DeviceId {
    list_devices()
        .expect("list devices")
        .into_iter()
        .find(|d| d.direction == direction && d.is_default)
        .map(|d| d.id)
        .expect("a default device")
}

#[test]
fn losing_the_chosen_device_falls_back_to_the_default_and_it_returns() {
    require_pulse();
    let mut sink = NullSink::load(&format!("salon_test_{}", std::process::id()));
    let out_id = device_named(&sink.name, Direction::Output);
    let in_id = device_named(&format!("{}.monitor", sink.name), Direction::Input);
    let (default_out, default_in) = (
        default_device(Direction::Output),
        default_device(Direction::Input),
    );
    assert_ne!(out_id, default_out, "the test sink must not be the default");

    let mut playback = Playback::open(StreamOptions::on(Some(out_id.clone()))).unwrap();
    let mut capture = Capture::open(StreamOptions::on(Some(in_id.clone()))).unwrap();
    assert_eq!(playback.status().device.as_ref(), Some(&out_id));
    assert_eq!(capture.status().device.as_ref(), Some(&in_id));
    let mut pump = Pump::new(Tone::new(440.0, 0.3, playback.sample_rate()));
    let (mut out_events, mut in_events) = (Vec::new(), Vec::new());

    // Streaming on the test sink.
    let streaming = wait_until(DEADLINE, || {
        pump.step(&mut playback, &mut capture);
        pump.captured.len() >= 9_600
    });
    assert!(streaming, "nothing captured from {in_id} before the unplug");

    // Unplug: both handles fall back to the defaults and keep streaming.
    sink.unload();
    let fell_back = |events: &[DeviceEvent], lost: &DeviceId, now: &DeviceId| {
        events.contains(&DeviceEvent::FellBackToDefault {
            lost: lost.clone(),
            now: now.clone(),
        })
    };
    let moved = wait_until(DEADLINE, || {
        pump.step(&mut playback, &mut capture);
        drain_events(&mut out_events, || playback.try_event());
        drain_events(&mut in_events, || capture.try_event());
        fell_back(&out_events, &out_id, &default_out) && fell_back(&in_events, &in_id, &default_in)
    });
    assert!(
        moved,
        "no fallback within {DEADLINE:?}: output {out_events:?}, input {in_events:?}"
    );
    assert_eq!(playback.status().state, StreamState::FallenBack);
    assert_eq!(capture.status().device.as_ref(), Some(&default_in));

    let (captured, written) = (pump.captured.len(), pump.written);
    let flowing = wait_until(DEADLINE, || {
        pump.step(&mut playback, &mut capture);
        pump.captured.len() >= captured + 24_000 && pump.written >= written + 24_000
    });
    assert!(
        flowing,
        "after the fallback only {} samples were captured and {} written",
        pump.captured.len() - captured,
        pump.written - written
    );

    // Replug: both handles go back to the chosen device.
    sink.reload();
    let returned = wait_until(DEADLINE, || {
        pump.step(&mut playback, &mut capture);
        drain_events(&mut out_events, || playback.try_event());
        drain_events(&mut in_events, || capture.try_event());
        out_events.contains(&DeviceEvent::Returned {
            device: out_id.clone(),
        }) && in_events.contains(&DeviceEvent::Returned {
            device: in_id.clone(),
        })
    });
    assert!(
        returned,
        "no return within {DEADLINE:?}: output {out_events:?}, input {in_events:?}"
    );
    for status in [playback.status(), capture.status()] {
        assert_eq!(status.state, StreamState::Running, "{status:?}");
        assert!(status.reopens >= 2, "{status:?}");
    }
    assert_eq!(playback.status().device.as_ref(), Some(&out_id));

    let captured = pump.captured.len();
    let flowing = wait_until(DEADLINE, || {
        pump.step(&mut playback, &mut capture);
        pump.captured.len() >= captured + 24_000
    });
    assert!(flowing, "nothing captured after the device returned");
    eprintln!("output events {out_events:?}\ninput events {in_events:?}");
}

#[test]
fn an_unknown_device_id_opens_the_default_and_says_so() {
    require_pulse();
    let gone: DeviceId = "pulseaudio:salon_no_such_device.monitor".parse().unwrap();
    let capture = Capture::open(StreamOptions::on(Some(gone.clone()))).unwrap();
    let default = default_device(Direction::Input);
    assert_eq!(
        capture.try_event(),
        Some(DeviceEvent::FellBackToDefault {
            lost: gone,
            now: default.clone()
        })
    );
    let status = capture.status();
    assert_eq!(
        (status.state, status.device),
        (StreamState::FallenBack, Some(default))
    );
}
