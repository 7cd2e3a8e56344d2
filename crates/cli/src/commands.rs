//! What each command does, over the client core.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use salon_audio_io::{Pacing, WavSampleFormat, WavSink, WavSource};
use salon_client::{
    Client, ClientConfig, ClientError, ClientEvent, ClientHandle, KeyStore, VoiceConfig,
    VoiceSession,
};
use salon_proto::room::Visibility;
use salon_proto::{ErrorCode, RoomId};
use tokio::sync::broadcast;

use crate::{AccountCommand, Cli, Command, KeyStoreArg, RoomCommand, VisibilityArg};

/// The key file's name inside the profile directory (`--key-store file`).
const KEY_FILE: &str = "device.key";

/// The recording's format: what the voice engine mixes to.
const RECORD_RATE: u32 = 48_000;

/// How often the speaking loop checks whether the file has ended.
const POLL: Duration = Duration::from_millis(50);

pub(crate) async fn run(cli: Cli) -> Result<()> {
    crate::interrupt::catch().context("cannot listen for Ctrl-C")?;
    match &cli.command {
        Command::Account(AccountCommand::Create {
            handle,
            display_name,
            invite,
        }) => {
            let client = connect(&cli).await?;
            let mut result = account_create(&client, handle, display_name.as_deref(), invite).await;
            if result.is_ok() {
                // Key packages go up now, so others can write before this profile
                // ever runs a `dm` command.
                result = salon_client::DirectMessages::start(&client)
                    .await
                    .map(drop)
                    .map_err(describe);
            }
            client.shutdown().await;
            result
        }
        Command::Dm(command) => {
            let client = connect_logged_in(&cli).await?;
            let result = crate::dm::run(&client, command).await;
            client.shutdown().await;
            result
        }
        Command::Room(command) => {
            // Check local files before touching the network: a typo fails at once.
            if let RoomCommand::Speak { wav, looping, .. } = command {
                check_wav(wav, *looping)?;
            }
            let room = match command {
                RoomCommand::Speak { room, .. } | RoomCommand::Listen { room, .. } => {
                    Some(parse_room(room)?)
                }
                _ => None,
            };
            let client = connect_logged_in(&cli).await?;
            let result = match (command, room) {
                (RoomCommand::Create { title, visibility }, _) => {
                    room_create(&client, title, *visibility).await
                }
                (RoomCommand::List, _) => room_list(&client).await,
                (
                    RoomCommand::Speak {
                        wav,
                        looping,
                        raise_hand,
                        ..
                    },
                    Some(room),
                ) => room_speak(&client, room, wav, *looping, *raise_hand).await,
                (
                    RoomCommand::Listen {
                        record,
                        seconds,
                        raise_hand,
                        ..
                    },
                    Some(room),
                ) => room_listen(&client, room, record, *seconds, *raise_hand).await,
                _ => unreachable!("speak and listen always carry a parsed room id"),
            };
            client.shutdown().await;
            result
        }
    }
}

fn key_store(cli: &Cli) -> KeyStore {
    match cli.key_store {
        KeyStoreArg::Keyring => KeyStore::Keyring,
        KeyStoreArg::File => KeyStore::File(cli.profile.join(KEY_FILE)),
    }
}

async fn connect(cli: &Cli) -> Result<ClientHandle> {
    std::fs::create_dir_all(&cli.profile).with_context(|| {
        format!(
            "cannot create the profile directory {}",
            cli.profile.display()
        )
    })?;
    let config = ClientConfig::new(cli.server.clone(), cli.profile.clone(), key_store(cli));
    Client::connect(config).await.map_err(|err| match err {
        ClientError::Connect { url, reason } => anyhow!(
            "cannot reach the Salon server at {url} ({reason}): is it running, and is \
             --server right?"
        ),
        other => describe(other),
    })
}

async fn connect_logged_in(cli: &Cli) -> Result<ClientHandle> {
    let client = connect(cli).await?;
    if client.account().is_none() {
        client.shutdown().await;
        bail!(
            "no account in this profile: run `salon-cli --server {} --profile {} account \
             create HANDLE` first",
            cli.server,
            cli.profile.display()
        );
    }
    Ok(client)
}

