//! The audit log as a transparency log: RFC 6962's Merkle tree over the
//! audit entries, kept as C2SP tlog-tiles keep it.
//!
//! - A leaf is `SHA-256(0x00 ‖ the entry's canonical JSON)` — the bytes the
//!   chain hash covers, `prev_hash` included, so the tree commits to the
//!   chain too. Leaf index = seq − 1.
//! - Only the hashes of tree levels 0, 8, 16, … are stored (what C2SP hash
//!   tiles hold: a tile at level L holds level 8L's hashes); any other node
//!   is at most 128 stored hashes folded up. They are stored in *runs*: a
//!   run is `level ‖ first index` → the consecutive hashes a commit group
//!   added at that level, so a group writes one value per level it reached
//!   and ~32 bytes per entry — flat as the log grows.
//! - The writer keeps the tree's right edge ([`Frontier`], one hash per
//!   level: log₂ n hashes) in memory and adds each entry's leaf in the same
//!   store commit as the entry.
//! - Proofs and tree hashes go through `tlog_tiles` (Cloudflare's port of
//!   Go's `golang.org/x/mod/sumdb/tlog`), reading nodes through
//!   [`NodeReader`] over the stored runs.

use std::collections::BTreeMap;

pub use tlog_tiles::{Hash, EMPTY_HASH};

/// Levels per tile (C2SP tlog-tiles: 8, tiles of 256 hashes).
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The leaf hash of an entry from its canonical JSON.
#[must_use]
pub fn leaf_hash(canonical: &[u8]) -> [u8; 32] {
    tlog_tiles::record_hash(canonical).0
}

/// RFC 6962's interior node hash.
#[must_use]
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    tlog_tiles::node_hash(Hash(*left), Hash(*right)).0
}

/// A tree read that could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The stored hashes do not cover what was asked (the tree is smaller).
    #[error("the tree does not hold hashes at level {level} from {from} to {to}")]
    Missing { level: u8, from: u64, to: u64 },
    /// The store could not be read.
    #[error("{0}")]
    Store(String),
    /// A proof or tree hash was asked for sizes it cannot cover.
    #[error("{0}")]
    Input(String),
}

/// Stored hashes, as a store holds them.
pub trait StoredHashes {
    /// Level `level`'s hashes `from..to` (`level` a multiple of 8).
    ///
    /// # Errors
    /// The store lacks some of them or cannot be read.
    fn stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError>;
}

/// What one group adds to the stored hashes: per level, one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Runs {
    /// level → (first index, concatenated hashes).
    runs: BTreeMap<u8, (u64, Vec<u8>)>,
}

