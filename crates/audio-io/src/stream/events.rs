//! Device events: what the watcher did about devices coming and going, told to every
//! subscriber over its own channel (and to the handle's polling method).

use std::sync::{Mutex, mpsc};

use crate::device::DeviceId;

/// Something happened to the device under a [`Capture`](super::Capture) or
/// [`Playback`](super::Playback). The stream keeps running through all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// The device in use disappeared (or the chosen id was unknown at open), and the
    /// stream now runs on the default device.
    FellBackToDefault {
        /// The device that went away (the chosen one, or the old default).
        lost: DeviceId,
        /// The default device streaming now.
        now: DeviceId,
    },
    /// The chosen device came back and the stream moved back to it.
    Returned {
        /// The chosen device.
        device: DeviceId,
    },
    /// The stream follows the system default, which changed: it moved to the new one.
    DefaultChanged {
        /// The new default device.
        now: DeviceId,
    },
    /// A stream failed, stalled or could not be opened; the watcher keeps retrying.
    Error {
        /// The device concerned, when there is one.
        device: Option<DeviceId>,
        /// What went wrong, for a log or a tooltip.
        message: String,
    },
}

/// Every subscriber's sender; a subscriber that hung up is forgotten at the next event.
#[derive(Debug, Default)]
pub(crate) struct EventHub {
    subscribers: Mutex<Vec<mpsc::Sender<DeviceEvent>>>,
}

impl EventHub {
    pub(crate) fn subscribe(&self) -> mpsc::Receiver<DeviceEvent> {
        let (tx, rx) = mpsc::channel();
        self.lock().push(tx);
        rx
    }

    pub(crate) fn publish(&self, event: DeviceEvent) {
        tracing::info!(?event, "audio device event");
        self.lock()
            .retain(|subscriber| subscriber.send(event.clone()).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::Sender<DeviceEvent>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
