//! A throwaway PostgreSQL server for the server's tests: a fresh cluster (`initdb`) in
//! its own temporary directory, listening on 127.0.0.1 on a free port, with trust
//! authentication, durability switched off for speed, and an empty database
//! `salon_test`. Test processes get `SALON_TEST_POSTGRES_URL`; its role `postgres` is a
//! superuser, so tests can create databases of their own beside it.
//!
//! PostgreSQL refuses to run as root, so when xtask runs as root, `initdb` and `postgres`
//! run as the `postgres` system user (which the Debian package creates) in a temporary
//! directory given to that user. It is stopped with SIGINT ("fast shutdown": it does not
//! wait for clients to disconnect), then killed after a deadline. Its children (each in
//! a session of its own) end with it; should it be killed, they notice and exit, and the
//! reaper ends any that linger.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use nix::sys::signal::Signal;
use nix::unistd::{User, chown, geteuid};

use super::Services;
use crate::service_process::{self, Launch, ServiceCommand, ServiceProcess};
use crate::wait;

/// The Debian package with the server, `initdb` and the client programs.
const PACKAGE: &str = "postgresql";

/// Where Debian installs each major version: `/usr/lib/postgresql/<version>/bin`.
const DEBIAN_VERSIONS: &str = "/usr/lib/postgresql";

/// The system user that runs the server when xtask runs as root.
const SYSTEM_USER: &str = "postgres";

/// The superuser role `initdb` creates, which the tests connect as.
const ROLE: &str = "postgres";

/// The database the tests' URL names.
const DATABASE: &str = "salon_test";

const HOST: &str = "127.0.0.1";

/// For `initdb` (it writes a whole cluster, slow on a busy 2-core machine) and for the
/// server to accept connections.
const STARTUP: Duration = Duration::from_secs(60);

/// For `createdb` and the `psql` check.
const CLIENT_STEP: Duration = Duration::from_secs(15);

/// How many free ports are tried: another process may take one between our finding it
/// free and the server binding it.
const PORT_ATTEMPTS: u32 = 3;

/// Durability is pointless for a cluster deleted after the run.
const SERVER_SETTINGS: &[&str] = &[
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
];

pub(super) fn start(services: &mut Services) -> anyhow::Result<()> {
    let bin = bin_dir()?;
    let user = server_user()?;
    let launch = Launch {
        user: user.as_ref(),
        stop_signal: Signal::SIGINT,
    };
    let dir = services.temp_dir("postgres")?;
    let data = dir.join("data");
    let sockets = dir.join("sockets");
    std::fs::create_dir(&sockets)?;
    if let Some(user) = &user {
        // tempfile made `dir` 0700 for us; these two become the server user's. `data`
        // is made by initdb, as that user.
        for path in [&dir, &sockets] {
            chown(path, Some(user.uid), Some(user.gid)).with_context(|| {
                format!("could not give {} to user {}", path.display(), user.name)
            })?;
        }
    }

    let log = dir.join("initdb.log");
    let mut initdb = service_command(&bin, "initdb", &log, launch, &dir)?;
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", ROLE, "--auth=trust", "-E", "UTF8"])
        // Byte order collation whatever the machine's locale (which may not be
        // generated), and no fsync of a cluster thrown away after the run.
        .args(["--no-locale", "--no-sync", "--no-instructions"]);
    service_process::run_step("initdb", initdb, log, STARTUP)?;

    let (process, port) = start_server(&bin, &dir, &data, &sockets, launch)?;
    let process = services.add(process);
    let url = format!("postgres://{ROLE}@{HOST}:{port}/{DATABASE}");

    let log = dir.join("createdb.log");
    let mut createdb = service_command(&bin, "createdb", &log, Launch::default(), &dir)?;
    createdb
        .args(["-h", HOST, "-p", &port.to_string(), "-U", ROLE])
        .arg(DATABASE);
    service_process::run_step("createdb", createdb, log, CLIENT_STEP)?;

    // Through the very URL the tests get: the server at that port is ours (its data
    // directory) and the role is a superuser.
    let log = dir.join("psql.log");
    let mut psql = service_command(&bin, "psql", &log, Launch::default(), &dir)?;
    psql.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c"])
        .arg(
            "SELECT current_setting('data_directory') || ' ' || rolsuper::text \
             FROM pg_roles WHERE rolname = current_user",
        );
    let answer = service_process::run_step("psql", psql, log, CLIENT_STEP)?;
    let ours = data.canonicalize()?;
    let superuser = match answer.trim().rsplit_once(' ') {
        Some((reported, superuser)) if Path::new(reported).canonicalize().ok() == Some(ours) => {
            superuser == "true"
        }
        _ => {
            return Err(process.failure(format!(
                "the server at {HOST}:{port} is not the one just started: asked for its data \
                 directory, it answered {:?}",
                answer.trim()
            )));
        }
    };
    if !superuser {
        bail!("role {ROLE} at {HOST}:{port} is not a superuser");
    }
    services.set_env("SALON_TEST_POSTGRES_URL", url);
    Ok(())
}

