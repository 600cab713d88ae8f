//! How the domain's references become sled keys. The layout is the store's
//! business: the domain names a due entry, a scan or a held scan by what it
//! is, and only this file knows the bytes.

use crate::crypto::EpochId;
use crate::domain::store::{Due, ScanRef};

/// Due index: due time (u64 big-endian, so keys sort by time) ‖ card id.
pub(super) fn due(entry: Due) -> Vec<u8> {
    let mut k = u64::try_from(entry.at.max(0)).unwrap_or(0).to_be_bytes().to_vec();
    k.extend_from_slice(&entry.card_id);
    k
}

pub(super) fn due_of(key: &[u8]) -> Option<Due> {
    let at = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    Some(Due {
        at: i64::try_from(at).unwrap_or(i64::MAX),
        card_id: key.get(8..40)?.try_into().ok()?,
    })
}

/// Scans: epoch prefix (12 bytes) ‖ card id ‖ index, so an epoch's scans
/// are one prefix and a card's scans in an epoch another.
pub(super) fn scan(scan: &ScanRef) -> Vec<u8> {
    let mut key = scan.epoch.prefix().to_vec();
    key.extend_from_slice(&scan.card_id);
    key.push(scan.index);
    key
}

pub(super) fn scan_ref(epoch: EpochId, key: &[u8]) -> Option<ScanRef> {
    Some(ScanRef {
        epoch,
        card_id: key.get(12..44)?.try_into().ok()?,
        index: *key.get(44)?,
    })
}

/// Held scans: hold id ‖ 0 ‖ index (u32 big-endian).
pub(super) fn held_prefix(hold_id: &str) -> Vec<u8> {
    let mut prefix = hold_id.as_bytes().to_vec();
    prefix.push(0);
    prefix
}

pub(super) fn held(hold_id: &str, index: usize) -> Vec<u8> {
    let mut key = held_prefix(hold_id);
    key.extend_from_slice(&u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_through_their_keys() {
        let d = Due {
            at: 1_700_000_000,
            card_id: [7; 32],
        };
        assert_eq!(due_of(&due(d)), Some(d));
        let epoch = EpochId { len_secs: 60, index: 9 };
        let s = ScanRef {
            epoch,
            card_id: [3; 32],
            index: 2,
        };
        assert_eq!(scan_ref(epoch, &scan(&s)), Some(s));
        assert!(held("h1", 0).starts_with(&held_prefix("h1")));
    }
}
