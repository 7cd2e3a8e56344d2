//! Conversations between several people with several devices each, driven through
//! the public API exactly as the client does: a tiny in-memory delivery service
//! stands in for the server's ordering (first commit of an epoch wins, per-device
//! mailboxes in order), which its own tests cover against the real server.

use std::collections::BTreeMap;

use salon_e2ee::{
    ChatMessage, Device, DeviceIdentity, E2eeError, Ignored, Inbound, MemberId, StagedChange,
    safety_number,
};

fn device(handle: &str, seed: u8) -> Device {
    Device::new(DeviceIdentity::new(handle, [seed; 32]))
}

/// Per-device mailboxes and per-group epochs, like the server's delivery service.
#[derive(Default)]
struct Delivery {
    epochs: BTreeMap<Vec<u8>, u64>,
    mailboxes: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
}

impl Delivery {
    fn register(&mut self, device: &Device) {
        self.mailboxes
            .entry(device.me().device_key.clone())
            .or_default();
    }

    fn deliver_except(&mut self, sender: &Device, bytes: &[u8]) {
        for (key, mailbox) in &mut self.mailboxes {
            if key != &sender.me().device_key {
                mailbox.push(bytes.to_vec());
            }
        }
    }

    /// Sends a commit: refused when another commit closed its epoch first.
    fn commit(&mut self, sender: &Device, change: &StagedChange) -> bool {
        let epoch = self
            .epochs
            .entry(change.commit.group.clone())
            .or_insert(change.commit.epoch);
        if *epoch != change.commit.epoch {
            return false;
        }
        *epoch += 1;
        self.deliver_except(sender, &change.commit.bytes);
        true
    }

    fn take(&mut self, device: &Device) -> Vec<Vec<u8>> {
        std::mem::take(self.mailboxes.get_mut(&device.me().device_key).unwrap())
    }
}

/// Processes a device's whole mailbox; answers the texts it read.
fn read_all(delivery: &mut Delivery, device: &mut Device) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    for bytes in delivery.take(device) {
        for inbound in device.receive(&bytes).expect("receive") {
            if let Inbound::Message {
                sender, content, ..
            } = inbound
            {
                texts.push((sender.handle, ChatMessage::decode(&content).unwrap().text));
            }
        }
    }
    texts
}

/// Adds devices to a group through the delivery service (commit, then Welcome).
fn add(delivery: &mut Delivery, adder: &mut Device, group: &[u8], new: &mut [&mut Device]) {
    let packages: Vec<_> = new
        .iter_mut()
        .map(|d| {
            let bytes = d.key_packages(1).unwrap().remove(0);
            adder.check_key_package(&bytes, d.me()).unwrap()
        })
        .collect();
    let change = adder.add_members(group, &packages).unwrap();
    assert!(delivery.commit(adder, &change));
    adder.commit_accepted(group).unwrap();
    delivery.deliver_except(adder, change.welcome.as_ref().unwrap());
}

fn send(delivery: &mut Delivery, sender: &mut Device, group: &[u8], text: &str) -> Vec<u8> {
    let message = ChatMessage::text(format!("{text}-id"), 1, text);
    let out = sender.encrypt(group, &message.encode()).unwrap();
    delivery.deliver_except(sender, &out.bytes);
    out.bytes
}