/// Starts the server on a free port and waits until it accepts connections.
fn start_server(
    bin: &Path,
    dir: &Path,
    data: &Path,
    sockets: &Path,
    launch: Launch<'_>,
) -> anyhow::Result<(ServiceProcess, u16)> {
    let log = dir.join("postgres.log");
    for attempt in 1..=PORT_ATTEMPTS {
        let port = free_port()?;
        let mut command = service_command(bin, "postgres", &log, launch, dir)?;
        command.arg("-D").arg(data).arg("-k").arg(sockets).args([
            "-h",
            HOST,
            "-p",
            &port.to_string(),
        ]);
        for setting in SERVER_SETTINGS {
            command.args(["-c", setting]);
        }
        let mut process = ServiceProcess::spawn("postgres", command, log.clone())?;
        let ready = wait::poll(STARTUP, || {
            if process.exit_status().is_some() {
                return Ok(Some(false));
            }
            Ok(accepts_connections(bin, port)?.then_some(true))
        })?;
        match ready {
            Some(true) => return Ok((process, port)),
            Some(false) if attempt < PORT_ATTEMPTS && port_was_taken(&log) => {
                eprintln!("services: postgres: port {port} was taken meanwhile; trying another");
            }
            Some(false) => {
                return Err(process.failure(format!(
                    "it ended before accepting connections on {HOST}:{port}"
                )));
            }
            None => {
                return Err(process.failure(format!(
                    "it accepted no connection on {HOST}:{port} within {} s",
                    STARTUP.as_secs()
                )));
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// Whether the server on `port` accepts connections (`pg_isready`: 0 yes, 1 still
/// starting, 2 no answer, 3 bad arguments).
fn accepts_connections(bin: &Path, port: u16) -> anyhow::Result<bool> {
    let mut command = Command::new(bin.join("pg_isready"));
    without_pg_env(&mut command);
    let output = command
        .args([
            "-h",
            HOST,
            "-p",
            &port.to_string(),
            "-U",
            ROLE,
            "-d",
            "postgres",
        ])
        .args(["-t", "2"])
        .stdin(Stdio::null())
        .output()
        .context("could not run pg_isready")?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(3) => bail!(
            "pg_isready did not try: {}",
            String::from_utf8_lossy(&output.stdout).trim()
        ),
        _ => Ok(false),
    }
}

/// Whether the server's log says it could not listen because the address was in use.
fn port_was_taken(log: &Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|text| text.contains("Address already in use"))
}

/// A TCP port on 127.0.0.1 that is free right now (the kernel picks it; we let it go).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("could not find a free TCP port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// A service command for PostgreSQL program `name`, run in `dir` (a server user cannot
/// always enter xtask's own working directory, and initdb refuses to run there) and
/// without the caller's `PG*` variables, which could point it at another server.
fn service_command(
    bin: &Path,
    name: &str,
    log: &Path,
    launch: Launch<'_>,
    dir: &Path,
) -> anyhow::Result<ServiceCommand> {
    let program = bin.join(name);
    let program = program
        .to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", program.display()))?;
    let mut command = service_process::command_with(program, PACKAGE, log, launch)?;
    command.current_dir(dir);
    without_pg_env(&mut command);
    Ok(command)
}

fn without_pg_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            command.env_remove(key);
        }
    }
}

/// The directory with `initdb` and `postgres`: the newest version Debian installed,
/// else wherever PATH has them (other distributions).
fn bin_dir() -> anyhow::Result<PathBuf> {
    let installed = std::fs::read_dir(DEBIAN_VERSIONS)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            Some((version(&entry.file_name())?, entry.path().join("bin")))
        })
        .filter(|(_, bin)| is_bin_dir(bin));
    if let Some(bin) = newest(installed) {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| is_bin_dir(dir)))
        .ok_or_else(|| {
            anyhow!(
                "PostgreSQL is not installed (Debian package `{PACKAGE}`): there is no \
                 {DEBIAN_VERSIONS}/<version>/bin with initdb and postgres, nor are they on PATH"
            )
        })
}

/// The bin directory of the highest version.
fn newest(installed: impl Iterator<Item = (Vec<u32>, PathBuf)>) -> Option<PathBuf> {
    installed
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, bin)| bin)
}

fn is_bin_dir(dir: &Path) -> bool {
    ["initdb", "postgres", "pg_isready", "createdb", "psql"]
        .iter()
        .all(|program| dir.join(program).is_file())
}

/// A version directory's name as numbers: `15` is `[15]`, an old `9.6` is `[9, 6]`.
fn version(name: &OsStr) -> Option<Vec<u32>> {
    name.to_str()?
        .split('.')
        .map(|part| part.parse().ok())
        .collect()
}

/// The user the server must run as: `None` (ourselves) unless we are root, which
/// PostgreSQL refuses to run as.
fn server_user() -> anyhow::Result<Option<User>> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    let user = User::from_name(SYSTEM_USER)
        .with_context(|| format!("could not look up user {SYSTEM_USER}"))?
        .ok_or_else(|| {
            anyhow!(
                "xtask runs as root, which PostgreSQL refuses to run as, and there is no \
                 `{SYSTEM_USER}` user to run it as (the Debian package `{PACKAGE}` creates it)"
            )
        })?;
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::PathBuf;

    use super::{newest, version};

    #[test]
    fn picks_the_newest_version_numerically() {
        assert_eq!(version(OsStr::new("15")), Some(vec![15]));
        assert_eq!(version(OsStr::new("9.6")), Some(vec![9, 6]));
        assert_eq!(version(OsStr::new("16beta1")), None);
        assert_eq!(version(OsStr::new("")), None);
        let installed = ["9.6", "17", "15"].map(|name| {
            (
                version(OsStr::new(name)).unwrap_or_default(),
                PathBuf::from(name),
            )
        });
        assert_eq!(newest(installed.into_iter()), Some(PathBuf::from("17")));
        assert_eq!(newest(std::iter::empty()), None);
    }
}
