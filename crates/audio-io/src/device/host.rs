//! Finding devices on the audio host.

use cpal::traits::HostTrait as _;

use super::{DeviceId, Direction};

/// The audio host: PulseAudio (also PipeWire's PulseAudio server) when its socket is
/// found through `PULSE_SERVER` or `XDG_RUNTIME_DIR`, ALSA otherwise.
pub(crate) fn open_host() -> cpal::Host {
    cpal::default_host()
}

/// The system's default device for `direction`, if any.
pub(crate) fn default_device(host: &cpal::Host, direction: Direction) -> Option<cpal::Device> {
    match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    }
}

/// The ids of every device that can stream in `direction`.
pub(crate) fn device_ids(
    host: &cpal::Host,
    direction: Direction,
) -> Result<Vec<DeviceId>, cpal::Error> {
    let devices: Vec<cpal::Device> = match direction {
        Direction::Input => host.input_devices()?.collect(),
        Direction::Output => host.output_devices()?.collect(),
    };
    Ok(devices
        .iter()
        .filter_map(|d| DeviceId::of(d).ok())
        .collect())
}

/// The device named `id` that can stream in `direction`.
pub(crate) fn find_device(
    host: &cpal::Host,
    direction: Direction,
    id: &DeviceId,
) -> Option<cpal::Device> {
    let devices: Vec<cpal::Device> = match direction {
        Direction::Input => host.input_devices().ok()?.collect(),
        Direction::Output => host.output_devices().ok()?.collect(),
    };
    devices
        .into_iter()
        .find(|d| DeviceId::of(d).is_ok_and(|found| &found == id))
}
