//! Choosing a stream configuration on a device: the rate and channel count asked for when
//! the device offers them, `f32` samples when it can (anything else is converted in the
//! callback), and a fixed small buffer, never the backend's default.

use std::time::Duration;

use cpal::{SampleFormat, SupportedBufferSize, SupportedStreamConfig, SupportedStreamConfigRange};

/// Sample formats the callbacks convert, best first. `f32` needs no conversion.
const FORMATS: &[SampleFormat] = &[
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::F64,
    SampleFormat::I16,
    SampleFormat::U16,
    SampleFormat::U32,
    SampleFormat::I8,
    SampleFormat::U8,
];

/// What to ask the device for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamChoice {
    /// Rate and channels (its `buffer_size` is the first of `buffers`).
    pub(crate) config: cpal::StreamConfig,
    pub(crate) sample_format: SampleFormat,
    /// Fixed buffer sizes in frames to try in order: one when the device reports its
    /// range, a few growing ones when it does not.
    pub(crate) buffers: Vec<u32>,
}

/// Picks the configuration closest to `sample_rate` × `channels` in `f32` with about
/// `buffer` of audio per callback, or `None` when no range uses a convertible format.
pub(crate) fn choose_stream(
    ranges: &[SupportedStreamConfigRange],
    native: Option<&SupportedStreamConfig>,
    sample_rate: u32,
    channels: u16,
    buffer: Duration,
) -> Option<StreamChoice> {
    let native_channels = native.map(SupportedStreamConfig::channels);
    let best = ranges
        .iter()
        .filter_map(|range| {
            let rank = FORMATS.iter().position(|&f| f == range.sample_format())?;
            let channel_penalty = if range.channels() == channels {
                0
            } else if Some(range.channels()) == native_channels {
                1
            } else {
                2 + u32::from(range.channels().abs_diff(channels))
            };
            Some((
                (!range.contains_rate(sample_rate), channel_penalty, rank),
                range,
            ))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, range)| range)?;

    let rate = if best.contains_rate(sample_rate) {
        sample_rate
    } else {
        match native.map(SupportedStreamConfig::sample_rate) {
            Some(native_rate) if best.contains_rate(native_rate) => native_rate,
            _ => sample_rate.clamp(best.min_sample_rate(), best.max_sample_rate()),
        }
    };
    let frames = frames_for(rate, buffer);
    let buffers = match *best.buffer_size() {
        SupportedBufferSize::Range { min, max } => vec![frames.clamp(min, max.max(min))],
        SupportedBufferSize::Unknown => vec![frames, frames * 2, frames * 4],
    };
    Some(StreamChoice {
        config: cpal::StreamConfig {
            channels: best.channels(),
            sample_rate: rate,
            buffer_size: cpal::BufferSize::Fixed(buffers[0]),
        },
        sample_format: best.sample_format(),
        buffers,
    })
}

/// Frames in `duration` at `rate`, at least one.
pub(crate) fn frames_for(rate: u32, duration: Duration) -> u32 {
    let frames = u128::from(rate) * duration.as_micros() / 1_000_000;
    u32::try_from(frames).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(
        channels: u16,
        rates: (u32, u32),
        buffer: SupportedBufferSize,
        format: SampleFormat,
    ) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(channels, rates.0, rates.1, buffer, format)
    }

    const TEN_MS: Duration = Duration::from_millis(10);

    #[test]
    fn prefers_f32_at_the_asked_rate_and_channels() {
        let buffer = SupportedBufferSize::Range { min: 64, max: 8192 };
        let ranges = [
            range(2, (8_000, 192_000), buffer, SampleFormat::I16),
            range(1, (8_000, 192_000), buffer, SampleFormat::I16),
            range(1, (8_000, 192_000), buffer, SampleFormat::F32),
            range(2, (8_000, 192_000), buffer, SampleFormat::F32),
        ];
        let choice = choose_stream(&ranges, None, 48_000, 1, TEN_MS).unwrap();
        assert_eq!(choice.sample_format, SampleFormat::F32);
        assert_eq!(choice.config.channels, 1);
        assert_eq!(choice.config.sample_rate, 48_000);
        assert_eq!(choice.buffers, vec![480]);
        assert_eq!(choice.config.buffer_size, cpal::BufferSize::Fixed(480));
    }

    #[test]
    fn the_rate_beats_the_format_and_the_channels() {
        let buffer = SupportedBufferSize::Range { min: 64, max: 8192 };
        let ranges = [
            range(1, (44_100, 44_100), buffer, SampleFormat::F32),
            range(2, (48_000, 48_000), buffer, SampleFormat::I16),
        ];
        let choice = choose_stream(&ranges, None, 48_000, 1, TEN_MS).unwrap();
        assert_eq!(choice.sample_format, SampleFormat::I16);
        assert_eq!(choice.config.channels, 2);
        assert_eq!(choice.config.sample_rate, 48_000);
    }

    #[test]
    fn buffer_is_clamped_to_the_device_range() {
        let small = [range(
            2,
            (48_000, 48_000),
            SupportedBufferSize::Range {
                min: 1024,
                max: 4096,
            },
            SampleFormat::F32,
        )];
        let choice = choose_stream(&small, None, 48_000, 2, TEN_MS).unwrap();
        assert_eq!(choice.buffers, vec![1024], "the smallest the device allows");
    }

    #[test]
    fn unknown_buffer_range_tries_growing_fixed_sizes() {
        let ranges = [range(
            2,
            (44_100, 44_100),
            SupportedBufferSize::Unknown,
            SampleFormat::F32,
        )];
        let native =
            SupportedStreamConfig::new(2, 44_100, SupportedBufferSize::Unknown, SampleFormat::F32);
        let choice = choose_stream(&ranges, Some(&native), 48_000, 1, TEN_MS).unwrap();
        assert_eq!(choice.config.sample_rate, 44_100, "the device's own rate");
        assert_eq!(choice.buffers, vec![441, 882, 1764]);
    }

    #[test]
    fn no_convertible_format_means_no_choice() {
        let ranges = [range(
            2,
            (48_000, 48_000),
            SupportedBufferSize::Unknown,
            SampleFormat::U64,
        )];
        assert_eq!(choose_stream(&ranges, None, 48_000, 2, TEN_MS), None);
    }
}
