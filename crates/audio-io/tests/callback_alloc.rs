//! The audio callbacks never allocate: this test binary's global allocator counts every
//! allocation made while a thread is inside one of the crate's callbacks
//! ([`salon_audio_io::in_audio_callback`]), then streams real capture and playback for a
//! while and expects the count to stay at zero.

// A global allocator is an `unsafe` trait; it only forwards to the system allocator.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Pump, Tone, require_pulse, wait_until};
use salon_audio_io::{Capture, Playback, StreamOptions, in_audio_callback};

struct CountingAllocator;

static IN_CALLBACK_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    if in_audio_callback() {
        IN_CALLBACK_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting reads a const-initialised thread-local `Cell<bool>`
// and bumps an atomic, neither of which allocates or unwinds.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's `layout` obligations pass straight through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_callbacks_do_not_allocate() {
    require_pulse();
    // The detector itself works: nothing counts outside a callback.
    drop(vec![0u8; 1024]);
    assert_eq!(IN_CALLBACK_ALLOCATIONS.load(Ordering::Relaxed), 0);

    let mut playback = Playback::open(StreamOptions::default()).unwrap();
    let mut capture = Capture::open(StreamOptions::default()).unwrap();
    let mut pump = Pump::new(Tone::new(1_000.0, 0.5, playback.sample_rate()));
    let streamed = wait_until(Duration::from_secs(15), || {
        pump.step(&mut playback, &mut capture);
        pump.captured.len() >= 96_000
    });
    assert!(streamed, "only {} samples captured", pump.captured.len());
    drop((playback, capture));
    assert_eq!(
        IN_CALLBACK_ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "the audio callbacks allocated"
    );
}