#[test]
fn every_device_of_both_people_reads_in_order_and_a_later_device_only_what_follows() {
    let mut delivery = Delivery::default();
    let mut alice1 = device("alice", 1);
    let mut alice2 = device("alice", 2);
    let mut bob1 = device("bob", 3);
    let mut bob2 = device("bob", 4);
    for d in [&alice1, &alice2, &bob1, &bob2] {
        delivery.register(d);
    }
    let group = alice1.create_group().unwrap();
    add(
        &mut delivery,
        &mut alice1,
        &group,
        &mut [&mut alice2, &mut bob1, &mut bob2],
    );
    send(&mut delivery, &mut alice1, &group, "one");
    send(&mut delivery, &mut alice1, &group, "two");
    for d in [&mut alice2, &mut bob1, &mut bob2] {
        assert_eq!(
            read_all(&mut delivery, d),
            [
                ("alice".into(), "one".into()),
                ("alice".into(), "two".into())
            ]
        );
    }
    send(&mut delivery, &mut bob2, &group, "three");
    assert_eq!(
        read_all(&mut delivery, &mut alice1),
        [("bob".into(), "three".into())]
    );
    assert_eq!(
        read_all(&mut delivery, &mut bob1),
        [("bob".into(), "three".into())]
    );

    // Bob gets a third device; Bob's first device adds it.
    let mut bob3 = device("bob", 5);
    delivery.register(&bob3);
    send(&mut delivery, &mut alice1, &group, "before");
    add(&mut delivery, &mut bob1, &group, &mut [&mut bob3]);
    // A sender reads its mailbox before writing, as the client does.
    read_all(&mut delivery, &mut alice2);
    send(&mut delivery, &mut alice2, &group, "after");
    let seen = read_all(&mut delivery, &mut bob3);
    assert_eq!(
        seen,
        [("alice".into(), "after".into())],
        "not what came before joining"
    );
    for d in [&mut alice1, &mut bob1, &mut bob2] {
        let texts: Vec<String> = read_all(&mut delivery, d)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(texts.last().map(String::as_str), Some("after"));
    }
    assert_eq!(alice1.members(&group).unwrap().len(), 5);
    assert_eq!(
        alice1.members(&group).unwrap(),
        bob3.members(&group).unwrap()
    );
}

#[test]
fn a_flipped_bit_is_refused_and_the_conversation_goes_on() {
    let mut delivery = Delivery::default();
    let mut alice = device("alice", 1);
    let mut bob = device("bob", 2);
    delivery.register(&alice);
    delivery.register(&bob);
    let group = alice.create_group().unwrap();
    add(&mut delivery, &mut alice, &group, &mut [&mut bob]);
    read_all(&mut delivery, &mut bob);
    let bytes = send(&mut delivery, &mut alice, &group, "genuine");
    delivery.take(&bob);
    let mut tampered = bytes.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 0x01;
    let err = bob.receive(&tampered).unwrap_err();
    assert!(matches!(err, E2eeError::Tampered { .. }), "{err}");
    assert!(err.to_string().contains("integrity"), "{err}");
    let inbound = bob.receive(&bytes).unwrap();
    assert!(
        matches!(&inbound[..], [Inbound::Message { content, .. }] if ChatMessage::decode(content).unwrap().text == "genuine")
    );
    assert_eq!(
        bob.receive(&bytes).unwrap(),
        [Inbound::Ignored(Ignored::Duplicate)],
        "a second copy is a duplicate"
    );
    send(&mut delivery, &mut alice, &group, "still fine");
    assert_eq!(
        read_all(&mut delivery, &mut bob),
        [("alice".into(), "still fine".into())]
    );
    assert!(matches!(
        bob.receive(b"garbage"),
        Err(E2eeError::Malformed { .. })
    ));
}

#[test]
fn racing_commits_the_loser_reapplies_on_the_new_epoch_and_no_message_is_lost() {
    let mut delivery = Delivery::default();
    let mut alice = device("alice", 1);
    let mut bob = device("bob", 2);
    let mut alice2 = device("alice", 3);
    let mut bob2 = device("bob", 4);
    for d in [&alice, &bob, &alice2, &bob2] {
        delivery.register(d);
    }
    let group = alice.create_group().unwrap();
    add(&mut delivery, &mut alice, &group, &mut [&mut bob]);
    read_all(&mut delivery, &mut bob);

    // Both add their new device at the same epoch.
    let kp_a = alice
        .check_key_package(&alice2.key_packages(1).unwrap()[0], alice2.me())
        .unwrap();
    let kp_b = bob
        .check_key_package(&bob2.key_packages(1).unwrap()[0], bob2.me())
        .unwrap();
    let change_a = alice.add_members(&group, &[kp_a]).unwrap();
    let change_b = bob
        .add_members(&group, std::slice::from_ref(&kp_b))
        .unwrap();
    assert!(delivery.commit(&alice, &change_a), "first commit wins");
    alice.commit_accepted(&group).unwrap();
    delivery.deliver_except(&alice, change_a.welcome.as_ref().unwrap());
    assert!(
        !delivery.commit(&bob, &change_b),
        "second commit of the epoch loses"
    );
    bob.commit_rejected(&group).unwrap();
    send(&mut delivery, &mut alice, &group, "during the race");
    // The loser applies the winner, then builds its change again.
    assert_eq!(
        read_all(&mut delivery, &mut bob),
        [("alice".into(), "during the race".into())]
    );
    let kp_b = bob
        .check_key_package(&bob2.key_packages(1).unwrap()[0], bob2.me())
        .unwrap();
    let again = bob.add_members(&group, &[kp_b]).unwrap();
    assert!(delivery.commit(&bob, &again));
    bob.commit_accepted(&group).unwrap();
    delivery.deliver_except(&bob, again.welcome.as_ref().unwrap());
    send(&mut delivery, &mut bob, &group, "settled");
    for d in [&mut alice, &mut alice2, &mut bob2] {
        let texts: Vec<String> = read_all(&mut delivery, d)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(
            texts.last().map(String::as_str),
            Some("settled"),
            "{}",
            d.me().handle
        );
    }
    assert_eq!(alice.members(&group).unwrap().len(), 4);
    assert_eq!(alice.epoch(&group).unwrap(), bob2.epoch(&group).unwrap());
}

