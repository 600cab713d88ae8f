//! The single writer: group commit of changes and their audit entries.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use tokio::sync::oneshot;

use super::audit_blocks::{pack, unpack};
use super::changes::{apply_change, Abort, SledKv};
use super::{failed, Inner};
use crate::domain::audit::{split_block, AuditDraft, GENESIS};
use crate::domain::audit_seal::seal_into_block;
use crate::domain::store::{Commit, CommitResult, Committed, StoreError};
use crate::domain::tlog::{leaf_hash, Frontier, Runs};

/// How many queued commits one group takes at most.
const MAX_GROUP: usize = 512;

/// How long the writer lets a group gather, once it has one commit, when
/// the last group showed that commits arrive together (two or more). Each
/// group costs a flush (an fsync, and sled's write on its own IO thread with
/// the wake-ups around it: ~200 µs of CPU on the 2-core machine), so under
/// load a short wait makes fewer, larger groups; a lone commit (the last
/// group held one) never waits. Sleeping rather than waiting on the queue,
/// the writer is not woken once per arriving commit: it wakes once.
const LINGER: std::time::Duration = std::time::Duration::from_micros(250);

/// A group this large already shares its flush widely: no wait.
const LINGER_BELOW: usize = 8;

pub(crate) struct Job {
    pub commit: Commit,
    pub reply: oneshot::Sender<CommitResult>,
}

/// The last sequence number and hash of the chain.
#[derive(Clone, Copy)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: [u8; 32],
}

pub(crate) fn chain_head(audit: &sled::Tree) -> Result<Head, StoreError> {
    match audit.last().map_err(failed)? {
        None => Ok(Head { seq: 0, hash: GENESIS }),
        Some((k, v)) => {
            let first = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| failed("bad audit key"))?);
            let v = unpack(&v)?;
            let entries = split_block(&v).map_err(failed)?;
            let last = entries.last().ok_or_else(|| failed("empty audit block"))?;
            let hash: [u8; 32] = last
                .get(..32)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| failed("bad audit entry"))?;
            Ok(Head {
                seq: first + entries.len() as u64 - 1,
                hash,
            })
        }
    }
}

/// An audit block in the making: its key (first seq) and framed entries.
#[derive(Default)]
struct Block {
    first: Option<u64>,
    bytes: Vec<u8>,
}

impl Block {
    /// The block's key and its stored value ([`pack`]ed), leaving it empty.
    fn take(&mut self) -> Option<([u8; 8], Vec<u8>)> {
        let first = self.first.take()?;
        Some((first.to_be_bytes(), pack(std::mem::take(&mut self.bytes))))
    }
}

/// The tree's leaves of a block's entries (`block` from an entry boundary on).
fn leaves(block: &[u8]) -> Result<Vec<[u8; 32]>, String> {
    split_block(block)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|stored| {
            stored
                .get(32..)
                .map(leaf_hash)
                .ok_or_else(|| "bad audit entry".to_owned())
        })
        .collect()
}

/// The transparency log's side of a group: the right edge, and the stored
/// hashes this group adds, written before the group's flush.
pub(crate) struct Tree {
    pub(crate) frontier: Frontier,
    pub(crate) runs: Runs,
}

impl Tree {
    fn add(&mut self, leaves: Vec<[u8; 32]>) {
        for leaf in leaves {
            self.frontier.push(leaf, &mut self.runs);
        }
    }
}

/// Seals drafts after `head` into `block`; returns their seqs and the new head.
fn seal_all(head: Head, drafts: &[AuditDraft], outcome: Option<&str>, block: &mut Block) -> (Vec<u64>, Head) {
    let mut head = head;
    let mut seqs = Vec::with_capacity(drafts.len());
    for d in drafts {
        let seq = head.seq + 1;
        let hash = seal_into_block(d, outcome, seq, &head.hash, &mut block.bytes);
        block.first.get_or_insert(seq);
        seqs.push(seq);
        head = Head { seq, hash };
    }
    (seqs, head)
}

