//! sled's side of the transparency log (`domain::tlog`): the `tlog` tree
//! holds runs of stored hashes (`level ‖ first index` → hashes), written by
//! the writer in the same flush as their entries; reading them back; and,
//! at open, bringing the tree up to the chain (a store from before the tree,
//! or a crash between a group's blocks and its runs).

use super::failed;
use crate::domain::audit;
use crate::domain::store::StoreError;
use crate::domain::tlog::{collect_runs, leaf_hash, run_key, split_run_key, Frontier, Runs, TreeError};

/// Level `level`'s stored hashes `from..to`.
pub(super) fn stored(tree: &sled::Tree, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError> {
    let store = |e: sled::Error| TreeError::Store(e.to_string());
    let start = tree
        .range(run_key(level, 0)..=run_key(level, from))
        .next_back()
        .transpose()
        .map_err(store)?
        .map_or_else(|| run_key(level, from).to_vec(), |(k, _)| k.to_vec());
    let runs = tree.range(start..).map(|kv| {
        let (k, v) = kv.map_err(store)?;
        match split_run_key(&k) {
            Some((l, first)) if l == level => Ok((first, v.to_vec())),
            _ => Err(TreeError::Missing { level, from, to }),
        }
    });
    collect_runs(level, from, to, runs)
}

/// Entries in the tree: the end of level 0's last run.
pub(super) fn size(tree: &sled::Tree) -> Result<u64, StoreError> {
    let last = tree
        .range(run_key(0, 0)..=run_key(0, u64::MAX))
        .next_back()
        .transpose()
        .map_err(failed)?;
    Ok(last.map_or(0, |(k, v)| {
        split_run_key(&k).map_or(0, |(_, first)| first + v.len() as u64 / 32)
    }))
}

/// Inserts a group's runs (the caller flushes).
pub(super) fn write(tree: &sled::Tree, runs: &mut Runs) -> Result<(), String> {
    for (level, first, bytes) in runs.take() {
        tree.insert(run_key(level, first), bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The tree's right edge at open, brought up to the chain's `head` entries
/// by adding the leaves it lacks (in steps of 65,536, flushed each).
pub(super) fn open(
    db: &sled::Db,
    tree: &sled::Tree,
    audit_tree: &sled::Tree,
    head: u64,
) -> Result<Frontier, StoreError> {
    let at = size(tree)?;
    if at > head {
        return Err(StoreError::Failed(crate::domain::tlog::tree_past_chain(at, head)));
    }
    let mut frontier =
        Frontier::load(&StoredIn(tree), at).map_err(|e| StoreError::Failed(format!("audit tree: {e}")))?;
    if at == head {
        return Ok(frontier);
    }
    tracing::info!(from = at, to = head, "adding audit entries to the Merkle tree");
    let mut runs = Runs::default();
    let mut pending = 0u32;
    super::audit_blocks::each_stored(audit_tree, at + 1, |seq, stored| {
        if seq != frontier.size() + 1 {
            return Err(failed("the audit chain has a gap"));
        }
        let canonical = stored.get(32..).ok_or_else(|| failed(audit::UnreadableEntry))?;
        frontier.push(leaf_hash(canonical), &mut runs);
        pending += 1;
        if pending == 1 << 16 {
            write(tree, &mut runs).map_err(failed)?;
            db.flush().map_err(failed)?;
            pending = 0;
        }
        Ok(seq < head)
    })?;
    write(tree, &mut runs).map_err(failed)?;
    db.flush().map_err(failed)?;
    Ok(frontier)
}

struct StoredIn<'a>(&'a sled::Tree);

impl crate::domain::tlog::StoredHashes for StoredIn<'_> {
    fn stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError> {
        stored(self.0, level, from, to)
    }
}