impl Runs {
    fn add(&mut self, level: u8, index: u64, hash: &[u8; 32]) {
        let run = self.runs.entry(level).or_insert_with(|| (index, Vec::new()));
        run.1.extend_from_slice(hash);
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs as `(level, first index, hashes)`, emptying `self`.
    pub fn take(&mut self) -> Vec<(u8, u64, Vec<u8>)> {
        std::mem::take(&mut self.runs)
            .into_iter()
            .map(|(level, (first, bytes))| (level, first, bytes))
            .collect()
    }
}

/// A run's storage key: `level ‖ first index (big-endian)`, so a level's
/// runs are one prefix in index order.
#[must_use]
pub fn run_key(level: u8, first: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

/// A run's key split back into level and first index.
#[must_use]
pub fn split_run_key(key: &[u8]) -> Option<(u8, u64)> {
    let (&level, rest) = key.split_first()?;
    Some((level, u64::from_be_bytes(rest.try_into().ok()?)))
}

/// The hashes `from..to` from runs read in key order starting at the run
/// that holds `from` (the callers' range scans).
///
/// # Errors
/// The runs leave a gap or stop before `to`.
pub fn collect_runs<I>(level: u8, from: u64, to: u64, runs: I) -> Result<Vec<[u8; 32]>, TreeError>
where
    I: IntoIterator<Item = Result<(u64, Vec<u8>), TreeError>>,
{
    let missing = || TreeError::Missing { level, from, to };
    let want = usize::try_from(to.saturating_sub(from)).map_err(|_| missing())?;
    let mut out = Vec::with_capacity(want);
    let mut next = from;
    for run in runs {
        if next >= to {
            break;
        }
        let (first, bytes) = run?;
        let count = bytes.len() as u64 / 32;
        if first > next || bytes.len() % 32 != 0 {
            return Err(missing());
        }
        if first + count <= next {
            continue;
        }
        let skip = usize::try_from(next - first).map_err(|_| missing())?;
        for chunk in bytes.chunks_exact(32).skip(skip) {
            if next >= to {
                break;
            }
            out.push(chunk.try_into().map_err(|_| missing())?);
            next += 1;
        }
    }
    if next < to {
        return Err(missing());
    }
    Ok(out)
}

/// The hash of the complete node at `(level, index)`: stored, or folded up
/// from at most 128 stored hashes of the tile level below it.
///
/// # Errors
/// As [`StoredHashes::stored`].
pub fn node<S: StoredHashes + ?Sized>(s: &S, level: u8, index: u64) -> Result<[u8; 32], TreeError> {
    let base = level - level % TILE_HEIGHT;
    let up = level - base;
    let overflow = || TreeError::Input(format!("node ({level}, {index}) is outside any tree"));
    let from = index.checked_shl(u32::from(up)).ok_or_else(overflow)?;
    let width = 1u64 << up;
    let mut hashes = s.stored(base, from, from.checked_add(width).ok_or_else(overflow)?)?;
    while hashes.len() > 1 {
        hashes = hashes.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    hashes.pop().ok_or_else(overflow)
}

/// The tree's right edge: for each level whose bit is set in `size`, the
/// complete node there that has no right sibling yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    left: Vec<[u8; 32]>,
}

impl Frontier {
    /// The tree's size (entries in it).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right edge of the stored tree of `size` leaves.
    ///
    /// # Errors
    /// The stored hashes do not reach `size`.
    pub fn load<S: StoredHashes + ?Sized>(s: &S, size: u64) -> Result<Self, TreeError> {
        let mut left = Vec::new();
        for level in 0..64u8 {
            if size >> level == 0 {
                break;
            }
            left.push(if (size >> level) & 1 == 1 {
                node(s, level, (size >> level) - 1)?
            } else {
                [0; 32]
            });
        }
        Ok(Self { size, left })
    }

    /// Adds the leaf of entry `size + 1`; the stored hashes it completes go to `runs`.
    pub fn push(&mut self, leaf: [u8; 32], runs: &mut Runs) {
        let mut index = self.size;
        runs.add(0, index, &leaf);
        let mut carry = leaf;
        let mut level = 0u8;
        while index & 1 == 1 {
            carry = node_hash(&self.left[usize::from(level)], &carry);
            level += 1;
            index >>= 1;
            if level.is_multiple_of(TILE_HEIGHT) {
                runs.add(level, index, &carry);
            }
        }
        let at = usize::from(level);
        if self.left.len() <= at {
            self.left.resize(at + 1, [0; 32]);
        }
        self.left[at] = carry;
        self.size += 1;
    }

    /// The RFC 6962 root hash of the tree.
    #[must_use]
    pub fn root(&self) -> [u8; 32] {
        let mut acc: Option<[u8; 32]> = None;
        for (level, h) in self.left.iter().enumerate() {
            if (self.size >> level) & 1 == 1 {
                acc = Some(acc.map_or(*h, |a| node_hash(h, &a)));
            }
        }
        acc.unwrap_or(EMPTY_HASH.0)
    }
}

/// The stored hashes as `tlog_tiles` reads them (by stored-hash index).
pub struct NodeReader<'a, S: ?Sized>(pub &'a S);

impl<S: StoredHashes + ?Sized> tlog_tiles::HashReader for NodeReader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = tlog_tiles::split_stored_hash_index(i);
                node(self.0, level, n)
                    .map(Hash)
                    .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))
            })
            .collect()
    }
}

fn tree_err(e: &tlog_tiles::Error) -> TreeError {
    TreeError::Input(e.to_string())
}

/// The root hash of the tree's first `size` leaves.
///
/// # Errors
/// The stored hashes do not reach `size`.
pub fn root_at<S: StoredHashes + ?Sized>(s: &S, size: u64) -> Result<[u8; 32], TreeError> {
    tlog_tiles::tree_hash(size, &NodeReader(s))
        .map(|h| h.0)
        .map_err(|e| tree_err(&e))
}

/// RFC 6962 inclusion proof of leaf `index` in the tree of `size` leaves.
///
/// # Errors
/// `index >= size`, or the stored hashes do not reach `size`.
pub fn inclusion_proof<S: StoredHashes + ?Sized>(s: &S, index: u64, size: u64) -> Result<Vec<[u8; 32]>, TreeError> {
    if index >= size {
        return Err(TreeError::Input("the leaf is not in a tree of that size".into()));
    }
    tlog_tiles::prove_record(size, index, &NodeReader(s))
        .map(|p| p.into_iter().map(|h| h.0).collect())
        .map_err(|e| tree_err(&e))
}

