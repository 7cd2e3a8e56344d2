//! The app's state, managed by Tauri and shared by commands, the event forwarder,
//! hotkeys and the tray: the client connection, the embedded server, the voice
//! session, the preferences, and the few facts about the room the client does not keep
//! (whether this app was invited to speak, volumes shown in the UI).
//!
//! Locks are `std` mutexes held only to read or swap a value, never across an `await`;
//! slow transitions (connecting, hosting) are serialised by one async mutex so two
//! clicks cannot start two servers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use salon_audio_io::{AudioSink, AudioSource, Capture, Playback, StreamOptions};
use salon_client::proto::UserId;
use salon_client::{
    Client, ClientConfig, ClientHandle, DirectMessages, KeyStore, VoiceConfig, VoiceSession,
};
use tauri::AppHandle;

use crate::convert;
use crate::dto::{self, AppState, ConnectionKind, Hosting, Room};
use crate::embedded_server::{self, EmbeddedServer};
use crate::error::{UiError, UiResult};
use crate::events;
use crate::hotkeys::Hotkeys;
use crate::prefs::Prefs;

/// Everything the shell holds.
#[derive(Debug)]
pub struct Core {
    /// The app's data directory (`SALON_DATA_DIR`, else the user's data dir + `salon/app`).
    pub data_dir: PathBuf,
    /// Remembered preferences (saved on every change).
    prefs: Mutex<Prefs>,
    /// The connection, once a server is chosen.
    client: Mutex<Option<ClientHandle>>,
    /// The embedded server, when hosting.
    server: Mutex<Option<EmbeddedServer>>,
    /// Audio in and out of the room, while in one.
    voice: Mutex<Option<VoiceSession>>,
    /// The event forwarder of the current client.
    forwarder: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// A moderator's invitation to speak waits for an answer.
    invited: Mutex<bool>,
    /// Private messages, once an account is logged in.
    dms: Mutex<Option<DirectMessages>>,
    /// People looked up by handle (DM peers), so each is asked of the server once.
    people: Mutex<HashMap<String, dto::Person>>,
    /// Serialises connecting and hosting.
    transition: tokio::sync::Mutex<()>,
    /// Serialises starting private messages.
    dm_start: tokio::sync::Mutex<()>,
    /// Write-locked while start-up resumes the last connection, so the UI's first
    /// `app_state` waits for it instead of showing onboarding to a known account.
    pub started: std::sync::Arc<tokio::sync::RwLock<()>>,
    /// Global hotkeys.
    pub hotkeys: Hotkeys,
}

impl Core {
    /// The state for data directory `data_dir`, with its preferences loaded.
    pub fn new(data_dir: PathBuf) -> Self {
        let prefs = Prefs::load(&data_dir);
        let hotkeys = Hotkeys::new(&prefs);
        Self {
            data_dir,
            prefs: Mutex::new(prefs),
            client: Mutex::new(None),
            server: Mutex::new(None),
            voice: Mutex::new(None),
            forwarder: Mutex::new(None),
            invited: Mutex::new(false),
            dms: Mutex::new(None),
            people: Mutex::new(HashMap::new()),
            transition: tokio::sync::Mutex::new(()),
            dm_start: tokio::sync::Mutex::new(()),
            started: std::sync::Arc::new(tokio::sync::RwLock::new(())),
            hotkeys,
        }
    }