#[test]
fn a_device_offline_for_many_epochs_catches_up_in_order() {
    let mut delivery = Delivery::default();
    let mut alice = device("alice", 1);
    let mut bob = device("bob", 2);
    delivery.register(&alice);
    delivery.register(&bob);
    let group = alice.create_group().unwrap();
    add(&mut delivery, &mut alice, &group, &mut [&mut bob]);
    let mut extra = Vec::new();
    for i in 0..6u8 {
        let mut d = device("alice", 10 + i);
        delivery.register(&d);
        add(&mut delivery, &mut alice, &group, &mut [&mut d]);
        send(
            &mut delivery,
            &mut alice,
            &group,
            &format!("epoch {}", i + 2),
        );
        extra.push(d);
    }
    let texts: Vec<String> = read_all(&mut delivery, &mut bob)
        .into_iter()
        .map(|t| t.1)
        .collect();
    assert_eq!(
        texts,
        (2..8).map(|i| format!("epoch {i}")).collect::<Vec<_>>()
    );
    assert_eq!(bob.epoch(&group).unwrap(), alice.epoch(&group).unwrap());
}

#[test]
fn removing_a_lost_device_locks_it_out() {
    let mut delivery = Delivery::default();
    let mut alice = device("alice", 1);
    let mut bob = device("bob", 2);
    let mut lost = device("bob", 3);
    for d in [&alice, &bob, &lost] {
        delivery.register(d);
    }
    let group = alice.create_group().unwrap();
    add(
        &mut delivery,
        &mut alice,
        &group,
        &mut [&mut bob, &mut lost],
    );
    read_all(&mut delivery, &mut bob);
    read_all(&mut delivery, &mut lost);
    let change = bob.remove_members(&group, &[lost.me().clone()]).unwrap();
    assert_eq!(change.removed, [lost.me().clone()]);
    assert!(delivery.commit(&bob, &change));
    bob.commit_accepted(&group).unwrap();
    let inbound: Vec<Inbound> = delivery
        .take(&lost)
        .iter()
        .flat_map(|b| lost.receive(b).unwrap())
        .collect();
    assert!(
        matches!(&inbound[..], [Inbound::Left { .. }]),
        "{inbound:?}"
    );
    read_all(&mut delivery, &mut alice);
    send(&mut delivery, &mut alice, &group, "secret");
    let after: Vec<Inbound> = delivery
        .take(&lost)
        .iter()
        .flat_map(|b| lost.receive(b).unwrap())
        .collect();
    assert!(after.iter().all(|i| !matches!(i, Inbound::Message { .. })));
    assert_eq!(alice.members(&group).unwrap().len(), 2);
}

