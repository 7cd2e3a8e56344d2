//! The MLS state machine of one device, without I/O: push in what arrived from the
//! delivery service, get back what happened; ask for key packages, commits and
//! ciphertexts, send them yourself, and say whether the server accepted a commit.
//!
//! - Every conversation is an MLS group (RFC 9420) with the ciphersuite
//!   `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`. Handshake and application
//!   messages are both PrivateMessages (pure ciphertext policy), so the server learns
//!   neither membership changes nor content; Welcomes carry the ratchet tree.
//! - A commit is staged, sent, and merged only once the server has accepted it (the
//!   first commit of an epoch wins): [`Device::commit_accepted`] merges it,
//!   [`Device::commit_rejected`] drops it so the caller can apply the winner and
//!   build its change again on the new epoch.
//! - Messages for a group this device does not have yet, or for an epoch it has not
//!   reached, are held and tried again after the next join or commit: a Welcome may
//!   arrive after messages of the epoch it opens. Messages from before the device
//!   joined can never be read and are reported as such.
//! - Duplicates are recognised: a key used once is gone (forward secrecy), so a
//!   second copy of a message cannot be decrypted and is reported as a duplicate, not
//!   as an attack. A ciphertext that fails its integrity check is refused with
//!   [`E2eeError::Tampered`] and changes nothing.

use std::collections::{BTreeMap, VecDeque};

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;

use crate::error::{E2eeError, Result, malformed, mls};
use crate::identity::{DeviceIdentity, MemberId};
use crate::provider::{Provider, Reader, put_len};

/// The one ciphersuite Salon speaks.
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// How many past epochs keep their secrets, for messages that were sent just before
/// a commit and arrive after it.
const PAST_EPOCHS: usize = 3;
/// Messages of one sender that may arrive out of order within an epoch.
const OUT_OF_ORDER: u32 = 64;
/// How far ahead of the last seen message a sender's generation may be.
const FORWARD_DISTANCE: u32 = 5000;
/// Held messages per group, and groups with held messages, before the oldest go.
const HELD_PER_GROUP: usize = 512;
const HELD_GROUPS: usize = 64;

/// A message to hand to the delivery service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The group.
    pub group: Vec<u8>,
    /// The epoch the sender is in (for a commit: the epoch it closes).
    pub epoch: u64,
    /// The serialized MLS message.
    pub bytes: Vec<u8>,
}

/// A staged commit: send `commit` first; once the server accepts it, call
/// [`Device::commit_accepted`] and then send `welcome` to the new devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedChange {
    /// The commit, for every member.
    pub commit: Outgoing,
    /// The Welcome for added devices, if any were added.
    pub welcome: Option<Vec<u8>>,
    /// Devices it adds.
    pub added: Vec<MemberId>,
    /// Devices it removes.
    pub removed: Vec<MemberId>,
}

/// Why a message was dropped without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// Already processed (its key is gone), or a commit of an epoch already passed.
    Duplicate,
    /// Sent before this device joined the group: never readable here.
    BeforeJoining,
    /// A Welcome for another device (of the same account).
    NotForThisDevice,
    /// This device is no longer a member of that group.
    NotAMember,
    /// A standalone proposal; Salon commits its changes directly.
    Proposal,
}

/// What a received message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// This device joined a group through a Welcome.
    Joined {
        /// The group.
        group: Vec<u8>,
        /// The epoch joined at.
        epoch: u64,
        /// Every member now.
        members: Vec<MemberId>,
        /// Who added this device.
        by: MemberId,
    },
    /// An application message, decrypted.
    Message {
        /// The group.
        group: Vec<u8>,
        /// The epoch it was sent in.
        epoch: u64,
        /// Who sent it.
        sender: MemberId,
        /// The plaintext.
        content: Vec<u8>,
    },
    /// A commit changed the group's members (or just its keys).
    Changed {
        /// The group.
        group: Vec<u8>,
        /// The epoch now.
        epoch: u64,
        /// Who committed.
        by: MemberId,
        /// Devices added.
        added: Vec<MemberId>,
        /// Devices removed.
        removed: Vec<MemberId>,
    },
    /// This device was removed from the group.
    Left {
        /// The group.
        group: Vec<u8>,
    },
    /// Kept until the group or epoch it belongs to is reached.
    Held {
        /// The group.
        group: Vec<u8>,
    },
    /// Dropped, harmlessly.
    Ignored(Ignored),
}

