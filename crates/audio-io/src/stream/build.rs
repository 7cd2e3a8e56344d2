//! Building one cpal stream on one device: choose the configuration, make a fresh ring,
//! hand one end to the callback and return the other, start the stream.

use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait as _, StreamTrait as _};
use cpal::{ErrorKind, SampleFormat};
use rtrb::{Consumer, Producer, RingBuffer};

use super::callback::{CaptureCallback, PlaybackCallback};
use super::counters::{Counters, StreamHealth, on_stream_error};
use super::{StreamFormat, StreamOptions};
use crate::device::{DeviceId, StreamChoice, choose_stream};
use crate::error::DeviceError;

/// How long cpal may take to create a stream before the device counts as unavailable
/// (a hung audio server must not hang the watcher).
const BUILD_TIMEOUT: Duration = Duration::from_secs(2);

/// A started stream and the handle's end of its ring.
pub(crate) struct Opened<End> {
    pub(crate) stream: cpal::Stream,
    pub(crate) end: End,
    pub(crate) format: StreamFormat,
    pub(crate) health: Arc<StreamHealth>,
}

/// Opens a stream of either direction on a device; the watcher is generic over it.
pub(crate) type OpenFn<End> = fn(
    &cpal::Device,
    &DeviceId,
    &StreamOptions,
    &Arc<Counters>,
) -> Result<Opened<End>, DeviceError>;

/// A capture stream; the handle gets the ring's consumer.
pub(crate) fn open_input(
    device: &cpal::Device,
    id: &DeviceId,
    options: &StreamOptions,
    counters: &Arc<Counters>,
) -> Result<Opened<Consumer<f32>>, DeviceError> {
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|source| open_error(id, source))?
        .collect();
    let native = device.default_input_config().ok();
    let choice = choose(id, &ranges, native.as_ref(), options)?;
    try_buffers(id, &choice, options, |config, capacity| {
        let (producer, consumer) = RingBuffer::new(capacity);
        let health = Arc::new(StreamHealth::default());
        let callback = CaptureCallback {
            ring: producer,
            channels: usize::from(config.channels),
            counters: Arc::clone(counters),
            health: Arc::clone(&health),
        };
        let on_error = error_callback(counters, &health);
        let stream = build_input(device, config, choice.sample_format, callback, on_error)?;
        Ok((stream, consumer, health))
    })
}

/// A playback stream; the handle gets the ring's producer, the ring holds
/// [`StreamOptions::prefill`] of silence.
pub(crate) fn open_output(
    device: &cpal::Device,
    id: &DeviceId,
    options: &StreamOptions,
    counters: &Arc<Counters>,
) -> Result<Opened<Producer<f32>>, DeviceError> {
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|source| open_error(id, source))?
        .collect();
    let native = device.default_output_config().ok();
    let choice = choose(id, &ranges, native.as_ref(), options)?;
    try_buffers(id, &choice, options, |config, capacity| {
        let (mut producer, consumer) = RingBuffer::new(capacity);
        let channels = usize::from(config.channels);
        let prefill =
            crate::device::frames_for(config.sample_rate, options.prefill) as usize * channels;
        let silence = vec![0.0; prefill.min(capacity / 2 / channels * channels)];
        let _ = producer.push_partial_slice(&silence);
        let health = Arc::new(StreamHealth::default());
        let callback = PlaybackCallback {
            ring: consumer,
            channels,
            counters: Arc::clone(counters),
            health: Arc::clone(&health),
        };
        let on_error = error_callback(counters, &health);
        let stream = build_output(device, config, choice.sample_format, callback, on_error)?;
        Ok((stream, producer, health))
    })
}

fn choose(
    id: &DeviceId,
    ranges: &[cpal::SupportedStreamConfigRange],
    native: Option<&cpal::SupportedStreamConfig>,
    options: &StreamOptions,
) -> Result<StreamChoice, DeviceError> {
    choose_stream(
        ranges,
        native,
        options.sample_rate,
        options.channels,
        options.buffer,
    )
    .ok_or_else(|| DeviceError::NoUsableConfig(id.clone()))
}

