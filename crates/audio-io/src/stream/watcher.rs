//! The watcher: one thread per stream, never the audio thread, that keeps the stream on
//! the right device.
//!
//! Every [`TICK`] it reads the stream's health atomics (a cpal error, or callbacks that
//! stopped coming); every [`POLL`] (and at once after a failure) it lists the devices and
//! asks [`plan`] where the stream belongs. Moving means: open the new stream with a fresh
//! ring, send the handle its end of that ring (the handle adopts it at its next call, so
//! its users never see a gap in the API), publish the event, and drop the old stream on a
//! throwaway thread so that a backend slow to tear down cannot stall the watcher.

use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::build::{OpenFn, Opened};
use super::counters::{Counters, StreamHealth};
use super::events::EventHub;
use super::plan::{Plan, Situation, plan};
use super::{DeviceEvent, StreamFormat, StreamOptions, StreamState, StreamStatus};
use crate::device::{DeviceId, Direction, default_device, device_ids, find_device, open_host};
use crate::error::DeviceError;

/// How often the health atomics are read.
const TICK: Duration = Duration::from_millis(50);
/// How often the device list is read.
const POLL: Duration = Duration::from_millis(500);
/// A stream whose callbacks stop for this long counts as dead (a server may drop a
/// stream without an error). Generous: the first second of a stream can be quiet.
const STALL: Duration = Duration::from_secs(3);

/// The handle's end of a newly opened ring, and the format of what flows through it.
pub(crate) struct Attachment<End> {
    pub(crate) end: End,
    pub(crate) format: StreamFormat,
}

/// What the watcher and the handle share besides the ring.
#[derive(Debug)]
pub(crate) struct Shared {
    status: Mutex<StreamStatus>,
    pub(crate) events: EventHub,
    pub(crate) counters: Arc<Counters>,
}

impl Shared {
    pub(crate) fn status(&self) -> StreamStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_status(&self, status: StreamStatus) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }
}

/// The handle's side of the watcher: stops and joins it when dropped.
#[derive(Debug)]
pub(crate) struct WatcherLink<End> {
    pub(crate) attachments: mpsc::Receiver<Attachment<End>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) events: mpsc::Receiver<DeviceEvent>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl<End> WatcherLink<End> {
    /// The newest attachment the watcher sent, if any.
    pub(crate) fn latest(&self) -> Option<Attachment<End>> {
        self.attachments.try_iter().last()
    }
}

impl<End> Drop for WatcherLink<End> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<End> std::fmt::Debug for Attachment<End> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Starts the watcher, which opens the first stream before this returns.
pub(crate) fn start<End: Send + 'static>(
    direction: Direction,
    options: StreamOptions,
    open: OpenFn<End>,
) -> Result<(WatcherLink<End>, Attachment<End>), DeviceError> {
    let counters = Arc::new(Counters::default());
    let shared = Arc::new(Shared {
        status: Mutex::new(StreamStatus {
            state: StreamState::NoDevice,
            device: None,
            format: None,
            reopens: 0,
        }),
        events: EventHub::default(),
        counters,
    });
    let events = shared.events.subscribe();
    let (attach_tx, attachments) = mpsc::channel();
    let (stop, stop_rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::sync_channel(1);
    let name = match direction {
        Direction::Input => "salon-capture-watch",
        Direction::Output => "salon-playback-watch",
    };
    let thread_shared = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut watcher = Watcher {
                direction,
                options,
                open,
                shared: thread_shared,
                attachments: attach_tx,
                host: open_host(),
                live: None,
                last_device: None,
                on_fallback: None,
                last_poll: Instant::now(),
                last_error: None,
                opened: 0,
            };
            match watcher.first_open() {
                Ok(first) => {
                    let _ = ready_tx.send(Ok(first));
                    watcher.run(&stop_rx);
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            }
        })
        .map_err(|error| DeviceError::Thread(name, error))?;
    let first = ready.recv().map_err(|_| DeviceError::ThreadDied(name));
    let first = match first {
        Ok(Ok(first)) => first,
        Ok(Err(error)) | Err(error) => {
            let _ = thread.join();
            return Err(error);
        }
    };
    let link = WatcherLink {
        attachments,
        shared,
        events,
        stop: Some(stop),
        thread: Some(thread),
    };
    Ok((link, first))
}

/// A running stream.
struct Live {
    stream: cpal::Stream,
    device: DeviceId,
    format: StreamFormat,
    health: Arc<StreamHealth>,
    seen_callbacks: u64,
    progress_at: Instant,
}

struct Watcher<End> {
    direction: Direction,
    options: StreamOptions,
    open: OpenFn<End>,
    shared: Arc<Shared>,
    attachments: mpsc::Sender<Attachment<End>>,
    host: cpal::Host,
    live: Option<Live>,
    /// The device of the live stream, or of the last one that died.
    last_device: Option<DeviceId>,
    /// The default device in use while the wanted one is away.
    on_fallback: Option<DeviceId>,
    last_poll: Instant,
    /// The last error published, so a device that keeps failing is reported once.
    last_error: Option<String>,
    /// Streams opened so far.
    opened: u64,
}

impl<End> Watcher<End> {
    /// Opens where [`plan`] says and returns the handle's first attachment.
    fn first_open(&mut self) -> Result<Attachment<End>, DeviceError> {
        let present = device_ids(&self.host, self.direction).map_err(DeviceError::List)?;
        let default = self.default_id();
        match plan(&self.situation(&present, default.as_ref())) {
            Plan::Keep | Plan::NoDevice => Err(DeviceError::NoDevice(self.direction)),
            Plan::Open {
                device,
                event,
                on_fallback,
            } => {
                let opened = self.open_on(&device)?;
                let first = Attachment {
                    end: opened.end,
                    format: opened.format,
                };
                self.go_live(
                    device,
                    opened.stream,
                    opened.format,
                    opened.health,
                    on_fallback,
                );
                if let Some(event) = event {
                    self.shared.events.publish(event);
                }
                Ok(first)
            }
        }
    }

