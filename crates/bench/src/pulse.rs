//! The real-device rig of the latency benchmark: PulseAudio null sinks through cpal.
//!
//! Two null sinks stand for the air between people: `salon_bench_mouth` (this process
//! plays the speech into it; the speaker's microphone is its monitor) and
//! `salon_bench_ear` (the listener's speaker; this process records its monitor). This
//! process also records the mouth's monitor, with the same kind of stream as the ear's,
//! so the device latency of the two recordings cancels and the difference between them
//! is mouth to ear: the speaker's capture device, the whole Salon path, and the
//! listener's playback device.
//!
//! The instant of each recorded sample comes from the stream's arrivals: sample `k` of a
//! stream was there at the latest when a read returned it, so over many reads the
//! earliest `read time - k / 48 kHz` is the instant of sample 0 (the same estimator on
//! both recordings). Needs a PulseAudio server (`cargo xtask bench` starts one) and
//! `pactl`.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use salon_audio_io::{
    AudioSink, AudioSource, Capture, DeviceId, Direction, Pacing, Playback, StreamOptions,
    WavSource, list_devices,
};
use salon_voice::frame::SAMPLE_RATE;

use crate::latency::{Timeline, samples_to_duration};

const MOUTH: &str = "salon_bench_mouth";
const EAR: &str = "salon_bench_ear";

/// The two sinks, the speech player and the two recorders.
#[derive(Debug)]
pub(crate) struct Rig {
    _modules: Modules,
    mouth: DeviceId,
    mouth_monitor: DeviceId,
    ear: DeviceId,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<anyhow::Result<Recording>>>,
    queue_delays: Arc<Mutex<Vec<u64>>>,
}

/// One recorded stream.
#[derive(Debug, Default)]
struct Recording {
    samples: Vec<f32>,
    /// Earliest `read time - samples before / rate`: the instant of sample 0.
    origin: Option<Instant>,
}

/// What the rig heard.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) spoken: Timeline,
    pub(crate) played: Timeline,
    pub(crate) output_queue_ms: f64,
}

