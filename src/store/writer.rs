//! The single writer: group commit of changes and their audit entries.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
use tokio::sync::oneshot;

use super::keys;
use super::{decode, encode, failed, Inner, META_ERASED};
use crate::domain::audit::{push_to_block, split_block, AuditDraft, AuditEntry, GENESIS};
use crate::domain::card::{CardRecord, CardStatus};
use crate::domain::principal::Principal;
use crate::domain::store::{Change, Commit, CommitResult, Committed, Conflict, Due, ScanRef, StoreError};

/// How many queued commits one group takes at most.
const MAX_GROUP: usize = 512;

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
    fn take(&mut self) -> Option<([u8; 8], Vec<u8>)> {
        let first = self.first.take()?;
        Some((first.to_be_bytes(), std::mem::take(&mut self.bytes)))
    }
}

/// Seals drafts after `head` into `block`; returns their seqs and the new head.
fn seal_all(head: Head, drafts: &[AuditDraft], outcome: Option<&str>, block: &mut Block) -> (Vec<u64>, Head) {
    let mut head = head;
    let mut seqs = Vec::with_capacity(drafts.len());
    for d in drafts {
        let seq = head.seq + 1;
        let (_, hash, stored) = match outcome {
            Some(o) => {
                let mut d = d.clone();
                o.clone_into(&mut d.outcome);
                AuditEntry::seal(&d, seq, &head.hash)
            }
            None => AuditEntry::seal(d, seq, &head.hash),
        };
        block.first.get_or_insert(seq);
        push_to_block(&mut block.bytes, &hash, &stored[32..]);
        seqs.push(seq);
        head = Head { seq, hash };
    }
    (seqs, head)
}

enum Abort {
    Conflict(Conflict),
    Corrupt(String),
}

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

fn abort<T>(c: Conflict) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Conflict(c)))
}

fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> TxResult<T> {
    decode(bytes).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))
}

fn tx_encode<T: serde::Serialize>(v: &T) -> TxResult<Vec<u8>> {
    encode(v).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))
}

fn tx_principal(p: &Principal) -> TxResult<Vec<u8>> {
    super::encode_principal(p).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))
}

