//! The system packages and Rust components the build and the tests need, installed when
//! missing, so a fresh Debian/Ubuntu machine (or CI) needs nothing done by hand.
//! Later issues add their packages to [`SYSTEM_PACKAGES`].

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};

use crate::{cmd, workspace};

/// Debian packages: the Tauri/WebKitGTK build, the tray (appindicator), the virtual
/// screen and WebDriver, real audio through PulseAudio, Opus, the keyring, sound tools,
/// network namespaces and PostgreSQL for the server's tests.
pub(crate) const SYSTEM_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "cmake",
    "libwebkit2gtk-4.1-dev",
    "xvfb",
    "xauth",
    "xdotool",
    "imagemagick",
    "webkit2gtk-driver",
    "libayatana-appindicator3-1",
    "libasound2-dev",
    "pulseaudio",
    "pulseaudio-utils",
    "libasound2-plugins",
    "libopus-dev",
    "gnome-keyring",
    "dbus",
    "keyutils",
    "espeak-ng",
    "sox",
    "iproute2",
    "libssl-dev",
    "postgresql",
];

/// rustup components `cargo xtask ci` needs.
pub(crate) const RUST_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Installs the missing [`SYSTEM_PACKAGES`] with apt (once per run).
pub(crate) fn ensure_system_packages() -> anyhow::Result<()> {
    static CHECKED: AtomicBool = AtomicBool::new(false);
    if CHECKED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    if !workspace::on_path("dpkg") {
        eprintln!(
            "system packages: this is not Debian or Ubuntu (no dpkg), so nothing is installed \
             automatically. Install your system's equivalents of these Debian packages:\n  {}",
            SYSTEM_PACKAGES.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .copied()
        .filter(|package| !installed(package))
        .collect();
    if missing.is_empty() {
        eprintln!("system packages: all {} present", SYSTEM_PACKAGES.len());
        return Ok(());
    }
    eprintln!("system packages: installing {}", missing.join(" "));
    cmd::run(&mut as_root(&["apt-get", "update"])?).context("apt-get update failed")?;
    let mut install = as_root(&["apt-get", "install", "-y", "--no-install-recommends"])?;
    install.args(&missing);
    cmd::run(&mut install).with_context(|| format!("could not install {}", missing.join(" ")))?;
    Ok(())
}

/// Whether Debian package `package` is installed (`dpkg -s`, quietly).
fn installed(package: &str) -> bool {
    Command::new("dpkg")
        .args(["-s", package])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| {
            output.status.success()
                && String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .any(|line| line.trim() == "Status: install ok installed")
        })
}

/// `args` as a non-interactive apt command, through `sudo` unless we are root.
fn as_root(args: &[&str]) -> anyhow::Result<Command> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .context("could not run `id -u`")?;
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let mut command = if root {
        let mut command = Command::new(args[0]);
        command.args(&args[1..]);
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    } else {
        if !workspace::on_path("sudo") {
            bail!(
                "packages are missing, and this user is not root and has no sudo: as root, run \
                 `apt-get install -y --no-install-recommends {}`",
                SYSTEM_PACKAGES.join(" ")
            );
        }
        let mut command = Command::new("sudo");
        command
            .args(["env", "DEBIAN_FRONTEND=noninteractive"])
            .args(args);
        command
    };
    command.current_dir(workspace::root());
    Ok(command)
}

/// Adds the missing [`RUST_COMPONENTS`] with rustup.
pub(crate) fn ensure_rust_components() -> anyhow::Result<()> {
    if !workspace::on_path("rustup") {
        // Not a rustup toolchain: the components must come with it.
        for (component, subcommand) in [("rustfmt", "fmt"), ("clippy", "clippy")] {
            let works = workspace::cargo()
                .args([subcommand, "--version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if !works {
                bail!("`cargo {subcommand}` is missing and there is no rustup to add {component}");
            }
        }
        return Ok(());
    }
    let output = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .current_dir(workspace::root())
        .output()
        .context("could not run `rustup component list --installed`")?;
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    let missing: Vec<&str> = RUST_COMPONENTS
        .iter()
        .copied()
        .filter(|component| {
            !listed
                .lines()
                .any(|line| line == *component || line.starts_with(&format!("{component}-")))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("rust components: adding {}", missing.join(" "));
    let mut add = Command::new("rustup");
    add.args(["component", "add"])
        .args(&missing)
        .current_dir(workspace::root());
    cmd::run(&mut add)
}