fn pactl(args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("pactl")
        .args(args)
        .output()
        .context("cannot run pactl (Debian package pulseaudio-utils)")?;
    if !output.status.success() {
        bail!(
            "pactl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn find(name: &str, direction: Direction) -> anyhow::Result<DeviceId> {
    list_devices()?
        .into_iter()
        .find(|d| d.direction == direction && d.id.name() == name)
        .map(|d| d.id)
        .with_context(|| format!("no {direction:?} device {name} (is PulseAudio running?)"))
}

impl Rig {
    /// Loads the sinks, starts playing `signal` (looped) into the mouth and recording
    /// both monitors.
    pub(crate) fn start(signal: &Path) -> anyhow::Result<Rig> {
        pactl(&["info"]).context("no PulseAudio server to talk to")?;
        let mut modules = Modules(Vec::new());
        for sink in [MOUTH, EAR] {
            modules.0.push(pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={sink}"),
                "rate=48000",
                "channels=1",
            ])?);
        }
        let ear_monitor = find(&format!("{EAR}.monitor"), Direction::Input)?;
        let mut rig = Rig {
            _modules: modules,
            mouth: find(MOUTH, Direction::Output)?,
            mouth_monitor: find(&format!("{MOUTH}.monitor"), Direction::Input)?,
            ear: find(EAR, Direction::Output)?,
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            queue_delays: Arc::default(),
        };

        let mut file = WavSource::open(signal, Pacing::AsFastAsPossible, true)?;
        let mut player = Playback::open(StreamOptions::on(Some(rig.mouth.clone())))?;
        let stop = Arc::clone(&rig.stop);
        rig.threads.push(std::thread::spawn(move || {
            let mut chunk = vec![0.0; SAMPLE_RATE as usize / 100];
            while !stop.load(Ordering::Relaxed) {
                while player.free() >= chunk.len() {
                    let n = file.read(&mut chunk);
                    player.write(&chunk[..n]);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(Recording::default())
        }));
        for device in [rig.mouth_monitor.clone(), ear_monitor] {
            let capture = Capture::open(StreamOptions::on(Some(device)))?;
            let stop = Arc::clone(&rig.stop);
            rig.threads
                .push(std::thread::spawn(move || record(capture, &stop)));
        }
        Ok(rig)
    }

    /// The speaker's microphone: the mouth sink's monitor.
    pub(crate) fn mic(&self) -> anyhow::Result<Capture> {
        Ok(Capture::open(StreamOptions::on(Some(
            self.mouth_monitor.clone(),
        )))?)
    }

    /// The listener's speaker: the ear sink, reporting its queue at each write.
    pub(crate) fn ear(&self) -> anyhow::Result<QueueWatch> {
        Ok(QueueWatch {
            inner: Playback::open(StreamOptions::on(Some(self.ear.clone())))?,
            delays: Arc::clone(&self.queue_delays),
        })
    }

    /// Stops, unloads the sinks, and hands over both recordings.
    pub(crate) fn finish(mut self) -> anyhow::Result<Recorded> {
        self.stop.store(true, Ordering::Relaxed);
        let mut recordings = Vec::new();
        for thread in self.threads.drain(..) {
            recordings.push(
                thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("a device thread panicked"))??,
            );
        }
        let (Some(played), Some(spoken)) = (recordings.pop(), recordings.pop()) else {
            bail!("recordings missing");
        };
        let timeline = |r: Recording| -> anyhow::Result<Timeline> {
            let origin = r.origin.context("a monitor recorded nothing")?;
            Ok(Timeline {
                samples: r.samples,
                chunks: vec![(0, origin)],
            })
        };
        let mut delays = std::mem::take(
            &mut *self
                .queue_delays
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let output_queue_ms = if delays.is_empty() {
            0.0
        } else {
            let mid = delays.len() / 2;
            *delays.select_nth_unstable(mid).1 as f64 / 1000.0
        };
        Ok(Recorded {
            spoken: timeline(spoken)?,
            played: timeline(played)?,
            output_queue_ms,
        })
    }
}

/// The null sinks this rig loaded; unloaded when dropped.
#[derive(Debug)]
struct Modules(Vec<String>);

impl Drop for Modules {
    fn drop(&mut self) {
        for module in self.0.drain(..) {
            let _ = pactl(&["unload-module", &module]);
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn record(mut capture: Capture, stop: &AtomicBool) -> anyhow::Result<Recording> {
    if (capture.sample_rate(), capture.channels()) != (SAMPLE_RATE, 1) {
        bail!(
            "monitor opened at {} Hz × {} channels, not 48 kHz mono",
            capture.sample_rate(),
            capture.channels()
        );
    }
    let mut recording = Recording::default();
    let mut chunk = vec![0.0; SAMPLE_RATE as usize / 10];
    while !stop.load(Ordering::Relaxed) {
        let n = capture.read(&mut chunk);
        let now = Instant::now();
        if n > 0 {
            recording.samples.extend_from_slice(&chunk[..n]);
            // The newest sample arrived by now; sample 0 `len` samples before it.
            let origin = now
                .checked_sub(samples_to_duration(recording.samples.len()))
                .unwrap_or(now);
            recording.origin = Some(recording.origin.map_or(origin, |o| o.min(origin)));
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(recording)
}

/// A playback stream that notes how much was queued ahead of each write.
#[derive(Debug)]
pub(crate) struct QueueWatch {
    inner: Playback,
    delays: Arc<Mutex<Vec<u64>>>,
}

impl AudioSink for QueueWatch {
    fn write(&mut self, samples: &[f32]) -> usize {
        let queued = self.inner.queued();
        let n = self.inner.write(samples);
        // Silence written while nobody speaks is not counted.
        if samples[..n].iter().any(|&x| x != 0.0) {
            let delay = samples_to_duration(queued / usize::from(self.inner.channels().max(1)));
            self.delays
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(delay.as_micros() as u64);
        }
        n
    }

    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    fn channels(&self) -> u16 {
        self.inner.channels()
    }

    fn queued_frames(&mut self) -> Option<usize> {
        self.inner.queued_frames()
    }
}
