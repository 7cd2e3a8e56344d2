//! The watcher's decision, kept free of devices and threads so every case is a unit
//! test: given the chosen device, what is streaming, and what exists now, which device
//! should the stream be on, and what should its users be told?

use super::DeviceEvent;
use crate::device::DeviceId;

/// What the watcher knows at one poll.
#[derive(Debug)]
pub(crate) struct Situation<'a> {
    /// The device asked for; `None` follows the system default.
    pub(crate) wanted: Option<&'a DeviceId>,
    /// The device of the live stream, or of the stream that just died.
    pub(crate) last: Option<&'a DeviceId>,
    /// Whether a stream is running on `last`.
    pub(crate) alive: bool,
    /// The default device the stream fell back to, while the wanted one is away.
    pub(crate) on_fallback: Option<&'a DeviceId>,
    /// Every device of the stream's direction that exists now.
    pub(crate) present: &'a [DeviceId],
    /// The system default device now.
    pub(crate) default: Option<&'a DeviceId>,
}

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The stream is where it should be.
    Keep,
    /// Nowhere to go: neither the wanted device nor a default exists.
    NoDevice,
    /// (Re)open on `device`; once that works, publish `event` and remember `on_fallback`.
    Open {
        device: DeviceId,
        event: Option<DeviceEvent>,
        on_fallback: Option<DeviceId>,
    },
}

pub(crate) fn plan(s: &Situation<'_>) -> Plan {
    let wanted_present = s.wanted.filter(|w| s.present.contains(w));
    let Some(target) = wanted_present.or(s.default) else {
        return Plan::NoDevice;
    };
    if s.alive && s.last == Some(target) {
        return Plan::Keep;
    }
    let event = match s.wanted {
        Some(wanted) if wanted == target => s.on_fallback.map(|_| DeviceEvent::Returned {
            device: wanted.clone(),
        }),
        Some(wanted) => (s.on_fallback != Some(target)).then(|| DeviceEvent::FellBackToDefault {
            lost: wanted.clone(),
            now: target.clone(),
        }),
        None => match s.last {
            Some(last) if last != target && s.present.contains(last) => {
                Some(DeviceEvent::DefaultChanged {
                    now: target.clone(),
                })
            }
            Some(last) if last != target => Some(DeviceEvent::FellBackToDefault {
                lost: last.clone(),
                now: target.clone(),
            }),
            _ => None,
        },
    };
    let on_fallback = match s.wanted {
        Some(wanted) if wanted != target => Some(target.clone()),
        _ => None,
    };
    Plan::Open {
        device: target.clone(),
        event,
        on_fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> DeviceId {
        format!("pulseaudio:{name}").parse().unwrap()
    }

    fn open(device: &DeviceId, event: Option<DeviceEvent>, fallback: Option<&DeviceId>) -> Plan {
        Plan::Open {
            device: device.clone(),
            event,
            on_fallback: fallback.cloned(),
        }
    }

    #[test]
    fn the_chosen_device_is_lost_then_returns() {
        let (mic, default) = (id("usb_mic"), id("builtin"));
        let both = [mic.clone(), default.clone()];
        let only_default = [default.clone()];
        let mut s = Situation {
            wanted: Some(&mic),
            last: Some(&mic),
            alive: true,
            on_fallback: None,
            present: &both,
            default: Some(&default),
        };
        assert_eq!(plan(&s), Plan::Keep);

        s.present = &only_default;
        let lost = DeviceEvent::FellBackToDefault {
            lost: mic.clone(),
            now: default.clone(),
        };
        assert_eq!(plan(&s), open(&default, Some(lost), Some(&default)));

        s.last = Some(&default);
        s.on_fallback = Some(&default);
        assert_eq!(plan(&s), Plan::Keep);

        s.present = &both;
        let back = DeviceEvent::Returned {
            device: mic.clone(),
        };
        assert_eq!(plan(&s), open(&mic, Some(back), None));
    }

    #[test]
    fn an_unknown_id_at_open_falls_back_to_the_default() {
        let (gone, default) = (id("gone"), id("builtin"));
        let present = [default.clone()];
        let s = Situation {
            wanted: Some(&gone),
            last: None,
            alive: false,
            on_fallback: None,
            present: &present,
            default: Some(&default),
        };
        let event = DeviceEvent::FellBackToDefault {
            lost: gone.clone(),
            now: default.clone(),
        };
        assert_eq!(plan(&s), open(&default, Some(event), Some(&default)));
    }

    #[test]
    fn a_failed_stream_reopens_on_the_same_device_quietly() {
        let mic = id("usb_mic");
        let present = [mic.clone()];
        let s = Situation {
            wanted: Some(&mic),
            last: Some(&mic),
            alive: false,
            on_fallback: None,
            present: &present,
            default: Some(&mic),
        };
        assert_eq!(plan(&s), open(&mic, None, None));
    }

    #[test]
    fn a_failed_fallback_stream_does_not_announce_the_fallback_twice() {
        let (mic, default) = (id("usb_mic"), id("builtin"));
        let present = [default.clone()];
        let s = Situation {
            wanted: Some(&mic),
            last: Some(&default),
            alive: false,
            on_fallback: Some(&default),
            present: &present,
            default: Some(&default),
        };
        assert_eq!(plan(&s), open(&default, None, Some(&default)));
    }

    #[test]
    fn following_the_default() {
        let (old, new) = (id("builtin"), id("headset"));
        let both = [old.clone(), new.clone()];
        let mut s = Situation {
            wanted: None,
            last: Some(&old),
            alive: true,
            on_fallback: None,
            present: &both,
            default: Some(&new),
        };
        let changed = DeviceEvent::DefaultChanged { now: new.clone() };
        assert_eq!(plan(&s), open(&new, Some(changed), None));

        let only_new = [new.clone()];
        s.present = &only_new;
        let lost = DeviceEvent::FellBackToDefault {
            lost: old.clone(),
            now: new.clone(),
        };
        assert_eq!(plan(&s), open(&new, Some(lost), None));
    }

    #[test]
    fn nothing_to_stream_on() {
        let mic = id("usb_mic");
        let s = Situation {
            wanted: Some(&mic),
            last: Some(&mic),
            alive: false,
            on_fallback: None,
            present: &[],
            default: None,
        };
        assert_eq!(plan(&s), Plan::NoDevice);
    }
}
