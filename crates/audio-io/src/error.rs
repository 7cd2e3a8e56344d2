//! The crate's errors, one enum per domain: devices and streams, and WAV files.

use std::path::PathBuf;

use crate::device::{DeviceId, Direction};

/// Why a device could not be listed, opened or started.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The audio host (PulseAudio, ALSA, …) did not list its devices.
    #[error("could not list the audio devices")]
    List(#[source] cpal::Error),
    /// Neither the chosen device nor a default one exists for this direction.
    #[error("no {0} device is available")]
    NoDevice(Direction),
    /// A string that is not a device id (`host:name`, as [`DeviceId`] prints itself).
    #[error("{0:?} is not a device id (expected `host:name`)")]
    InvalidId(String),
    /// The device offers no configuration this crate can stream with.
    #[error("{0} offers no usable stream configuration")]
    NoUsableConfig(DeviceId),
    /// The device refused every stream configuration tried.
    #[error("could not open a stream on {device}")]
    Open {
        /// The device.
        device: DeviceId,
        /// cpal's reason for the last configuration tried.
        #[source]
        source: cpal::Error,
    },
    /// The stream was built but would not start.
    #[error("could not start the stream on {device}")]
    Start {
        /// The device.
        device: DeviceId,
        /// cpal's reason.
        #[source]
        source: cpal::Error,
    },
    /// rodio could not open the output for the UI sounds.
    #[error("could not open {device} for UI sounds")]
    Sounds {
        /// The device.
        device: DeviceId,
        /// rodio's reason.
        #[source]
        source: rodio::DeviceSinkError,
    },
    /// The operating system would not start a thread.
    #[error("could not start the {0} thread")]
    Thread(&'static str, #[source] std::io::Error),
    /// A helper thread ended before it answered (it panicked).
    #[error("the {0} thread stopped unexpectedly")]
    ThreadDied(&'static str),
}

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file could not be opened or its header is not a WAV header.
    #[error("could not open {path} as WAV")]
    Open {
        /// The file.
        path: PathBuf,
        /// hound's reason.
        #[source]
        source: hound::Error,
    },
    /// The file could not be created.
    #[error("could not create {path}")]
    Create {
        /// The file.
        path: PathBuf,
        /// hound's reason.
        #[source]
        source: hound::Error,
    },
    /// Reading samples, seeking or writing failed part-way.
    #[error("WAV I/O failed")]
    Io(#[source] hound::Error),
    /// A format hound reads but this crate does not convert (e.g. 64-bit floats).
    #[error("unsupported WAV format: {0}")]
    Unsupported(String),
    /// A WAV spec with zero channels or a zero sample rate.
    #[error("a WAV stream needs at least one channel and a non-zero sample rate")]
    EmptyFormat,
    /// The operating system would not start the pacing thread.
    #[error("could not start the WAV pacing thread")]
    Thread(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors cross threads (the watcher reports them; callers box them).
    #[test]
    fn errors_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<DeviceError>();
        assert_send_sync::<WavError>();
    }
}
