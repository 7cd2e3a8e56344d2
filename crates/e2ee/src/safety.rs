//! Safety numbers: a short string two people read to each other (or scan as a QR
//! code) to be sure nobody sits between them.
//!
//! Each person's fingerprint is SHA-512, iterated, over a version label, their handle
//! and every device key they have in the conversation (sorted), so adding a device
//! changes it. The number shown is 30 digits per person (six groups of five, each
//! from five bytes of the fingerprint, as in Signal's scheme) in handle order, so both
//! sides see the same string; in a conversation of more than two people, 60 digits
//! of a hash over every fingerprint. The QR payload carries the version, and each
//! handle with its full fingerprint, for exact comparison by a scanner.

use std::collections::BTreeMap;

use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::types::HashType;

use crate::identity::MemberId;

const LABEL: &[u8] = b"salon-safety-number-v1";
const ITERATIONS: usize = 1024;
const QR_VERSION: u8 = 1;

/// A conversation's safety number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    /// Digits in groups of five separated by spaces (12 groups).
    pub digits: String,
    /// Bytes to encode in a QR code: version, then each person's handle and
    /// fingerprint.
    pub qr_payload: Vec<u8>,
}

fn sha512(data: &[u8]) -> Vec<u8> {
    RustCrypto::default()
        .hash(HashType::Sha2_512, data)
        .expect("SHA-512 is always available")
}

/// One person's fingerprint over their handle and device keys.
fn fingerprint(handle: &str, keys: &[&[u8]]) -> Vec<u8> {
    let mut input = LABEL.to_vec();
    input.extend_from_slice(&(handle.len() as u32).to_be_bytes());
    input.extend_from_slice(handle.as_bytes());
    for key in keys {
        input.extend_from_slice(&(key.len() as u32).to_be_bytes());
        input.extend_from_slice(key);
    }
    let mut hash = sha512(&input);
    for _ in 0..ITERATIONS {
        let mut round = hash.clone();
        round.extend_from_slice(&input);
        hash = sha512(&round);
    }
    hash
}

/// Thirty digits from the first 30 bytes: six groups of five.
fn digits30(hash: &[u8]) -> Vec<String> {
    hash.chunks(5)
        .take(6)
        .map(|chunk| {
            let value = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", value % 100_000)
        })
        .collect()
}

/// The safety number of a conversation with these members (every device of every
/// person, this device included).
pub fn safety_number(members: &[MemberId]) -> SafetyNumber {
    let mut people: BTreeMap<&str, Vec<&[u8]>> = BTreeMap::new();
    for member in members {
        people
            .entry(member.handle.as_str())
            .or_default()
            .push(&member.device_key);
    }
    let mut qr_payload = vec![QR_VERSION];
    let mut prints = Vec::new();
    for (handle, keys) in &mut people {
        keys.sort();
        keys.dedup();
        let print = fingerprint(handle, keys);
        qr_payload.push(handle.len() as u8);
        qr_payload.extend_from_slice(handle.as_bytes());
        qr_payload.extend_from_slice(&print);
        prints.push(print);
    }
    let groups: Vec<String> = if prints.len() == 2 {
        prints.iter().flat_map(|p| digits30(p)).collect()
    } else {
        let hash = sha512(&prints.concat());
        let mut groups = digits30(&hash);
        groups.extend(digits30(&hash[30..]));
        groups
    };
    SafetyNumber {
        digits: groups.join(" "),
        qr_payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(handle: &str, key: u8) -> MemberId {
        MemberId {
            handle: handle.into(),
            device_key: vec![key; 32],
        }
    }

    #[test]
    fn same_for_both_sides_and_changes_with_a_device() {
        let one = safety_number(&[member("alice", 1), member("bob", 2)]);
        let other = safety_number(&[member("bob", 2), member("alice", 1)]);
        assert_eq!(one, other, "order of members does not matter");
        assert_eq!(one.digits.len(), 12 * 5 + 11);
        assert!(
            one.digits
                .split(' ')
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
        let more = safety_number(&[member("alice", 1), member("bob", 2), member("bob", 3)]);
        assert_ne!(one.digits, more.digits, "a new device changes the number");
        assert_eq!(
            one.digits[..35],
            more.digits[..35],
            "alice's half stays the same when bob adds a device"
        );
        let swapped = safety_number(&[member("alice", 9), member("bob", 2)]);
        assert_ne!(one.digits, swapped.digits);
        assert_ne!(one.qr_payload, swapped.qr_payload);
    }

    #[test]
    fn group_conversations_get_sixty_digits() {
        let number = safety_number(&[member("a", 1), member("b", 2), member("c", 3)]);
        assert_eq!(number.digits.split(' ').count(), 12);
    }
}
