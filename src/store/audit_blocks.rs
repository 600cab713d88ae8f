//! sled's audit tree, which holds the chain in blocks keyed by the
//! big-endian seq of their first entry: how a block is stored (its framed
//! entries, compressed), and reading one entry by its seq, its hash, or
//! every entry from a seq on.
//!
//! A block's value is either its framed entries as they are
//! ([`audit::push_to_block`]: `u32 length ‖ hash ‖ canonical JSON`, each),
//! as every block written before v1.2 is, or [`PACKED`] followed by those
//! bytes as one Zstandard frame (RFC 8878) that records its content size.
//! The two cannot be confused: a framed block's first byte is the top byte
//! of its first entry's length, and no entry is 4 GB. Only the stored bytes
//! change: the chain's hashes and the tree's leaves are of each entry's
//! canonical JSON, as before.

use std::borrow::Cow;
use std::cell::RefCell;

use super::failed;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::store::StoreError;

/// The first two bytes of a compressed block: a mark no framed block
/// starts with, and the format's version.
const PACKED: [u8; 2] = [0xFF, 0x01];

/// The most a block may hold once decompressed: a group holds at most 512
/// commits, and an entry is a few kilobytes at most (bodies are bounded);
/// a block that claims more is damage, not a block.
const MAX_FRAMED: usize = 256 << 20;

/// Zstandard's level 1, its fastest standard level: a fact query's entry
/// of ~600 bytes stores as ~200 in a block of a dozen, which share their
/// field names and most values.
const LEVEL: i32 = 1;

thread_local! {
    /// The writer thread's compression context, kept between blocks.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    /// Each reading thread's decompression context.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The value stored for a block of framed entries: compressed, or as it is
/// when that would not be smaller (or the compressor cannot be had).
pub(super) fn pack(framed: Vec<u8>) -> Vec<u8> {
    let packed = COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        let z = slot.as_mut()?;
        let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(framed.len()));
        z.compress_to_buffer(&framed, &mut frame).ok()?;
        let mut packed = Vec::with_capacity(PACKED.len() + frame.len());
        packed.extend_from_slice(&PACKED);
        packed.extend_from_slice(&frame);
        Some(packed)
    });
    match packed {
        Some(packed) if packed.len() < framed.len() => packed,
        _ => framed,
    }
}

/// A stored block's framed entries.
///
/// # Errors
/// A compressed block that does not decompress to exactly the size its
/// frame records, records none, records more than [`MAX_FRAMED`], or
/// names an unknown version.
pub fn unpack(value: &[u8]) -> Result<Cow<'_, [u8]>, StoreError> {
    let Some(rest) = value.strip_prefix(&PACKED[..1]) else {
        return Ok(Cow::Borrowed(value));
    };
    let frame = rest
        .strip_prefix(&PACKED[1..])
        .ok_or_else(|| failed("an audit block of an unknown format"))?;
    let broken = || failed("an audit block does not decompress");
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(broken)?;
    if size > MAX_FRAMED {
        return Err(failed("an audit block claims more than any group's size"));
    }
    let framed = DECOMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Decompressor::new().ok();
        }
        let mut framed = Vec::with_capacity(size);
        slot.as_mut()?.decompress_to_buffer(frame, &mut framed).ok()?;
        Some(framed)
    });
    match framed {
        Some(framed) if framed.len() == size => Ok(Cow::Owned(framed)),
        _ => Err(broken()),
    }
}

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
        let block = unpack(&block)?;
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
    let block = unpack(&block)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{push_to_block, split_block};

    fn framed(n: usize) -> Vec<u8> {
        let mut block = Vec::new();
        for i in 0..n {
            let json = format!(r#"{{"seq":{i},"action":"query_fact","resource":"Fact","outcome":"ok"}}"#);
            push_to_block(&mut block, &[u8::try_from(i % 251).unwrap_or(0); 32], json.as_bytes());
        }
        block
    }

    #[test]
    fn a_block_is_stored_compressed_and_reads_back_entry_for_entry() {
        let block = framed(13);
        let stored = pack(block.clone());
        assert_eq!(stored[..2], PACKED);
        assert!(stored.len() < block.len() / 2, "{} of {}", stored.len(), block.len());
        let back = unpack(&stored).unwrap();
        assert_eq!(back.as_ref(), block.as_slice());
        assert_eq!(split_block(&back).unwrap().len(), 13);
    }

    #[test]
    fn blocks_of_every_group_size_read_back() {
        for n in [1, 5, 50, 200, 512] {
            let block = framed(n);
            assert_eq!(
                unpack(&pack(block.clone())).unwrap().as_ref(),
                block.as_slice(),
                "{n} entries"
            );
        }
    }

    #[test]
    fn a_block_written_before_compression_reads_as_it_is() {
        let block = framed(2);
        assert!(matches!(unpack(&block).unwrap(), Cow::Borrowed(b) if b == block.as_slice()));
    }

    #[test]
    fn any_damage_to_a_stored_block_is_an_error_or_other_bytes_never_a_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(32);
        let stored = pack(framed(40));
        for _ in 0..20_000 {
            let mut damaged = stored.clone();
            match rng.gen_range(0..3) {
                0 => {
                    let i = rng.gen_range(2..damaged.len());
                    damaged[i] ^= 1 << rng.gen_range(0..8);
                }
                1 => damaged.truncate(rng.gen_range(0..damaged.len())),
                _ => {
                    let i = rng.gen_range(2..damaged.len());
                    damaged.insert(i, rng.gen());
                }
            }
            if let Ok(back) = unpack(&damaged) {
                assert!(back.len() <= MAX_FRAMED);
                let _ = split_block(&back);
            }
        }
    }

    #[test]
    fn damage_is_refused_not_read() {
        let mut stored = pack(framed(13));
        stored[1] = 0x02;
        assert!(unpack(&stored).is_err(), "an unknown version");
        let stored = pack(framed(13));
        assert!(unpack(&stored[..stored.len() / 2]).is_err(), "a cut stream");
        // A frame that claims more than any group's size is not opened.
        let zeros = vec![0u8; MAX_FRAMED + 1];
        let mut bomb = PACKED.to_vec();
        bomb.extend(zstd::bulk::compress(&zeros, LEVEL).unwrap_or_default());
        assert!(bomb.len() < 1 << 20);
        assert!(unpack(&bomb).is_err(), "a bomb");
        // Trailing bytes after the frame.
        let mut stored = pack(framed(13));
        stored.extend_from_slice(b"more");
        assert!(unpack(&stored).is_err(), "trailing bytes");
    }
}