/// A client error as a sentence a person can act on.
pub(crate) fn describe(err: ClientError) -> anyhow::Error {
    match err {
        ClientError::Server { code, message, .. } => match code {
            ErrorCode::RoomNotFound => anyhow!("no such room (it may have ended): {message}"),
            _ => anyhow!("the server refused: {message} ({code})"),
        },
        ClientError::Keyring { reason } => anyhow!(
            "the OS keyring is not available ({reason}); unlock it, or keep the key in a \
             file with --key-store file"
        ),
        other => anyhow::Error::new(other),
    }
}

async fn account_create(
    client: &ClientHandle,
    handle: &str,
    display_name: Option<&str>,
    invite: &Option<String>,
) -> Result<()> {
    if let Some(account) = client.account() {
        bail!(
            "this profile already has the account @{} on this server; use another --profile \
             for another account",
            account.handle
        );
    }
    let account = client
        .register(handle, display_name.unwrap_or(handle), invite.as_deref())
        .await
        .map_err(describe)?;
    println!("created account @{} ({})", account.handle, account.user);
    Ok(())
}

async fn room_create(client: &ClientHandle, title: &str, visibility: VisibilityArg) -> Result<()> {
    let visibility = match visibility {
        VisibilityArg::Public => Visibility::Public,
        VisibilityArg::Unlisted => Visibility::Unlisted,
        VisibilityArg::Private => Visibility::Private,
    };
    let room = client
        .create_room(title, visibility)
        .await
        .map_err(describe)?;
    println!("created room {title:?}; join it within the grace period to keep it open:");
    println!("{room}");
    Ok(())
}

async fn room_list(client: &ClientHandle) -> Result<()> {
    let rooms = client.list_rooms(None).await.map_err(describe)?;
    if rooms.is_empty() {
        println!("no public rooms");
    }
    for room in rooms {
        let speakers = if room.speakers.is_empty() {
            "nobody on stage".to_owned()
        } else {
            room.speakers.join(", ")
        };
        println!(
            "{}  {}  ({}; {} listening)",
            room.room, room.title, speakers, room.listeners
        );
    }
    Ok(())
}

fn parse_room(text: &str) -> Result<RoomId> {
    text.parse()
        .map_err(|_| anyhow!("{text:?} is not a room id (32 hex digits, as `room create` prints)"))
}

fn open_wav(path: &Path, pacing: Pacing, looping: bool) -> Result<WavSource> {
    WavSource::open(path, pacing, looping)
        .map_err(|err| anyhow!("cannot read {}: {}", path.display(), error_chain(&err)))
}