/// Applies one commit with changes as a transaction. Returns the new head
/// and the result for the caller; `Err` means storage itself failed.
fn transact(inner: &Inner, head: Head, commit: &Commit, tree: &mut Tree) -> Result<(Head, CommitResult), String> {
    let t = &inner.trees;
    let trees = [
        &t.audit,
        &t.principals,
        &t.cards,
        &t.photos,
        &t.commitments,
        &t.scans,
        &t.due,
        &t.meta,
        &t.holds,
        &t.held_scans,
        &t.policies,
        &t.legal,
        &t.notices,
        &t.counter,
        &t.policy_tests,
        &t.staff_keys,
        &t.honey,
        &t.credentials,
    ];
    let outcome = trees[..].transaction(|tx| {
        for change in &commit.changes {
            apply_change(&SledKv(tx), change)?;
        }
        let mut block = Block::default();
        let (seqs, new_head) = seal_all(head, &commit.audit, None, &mut block);
        let leaves = leaves(&block.bytes).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e)))?;
        if let Some((k, v)) = block.take() {
            tx[0].insert(&k, v)?;
        }
        Ok((seqs, new_head, leaves))
    });
    match outcome {
        Ok((seqs, new_head, leaves)) => {
            tree.add(leaves);
            Ok((new_head, Ok(Committed { seqs })))
        }
        Err(TransactionError::Abort(Abort::Conflict(c))) => {
            // Nothing changed; the attempt is still recorded, with its outcome.
            let mut block = Block::default();
            let (_, new_head) = seal_all(head, &commit.audit, Some(c.code()), &mut block);
            tree.add(leaves(&block.bytes)?);
            if let Some((k, v)) = block.take() {
                t.audit.insert(k, v).map_err(|e| e.to_string())?;
            }
            Ok((new_head, Err(StoreError::Conflict(c))))
        }
        Err(TransactionError::Abort(Abort::Corrupt(e))) => Err(e),
        Err(TransactionError::Storage(e)) => Err(e.to_string()),
    }
}

/// Takes what is queued after `jobs`' first, up to [`MAX_GROUP`].
fn gather(rx: &mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

pub(crate) fn run(inner: &Inner, rx: &mpsc::Receiver<Job>, mut head: Head, frontier: Frontier) {
    let mut tree = Tree {
        frontier,
        runs: Runs::default(),
    };
    let mut last_group = 0usize;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        gather(rx, &mut jobs);
        if last_group >= 2 && jobs.len() < LINGER_BELOW {
            std::thread::sleep(LINGER);
            gather(rx, &mut jobs);
        }
        last_group = jobs.len();
        let mut results: Vec<CommitResult> = Vec::with_capacity(jobs.len());
        // Audit-only commits of this group share one block (one sled value).
        let mut block = Block::default();
        let mut broken: Option<String> = None;
        for job in &jobs {
            if broken.is_some() || inner.failed.load(Ordering::SeqCst) {
                results.push(Err(StoreError::Failed("store failed earlier".into())));
                continue;
            }
            if job.commit.changes.is_empty() {
                let from = block.bytes.len();
                let (seqs, new_head) = seal_all(head, &job.commit.audit, None, &mut block);
                match leaves(&block.bytes[from..]) {
                    Ok(l) => tree.add(l),
                    Err(e) => broken = Some(e),
                }
                head = new_head;
                results.push(Ok(Committed { seqs }));
                continue;
            }
            // Keep chain order: the block so far goes in before this transaction.
            if let Some((k, v)) = block.take() {
                if let Err(e) = inner.trees.audit.insert(k, v) {
                    broken = Some(e.to_string());
                    results.push(Err(StoreError::Failed("store failed".into())));
                    continue;
                }
            }
            match transact(inner, head, &job.commit, &mut tree) {
                Ok((new_head, result)) => {
                    head = new_head;
                    results.push(result);
                }
                Err(e) => {
                    broken = Some(e);
                    results.push(Err(StoreError::Failed("store failed".into())));
                }
            }
        }
        if broken.is_none() {
            if let Some((k, v)) = block.take() {
                if let Err(e) = inner.trees.audit.insert(k, v) {
                    broken = Some(e.to_string());
                }
            }
        }
        // The group's tree hashes, in the same flush as its entries: no
        // answer before an entry's leaf is as durable as the entry.
        if broken.is_none() {
            if let Err(e) = super::tlog::write(&inner.trees.tlog, &mut tree.runs) {
                broken = Some(e);
            }
        }
        if broken.is_none() {
            let started = std::time::Instant::now();
            if let Err(e) = inner.db.flush() {
                broken = Some(e.to_string());
            }
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let s = &inner.stats;
            s.groups.fetch_add(1, Ordering::Relaxed);
            s.commits.fetch_add(jobs.len() as u64, Ordering::Relaxed);
            s.flush_micros.fetch_add(micros, Ordering::Relaxed);
            s.flush_max_micros.fetch_max(micros, Ordering::Relaxed);
            s.flush.observe(started.elapsed());
        }
        if let Some(reason) = broken {
            tracing::error!(reason = %reason, "storage write failed; the vault now fails closed");
            inner.failed.store(true, Ordering::SeqCst);
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Failed("storage write failed".into())));
            }
            continue;
        }
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}
