//! Audio devices: what exists, how to name it across runs, and how to pick a stream
//! configuration on it.
//!
//! A device is named by its [`DeviceId`] (host + the host's own stable name), never by its
//! position in a list or its display name, so a choice saved in the settings still means
//! the same device after a restart or a replug.

mod config;
mod host;
mod id;

use std::fmt;

use cpal::traits::{DeviceTrait as _, HostTrait as _};

pub(crate) use config::{StreamChoice, choose_stream, frames_for};
pub(crate) use host::{default_device, device_ids, find_device, open_host};
pub use id::DeviceId;

use crate::error::DeviceError;

/// Which way audio flows through a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Capture: a microphone, a line in, a monitor of an output.
    Input,
    /// Playback: speakers, headphones.
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// A device's native format, as the host reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFormat {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// How one sample is stored.
    pub sample_format: cpal::SampleFormat,
}

/// One device, as listed by [`list_devices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable across runs: save it, and open the device with it later.
    pub id: DeviceId,
    /// The name to show a person (not unique: two sinks may both be "Null Output").
    pub name: String,
    /// Input or output. A device that does both is listed once per direction.
    pub direction: Direction,
    /// Whether the system uses this device by default in this direction.
    pub is_default: bool,
    /// The device's native format, when the host could tell.
    pub default_config: Option<DeviceFormat>,
}

/// Every input and output device of the audio host, inputs first.
///
/// Opens a fresh connection to the host each time (cheap on PulseAudio); call it when a
/// settings screen opens, not in a loop: streams watch their own devices.
pub fn list_devices() -> Result<Vec<DeviceInfo>, DeviceError> {
    let host = open_host();
    let mut list = Vec::new();
    for direction in [Direction::Input, Direction::Output] {
        let default = default_device(&host, direction).and_then(|d| DeviceId::of(&d).ok());
        let devices = match direction {
            Direction::Input => host.input_devices().map(|d| d.collect::<Vec<_>>()),
            Direction::Output => host.output_devices().map(|d| d.collect::<Vec<_>>()),
        }
        .map_err(DeviceError::List)?;
        for device in devices {
            let Ok(id) = DeviceId::of(&device) else {
                continue;
            };
            let name = device
                .description()
                .map(|d| d.name().to_owned())
                .unwrap_or_else(|_| id.name().to_owned());
            let native = match direction {
                Direction::Input => device.default_input_config(),
                Direction::Output => device.default_output_config(),
            };
            list.push(DeviceInfo {
                is_default: default.as_ref() == Some(&id),
                id,
                name,
                direction,
                default_config: native.ok().map(|c| DeviceFormat {
                    sample_rate: c.sample_rate(),
                    channels: c.channels(),
                    sample_format: c.sample_format(),
                }),
            });
        }
    }
    Ok(list)
}
