//! The audit chain's index by subject: what is about one card (or one legal
//! request) is found without walking the chain. It holds only digests of
//! what the chain already holds in the clear — subjects are keyed hashes —
//! and sequence numbers.
//!
//! It lives outside sled, in `data/audit-index/` (sled's memory grows with
//! every page written, and ten million index keys would cost gigabytes):
//! sorted immutable runs of fixed-size records (see `index_runs`), and the
//! newest entries' records in memory until they make a run. A run covers a
//! range of the chain; the manifest listing the runs is replaced only after
//! the runs and the chain entries they cover are on disk, and records the
//! chain's hash at its watermark. So a crash leaves the index behind (the
//! entries after the watermark are indexed again from the chain), never
//! wrong; a manifest or run that is unreadable, fails its checksum, or was
//! made for another chain is discarded and the index rebuilt from the chain.
//!
//! The index is derived, never the record: answers are read back from the
//! chain and each entry is checked to be about the subject asked for, and
//! `audit verify` compares the index with a fresh walk of the chain (an
//! order-independent digest of the records the chain implies), rebuilding
//! it when they differ. The directory is the store's: sled's lock on the
//! data directory keeps a second process out.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use super::audit_blocks::{each_stored, entry_at, hash_at};
use super::failed;
use super::index_runs::{self, Key, Manifest, Record, Run, RunWriter, KEY, RECORD};
use crate::domain::audit::{self, AuditAbout, IndexStatus};
use crate::domain::store::StoreError;

/// Entries the in-memory records may cover before they are written as a run
/// (what a restart after a crash indexes again, at most).
const RUN_ENTRIES: u64 = 262_144;
/// Beyond this many runs the two newest are merged whatever their sizes.
const MAX_RUNS: usize = 16;

fn digest(kind: u8, bytes: &[u8]) -> Key {
    let mut h = Sha256::new();
    h.update(b"civic-vault audit index v1\0");
    h.update([kind]);
    h.update(bytes);
    let full = h.finalize();
    let mut key = [0u8; KEY];
    key.copy_from_slice(&full[..KEY]);
    key
}

fn subject_key(subject: &str) -> Key {
    digest(b's', subject.as_bytes())
}

/// The key under which entries carrying a destruction certificate are found.
fn certificate_key() -> Key {
    digest(b'c', &[])
}

/// The two fields of an entry the index needs (the rest is skipped unparsed).
#[derive(serde::Deserialize)]
struct Indexed<'a> {
    #[serde(borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(default)]
    certificate: Option<serde::de::IgnoredAny>,
}

/// The records one stored entry (`hash ‖ canonical JSON`) implies.
fn records_of(seq: u64, stored: &[u8], mut out: impl FnMut(Record)) -> Result<(), StoreError> {
    let json = stored.get(32..).ok_or_else(|| failed(audit::UnreadableEntry))?;
    let e: Indexed = serde_json::from_slice(json).map_err(|_| failed(audit::UnreadableEntry))?;
    if let Some(s) = e.subject {
        out(Record {
            key: subject_key(&s),
            seq,
        });
    }
    if e.certificate.is_some() {
        out(Record {
            key: certificate_key(),
            seq,
        });
    }
    Ok(())
}

/// The index as this process holds it.
#[derive(Default)]
struct State {
    /// The files under the directory have been read (lazily, at first use).
    loaded: bool,
    /// Runs in chain order, covering entries `1..=durable`.
    runs: Vec<Run>,
    /// The manifest's watermark.
    durable: u64,
    /// The last entry indexed (the in-memory records cover `durable+1..=upto`).
    upto: u64,
    tail: BTreeSet<Record>,
    next_id: u64,
    /// Why the index found on disk was discarded, until `audit verify` says so.
    damaged: Option<String>,
}

impl State {
    /// The seqs recorded under `key`, oldest first.
    fn lookup(&self, key: Key) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for run in &self.runs {
            run.lookup(&key, &mut out)?;
        }
        let range = Record { key, seq: 0 }..=Record { key, seq: u64::MAX };
        out.extend(self.tail.range(range).map(|r| r.seq));
        Ok(out)
    }
}

/// The index, behind a lock that lets one reader at a time catch it up.
pub(crate) struct AuditIndex {
    dir: PathBuf,
    state: Mutex<State>,
}