/// One device's MLS state: its identity, every group it is in, its key packages.
#[derive(Debug)]
pub struct Device {
    identity: DeviceIdentity,
    provider: Provider,
    held: BTreeMap<Vec<u8>, VecDeque<Vec<u8>>>,
}

fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .use_ratchet_tree_extension(true)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .max_past_epochs(PAST_EPOCHS)
        .padding_size(64)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(
            OUT_OF_ORDER,
            FORWARD_DISTANCE,
        ))
        .build()
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .use_ratchet_tree_extension(true)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .max_past_epochs(PAST_EPOCHS)
        .padding_size(64)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(
            OUT_OF_ORDER,
            FORWARD_DISTANCE,
        ))
        .build()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Device {
    /// A device with no groups yet.
    pub fn new(identity: DeviceIdentity) -> Self {
        Self {
            identity,
            provider: Provider::default(),
            held: BTreeMap::new(),
        }
    }

    /// This device's handle and key.
    pub fn me(&self) -> &MemberId {
        self.identity.member()
    }

    // ---- state ----------------------------------------------------------------------

    /// The whole state (groups, secrets, key packages, held messages) as bytes to seal
    /// and store; secrets already used are not in it.
    pub fn export_state(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.provider.export(&mut out);
        put_len(&mut out, self.held.len());
        for (group, messages) in &self.held {
            put_len(&mut out, group.len());
            out.extend_from_slice(group);
            put_len(&mut out, messages.len());
            for message in messages {
                put_len(&mut out, message.len());
                out.extend_from_slice(message);
            }
        }
        out
    }

    /// The device again from [`Device::export_state`]'s bytes.
    pub fn restore(identity: DeviceIdentity, state: &[u8]) -> Result<Self> {
        let (provider, rest) = Provider::import(state)?;
        let mut reader = Reader(rest);
        let mut held = BTreeMap::new();
        for _ in 0..reader.len()? {
            let len = reader.len()?;
            let group = reader.take(len)?.to_vec();
            let mut messages = VecDeque::new();
            for _ in 0..reader.len()? {
                let len = reader.len()?;
                messages.push_back(reader.take(len)?.to_vec());
            }
            held.insert(group, messages);
        }
        Ok(Self {
            identity,
            provider,
            held,
        })
    }

    // ---- key packages ---------------------------------------------------------------

    /// `count` fresh one-time key packages to publish.
    pub fn key_packages(&mut self, count: usize) -> Result<Vec<Vec<u8>>> {
        (0..count).map(|_| self.key_package(false)).collect()
    }

    /// A last-resort key package: may be used more than once, when the one-time ones
    /// have run out.
    pub fn last_resort_key_package(&mut self) -> Result<Vec<u8>> {
        self.key_package(true)
    }

    fn key_package(&mut self, last_resort: bool) -> Result<Vec<u8>> {
        // Every key package says it understands the last-resort extension, so the
        // last-resort one is valid and all of them look alike.
        let capabilities = Capabilities::builder()
            .extensions(vec![ExtensionType::LastResort])
            .build();
        let mut builder = KeyPackage::builder().leaf_node_capabilities(capabilities);
        if last_resort {
            builder = builder.mark_as_last_resort();
        }
        let bundle = builder
            .build(
                CIPHERSUITE,
                &self.provider,
                &self.identity.signer,
                self.identity.credential.clone(),
            )
            .map_err(mls)?;
        bundle
            .key_package()
            .tls_serialize_detached()
            .map_err(|err| malformed("key package", err))
    }

    /// Reads a key package claimed from the server and checks it belongs to `expected`
    /// (the handle whose devices were claimed and the device key the server lists for
    /// that device): the signature, the ciphersuite, the credential and the key.
    pub fn check_key_package(&self, bytes: &[u8], expected: &MemberId) -> Result<KeyPackage> {
        let incoming = KeyPackageIn::tls_deserialize_exact(bytes)
            .map_err(|err| malformed("key package", err))?;
        let package = incoming
            .validate(self.provider.crypto(), ProtocolVersion::Mls10)
            .map_err(|err| E2eeError::UntrustedKeyPackage {
                reason: err.to_string(),
            })?;
        if package.ciphersuite() != CIPHERSUITE {
            return Err(E2eeError::UntrustedKeyPackage {
                reason: "another ciphersuite".into(),
            });
        }
        let leaf = package.leaf_node();
        let member = MemberId::from_credential(leaf.credential(), leaf.signature_key().as_slice())?;
        if &member != expected {
            return Err(E2eeError::UntrustedKeyPackage {
                reason: format!(
                    "it names {} with another device key than the server lists for {}",
                    member.handle, expected.handle
                ),
            });
        }
        Ok(package)
    }

    // ---- groups ---------------------------------------------------------------------

    fn load(&self, group: &[u8]) -> Result<MlsGroup> {
        MlsGroup::load(self.provider.storage(), &GroupId::from_slice(group))
            .map_err(mls)?
            .ok_or_else(|| E2eeError::UnknownGroup { group: hex(group) })
    }

    /// Whether this device is an active member of `group`.
    pub fn has_group(&self, group: &[u8]) -> bool {
        self.load(group).map(|g| g.is_active()).unwrap_or(false)
    }

    /// A new group with this device as its only member; answers its random id.
    pub fn create_group(&mut self) -> Result<Vec<u8>> {
        let id: [u8; 16] = self.provider.rand().random_array().map_err(mls)?;
        MlsGroup::new_with_group_id(
            &self.provider,
            &self.identity.signer,
            &create_config(),
            GroupId::from_slice(&id),
            self.identity.credential.clone(),
        )
        .map_err(mls)?;
        Ok(id.to_vec())
    }

    /// The group's epoch.
    pub fn epoch(&self, group: &[u8]) -> Result<u64> {
        Ok(self.load(group)?.epoch().as_u64())
    }

    /// Every member device of the group, this one included.
    pub fn members(&self, group: &[u8]) -> Result<Vec<MemberId>> {
        let group = self.load(group)?;
        let mut members: Vec<MemberId> = group
            .members()
            .filter_map(|m| MemberId::from_credential(&m.credential, &m.signature_key).ok())
            .collect();
        members.sort();
        Ok(members)
    }

    /// Stages a commit adding these devices (key packages already checked with
    /// [`Device::check_key_package`]).
    pub fn add_members(&mut self, group: &[u8], packages: &[KeyPackage]) -> Result<StagedChange> {
        let mut mls_group = self.load(group)?;
        let epoch = mls_group.epoch().as_u64();
        let added = packages
            .iter()
            .map(|p| {
                MemberId::from_credential(
                    p.leaf_node().credential(),
                    p.leaf_node().signature_key().as_slice(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let (commit, welcome, _) = mls_group
            .add_members(&self.provider, &self.identity.signer, packages)
            .map_err(mls)?;
        Ok(StagedChange {
            commit: Outgoing {
                group: group.to_vec(),
                epoch,
                bytes: commit.to_bytes().map_err(mls)?,
            },
            welcome: Some(welcome.to_bytes().map_err(mls)?),
            added,
            removed: Vec::new(),
        })
    }

    /// Stages a commit removing these devices (lost or revoked).
    pub fn remove_members(&mut self, group: &[u8], devices: &[MemberId]) -> Result<StagedChange> {
        let mut mls_group = self.load(group)?;
        let epoch = mls_group.epoch().as_u64();
        let mut indexes = Vec::new();
        let mut removed = Vec::new();
        for member in mls_group.members() {
            if let Ok(id) = MemberId::from_credential(&member.credential, &member.signature_key)
                && devices.contains(&id)
            {
                indexes.push(member.index);
                removed.push(id);
            }
        }
        let (commit, _, _) = mls_group
            .remove_members(&self.provider, &self.identity.signer, &indexes)
            .map_err(mls)?;
        Ok(StagedChange {
            commit: Outgoing {
                group: group.to_vec(),
                epoch,
                bytes: commit.to_bytes().map_err(mls)?,
            },
            welcome: None,
            added: Vec::new(),
            removed,
        })
    }

    /// The server accepted the staged commit: the group moves to the next epoch.
    pub fn commit_accepted(&mut self, group: &[u8]) -> Result<Vec<Inbound>> {
        let mut mls_group = self.load(group)?;
        mls_group
            .merge_pending_commit(&self.provider)
            .map_err(mls)?;
        Ok(self.release_held(group))
    }

    /// The server refused the staged commit (another commit won the epoch): it is
    /// dropped; apply the winner, then stage the change again.
    pub fn commit_rejected(&mut self, group: &[u8]) -> Result<()> {
        let mut mls_group = self.load(group)?;
        mls_group
            .clear_pending_commit(self.provider.storage())
            .map_err(mls)
    }

    /// Encrypts an application message for the group.
    pub fn encrypt(&mut self, group: &[u8], plaintext: &[u8]) -> Result<Outgoing> {
        let mut mls_group = self.load(group)?;
        let message = mls_group
            .create_message(&self.provider, &self.identity.signer, plaintext)
            .map_err(mls)?;
        Ok(Outgoing {
            group: group.to_vec(),
            epoch: mls_group.epoch().as_u64(),
            bytes: message.to_bytes().map_err(mls)?,
        })
    }

    // ---- receiving ------------------------------------------------------------------

    /// Handles one message from the delivery service. Answers what happened: usually
    /// one item, more when it released held messages.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Inbound>> {
        let message = MlsMessageIn::tls_deserialize_exact(bytes)
            .map_err(|err| malformed("MLS message", err))?;
        match message.wire_format() {
            WireFormat::Welcome => {
                let MlsMessageBodyIn::Welcome(welcome) = message.extract() else {
                    return Err(malformed("Welcome", "not a welcome"));
                };
                self.join(welcome)
            }
            WireFormat::PrivateMessage | WireFormat::PublicMessage => {
                let protocol = message
                    .try_into_protocol_message()
                    .map_err(|err| malformed("MLS message", err))?;
                let group = protocol.group_id().as_slice().to_vec();
                let first = self.protocol(protocol, bytes)?;
                let mut out = vec![first.clone()];
                if matches!(first, Inbound::Changed { .. }) {
                    out.extend(self.release_held(&group));
                }
                Ok(out)
            }
            _ => Err(malformed("MLS message", "not a message for a conversation")),
        }
    }

    fn join(&mut self, welcome: Welcome) -> Result<Vec<Inbound>> {
        let staged =
            match StagedWelcome::new_from_welcome(&self.provider, &join_config(), welcome, None) {
                Ok(staged) => staged,
                Err(WelcomeError::NoMatchingKeyPackage) => {
                    return Ok(vec![Inbound::Ignored(Ignored::NotForThisDevice)]);
                }
                Err(err) => return Err(mls(err)),
            };
        let by = {
            let sender = staged.welcome_sender().map_err(mls)?;
            MemberId::from_credential(sender.credential(), sender.signature_key().as_slice())?
        };
        let group_id = staged.group_context().group_id().as_slice().to_vec();
        if self.has_group(&group_id) {
            return Ok(vec![Inbound::Ignored(Ignored::Duplicate)]);
        }
        let mls_group = staged.into_group(&self.provider).map_err(mls)?;
        let epoch = mls_group.epoch().as_u64();
        let mut out = vec![Inbound::Joined {
            members: self.members(&group_id)?,
            group: group_id.clone(),
            epoch,
            by,
        }];
        out.extend(self.release_held(&group_id));
        Ok(out)
    }

    fn hold(&mut self, group: Vec<u8>, bytes: &[u8]) -> Inbound {
        if !self.held.contains_key(&group) && self.held.len() >= HELD_GROUPS {
            let oldest = self.held.keys().next().cloned();
            if let Some(oldest) = oldest {
                self.held.remove(&oldest);
            }
        }
        let queue = self.held.entry(group.clone()).or_default();
        if queue.len() >= HELD_PER_GROUP {
            queue.pop_front();
        }
        queue.push_back(bytes.to_vec());
        Inbound::Held { group }
    }

    /// Tries held messages of `group` again, oldest first.
    fn release_held(&mut self, group: &[u8]) -> Vec<Inbound> {
        let mut out = Vec::new();
        loop {
            let Some(queue) = self.held.remove(group) else {
                return out;
            };
            let before = queue.len();
            let mut progressed = false;
            for bytes in queue {
                let result = MlsMessageIn::tls_deserialize_exact(&bytes[..])
                    .ok()
                    .and_then(|m| m.try_into_protocol_message().ok())
                    .map(|p| self.protocol(p, &bytes));
                match result {
                    Some(Ok(Inbound::Held { .. })) => {}
                    Some(Ok(inbound)) => {
                        progressed |= matches!(inbound, Inbound::Changed { .. });
                        out.push(inbound);
                    }
                    // A held message that now fails is dropped: it was readable by
                    // nobody here (a tampered copy, or one from a lost epoch).
                    Some(Err(_)) | None => out.push(Inbound::Ignored(Ignored::BeforeJoining)),
                }
            }
            let after = self.held.get(group).map_or(0, VecDeque::len);
            if !progressed || after == 0 || after >= before {
                return out;
            }
        }
    }

    fn protocol(&mut self, message: ProtocolMessage, bytes: &[u8]) -> Result<Inbound> {
        let group_id = message.group_id().as_slice().to_vec();
        let mut group = match self.load(&group_id) {
            Ok(group) => group,
            Err(E2eeError::UnknownGroup { .. }) => return Ok(self.hold(group_id, bytes)),
            Err(err) => return Err(err),
        };
        if !group.is_active() {
            return Ok(Inbound::Ignored(Ignored::NotAMember));
        }
        let epoch = message.epoch().as_u64();
        let current = group.epoch().as_u64();
        if epoch > current {
            return Ok(self.hold(group_id, bytes));
        }
        if message.content_type() == ContentType::Commit && epoch < current {
            return Ok(Inbound::Ignored(Ignored::Duplicate));
        }
        let processed = match group.process_message(&self.provider, message) {
            Ok(processed) => processed,
            Err(err) => return classify(err),
        };
        let sender = match processed.sender() {
            Sender::Member(index) => group
                .member_at(*index)
                .and_then(|m| MemberId::from_credential(&m.credential, &m.signature_key).ok()),
            _ => None,
        };
        let sender = match sender {
            Some(sender) => sender,
            None => MemberId::from_credential(processed.credential(), &[0; 32])?,
        };
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(app) => Ok(Inbound::Message {
                group: group_id,
                epoch,
                sender,
                content: app.into_bytes(),
            }),
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                let added = staged
                    .add_proposals()
                    .filter_map(|p| {
                        let leaf = p.add_proposal().key_package().leaf_node();
                        MemberId::from_credential(
                            leaf.credential(),
                            leaf.signature_key().as_slice(),
                        )
                        .ok()
                    })
                    .collect();
                let removed = staged
                    .remove_proposals()
                    .filter_map(|p| group.member_at(p.remove_proposal().removed()))
                    .filter_map(|m| MemberId::from_credential(&m.credential, &m.signature_key).ok())
                    .collect();
                let left = staged.self_removed();
                group
                    .merge_staged_commit(&self.provider, *staged)
                    .map_err(mls)?;
                if left {
                    self.held.remove(&group_id);
                    return Ok(Inbound::Left { group: group_id });
                }
                Ok(Inbound::Changed {
                    group: group_id,
                    epoch: group.epoch().as_u64(),
                    by: sender,
                    added,
                    removed,
                })
            }
            ProcessedMessageContent::OwnPrivateMessage
            | ProcessedMessageContent::OwnPendingCommit => Ok(Inbound::Ignored(Ignored::Duplicate)),
            _ => Ok(Inbound::Ignored(Ignored::Proposal)),
        }
    }
}

/// Sorts a processing failure into harmless (duplicate, too old) and refused.
fn classify<E: std::fmt::Display>(err: ProcessMessageError<E>) -> Result<Inbound> {
    use openmls::framing::errors::MessageDecryptionError as Decrypt;
    match &err {
        // The key for that sender and generation is gone: the message was read already
        // (its key deleted for forward secrecy) or is older than the window kept.
        ProcessMessageError::ValidationError(ValidationError::UnableToDecrypt(
            Decrypt::SecretTreeError(_) | Decrypt::GenerationOutOfBound,
        )) => Ok(Inbound::Ignored(Ignored::Duplicate)),
        ProcessMessageError::ValidationError(
            ValidationError::NoPastEpochData | ValidationError::WrongEpoch,
        ) => Ok(Inbound::Ignored(Ignored::BeforeJoining)),
        ProcessMessageError::ValidationError(_)
        | ProcessMessageError::InvalidCommit(_)
        | ProcessMessageError::IncompatibleWireFormat => Err(E2eeError::Tampered {
            reason: err.to_string(),
        }),
        _ => Err(mls(err)),
    }
}
