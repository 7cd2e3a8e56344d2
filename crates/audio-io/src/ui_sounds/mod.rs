//! [`UiSounds`]: short chimes for room events, played through rodio on the output device.
//!
//! A dedicated thread owns the rodio output (opened with a fixed 20 ms buffer, like every
//! stream here) and plays what [`UiSounds::play`] sends it, so the UI thread never waits
//! for a device. When the output fails it is reopened for the next sound, on the chosen
//! device if it exists, else on the default one.

mod chimes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::DeviceTrait as _;

use crate::device::{DeviceId, Direction, choose_stream, default_device, find_device, open_host};
use crate::error::DeviceError;

/// A room event worth a sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sound {
    /// Someone joined the room.
    Joined,
    /// Someone left the room.
    Left,
    /// Someone raised a hand.
    HandRaised,
    /// You were invited to speak.
    InvitedToSpeak,
}

/// Sounds waiting to play; beyond this a new one is dropped rather than block the caller.
const QUEUE: usize = 16;
/// The output buffer: UI sounds need no lower latency than this.
const BUFFER: Duration = Duration::from_millis(20);

/// Plays [`Sound`]s without blocking the caller.
#[derive(Debug)]
pub struct UiSounds {
    queue: Option<mpsc::SyncSender<Sound>>,
    thread: Option<JoinHandle<()>>,
}

impl UiSounds {
    /// Opens the output on `device` (`None`: the system default; an unknown id falls back
    /// to the default) on a thread of its own.
    pub fn open(device: Option<DeviceId>) -> Result<Self, DeviceError> {
        let (queue, sounds) = mpsc::sync_channel(QUEUE);
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("salon-ui-sounds".into())
            .spawn(move || {
                let mut output = Output {
                    host: open_host(),
                    wanted: device,
                    sink: None,
                };
                let opened = output.ensure_open();
                let ok = opened.is_ok();
                let _ = ready_tx.send(opened);
                if ok {
                    output.serve(&sounds);
                }
            })
            .map_err(|error| DeviceError::Thread("UI sounds", error))?;
        match ready.recv() {
            Ok(Ok(())) => Ok(Self {
                queue: Some(queue),
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(DeviceError::ThreadDied("UI sounds")),
        }
    }

    /// Starts playing `sound` and returns at once. Sounds overlap; if the player is far
    /// behind (16 waiting) the sound is skipped.
    pub fn play(&self, sound: Sound) {
        if let Some(queue) = &self.queue {
            let _ = queue.try_send(sound);
        }
    }
}

impl Drop for UiSounds {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The rodio output and what is needed to reopen it.
struct Output {
    host: cpal::Host,
    wanted: Option<DeviceId>,
    sink: Option<(rodio::MixerDeviceSink, Arc<AtomicBool>)>,
}

impl Output {
    fn serve(&mut self, sounds: &mpsc::Receiver<Sound>) {
        while let Ok(sound) = sounds.recv() {
            if let Err(error) = self.ensure_open() {
                tracing::warn!(%error, "no output for UI sounds");
                continue;
            }
            if let Some((sink, _)) = &self.sink {
                sink.mixer().add(chimes::chime(sound));
            }
        }
    }

    fn ensure_open(&mut self) -> Result<(), DeviceError> {
        if let Some((_, failed)) = &self.sink {
            if !failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.sink = None;
            self.host = open_host();
        }
        let device = self
            .wanted
            .as_ref()
            .and_then(|id| find_device(&self.host, Direction::Output, id))
            .or_else(|| default_device(&self.host, Direction::Output))
            .ok_or(DeviceError::NoDevice(Direction::Output))?;
        let id = DeviceId::of(&device).map_err(DeviceError::List)?;
        let ranges: Vec<_> = device
            .supported_output_configs()
            .map_err(|source| DeviceError::Open {
                device: id.clone(),
                source,
            })?
            .collect();
        let native = device.default_output_config().ok();
        let choice = choose_stream(&ranges, native.as_ref(), 48_000, 2, BUFFER)
            .ok_or_else(|| DeviceError::NoUsableConfig(id.clone()))?;
        let failed = Arc::new(AtomicBool::new(false));
        let on_error = {
            let failed = Arc::clone(&failed);
            move |error: cpal::Error| {
                if !matches!(
                    error.kind(),
                    cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged
                ) {
                    failed.store(true, Ordering::Relaxed);
                }
            }
        };
        let mut sink = rodio::DeviceSinkBuilder::default()
            .with_device(device)
            .with_config(&choice.config)
            .with_sample_format(choice.sample_format)
            .with_error_callback(on_error)
            .open_stream()
            .map_err(|source| DeviceError::Sounds {
                device: id.clone(),
                source,
            })?;
        sink.log_on_drop(false);
        tracing::debug!(device = %id, "UI sounds output open");
        self.sink = Some((sink, failed));
        Ok(())
    }
}
