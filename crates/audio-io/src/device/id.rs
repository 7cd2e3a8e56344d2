//! [`DeviceId`]: a device's name that survives restarts and replugs.

use std::fmt;
use std::str::FromStr;

use cpal::traits::DeviceTrait as _;

use crate::error::DeviceError;

/// A device's stable identity: the audio host plus the host's own name for the device
/// (a PulseAudio sink or source name such as `salon_sink.monitor`, an ALSA PCM name).
///
/// It prints as `host:name` and parses back from that, so it can be stored in settings.
/// Positions in a device list and display names are not identities: they change when
/// devices come and go, and two devices may share a display name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeviceId(cpal::DeviceId);

impl DeviceId {
    /// The id of a cpal device.
    pub(crate) fn of(device: &cpal::Device) -> Result<Self, cpal::Error> {
        device.id().map(Self)
    }

    /// The audio host's name, e.g. `pulseaudio` or `alsa`.
    pub fn host(&self) -> String {
        self.0.host().to_string()
    }

    /// The host's own name for the device, e.g. `salon_sink.monitor`.
    pub fn name(&self) -> &str {
        self.0.id()
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({self})")
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for DeviceId {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<cpal::DeviceId>()
            .map(Self)
            .map_err(|_| DeviceError::InvalidId(s.to_owned()))
    }
}
