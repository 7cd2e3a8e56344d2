//! What a private conversation costs on one core: setting one up between two people
//! (group, key package check, commit, Welcome, join) and one text message encrypted
//! by the sender and decrypted by the recipient.

use criterion::{Criterion, criterion_group, criterion_main};
use salon_e2ee::{ChatMessage, Device, DeviceIdentity, Inbound};

fn pair() -> (Device, Device, Vec<u8>) {
    let mut alice = Device::new(DeviceIdentity::new("alice", [1; 32]));
    let mut bob = Device::new(DeviceIdentity::new("bob", [2; 32]));
    let group = alice.create_group().unwrap();
    let bytes = bob.key_packages(1).unwrap().remove(0);
    let package = alice.check_key_package(&bytes, bob.me()).unwrap();
    let change = alice.add_members(&group, &[package]).unwrap();
    alice.commit_accepted(&group).unwrap();
    let joined = bob.receive(change.welcome.as_ref().unwrap()).unwrap();
    assert!(matches!(joined[0], Inbound::Joined { .. }));
    (alice, bob, group)
}

fn benches(c: &mut Criterion) {
    c.bench_function("conversation setup (2 people)", |b| b.iter(pair));
    let (mut alice, mut bob, group) = pair();
    let text = ChatMessage::text("0123456789abcdef", 1, "see you at the lighthouse at nine");
    c.bench_function("encrypt + decrypt one message", |b| {
        b.iter(|| {
            let out = alice.encrypt(&group, &text.encode()).unwrap();
            let inbound = bob.receive(&out.bytes).unwrap();
            assert!(matches!(inbound[0], Inbound::Message { .. }));
        })
    });
}

criterion_group!(conversation, benches);
criterion_main!(conversation);
