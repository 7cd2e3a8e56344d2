//! How the web view draws on Linux when there is no graphics hardware.
//!
//! WebKitGTK composites the page with OpenGL. Without a GPU (no `/dev/dri`: a virtual
//! machine, a remote X display, the virtual screen the tests use) Mesa's OpenGL is
//! llvmpipe, which runs the GPU's work on the CPU through LLVM: measured in a room with
//! three speakers (release build), WebKit's web process used 332 MB and 62 % of a core
//! that way, against 214 MB and 40 % with compositing off, where WebKit paints the page
//! on the CPU itself (BENCHMARKS.md, "Client footprint"). So without a GPU the
//! app turns compositing off, unless `WEBKIT_DISABLE_COMPOSITING_MODE` is already set
//! (`WEBKIT_DISABLE_COMPOSITING_MODE=0` keeps it on).

/// WebKitGTK's switch, read when the web view starts.
const DISABLE_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Turns WebKit's OpenGL compositing off when this machine has no GPU device. Call first
/// thing in `main`, before any thread exists.
pub fn prefer_software_painting_without_gpu() {
    if !cfg!(target_os = "linux")
        || std::env::var_os(DISABLE_COMPOSITING).is_some()
        || std::path::Path::new("/dev/dri").exists()
    {
        return;
    }
    // SAFETY: called at the start of `main`, before the app starts any thread, so nothing
    // reads the environment concurrently.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(DISABLE_COMPOSITING, "1");
    }
}
