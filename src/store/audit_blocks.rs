//! Reading sled's audit tree, which holds the chain in blocks keyed by the
//! big-endian seq of their first entry: one entry by its seq, its hash, or
//! every entry from a seq on.

use super::failed;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::store::StoreError;

pub(super) fn block_first(key: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(key.try_into().map_err(|_| failed("bad audit key"))?))
}

/// Calls `f(seq, stored)` for each entry from `from` on, in order, while it
/// returns `true`. (The audit tree holds blocks keyed by their first seq.)
pub(super) fn each_stored(
    audit: &sled::Tree,
    from: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let start = audit
        .range(..=from.to_be_bytes())
        .next_back()
        .transpose()
        .map_err(failed)?
        .map_or_else(|| from.to_be_bytes().to_vec(), |(k, _)| k.to_vec());
    for kv in audit.range(start..) {
        let (k, block) = kv.map_err(failed)?;
        let first = block_first(&k)?;
        for (i, stored) in audit::split_block(&block).map_err(failed)?.into_iter().enumerate() {
            let seq = first + i as u64;
            if seq >= from && !f(seq, stored)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The stored form of entry `seq`, if the chain has it.
pub(super) fn stored_at(audit: &sled::Tree, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((k, block)) = audit
        .range(..=seq.to_be_bytes())
        .next_back()
        .transpose()
        .map_err(failed)?
    else {
        return Ok(None);
    };
    let i = usize::try_from(seq - block_first(&k)?).map_err(failed)?;
    Ok(audit::split_block(&block).map_err(failed)?.get(i).map(|s| s.to_vec()))
}

/// The chain's recorded hash of entry `seq`.
pub(super) fn hash_at(audit: &sled::Tree, seq: u64) -> Result<Option<[u8; 32]>, StoreError> {
    Ok(stored_at(audit, seq)?.and_then(|s| s.get(..32).and_then(|h| h.try_into().ok())))
}

/// The entry with sequence number `seq`.
pub(super) fn entry_at(audit: &sled::Tree, seq: u64) -> Result<AuditEntry, StoreError> {
    stored_at(audit, seq)?
        .and_then(|s| audit::decode(&s).ok())
        .map(|(_, e)| e)
        .filter(|e| e.seq == seq)
        .ok_or_else(|| StoreError::Failed(format!("the audit index names entry {seq}, which the chain lacks")))
}