impl AuditIndex {
    /// The index kept in `dir` (created at first use).
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes what is indexed in memory as a run (at a clean shutdown, so
    /// the next start need not index it again).
    pub(crate) fn persist(&self, audit: &sled::Tree) -> Result<(), StoreError> {
        let mut st = self.lock();
        if st.loaded {
            self.spill(&mut st, audit)?;
        }
        Ok(())
    }

    fn catch_up_locked(&self, st: &mut State, audit: &sled::Tree) -> Result<u64, StoreError> {
        if !st.loaded {
            self.load(st, audit)?;
        }
        each_stored(audit, st.upto + 1, |seq, stored| {
            if seq != st.upto + 1 {
                return Err(StoreError::Failed(format!(
                    "the audit chain goes from entry {} to {seq}",
                    st.upto
                )));
            }
            records_of(seq, stored, |r| {
                st.tail.insert(r);
            })?;
            st.upto = seq;
            if st.upto - st.durable >= RUN_ENTRIES {
                self.spill(st, audit)?;
            }
            Ok(true)
        })?;
        Ok(st.upto)
    }

    /// Reads the index from its directory, or starts it empty when there is
    /// none or what is there cannot be trusted.
    fn load(&self, st: &mut State, audit: &sled::Tree) -> Result<(), StoreError> {
        index_runs::create_dir(&self.dir)?;
        *st = State {
            loaded: true,
            damaged: st.damaged.take(),
            ..State::default()
        };
        match self.open_manifest(audit) {
            Ok(None) => index_runs::remove_others(&self.dir, &[], true)?,
            Ok(Some((m, runs))) => {
                let keep: Vec<u64> = runs.iter().map(|r| r.meta.id).collect();
                // Runs a crash left unlisted.
                index_runs::remove_others(&self.dir, &keep, false)?;
                st.durable = m.upto;
                st.upto = m.upto;
                st.next_id = m.next_id;
                st.runs = runs;
            }
            Err(reason) => {
                tracing::warn!(%reason, "the audit index on disk cannot be used; rebuilding it from the chain");
                index_runs::remove_others(&self.dir, &[], true)?;
                st.damaged = Some(reason);
            }
        }
        Ok(())
    }

    /// The manifest and its runs, checked against each other and the chain.
    fn open_manifest(&self, audit: &sled::Tree) -> Result<Option<(Manifest, Vec<Run>)>, String> {
        let Some(m) = Manifest::read(&self.dir)? else {
            return Ok(None);
        };
        let mut at = 0;
        for r in &m.runs {
            if r.from != at || r.to <= r.from || r.id >= m.next_id {
                return Err("the manifest's runs do not cover the chain in order".into());
            }
            at = r.to;
        }
        if at != m.upto || m.upto == 0 {
            return Err("the manifest's watermark is not where its runs end".into());
        }
        if hash_at(audit, m.upto).map_err(|e| e.to_string())? != Some(m.head) {
            return Err(format!(
                "the index reaches entry {}, where this chain holds another entry or none",
                m.upto
            ));
        }
        let runs = m
            .runs
            .iter()
            .map(|r| Run::open(&self.dir, *r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((m, runs)))
    }

    /// Writes the in-memory records as a run, merges runs that piled up, and
    /// moves the manifest's watermark. On failure the manifest on disk still
    /// stands, and the index is read from it again at next use.
    fn spill(&self, st: &mut State, audit: &sled::Tree) -> Result<(), StoreError> {
        if st.upto == st.durable {
            return Ok(());
        }
        let mut runs = std::mem::take(&mut st.runs);
        let mut next_id = st.next_id;
        let mut gone = Vec::new();
        let result = self.spill_into(st, audit, &mut runs, &mut next_id, &mut gone);
        if let Err(e) = result {
            st.loaded = false;
            return Err(e);
        }
        st.runs = runs;
        st.next_id = next_id;
        st.durable = st.upto;
        st.tail.clear();
        if let Err(e) = index_runs::remove_runs(&self.dir, &gone) {
            // Unlisted files are removed at the next load.
            tracing::warn!(error = %e, "could not remove merged audit index runs");
        }
        Ok(())
    }

    fn spill_into(
        &self,
        st: &State,
        audit: &sled::Tree,
        runs: &mut Vec<Run>,
        next_id: &mut u64,
        gone: &mut Vec<u64>,
    ) -> Result<(), StoreError> {
        // What the index is about to claim durably must be durable in the
        // chain first (readers see entries before their group is flushed).
        audit.flush().map_err(failed)?;
        let head = hash_at(audit, st.upto)?
            .ok_or_else(|| StoreError::Failed("the audit chain lacks an entry the index holds".into()))?;
        let mut w = RunWriter::create(&self.dir, *next_id)?;
        *next_id += 1;
        for r in &st.tail {
            w.push(*r)?;
        }
        runs.push(w.finish(st.durable, st.upto)?);
        // Sizes halve from old to new runs (as in a binary counter), so a
        // lookup reads a few runs and each record is rewritten a few times.
        while let [.., a, b] = runs.as_slice() {
            if b.meta.count < a.meta.count && runs.len() <= MAX_RUNS {
                break;
            }
            let merged = index_runs::merge(&self.dir, *next_id, a, b)?;
            *next_id += 1;
            gone.extend([a.meta.id, b.meta.id]);
            runs.truncate(runs.len() - 2);
            runs.push(merged);
        }
        Manifest {
            upto: st.upto,
            head,
            next_id: *next_id,
            runs: runs.iter().map(|r| r.meta).collect(),
        }
        .write(&self.dir)
    }

    /// What the chain holds about `subject` (oldest first) and every entry
    /// with a destruction certificate.
    pub(crate) fn about(&self, audit: &sled::Tree, subject: Option<&str>) -> Result<AuditAbout, StoreError> {
        let (entries, certificates) = {
            // Held while looking up too: a rebuild never shows a reader half an index.
            let mut st = self.lock();
            self.catch_up_locked(&mut st, audit)?;
            let entries = subject.map(|s| st.lookup(subject_key(s))).transpose()?;
            (entries.unwrap_or_default(), st.lookup(certificate_key())?)
        };
        let mut about = AuditAbout::default();
        for seq in entries {
            let e = entry_at(audit, seq)?;
            if e.subject.as_deref() == subject {
                about.entries.push(e);
            } else {
                tracing::warn!(
                    seq,
                    "the audit index names an entry about another subject; run audit verify"
                );
            }
        }
        for seq in certificates {
            let e = entry_at(audit, seq)?;
            if e.certificate.is_some() {
                about.certificates.push(e);
            } else {
                tracing::warn!(
                    seq,
                    "the audit index names an entry without a certificate; run audit verify"
                );
            }
        }
        Ok(about)
    }

    /// Checks the index (in memory and on disk) against a walk of the chain
    /// up to the watermark and, when they differ, rebuilds it from the chain.
    pub(crate) fn check(&self, audit: &sled::Tree) -> Result<IndexStatus, StoreError> {
        let (upto, have, have_n, found_earlier, found_now) = {
            let mut st = self.lock();
            self.catch_up_locked(&mut st, audit)?;
            let found_earlier = st.damaged.take();
            let (have, have_n, found_now) = self.digest_held(&st, audit)?;
            (st.upto, have, have_n, found_earlier, found_now)
        };
        let (mut want, mut want_n) = ([0u8; 32], 0u64);
        each_stored(audit, 1, |seq, stored| {
            if seq > upto {
                return Ok(false);
            }
            records_of(seq, stored, |r| {
                fold(&mut want, &r.encode());
                want_n += 1;
            })?;
            Ok(true)
        })?;
        let differs = want != have || want_n != have_n;
        if differs || found_now.is_some() {
            tracing::warn!(
                expected = want_n,
                found = have_n,
                problem = found_now.as_deref().unwrap_or("different records"),
                "the audit index disagrees with the chain; rebuilding it"
            );
            let mut st = self.lock();
            index_runs::remove_others(&self.dir, &[], true)?;
            *st = State {
                loaded: true,
                ..State::default()
            };
            self.catch_up_locked(&mut st, audit)?;
        }
        let consistent = !differs && found_now.is_none() && found_earlier.is_none();
        Ok(IndexStatus {
            consistent,
            rebuilt: !consistent,
            indexed_through: upto,
            keys: want_n,
        })
    }

    /// The digest and count of the records the index holds, and what is
    /// wrong with its files on disk (read again, not trusted from memory).
    fn digest_held(&self, st: &State, audit: &sled::Tree) -> Result<([u8; 32], u64, Option<String>), StoreError> {
        let mut problem = match self.open_manifest(audit) {
            Ok(Some((m, _))) if m.upto == st.durable && m.runs.iter().eq(st.runs.iter().map(|r| &r.meta)) => None,
            Ok(None) if st.durable == 0 => None,
            Ok(_) => Some("the index files on disk are not the ones in use".to_owned()),
            Err(reason) => Some(reason),
        };
        let (mut acc, mut n) = ([0u8; 32], 0u64);
        for run in &st.runs {
            let mut sha = Sha256::new();
            run.each_chunk(|chunk| {
                sha.update(chunk);
                for r in chunk.chunks_exact(RECORD) {
                    fold(&mut acc, r);
                    n += 1;
                }
                Ok(())
            })?;
            if <[u8; 32]>::from(sha.finalize()) != run.meta.sha && problem.is_none() {
                problem = Some(format!("run {:016x} changed on disk", run.meta.id));
            }
        }
        for r in &st.tail {
            fold(&mut acc, &r.encode());
            n += 1;
        }
        Ok((acc, n, problem))
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