    fn run(&mut self, stop: &mpsc::Receiver<()>) {
        // A message or a hung-up handle both mean stop.
        while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(TICK) {
            let died = self.check_health();
            if died || self.last_poll.elapsed() >= POLL {
                self.poll();
            }
        }
    }

    /// Retires a stream that failed or stalled; true if it did.
    fn check_health(&mut self) -> bool {
        let Some(live) = &mut self.live else {
            return false;
        };
        let problem = if let Some(failure) = live.health.failure() {
            Some(format!("the stream failed: {failure}"))
        } else {
            let callbacks = live.health.callbacks();
            if callbacks != live.seen_callbacks {
                live.seen_callbacks = callbacks;
                live.progress_at = Instant::now();
                None
            } else if live.progress_at.elapsed() >= STALL {
                Some(format!(
                    "the stream delivered nothing for {} s",
                    STALL.as_secs()
                ))
            } else {
                None
            }
        };
        let Some(message) = problem else {
            return false;
        };
        if let Some(live) = self.live.take() {
            self.report_error(Some(live.device.clone()), message);
            retire(live.stream);
        }
        self.publish_status();
        true
    }

    fn poll(&mut self) {
        self.last_poll = Instant::now();
        let present = match device_ids(&self.host, self.direction) {
            Ok(present) => present,
            Err(error) => {
                self.report_error(None, format!("could not list the devices: {error}"));
                // The server may have restarted: reconnect for the next poll.
                self.host = open_host();
                return;
            }
        };
        let default = self.default_id();
        match plan(&self.situation(&present, default.as_ref())) {
            Plan::Keep => {}
            Plan::NoDevice => {
                if self.live.is_none() {
                    let message = format!("no {} device is available", self.direction);
                    self.report_error(None, message);
                }
            }
            Plan::Open {
                device,
                event,
                on_fallback,
            } => match self.open_on(&device) {
                Ok(opened) => {
                    let _ = self.attachments.send(Attachment {
                        end: opened.end,
                        format: opened.format,
                    });
                    self.go_live(
                        device,
                        opened.stream,
                        opened.format,
                        opened.health,
                        on_fallback,
                    );
                    if let Some(event) = event {
                        self.shared.events.publish(event);
                    }
                }
                Err(error) => self.report_error(Some(device), error_chain(&error)),
            },
        }
    }

    fn situation<'a>(
        &'a self,
        present: &'a [DeviceId],
        default: Option<&'a DeviceId>,
    ) -> Situation<'a> {
        Situation {
            wanted: self.options.device.as_ref(),
            last: self.last_device.as_ref(),
            alive: self.live.is_some(),
            on_fallback: self.on_fallback.as_ref(),
            present,
            default,
        }
    }

    fn default_id(&self) -> Option<DeviceId> {
        default_device(&self.host, self.direction).and_then(|d| DeviceId::of(&d).ok())
    }

    /// Opens on a connection of its own: PulseAudio refuses a client a second playback
    /// stream on another sink while its first one lives (they share a sync group), and
    /// the old stream is still playing while the new one starts.
    fn open_on(&self, id: &DeviceId) -> Result<Opened<End>, DeviceError> {
        let host = open_host();
        let device =
            find_device(&host, self.direction, id).ok_or(DeviceError::NoDevice(self.direction))?;
        (self.open)(&device, id, &self.options, &self.shared.counters)
    }

    fn go_live(
        &mut self,
        device: DeviceId,
        stream: cpal::Stream,
        format: StreamFormat,
        health: Arc<StreamHealth>,
        on_fallback: Option<DeviceId>,
    ) {
        let old = self.live.replace(Live {
            stream,
            device: device.clone(),
            format,
            health,
            seen_callbacks: 0,
            progress_at: Instant::now(),
        });
        if let Some(old) = old {
            retire(old.stream);
        }
        self.last_device = Some(device);
        self.on_fallback = on_fallback;
        self.last_error = None;
        self.opened += 1;
        self.publish_status();
    }

    fn publish_status(&self) {
        let state = match (&self.live, &self.on_fallback) {
            (None, _) => StreamState::NoDevice,
            (Some(_), Some(_)) => StreamState::FallenBack,
            (Some(_), None) => StreamState::Running,
        };
        self.shared.set_status(StreamStatus {
            state,
            device: self.live.as_ref().map(|live| live.device.clone()),
            format: self.live.as_ref().map(|live| live.format),
            reopens: self.opened.saturating_sub(1),
        });
    }

    fn report_error(&mut self, device: Option<DeviceId>, message: String) {
        if self.last_error.as_ref() == Some(&message) {
            return;
        }
        tracing::warn!(device = ?device.as_ref().map(ToString::to_string), "{message}");
        self.last_error = Some(message.clone());
        self.shared
            .events
            .publish(DeviceEvent::Error { device, message });
    }
}

/// Drops a stream off the watcher thread: some backends join their own threads on drop.
/// (If no thread can be started, the closure and the stream are dropped right here.)
fn retire(stream: cpal::Stream) {
    let _ = std::thread::Builder::new()
        .name("salon-audio-retire".into())
        .spawn(move || drop(stream));
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