/// Builds with each candidate buffer size until one works, then starts the stream.
fn try_buffers<End>(
    id: &DeviceId,
    choice: &StreamChoice,
    options: &StreamOptions,
    mut build: impl FnMut(
        cpal::StreamConfig,
        usize,
    ) -> Result<(cpal::Stream, End, Arc<StreamHealth>), cpal::Error>,
) -> Result<Opened<End>, DeviceError> {
    let mut last_error = cpal::Error::new(ErrorKind::UnsupportedConfig);
    for &frames in &choice.buffers {
        let config = cpal::StreamConfig {
            buffer_size: cpal::BufferSize::Fixed(frames),
            ..choice.config
        };
        let channels = usize::from(config.channels);
        let ring_frames = (crate::device::frames_for(config.sample_rate, options.ring) as usize)
            .max(4 * frames as usize);
        match build(config, ring_frames * channels) {
            Ok((stream, end, health)) => {
                stream.play().map_err(|source| DeviceError::Start {
                    device: id.clone(),
                    source,
                })?;
                let buffer_frames = stream.buffer_size().unwrap_or(frames);
                let format = StreamFormat {
                    sample_rate: config.sample_rate,
                    channels: config.channels,
                    buffer_frames,
                    device_format: choice.sample_format,
                };
                tracing::debug!(device = %id, ?format, "audio stream started");
                return Ok(Opened {
                    stream,
                    end,
                    format,
                    health,
                });
            }
            Err(error) => {
                tracing::debug!(device = %id, frames, %error, "stream configuration refused");
                last_error = error;
            }
        }
    }
    Err(open_error(id, last_error))
}

fn open_error(id: &DeviceId, source: cpal::Error) -> DeviceError {
    DeviceError::Open {
        device: id.clone(),
        source,
    }
}

fn error_callback(
    counters: &Arc<Counters>,
    health: &Arc<StreamHealth>,
) -> impl FnMut(cpal::Error) + Send + 'static {
    let (counters, health) = (Arc::clone(counters), Arc::clone(health));
    move |error| on_stream_error(&counters, &health, &error)
}

fn build_input(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    format: SampleFormat,
    mut callback: CaptureCallback,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error> {
    macro_rules! converted {
        ($t:ty) => {
            device.build_input_stream::<$t, _, _>(
                config,
                move |data: &[$t], _: &_| callback.push_converted(data),
                on_error,
                Some(BUILD_TIMEOUT),
            )
        };
    }
    match format {
        SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _: &_| callback.push_f32(data),
            on_error,
            Some(BUILD_TIMEOUT),
        ),
        SampleFormat::F64 => converted!(f64),
        SampleFormat::I32 => converted!(i32),
        SampleFormat::I24 => converted!(cpal::I24),
        SampleFormat::I16 => converted!(i16),
        SampleFormat::I8 => converted!(i8),
        SampleFormat::U32 => converted!(u32),
        SampleFormat::U16 => converted!(u16),
        SampleFormat::U8 => converted!(u8),
        other => Err(unsupported(other)),
    }
}

fn build_output(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    format: SampleFormat,
    mut callback: PlaybackCallback,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error> {
    macro_rules! converted {
        ($t:ty) => {
            device.build_output_stream::<$t, _, _>(
                config,
                move |data: &mut [$t], _: &_| callback.pull_converted(data),
                on_error,
                Some(BUILD_TIMEOUT),
            )
        };
    }
    match format {
        SampleFormat::F32 => device.build_output_stream::<f32, _, _>(
            config,
            move |data: &mut [f32], _: &_| callback.pull_f32(data),
            on_error,
            Some(BUILD_TIMEOUT),
        ),
        SampleFormat::F64 => converted!(f64),
        SampleFormat::I32 => converted!(i32),
        SampleFormat::I24 => converted!(cpal::I24),
        SampleFormat::I16 => converted!(i16),
        SampleFormat::I8 => converted!(i8),
        SampleFormat::U32 => converted!(u32),
        SampleFormat::U16 => converted!(u16),
        SampleFormat::U8 => converted!(u8),
        other => Err(unsupported(other)),
    }
}

fn unsupported(format: SampleFormat) -> cpal::Error {
    cpal::Error::with_message(
        ErrorKind::UnsupportedConfig,
        format!("sample format {format} is not converted"),
    )
}