#[test]
fn state_survives_export_and_used_keys_are_gone_from_it() {
    let mut delivery = Delivery::default();
    let mut alice = device("alice", 1);
    let mut bob = device("bob", 2);
    delivery.register(&alice);
    delivery.register(&bob);
    let group = alice.create_group().unwrap();
    add(&mut delivery, &mut alice, &group, &mut [&mut bob]);
    read_all(&mut delivery, &mut bob);
    let bytes = send(&mut delivery, &mut alice, &group, "read once");
    let before = bob.export_state();
    assert_eq!(read_all(&mut delivery, &mut bob).len(), 1);
    let after = bob.export_state();
    assert_ne!(before, after);
    let mut restored = Device::restore(DeviceIdentity::new("bob", [2; 32]), &after).unwrap();
    assert_eq!(
        restored.receive(&bytes).unwrap(),
        [Inbound::Ignored(Ignored::Duplicate)],
        "the key that decrypted it is not in the saved state"
    );
    send(&mut delivery, &mut alice, &group, "after restart");
    assert_eq!(
        read_all(&mut delivery, &mut restored),
        [("alice".into(), "after restart".into())]
    );
    assert!(
        Device::restore(
            DeviceIdentity::new("bob", [2; 32]),
            &after[..after.len() / 2]
        )
        .is_err()
    );
}

#[test]
fn key_packages_are_checked_against_the_servers_device_key() {
    let alice = device("alice", 1);
    let mut bob = device("bob", 2);
    let package = bob.key_packages(1).unwrap().remove(0);
    assert!(alice.check_key_package(&package, bob.me()).is_ok());
    let other_key = MemberId {
        handle: "bob".into(),
        device_key: vec![7; 32],
    };
    assert!(matches!(
        alice.check_key_package(&package, &other_key),
        Err(E2eeError::UntrustedKeyPackage { .. })
    ));
    let other_handle = MemberId {
        handle: "mallory".into(),
        device_key: bob.me().device_key.clone(),
    };
    assert!(alice.check_key_package(&package, &other_handle).is_err());
    let last_resort = bob.last_resort_key_package().unwrap();
    if let Err(err) = alice.check_key_package(&last_resort, bob.me()) {
        panic!("last resort: {err}");
    }
    let mut flipped = package.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 1;
    assert!(alice.check_key_package(&flipped, bob.me()).is_err());
}

#[test]
fn safety_numbers_agree_across_devices_and_change_when_one_is_added() {
    let mut delivery = Delivery::default();
    let mut alice = device("alice", 1);
    let mut bob = device("bob", 2);
    delivery.register(&alice);
    delivery.register(&bob);
    let group = alice.create_group().unwrap();
    add(&mut delivery, &mut alice, &group, &mut [&mut bob]);
    read_all(&mut delivery, &mut bob);
    let seen_by_alice = safety_number(&alice.members(&group).unwrap());
    let seen_by_bob = safety_number(&bob.members(&group).unwrap());
    assert_eq!(seen_by_alice, seen_by_bob);
    let mut bob2 = device("bob", 3);
    delivery.register(&bob2);
    add(&mut delivery, &mut bob, &group, &mut [&mut bob2]);
    let changes: Vec<Inbound> = delivery
        .take(&alice)
        .iter()
        .flat_map(|b| alice.receive(b).unwrap())
        .collect();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Inbound::Changed { added, .. } if added == &[bob2.me().clone()])),
        "{changes:?}"
    );
    assert_ne!(
        safety_number(&alice.members(&group).unwrap()),
        seen_by_alice
    );
}

#[test]
fn a_group_of_fifty_people_uses_the_same_path() {
    let mut delivery = Delivery::default();
    let mut people: Vec<Device> = (0..50u8)
        .map(|i| device(&format!("p{i:02}"), i + 1))
        .collect();
    for d in &people {
        delivery.register(d);
    }
    let (first, rest) = people.split_at_mut(1);
    let group = first[0].create_group().unwrap();
    let mut refs: Vec<&mut Device> = rest.iter_mut().collect();
    add(&mut delivery, &mut first[0], &group, &mut refs);
    send(&mut delivery, &mut first[0], &group, "hello everyone");
    let last: Vec<String> = read_all(&mut delivery, &mut rest[48])
        .into_iter()
        .map(|t| t.1)
        .collect();
    assert_eq!(last, ["hello everyone"]);
    send(&mut delivery, &mut rest[48], &group, "hi from the last");
    for d in rest.iter_mut().take(48) {
        let texts: Vec<String> = read_all(&mut delivery, d)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(texts, ["hello everyone", "hi from the last"]);
    }
    assert_eq!(first[0].members(&group).unwrap().len(), 50);
}
