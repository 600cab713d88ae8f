//! Reading the audit tree: entries are stored in blocks (one sled value per
//! commit group, keyed by its first sequence number).

use super::audit_blocks::unpack;
use super::failed;
use crate::domain::audit::{self, AuditEntry, ChainReport, ChainVerifier};
use crate::domain::store::StoreError;

/// Entries with `seq > after`, at most `limit`, each with its hash.
pub(super) fn page(tree: &sled::Tree, after: u64, limit: usize) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError> {
    let want = after.saturating_add(1);
    // Start at the block holding `want`: the last block keyed at or before it.
    let start = tree
        .range(..=want.to_be_bytes())
        .next_back()
        .transpose()
        .map_err(failed)?
        .map_or_else(|| want.to_be_bytes().to_vec(), |(k, _)| k.to_vec());
    let mut out = Vec::with_capacity(limit.min(1024));
    for kv in tree.range(start..) {
        let (_, block) = kv.map_err(failed)?;
        let block = unpack(&block)?;
        for stored in audit::split_block(&block).map_err(failed)? {
            let (hash, entry) = audit::decode(stored).map_err(failed)?;
            if entry.seq >= want {
                out.push((entry, hash));
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Walks the whole chain, entry by entry, checking it against signed heads.
pub(super) fn verify(
    tree: &sled::Tree,
    checkpoints: std::collections::BTreeMap<u64, String>,
) -> Result<ChainReport, StoreError> {
    let mut v = ChainVerifier::with_checkpoints(checkpoints);
    for kv in tree {
        let (k, block) = kv.map_err(failed)?;
        let first = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0xFF; 8]));
        let framed = unpack(&block).ok();
        match framed.as_deref().map(audit::split_block) {
            Some(Ok(entries)) => {
                for (i, stored) in entries.into_iter().enumerate() {
                    v.feed(first + i as u64, stored);
                }
            }
            // A block that does not inflate, or broken framing: the chain
            // breaks at the block's first entry.
            _ => v.feed(first, &[]),
        }
    }
    Ok(v.finish())
}