    /// Where data lives: `SALON_DATA_DIR` when set (tests use a fresh one for a first
    /// run), else `~/.local/share/salon/app` on Linux.
    pub fn default_data_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("SALON_DATA_DIR") {
            return PathBuf::from(dir);
        }
        directories::ProjectDirs::from("", "", "salon")
            .map(|dirs| dirs.data_dir().join("app"))
            .unwrap_or_else(|| PathBuf::from("salon-app-data"))
    }

    /// A copy of the preferences.
    pub fn prefs(&self) -> Prefs {
        lock(&self.prefs).clone()
    }

    /// Changes the preferences and saves them.
    pub fn update_prefs(&self, change: impl FnOnce(&mut Prefs)) -> UiResult<()> {
        let mut prefs = lock(&self.prefs);
        change(&mut prefs);
        prefs.save(&self.data_dir).map_err(|err| {
            UiError::new(
                "internal",
                format!("Could not save your settings ({err:#}); check the disk."),
            )
        })
    }

    /// The connection, or `not_connected`.
    pub fn client(&self) -> UiResult<ClientHandle> {
        lock(&self.client)
            .clone()
            .ok_or_else(UiError::not_connected)
    }

    /// The connection, when there is one.
    pub fn try_client(&self) -> Option<ClientHandle> {
        lock(&self.client).clone()
    }

    /// The connection with an account logged in, or `no_account`.
    pub fn account_client(&self) -> UiResult<ClientHandle> {
        let client = self.client()?;
        if client.account().is_none() {
            return Err(UiError::no_account());
        }
        Ok(client)
    }

    /// Starts hosting on `port` (the default: `SALON_HOST_PORT`, else 7300) unless
    /// already hosting, connects to it, and remembers the choice.
    pub async fn host(&self, app: &AppHandle, port: Option<u16>) -> UiResult<Hosting> {
        let _guard = self.transition.lock().await;
        let current = lock(&self.server).as_ref().map(EmbeddedServer::hosting);
        if let Some(hosting) = current {
            if port.is_none_or(|p| p == hosting.port) {
                if self.try_client().is_none() {
                    let url = hosting.urls[0].clone();
                    self.connect_locked(app, &url).await?;
                }
                return Ok(hosting);
            }
            return Err(UiError::invalid(format!(
                "Salon already hosts on port {}; restart the app to use another port.",
                hosting.port
            )));
        }
        let port = port.unwrap_or_else(default_host_port);
        let server = EmbeddedServer::start(port, &self.data_dir.join("server"))
            .await
            .map_err(|err| {
                UiError::new(
                    "port_in_use",
                    format!(
                        "Could not host on port {port}: {err:#}. Another program may use \
                         that port; choose another one."
                    ),
                )
            })?;
        let hosting = server.hosting();
        let url = server.local_url();
        *lock(&self.server) = Some(server);
        self.connect_locked(app, &url).await?;
        self.update_prefs(|prefs| {
            prefs.host_port = Some(hosting.port);
            prefs.server_url = Some(url);
        })?;
        Ok(hosting)
    }

    /// Connects to a remote server and remembers it (no longer hosting from next start).
    pub async fn use_server(&self, app: &AppHandle, url: &str) -> UiResult<()> {
        let url = url.trim();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(UiError::invalid(
                "A server address starts with ws:// or wss://, for example ws://192.168.1.20:7300.",
            ));
        }
        let _guard = self.transition.lock().await;
        self.connect_locked(app, url).await?;
        self.update_prefs(|prefs| {
            prefs.server_url = Some(url.to_owned());
            prefs.host_port = None;
        })
    }

    /// At start-up: host or connect as last time. Failures are reported as events; the
    /// UI then shows the connection as offline and onboarding offers to choose again.
    pub async fn resume(&self, app: &AppHandle) {
        let prefs = self.prefs();
        let result = match (prefs.host_port, prefs.server_url) {
            (Some(port), _) => self.host(app, Some(port)).await.map(drop),
            (None, Some(url)) => {
                let _guard = self.transition.lock().await;
                self.connect_locked(app, &url).await
            }
            (None, None) => Ok(()),
        };
        if let Err(err) = result {
            tracing::warn!("could not resume: {}", err.message);
            events::emit(
                app,
                &dto::UiEvent::Error {
                    code: err.code,
                    message: err.message,
                },
            );
        }
    }

    /// Replaces the connection by one to `url` (the caller holds `transition`).
    async fn connect_locked(&self, app: &AppHandle, url: &str) -> UiResult<()> {
        self.disconnect().await;
        let mut config = ClientConfig::new(url, self.data_dir.join("client"), KeyStore::Keyring);
        config.client_name = format!("salon-app/{}", env!("CARGO_PKG_VERSION"));
        let client = Client::connect(config).await?;
        *lock(&self.client) = Some(client.clone());
        let forwarder = events::spawn_forwarder(app.clone(), client.clone());
        *lock(&self.forwarder) = Some(forwarder);
        if client.account().is_some()
            && let Err(err) = self.dms(&client).await
        {
            tracing::warn!("private messages did not start: {}", err.message);
        }
        events::emit(
            app,
            &dto::UiEvent::Connection {
                connection: convert::connection(&client.state()),
            },
        );
        Ok(())
    }

    /// Closes the current connection, if any (leaving its room).
    async fn disconnect(&self) {
        self.stop_voice().await;
        lock(&self.dms).take();
        lock(&self.people).clear();
        if let Some(forwarder) = lock(&self.forwarder).take() {
            forwarder.abort();
        }
        let client = lock(&self.client).take();
        if let Some(client) = client {
            client.shutdown().await;
        }
    }

    /// Stops everything before the app exits: the connection, then the server.
    pub async fn shut_down(&self) {
        self.disconnect().await;
        let server = lock(&self.server).take();
        if let Some(server) = server {
            server.shutdown().await;
        }
    }

    /// What the UI needs at start-up.
    pub fn app_state(&self) -> AppState {
        let prefs = self.prefs();
        let client = self.try_client();
        let account = client.as_ref().and_then(ClientHandle::account);
        let connection = match &client {
            Some(client) => convert::connection(&client.state()),
            None => dto::Connection {
                state: ConnectionKind::Offline,
                attempt: None,
                next_in_ms: None,
                reason: prefs
                    .server_url
                    .as_ref()
                    .map(|url| format!("Could not reach {url}.")),
            },
        };
        AppState {
            needs_onboarding: account.is_none(),
            server_url: client
                .as_ref()
                .map(|c| c.server_url().to_owned())
                .or(prefs.server_url),
            hosting: lock(&self.server).as_ref().map(EmbeddedServer::hosting),
            account: account.as_ref().map(convert::account),
            connection,
            settings: self.settings(),
            room: client.as_ref().and_then(|c| self.room(c)),
        }
    }

    /// The settings as the UI shows them.
    pub fn settings(&self) -> dto::Settings {
        let prefs = self.prefs();
        let (available, note) = crate::hotkeys::availability();
        dto::Settings {
            hotkeys: self.hotkeys.list(),
            input_device: prefs.input_device,
            output_device: prefs.output_device,
            language: prefs.language,
            global_shortcuts_available: available,
            global_shortcuts_note: note,
        }
    }

    /// The room the client is in, as the UI shows it.
    pub fn room(&self, client: &ClientHandle) -> Option<Room> {
        let view = client.room()?;
        let invited = *lock(&self.invited);
        Some(convert::room(&view, invited, |user| client.volume(user)))
    }

    /// Private messages of `client`'s account, started on first use.
    pub async fn dms(&self, client: &ClientHandle) -> UiResult<DirectMessages> {
        if let Some(dms) = lock(&self.dms).clone() {
            return Ok(dms);
        }
        if client.account().is_none() {
            return Err(UiError::no_account());
        }
        let _guard = self.dm_start.lock().await;
        if let Some(dms) = lock(&self.dms).clone() {
            return Ok(dms);
        }
        let dms = DirectMessages::start(client).await?;
        *lock(&self.dms) = Some(dms.clone());
        Ok(dms)
    }

    /// Someone by handle, as lists show them: asked of the server once (exact-handle
    /// lookups are rate-limited), the handle alone when the lookup fails.
    pub async fn person(&self, client: &ClientHandle, handle: &str) -> dto::Person {
        if let Some(person) = lock(&self.people).get(handle).cloned() {
            return person;
        }
        match client.get_profile(handle).await {
            Ok(profile) => {
                let person = dto::Person {
                    user_id: profile.user.to_string(),
                    handle: profile.handle.to_string(),
                    display_name: profile.display_name,
                };
                lock(&self.people).insert(handle.to_owned(), person.clone());
                person
            }
            Err(err) => {
                tracing::debug!("no profile for {handle}: {err}");
                dto::Person {
                    user_id: String::new(),
                    handle: handle.to_owned(),
                    display_name: handle.to_owned(),
                }
            }
        }
    }

    /// Remembers whether an invitation to speak waits for an answer.
    pub fn set_invited(&self, invited: bool) {
        *lock(&self.invited) = invited;
    }

    /// Sets and remembers the playback volume of `user`; the voice session applies it
    /// within a frame.
    pub async fn set_volume(
        &self,
        client: &ClientHandle,
        user: UserId,
        percent: u16,
    ) -> UiResult<()> {
        client.set_volume(user, percent).await?;
        Ok(())
    }

    /// Starts audio in and out of the room on the chosen (or default) devices. A device
    /// that cannot open is reported and the session runs without it (listening only, or
    /// speaking only).
    pub fn start_voice(&self, app: &AppHandle, client: &ClientHandle) {
        let prefs = self.prefs();
        let device = |id: &Option<String>| id.as_deref().and_then(|id| id.parse().ok());
        let report = |what: &str, err: &dyn std::fmt::Display| {
            tracing::warn!("cannot open the {what}: {err}");
            events::emit(
                app,
                &dto::UiEvent::Error {
                    code: "audio_device".into(),
                    message: format!(
                        "Could not open the {what} ({err}); check your audio settings."
                    ),
                },
            );
        };
        let source: Option<Box<dyn AudioSource>> =
            match Capture::open(StreamOptions::on(device(&prefs.input_device))) {
                Ok(capture) => Some(Box::new(capture)),
                Err(err) => {
                    report("microphone", &err);
                    None
                }
            };
        let sink: Option<Box<dyn AudioSink>> =
            match Playback::open(StreamOptions::on(device(&prefs.output_device))) {
                Ok(playback) => Some(Box::new(playback)),
                Err(err) => {
                    report("speakers", &err);
                    None
                }
            };
        match VoiceSession::start(client.clone(), source, sink, VoiceConfig::default()) {
            Ok(session) => {
                let old = lock(&self.voice).replace(session);
                drop(old);
            }
            Err(err) => report("audio session", &err),
        }
    }

    /// Stops the room's audio, if running.
    pub async fn stop_voice(&self) {
        let session = lock(&self.voice).take();
        if let Some(session) = session {
            session.stop().await;
        }
    }

    /// Whether audio runs (a room is joined).
    pub fn voice_running(&self) -> bool {
        lock(&self.voice).is_some()
    }
}

/// The port hosting uses by default: `SALON_HOST_PORT`, else 7300.
fn default_host_port() -> u16 {
    std::env::var("SALON_HOST_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(embedded_server::DEFAULT_PORT)
}

/// Locks a mutex, going on with the data when a panicking thread poisoned it (every
/// value here stays consistent between statements).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
