//! Helpers shared by the integration tests that need a real audio server.
//!
//! Those tests run against PulseAudio with a null sink as the default output and its
//! monitor as the default input, which `cargo xtask test` starts and describes through
//! `PULSE_SERVER` and `XDG_RUNTIME_DIR`. Without them a test fails loudly rather than
//! passing without having tested anything.

#![allow(dead_code, unreachable_pub)]

use std::f32::consts::TAU;
use std::process::Command;
use std::time::{Duration, Instant};

use salon_audio_io::{Capture, DeviceEvent, Playback};

/// Fails the test unless a PulseAudio server was provided.
pub fn require_pulse() {
    let missing: Vec<&str> = ["PULSE_SERVER", "XDG_RUNTIME_DIR"]
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} not set: this test needs the PulseAudio null sink that `cargo xtask test` \
         starts; run it with `cargo xtask test` (or start PulseAudio as described in \
         TESTING.md and export PULSE_SERVER and XDG_RUNTIME_DIR)",
        missing.join(" and ")
    );
}

/// Runs `pactl` against the test server and returns its trimmed output.
pub fn pactl(args: &[&str]) -> String {
    let output = Command::new("pactl")
        .args(args)
        .output()
        .expect("could not run pactl (Debian package pulseaudio-utils)");
    assert!(
        output.status.success(),
        "pactl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A PulseAudio null sink created for one test and removed when dropped.
pub struct NullSink {
    pub name: String,
    module: Option<String>,
}

impl NullSink {
    pub fn load(name: &str) -> Self {
        let module = pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=48000",
        ]);
        Self {
            name: name.to_owned(),
            module: Some(module),
        }
    }

    /// Removes the sink now, as unplugging a device would.
    pub fn unload(&mut self) {
        if let Some(module) = self.module.take() {
            pactl(&["unload-module", &module]);
        }
    }

    /// Creates the sink again under the same name, as replugging would.
    pub fn reload(&mut self) {
        assert!(self.module.is_none(), "the sink is loaded already");
        *self = Self::load(&self.name);
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            let _ = Command::new("pactl")
                .args(["unload-module", &module])
                .output();
        }
    }
}

/// A sine generator that keeps its phase across calls.
pub struct Tone {
    frequency: f32,
    amplitude: f32,
    rate: f32,
    phase: f32,
}

impl Tone {
    pub fn new(frequency: f32, amplitude: f32, rate: u32) -> Self {
        Self {
            frequency,
            amplitude,
            rate: rate as f32,
            phase: 0.0,
        }
    }

    /// Fills `out`, `channels` interleaved.
    pub fn fill(&mut self, out: &mut [f32], channels: usize) {
        for frame in out.chunks_mut(channels) {
            frame.fill(self.amplitude * (TAU * self.phase).sin());
            self.phase = (self.phase + self.frequency / self.rate).fract();
        }
    }
}

/// Keeps a playback fed with a tone and a capture drained, and collects what is captured
/// (first channel only).
pub struct Pump {
    tone: Tone,
    buffer: Vec<f32>,
    pub captured: Vec<f32>,
    pub written: usize,
}

impl Pump {
    pub fn new(tone: Tone) -> Self {
        Self {
            tone,
            buffer: vec![0.0; 48_000],
            captured: Vec::new(),
            written: 0,
        }
    }

    /// One round: top up the playback, drain the capture, sleep a little.
    pub fn step(&mut self, playback: &mut Playback, capture: &mut Capture) {
        let channels = usize::from(playback.channels());
        let free = playback.free().min(self.buffer.len());
        self.tone.fill(&mut self.buffer[..free], channels);
        self.written += playback.write(&self.buffer[..free]);
        self.drain(capture);
        std::thread::sleep(Duration::from_millis(5));
    }

    pub fn drain(&mut self, capture: &mut Capture) {
        let channels = usize::from(capture.channels());
        loop {
            let n = capture.read(&mut self.buffer);
            if n == 0 {
                break;
            }
            self.captured
                .extend(self.buffer[..n].iter().step_by(channels).copied());
        }
    }
}

/// Calls `step` until `done` or the deadline; returns whether `done` came true.
pub fn wait_until(deadline: Duration, mut step: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if step() {
            return true;
        }
    }
    false
}

/// Events from a handle, kept so a failure can show them.
pub fn drain_events(into: &mut Vec<DeviceEvent>, next: impl Fn() -> Option<DeviceEvent>) {
    while let Some(event) = next() {
        into.push(event);
    }
}

/// Root mean square.
pub fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

/// The frequency of a tone, from the median distance between its upward zero crossings
/// (interpolated between samples). The median shrugs off a glitch in the window, which a
/// plain count of crossings would turn into a wrong frequency.
pub fn frequency(samples: &[f32], rate: u32) -> f32 {
    let crossings: Vec<f32> = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f32 + w[0] / (w[0] - w[1]))
        .collect();
    let mut periods: Vec<f32> = crossings.windows(2).map(|c| c[1] - c[0]).collect();
    if periods.is_empty() {
        return 0.0;
    }
    periods.sort_by(f32::total_cmp);
    rate as f32 / periods[periods.len() / 2]
}

/// 10 ms blocks of `samples` that are (nearly) silent: gaps in what should be a tone.
pub fn silent_blocks(samples: &[f32], rate: u32) -> usize {
    samples
        .chunks(rate as usize / 100)
        .filter(|block| rms(block) < 0.05)
        .count()
}

/// Goertzel power of `frequency` in `samples`, normalised so that a sine of amplitude A
/// gives about A²/4 whatever the window length.
pub fn goertzel(samples: &[f32], frequency: f32, rate: u32) -> f32 {
    let coefficient = 2.0 * (TAU * frequency / rate as f32).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    power / (samples.len() as f32 * samples.len() as f32)
}