fn apply_change(t: &[TransactionalTree], change: &Change) -> TxResult<()> {
    let (principals, cards, photos, commitments, scans, due, meta, holds, held_scans, policies) =
        (&t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8], &t[9], &t[10]);
    let (legal, notices) = (&t[11], &t[12]);
    match change {
        Change::PutPrincipal(p) => {
            if principals.get(p.id.as_bytes())?.is_some() {
                return abort(Conflict::PrincipalExists);
            }
            principals.insert(p.id.as_bytes(), tx_principal(p)?)?;
        }
        Change::UpdatePrincipal(p) => {
            if principals.get(p.id.as_bytes())?.is_none() {
                return abort(Conflict::NotFound);
            }
            principals.insert(p.id.as_bytes(), tx_principal(p)?)?;
        }
        Change::DeletePrincipal { id } => {
            if principals.remove(id.as_bytes())?.is_none() {
                return abort(Conflict::NotFound);
            }
        }
        Change::Enroll(new) => {
            if cards.get(new.card_id)?.is_some() {
                return abort(Conflict::CardIdTaken);
            }
            let today = new.record.issued_on;
            for c in &new.identity_commitments {
                if let Some(other_id) = commitments.get(c)? {
                    if let Some(other) = cards.get(&other_id)? {
                        let other: CardRecord = tx_decode(&other)?;
                        if other.is_valid_on(today) {
                            return abort(Conflict::DuplicateEnrollment);
                        }
                    }
                }
            }
            cards.insert(&new.card_id, tx_encode(&new.record)?)?;
            photos.insert(&new.card_id, tx_encode(&new.photo)?)?;
            for c in &new.identity_commitments {
                commitments.insert(c, &new.card_id)?;
            }
            due.insert(
                keys::due(Due {
                    at: new.due_at,
                    card_id: new.card_id,
                }),
                &[],
            )?;
            for (i, (epoch, file)) in new.scans.iter().enumerate() {
                let scan = ScanRef {
                    epoch: *epoch,
                    card_id: new.card_id,
                    index: u8::try_from(i).unwrap_or(u8::MAX),
                };
                scans.insert(keys::scan(&scan), file.as_slice())?;
            }
        }
        Change::SetCardStatus {
            card_id,
            status,
            due_at,
        } => {
            let Some(current) = cards.get(card_id)? else {
                return abort(Conflict::NotFound);
            };
            let mut record: CardRecord = tx_decode(&current)?;
            if matches!(record.status, CardStatus::ErasureRequested { .. }) {
                // Nothing brings an erased card back.
                return abort(Conflict::NotFound);
            }
            record.status = status.clone();
            cards.insert(card_id, tx_encode(&record)?)?;
            due.insert(
                keys::due(Due {
                    at: *due_at,
                    card_id: *card_id,
                }),
                &[],
            )?;
        }
        Change::DeleteCard { card_id, due: entry } => {
            due.remove(keys::due(*entry))?;
            if let Some(current) = cards.remove(card_id)? {
                let record: CardRecord = tx_decode(&current)?;
                photos.remove(card_id)?;
                for c in record.identity_commitments() {
                    if commitments.get(c)?.is_some_and(|owner| owner.as_ref() == card_id) {
                        commitments.remove(c)?;
                    }
                }
                let n = meta
                    .get(META_ERASED)?
                    .and_then(|v| v.as_ref().try_into().ok())
                    .map_or(0, u64::from_be_bytes);
                meta.insert(META_ERASED, &(n + 1).to_be_bytes())?;
            }
        }
        Change::MoveDue { from, to } => {
            due.remove(keys::due(*from))?;
            due.insert(keys::due(*to), &[])?;
        }
        Change::Rewrap {
            card_id,
            from_kek,
            wrapped,
        } => {
            if let Some(current) = cards.get(card_id)? {
                let mut record: CardRecord = tx_decode(&current)?;
                if &record.dek.kek_id == from_kek {
                    record.dek = wrapped.clone();
                    cards.insert(card_id, tx_encode(&record)?)?;
                }
            }
        }
        Change::ResetErasedCount => {
            meta.insert(META_ERASED, &0u64.to_be_bytes())?;
        }
        Change::PutPolicyVersion(v) => {
            let key = v.version.to_be_bytes();
            if policies.get(key)?.is_some() {
                return abort(Conflict::VersionConflict);
            }
            policies.insert(&key, tx_encode::<crate::domain::policy_version::PolicyVersion>(v)?)?;
        }
        Change::PutHold(hold) => {
            holds.insert(hold.id.as_bytes(), tx_encode::<crate::domain::holds::Hold>(hold)?)?;
        }
        Change::PutHeldScans { hold_id, files } => {
            for (i, file) in files.iter().enumerate() {
                held_scans.insert(keys::held(hold_id, i), file.as_slice())?;
            }
        }
        Change::RemoveHeldScans { hold_id, count } => {
            for i in 0..*count {
                held_scans.remove(keys::held(hold_id, i))?;
            }
        }
        Change::RemoveScans { scans: refs } => {
            for r in refs {
                scans.remove(keys::scan(r))?;
            }
        }
        Change::PutLegalRequest { record, notice } => {
            legal.insert(
                record.id.as_bytes(),
                tx_encode::<crate::domain::legal::LegalRecord>(record)?,
            )?;
            if let Some(n) = notice {
                notices.insert(n.id.as_bytes(), tx_encode::<crate::domain::legal::Notice>(n)?)?;
            }
        }
        Change::RemoveNotice { id } => {
            if notices.remove(id.as_bytes())?.is_none() {
                return abort(Conflict::NotFound);
            }
        }
    }
    Ok(())
}

/// Applies one commit with changes as a transaction. Returns the new head
/// and the result for the caller; `Err` means storage itself failed.
fn transact(inner: &Inner, head: Head, commit: &Commit) -> Result<(Head, CommitResult), String> {
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
    ];
    let outcome = trees[..].transaction(|tx| {
        for change in &commit.changes {
            apply_change(tx, change)?;
        }
        let mut block = Block::default();
        let (seqs, new_head) = seal_all(head, &commit.audit, None, &mut block);
        if let Some((k, v)) = block.take() {
            tx[0].insert(&k, v)?;
        }
        Ok((seqs, new_head))
    });
    match outcome {
        Ok((seqs, new_head)) => Ok((new_head, Ok(Committed { seqs }))),
        Err(TransactionError::Abort(Abort::Conflict(c))) => {
            // Nothing changed; the attempt is still recorded, with its outcome.
            let mut block = Block::default();
            let (_, new_head) = seal_all(head, &commit.audit, Some(c.code()), &mut block);
            if let Some((k, v)) = block.take() {
                t.audit.insert(k, v).map_err(|e| e.to_string())?;
            }
            Ok((new_head, Err(StoreError::Conflict(c))))
        }
        Err(TransactionError::Abort(Abort::Corrupt(e))) => Err(e),
        Err(TransactionError::Storage(e)) => Err(e.to_string()),
    }
}

pub(crate) fn run(inner: &Inner, rx: &mpsc::Receiver<Job>, mut head: Head) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
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
                let (seqs, new_head) = seal_all(head, &job.commit.audit, None, &mut block);
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
            match transact(inner, head, &job.commit) {
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