/// RFC 6962 consistency proof from the tree of `from` leaves to that of `to`.
///
/// # Errors
/// Not `1 <= from <= to`, or the stored hashes do not reach `to`.
pub fn consistency_proof<S: StoredHashes + ?Sized>(s: &S, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError> {
    if from == 0 || from > to {
        return Err(TreeError::Input("sizes must satisfy 1 <= from <= to".into()));
    }
    tlog_tiles::prove_tree(to, from, &NodeReader(s))
        .map(|p| p.into_iter().map(|h| h.0).collect())
        .map_err(|e| tree_err(&e))
}

/// Checks an inclusion proof.
///
/// # Errors
/// The proof does not show `leaf` at `index` in the tree of `size` with `root`.
pub fn check_inclusion(
    proof: &[[u8; 32]],
    size: u64,
    root: &[u8; 32],
    index: u64,
    leaf: &[u8; 32],
) -> Result<(), TreeError> {
    let p: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    if index >= size {
        return Err(TreeError::Input("the leaf is not in a tree of that size".into()));
    }
    tlog_tiles::check_record(&p, size, Hash(*root), index, Hash(*leaf)).map_err(|e| tree_err(&e))
}

/// Checks a consistency proof from (`from`, `old`) to (`to`, `new`).
///
/// # Errors
/// The proof does not show the older tree is a prefix of the newer.
pub fn check_consistency(
    proof: &[[u8; 32]],
    from: u64,
    old: &[u8; 32],
    to: u64,
    new: &[u8; 32],
) -> Result<(), TreeError> {
    if from == 0 || from > to {
        return Err(TreeError::Input("sizes must satisfy 1 <= from <= to".into()));
    }
    let p: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_tree(&p, to, Hash(*new), from, Hash(*old)).map_err(|e| tree_err(&e))
}

/// A hash tile's bytes: level `8·tile_level`'s hashes `n·256 .. n·256 + width`.
///
/// # Errors
/// As [`StoredHashes::stored`]; a width of 0 or above 256.
pub fn tile<S: StoredHashes + ?Sized>(s: &S, tile_level: u8, n: u64, width: u64) -> Result<Vec<u8>, TreeError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(TreeError::Input("a tile's width is 1 to 256".into()));
    }
    let level = tile_level
        .checked_mul(TILE_HEIGHT)
        .ok_or_else(|| TreeError::Input("no such tile level".into()))?;
    let from = n
        .checked_mul(TILE_WIDTH)
        .ok_or_else(|| TreeError::Input("no such tile".into()))?;
    let hashes = s.stored(level, from, from + width)?;
    Ok(hashes.concat())
}

/// How many hashes level `8·tile_level` holds in a tree of `size` leaves.
#[must_use]
pub fn level_width(size: u64, tile_level: u8) -> u64 {
    size.checked_shr(u32::from(tile_level) * u32::from(TILE_HEIGHT))
        .unwrap_or(0)
}

/// Stored hashes in memory, for tests and offline rebuilds.
#[derive(Debug, Default, Clone)]
pub struct MemoryHashes {
    pub levels: BTreeMap<u8, Vec<[u8; 32]>>,
}

impl MemoryHashes {
    /// Adds a group's runs.
    pub fn apply(&mut self, runs: Vec<(u8, u64, Vec<u8>)>) {
        for (level, first, bytes) in runs {
            let l = self.levels.entry(level).or_default();
            debug_assert_eq!(l.len() as u64, first);
            l.extend(bytes.chunks_exact(32).filter_map(|c| <[u8; 32]>::try_from(c).ok()));
        }
    }
}

impl StoredHashes for MemoryHashes {
    fn stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError> {
        let missing = || TreeError::Missing { level, from, to };
        let l = self.levels.get(&level).ok_or_else(missing)?;
        let a = usize::try_from(from).map_err(|_| missing())?;
        let b = usize::try_from(to).map_err(|_| missing())?;
        l.get(a..b).map(<[_]>::to_vec).ok_or_else(missing)
    }
}

#[cfg(test)]
#[path = "tlog_tests.rs"]
mod tests;

/// How a tree holding more entries than the chain is reported: the newest
/// entries were removed after the tree recorded them. Begins with
/// [`TRUNCATED`] so the offline verifier reports it as the truncation it is.
#[must_use]
pub fn tree_past_chain(tree: u64, chain: u64) -> String {
    format!("{TRUNCATED}: the audit's Merkle tree holds {tree} entries but the chain only {chain}: entries were removed; refusing to start")
}

/// The first word of a truncation finding.
pub const TRUNCATED: &str = "truncated";
