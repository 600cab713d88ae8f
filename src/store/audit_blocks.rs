//! sled's audit tree, which holds the chain in blocks keyed by the
//! big-endian seq of their first entry: how a block is stored (its framed
//! entries, deflated), and reading one entry by its seq, its hash, or every
//! entry from a seq on.
//!
//! A block's value is either its framed entries as they are
//! ([`audit::push_to_block`]: `u32 length ‖ hash ‖ canonical JSON`, each),
//! as every block written before v1.2 is, or [`PACKED`] followed by those
//! bytes as a raw DEFLATE stream (RFC 1951). The two cannot be confused:
//! a framed block's first byte is the top byte of its first entry's length,
//! and no entry is 4 GB. Only the stored bytes change: the chain's hashes
//! and the tree's leaves are of each entry's canonical JSON, as before.

use std::borrow::Cow;

use super::failed;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::store::StoreError;

/// The first two bytes of a deflated block: a mark no framed block starts
/// with, and the format's version.
const PACKED: [u8; 2] = [0xFF, 0x01];

/// The most a block may inflate to: a group holds at most 512 commits, and
/// an entry is a few kilobytes at most (bodies are bounded); a block that
/// claims more is damage, not a block.
const MAX_INFLATED: u64 = 256 << 20;

/// The value stored for a block of framed entries: deflated (the fast
/// level: a fact query's entry of ~600 bytes stores as ~200, with the
/// block's other entries sharing its field names and values), or as it is
/// when that would not be smaller.
pub(super) fn pack(framed: Vec<u8>) -> Vec<u8> {
    match deflate(&framed) {
        Some(packed) if packed.len() < framed.len() => packed,
        _ => framed,
    }
}

thread_local! {
    /// The writer thread's compressor, reset for each block: making one
    /// costs more than deflating a block of a dozen entries.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
}

/// [`PACKED`] and `framed` as one raw DEFLATE stream; `None` when it would
/// not be smaller.
fn deflate(framed: &[u8]) -> Option<Vec<u8>> {
    DEFLATE.with_borrow_mut(|z| {
        z.reset();
        let mut packed = Vec::with_capacity(framed.len() / 2 + 64);
        packed.extend_from_slice(&PACKED);
        loop {
            if packed.len() >= framed.len() {
                return None;
            }
            if packed.len() == packed.capacity() {
                packed.reserve(packed.len());
            }
            let (read, wrote) = (z.total_in(), z.total_out());
            let rest = framed.get(usize::try_from(read).ok()?..)?;
            match z.compress_vec(rest, &mut packed, flate2::FlushCompress::Finish).ok()? {
                flate2::Status::StreamEnd => return Some(packed),
                // Room was there and nothing moved: give up, store it as it is.
                _ if (z.total_in(), z.total_out()) == (read, wrote) => return None,
                flate2::Status::Ok | flate2::Status::BufError => {}
            }
        }
    })
}

/// A stored block's framed entries.
///
/// # Errors
/// A deflated block that does not inflate, inflates past [`MAX_INFLATED`],
/// or names an unknown version.
pub(super) fn unpack(value: &[u8]) -> Result<Cow<'_, [u8]>, StoreError> {
    let Some(rest) = value.strip_prefix(&PACKED[..1]) else {
        return Ok(Cow::Borrowed(value));
    };
    let body = rest
        .strip_prefix(&PACKED[1..])
        .ok_or_else(|| failed("an audit block of an unknown format"))?;
    inflate(body).map(Cow::Owned)
}

/// A whole raw DEFLATE stream, ending where `body` ends: a stream cut short,
/// followed by anything, or inflating past [`MAX_INFLATED`] is refused.
fn inflate(body: &[u8]) -> Result<Vec<u8>, StoreError> {
    let broken = || failed("an audit block does not inflate");
    let mut d = flate2::Decompress::new(false);
    let mut framed = Vec::with_capacity(body.len().saturating_mul(4).max(4096));
    loop {
        if framed.len() as u64 > MAX_INFLATED {
            return Err(failed("an audit block inflates past any group's size"));
        }
        if framed.len() == framed.capacity() {
            // Room for one byte past the bound, at most: enough to see it crossed.
            let bound = usize::try_from(MAX_INFLATED + 1).unwrap_or(usize::MAX);
            framed.reserve(framed.len().min(bound - framed.len()));
        }
        let (read, wrote) = (d.total_in(), d.total_out());
        let rest = body
            .get(usize::try_from(read).map_err(|_| broken())?..)
            .ok_or_else(broken)?;
        match d
            .decompress_vec(rest, &mut framed, flate2::FlushDecompress::None)
            .map_err(|_| broken())?
        {
            flate2::Status::StreamEnd if d.total_in() == body.len() as u64 && framed.len() as u64 <= MAX_INFLATED => {
                return Ok(framed)
            }
            flate2::Status::StreamEnd => return Err(broken()),
            // Room was made and nothing moved: the stream stops short.
            _ if d.total_in() == read && d.total_out() == wrote && framed.len() < framed.capacity() => {
                return Err(broken())
            }
            _ => {}
        }
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
    use std::io::Write as _;

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
    fn a_block_is_stored_deflated_and_reads_back_entry_for_entry() {
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
    fn a_block_written_before_deflation_reads_as_it_is() {
        let block = framed(2);
        assert!(matches!(unpack(&block).unwrap(), Cow::Borrowed(b) if b == block.as_slice()));
    }

    #[test]
    fn damage_is_refused_not_read() {
        let mut stored = pack(framed(13));
        stored[1] = 0x02;
        assert!(unpack(&stored).is_err(), "an unknown version");
        let stored = pack(framed(13));
        assert!(unpack(&stored[..stored.len() / 2]).is_err(), "a cut stream");
        // A stream that would inflate past any group's size.
        let mut z = flate2::write::DeflateEncoder::new(PACKED.to_vec(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..=(MAX_INFLATED >> 20) {
            z.write_all(&zeros).unwrap_or_default();
        }
        let bomb = z.finish().unwrap_or_default();
        assert!(unpack(&bomb).is_err(), "a bomb");
    }
}
