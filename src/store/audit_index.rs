//! The audit chain's index by subject: what is about one card (or one legal
//! request) is found without walking the chain. It holds only what the
//! chain already holds in the clear — subjects are keyed hashes — and
//! sequence numbers.
//!
//! The index is derived, never the record: it trails the chain and catches
//! up before every read (each entry is indexed once), in atomic batches that
//! also move its watermark, so a crash leaves it behind, never wrong.
//! `audit verify` checks it against a fresh walk of the chain (an
//! order-independent digest of the keys the chain implies) and rebuilds it
//! when they differ.
//!
//! Keys: `\0upto` → the last indexed seq; `s` ‖ subject ‖ `\0` ‖ seq;
//! `c` ‖ seq for entries carrying a destruction certificate.

use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{audit_reads, failed};
use crate::domain::audit::AuditEntry;
use crate::domain::audit::{AuditAbout, IndexStatus};
use crate::domain::store::StoreError;

const UPTO: &[u8] = b"\0upto";
/// Entries indexed per atomic batch while catching up.
const BATCH: usize = 10_000;

fn subject_prefix(subject: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(subject.len() + 10);
    k.push(b's');
    k.extend_from_slice(subject.as_bytes());
    k.push(0);
    k
}

fn subject_key(subject: &str, seq: u64) -> Vec<u8> {
    let mut k = subject_prefix(subject);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn certificate_key(seq: u64) -> [u8; 9] {
    let mut k = [b'c'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The index keys one entry implies.
fn keys_of(e: &AuditEntry) -> impl Iterator<Item = Vec<u8>> {
    let subject = e
        .subject
        .as_deref()
        .filter(|s| !s.contains('\0'))
        .map(|s| subject_key(s, e.seq));
    let certificate = e.certificate.is_some().then(|| certificate_key(e.seq).to_vec());
    subject.into_iter().chain(certificate)
}

fn seq_at_end(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

fn upto(index: &sled::Tree) -> Result<u64, StoreError> {
    Ok(index
        .get(UPTO)
        .map_err(failed)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes))
}

/// The index and the lock that lets one reader at a time catch it up.
pub(crate) struct AuditIndex {
    pub tree: sled::Tree,
    catching_up: Mutex<()>,
}

impl AuditIndex {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Self {
            tree,
            catching_up: Mutex::new(()),
        }
    }

    /// Indexes every entry after the watermark; returns the new watermark.
    pub(crate) fn catch_up(&self, audit: &sled::Tree) -> Result<u64, StoreError> {
        let _one = self.lock();
        self.catch_up_locked(audit)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.catching_up
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn catch_up_locked(&self, audit: &sled::Tree) -> Result<u64, StoreError> {
        let mut done = upto(&self.tree)?;
        loop {
            let page = audit_reads::page(audit, done, BATCH)?;
            let Some((last, _)) = page.last() else { return Ok(done) };
            let last = last.seq;
            let mut batch = sled::Batch::default();
            for (e, _) in &page {
                for k in keys_of(e) {
                    batch.insert(k, &[][..]);
                }
            }
            batch.insert(UPTO, &last.to_be_bytes()[..]);
            self.tree.apply_batch(batch).map_err(failed)?;
            done = last;
            // A long catch-up (a first index over a long chain) writes to disk
            // as it goes: the store's writer flushes only its own groups, and
            // unflushed batches would otherwise pile up in memory.
            if page.len() == BATCH {
                self.tree.flush().map_err(failed)?;
            }
        }
    }

    /// What the chain holds about `subject` (oldest first) and every entry
    /// with a destruction certificate.
    pub(crate) fn about(&self, audit: &sled::Tree, subject: Option<&str>) -> Result<AuditAbout, StoreError> {
        // Held while reading too: a rebuild never shows a reader half an index.
        let _one = self.lock();
        self.catch_up_locked(audit)?;
        let mut about = AuditAbout::default();
        if let Some(subject) = subject {
            for kv in self.tree.scan_prefix(subject_prefix(subject)) {
                let (k, _) = kv.map_err(failed)?;
                if let Some(seq) = seq_at_end(&k) {
                    about.entries.push(entry_at(audit, seq)?);
                }
            }
        }
        for kv in self.tree.scan_prefix(b"c") {
            let (k, _) = kv.map_err(failed)?;
            if let Some(seq) = seq_at_end(&k) {
                about.certificates.push(entry_at(audit, seq)?);
            }
        }
        Ok(about)
    }

    /// Checks the index against the chain (up to the watermark) and, when
    /// they differ, rebuilds it from the chain.
    pub(crate) fn check(&self, audit: &sled::Tree) -> Result<IndexStatus, StoreError> {
        let upto = self.catch_up(audit)?;
        let (mut want, mut want_n) = ([0u8; 32], 0u64);
        let mut after = 0;
        loop {
            let page = audit_reads::page(audit, after, BATCH)?;
            let Some((last, _)) = page.last() else { break };
            after = last.seq;
            for (e, _) in page.iter().filter(|(e, _)| e.seq <= upto) {
                for k in keys_of(e) {
                    fold(&mut want, &k);
                    want_n += 1;
                }
            }
            if after >= upto {
                break;
            }
        }
        let (mut have, mut have_n) = ([0u8; 32], 0u64);
        for kv in &self.tree {
            let (k, _) = kv.map_err(failed)?;
            // Entries indexed since this check began are not in `want`.
            if k.as_ref() != UPTO && seq_at_end(&k).is_some_and(|s| s <= upto) {
                fold(&mut have, &k);
                have_n += 1;
            }
        }
        let consistent = want == have && want_n == have_n;
        if !consistent {
            tracing::warn!(
                expected = want_n,
                found = have_n,
                "the audit index disagrees with the chain; rebuilding it"
            );
            let _one = self.lock();
            self.tree.clear().map_err(failed)?;
            self.catch_up_locked(audit)?;
        }
        Ok(IndexStatus {
            consistent,
            rebuilt: !consistent,
            indexed_through: upto,
            keys: want_n,
        })
    }
}

/// Adds `key` to an order-independent digest (sum of SHA-256 values mod 2²⁵⁶).
fn fold(acc: &mut [u8; 32], key: &[u8]) {
    let h = Sha256::digest(key);
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(acc[i]) + u16::from(h[i]) + carry;
        acc[i] = (s & 0xFF) as u8;
        carry = s >> 8;
    }
}

/// The entry with sequence number `seq`.
fn entry_at(audit: &sled::Tree, seq: u64) -> Result<AuditEntry, StoreError> {
    audit_reads::page(audit, seq.saturating_sub(1), 1)?
        .pop()
        .filter(|(e, _)| e.seq == seq)
        .map(|(e, _)| e)
        .ok_or_else(|| StoreError::Failed(format!("the audit index names entry {seq}, which the chain lacks")))
}