/// Opens the file once without pacing, so a missing or broken file fails before joining.
fn check_wav(path: &Path, looping: bool) -> Result<()> {
    open_wav(path, Pacing::AsFastAsPossible, looping).map(drop)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Joins `room`, with events subscribed first so nothing after the join is missed.
async fn join(client: &ClientHandle, room: RoomId) -> Result<broadcast::Receiver<ClientEvent>> {
    let events = client.events();
    client.join_room(room).await.map_err(|err| match err {
        ClientError::Server {
            code: ErrorCode::RoomNotFound | ErrorCode::RoomEnded,
            ..
        } => anyhow!("room {room} does not exist or has ended: check the id with `room list`"),
        other => describe(other).context(format!("cannot join room {room}")),
    })?;
    Ok(events)
}

/// Why the room is over for this client, if `event` says it is.
fn room_over(event: &ClientEvent) -> Option<anyhow::Error> {
    match event {
        ClientEvent::RoomEnded { room, reason } => Some(anyhow!("room {room} ended ({reason:?})")),
        ClientEvent::RemovedFromRoom { room, banned } => Some(if *banned {
            anyhow!("you were banned from room {room}")
        } else {
            anyhow!("you were removed from room {room}")
        }),
        _ => None,
    }
}

/// Waits until this client may speak: accepts an invitation to speak when one comes
/// (with its hand raised meanwhile when `raise_hand`).
async fn wait_for_stage(
    client: &ClientHandle,
    events: &mut broadcast::Receiver<ClientEvent>,
    raise_hand: bool,
) -> Result<bool> {
    let view = client
        .room()
        .ok_or_else(|| anyhow!("not in the room any more"))?;
    if view.my_role().is_some_and(|role| role.on_stage()) {
        if !view.may_speak() {
            client.set_muted(false).await.map_err(describe)?;
        }
        return Ok(true);
    }
    if raise_hand {
        client.raise_hand().await.map_err(describe)?;
    }
    println!(
        "you are in the audience of room {}{}: waiting for a host or moderator to invite \
         you to speak (Ctrl-C to give up)",
        view.room(),
        if raise_hand {
            " with your hand raised"
        } else {
            ""
        }
    );
    loop {
        tokio::select! {
            _ = crate::interrupt::interrupted() => return Ok(false),
            event = events.recv() => match event {
                Ok(ClientEvent::InvitedToSpeak { .. }) => {
                    client.accept_speak_invite().await.map_err(describe)?;
                    if client.room().is_some_and(|view| !view.may_speak()) {
                        client.set_muted(false).await.map_err(describe)?;
                    }
                    println!("invited to speak: on stage now");
                    return Ok(true);
                }
                Ok(event) => {
                    if let Some(err) = room_over(&event) {
                        return Err(err);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    bail!("the connection to the server closed")
                }
            },
        }
    }
}

async fn room_speak(
    client: &ClientHandle,
    room: RoomId,
    wav: &Path,
    looping: bool,
    raise_hand: bool,
) -> Result<()> {
    let mut events = join(client, room).await?;
    let outcome = speak_in_room(client, &mut events, wav, looping, raise_hand).await;
    let _ = client.leave_room().await;
    outcome
}

async fn speak_in_room(
    client: &ClientHandle,
    events: &mut broadcast::Receiver<ClientEvent>,
    wav: &Path,
    looping: bool,
    raise_hand: bool,
) -> Result<()> {
    if !wait_for_stage(client, events, raise_hand).await? {
        println!("left without speaking");
        return Ok(());
    }
    let source = open_wav(wav, Pacing::RealTime, looping)?;
    let session = VoiceSession::start(
        client.clone(),
        Some(Box::new(source)),
        None,
        VoiceConfig::default(),
    )
    .map_err(describe)?;
    println!(
        "speaking {} in room {}{}",
        wav.display(),
        client
            .room()
            .map(|view| view.room().to_string())
            .unwrap_or_default(),
        if looping {
            " on repeat (Ctrl-C to stop)"
        } else {
            " (Ctrl-C to stop)"
        }
    );
    let mut poll = tokio::time::interval(POLL);
    let ended = loop {
        tokio::select! {
            _ = crate::interrupt::interrupted() => break None,
            _ = poll.tick() => {
                if session.source_finished() {
                    break None;
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    if let Some(err) = room_over(&event) {
                        break Some(err);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    break Some(anyhow!("the connection to the server closed"));
                }
            },
        }
    };
    let stats = session.stop().await;
    println!("sent {} audio frames", stats.frames_sent);
    match ended {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

async fn room_listen(
    client: &ClientHandle,
    room: RoomId,
    record: &Path,
    seconds: u64,
    raise_hand: bool,
) -> Result<()> {
    let sink = WavSink::create(record, RECORD_RATE, 1, WavSampleFormat::I16)
        .map_err(|err| anyhow!("cannot write {}: {}", record.display(), error_chain(&err)))?;
    let mut events = match join(client, room).await {
        Ok(events) => events,
        Err(err) => {
            drop(sink);
            let _ = std::fs::remove_file(record);
            return Err(err);
        }
    };
    let outcome = listen_in_room(client, &mut events, sink, record, seconds, raise_hand).await;
    let _ = client.leave_room().await;
    outcome
}

async fn listen_in_room(
    client: &ClientHandle,
    events: &mut broadcast::Receiver<ClientEvent>,
    sink: WavSink,
    record: &Path,
    seconds: u64,
    raise_hand: bool,
) -> Result<()> {
    if raise_hand {
        client.raise_hand().await.map_err(describe)?;
    }
    let session = VoiceSession::start(
        client.clone(),
        None,
        Some(Box::new(sink)),
        VoiceConfig::default(),
    )
    .map_err(describe)?;
    let room = client
        .room()
        .map(|view| view.room().to_string())
        .unwrap_or_default();
    println!(
        "recording {seconds} s of room {room} into {}{}",
        record.display(),
        if raise_hand { " (hand raised)" } else { "" }
    );
    let deadline = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(deadline);
    let ended = loop {
        tokio::select! {
            _ = &mut deadline => break None,
            _ = crate::interrupt::interrupted() => break None,
            event = events.recv() => match event {
                Ok(event) => {
                    if let Some(err) = room_over(&event) {
                        break Some(err);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    break Some(anyhow!("the connection to the server closed"));
                }
            },
        }
    };
    let stats = session.stop().await;
    println!(
        "recorded {}: {} audio frames received from {} speaker(s), {} concealed",
        record.display(),
        stats.frames_received,
        stats.streams,
        stats.concealed
    );
    match ended {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
