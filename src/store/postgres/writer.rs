//! The PostgreSQL writer: group commit through the session that holds the
//! lock. One transaction per group: the chain's head row locked first, each
//! commit with changes under a savepoint (a conflict rolls back that commit
//! alone and its entries are written with the conflict as outcome), every
//! entry of the group inserted at once, the head moved, one COMMIT.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use postgres::{Client, Statement, Transaction};
use sled::transaction::ConflictableTransactionError;

use super::Shared;
use crate::domain::audit::{AuditDraft, AuditEntry};
use crate::domain::store::{CommitResult, Committed, StoreError};
use crate::domain::tlog::{leaf_hash, Frontier, Runs};
use crate::store::changes::{apply_change, Abort, Kv, TreeName, TxResult};
use crate::store::writer::{Head, Job};

/// How many queued commits one group takes at most.
const MAX_GROUP: usize = 512;
/// How often an idle writer checks that its session (and so the lock) lives.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The writer's statements, prepared once on its session.
struct Statements {
    get: Statement,
    put: Statement,
    remove: Statement,
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Self, postgres::Error> {
        Ok(Self {
            get: client.prepare("SELECT value FROM kv WHERE tree = $1 AND key = $2")?,
            put: client.prepare(
                "INSERT INTO kv (tree, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (tree, key) DO UPDATE SET value = excluded.value",
            )?,
            remove: client.prepare("DELETE FROM kv WHERE tree = $1 AND key = $2 RETURNING value")?,
        })
    }
}

fn pg_abort(e: &postgres::Error) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Corrupt(format!("postgres: {e}")))
}

/// The trees inside one savepoint.
struct PgKv<'a, 's> {
    tx: RefCell<Transaction<'a>>,
    statements: &'s Statements,
}

impl Kv for PgKv<'_, '_> {
    fn get(&self, tree: TreeName, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        let row = self
            .tx
            .borrow_mut()
            .query_opt(&self.statements.get, &[&tree.name(), &key])
            .map_err(|e| pg_abort(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn insert(&self, tree: TreeName, key: &[u8], value: &[u8]) -> TxResult<()> {
        self.tx
            .borrow_mut()
            .execute(&self.statements.put, &[&tree.name(), &key, &value])
            .map_err(|e| pg_abort(&e))?;
        Ok(())
    }

    fn remove(&self, tree: TreeName, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        let row = self
            .tx
            .borrow_mut()
            .query_opt(&self.statements.remove, &[&tree.name(), &key])
            .map_err(|e| pg_abort(&e))?;
        Ok(row.map(|r| r.get(0)))
    }
}

/// A group's audit rows, inserted together.
#[derive(Default)]
struct Rows {
    seqs: Vec<i64>,
    subjects: Vec<Option<String>>,
    certificates: Vec<bool>,
    stored: Vec<Vec<u8>>,
}

/// Seals drafts after `head` (with `outcome` in place of theirs, for a
/// conflict) into `rows`; returns their seqs.
fn seal(head: &mut Head, drafts: &[AuditDraft], outcome: Option<&str>, rows: &mut Rows) -> Result<Vec<u64>, String> {
    let mut seqs = Vec::with_capacity(drafts.len());
    for d in drafts {
        let seq = head.seq + 1;
        let (entry, hash, stored) = match outcome {
            Some(o) => {
                let mut d = d.clone();
                o.clone_into(&mut d.outcome);
                AuditEntry::seal(&d, seq, &head.hash)
            }
            None => AuditEntry::seal(d, seq, &head.hash),
        };
        rows.seqs
            .push(i64::try_from(seq).map_err(|_| "the chain is full".to_owned())?);
        rows.subjects.push(entry.subject);
        rows.certificates.push(entry.certificate.is_some());
        rows.stored.push(stored);
        seqs.push(seq);
        *head = Head { seq, hash };
    }
    Ok(seqs)
}

/// One group in one transaction; `Err` means the database failed (nothing
/// of the group is acknowledged).
fn group(
    client: &mut Client,
    statements: &Statements,
    jobs: &[Job],
    frontier: &mut Frontier,
) -> Result<Vec<CommitResult>, String> {
    let e = |e: postgres::Error| format!("postgres: {e}");
    let mut tx = client.transaction().map_err(e)?;
    let row = tx
        .query_one("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE", &[])
        .map_err(e)?;
    let hash: Vec<u8> = row.get(1);
    let mut head = Head {
        seq: u64::try_from(row.get::<_, i64>(0)).map_err(|_| "bad chain head".to_owned())?,
        hash: hash.try_into().map_err(|_| "bad chain head".to_owned())?,
    };
    if head.seq != frontier.size() {
        return Err(format!(
            "the audit chain is at {} but this writer's Merkle tree at {}",
            head.seq,
            frontier.size()
        ));
    }
    let mut rows = Rows::default();
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let commit = &job.commit;
        if commit.changes.is_empty() {
            let seqs = seal(&mut head, &commit.audit, None, &mut rows)?;
            results.push(Ok(Committed { seqs }));
            continue;
        }
        let kv = PgKv {
            tx: RefCell::new(tx.savepoint("commit").map_err(e)?),
            statements,
        };
        let applied = commit.changes.iter().try_for_each(|c| apply_change(&kv, c));
        let savepoint = kv.tx.into_inner();
        match applied {
            Ok(()) => {
                savepoint.commit().map_err(e)?;
                let seqs = seal(&mut head, &commit.audit, None, &mut rows)?;
                results.push(Ok(Committed { seqs }));
            }
            Err(ConflictableTransactionError::Abort(Abort::Conflict(c))) => {
                // Nothing changed; the attempt is still recorded, with its outcome.
                savepoint.rollback().map_err(e)?;
                seal(&mut head, &commit.audit, Some(c.code()), &mut rows)?;
                results.push(Err(StoreError::Conflict(c)));
            }
            Err(ConflictableTransactionError::Abort(Abort::Corrupt(reason))) => return Err(reason),
            Err(ConflictableTransactionError::Conflict | ConflictableTransactionError::Storage(_)) => {
                return Err("the transaction failed".into())
            }
        }
    }
    if !rows.seqs.is_empty() {
        tx.execute(
            "INSERT INTO audit (seq, subject, certificate, stored)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::boolean[], $4::bytea[])",
            &[&rows.seqs, &rows.subjects, &rows.certificates, &rows.stored],
        )
        .map_err(e)?;
        let seq = i64::try_from(head.seq).map_err(|_| "the chain is full".to_owned())?;
        tx.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            &[&seq, &head.hash.as_slice()],
        )
        .map_err(e)?;
    }
    // The entries' leaves, in the same transaction: no answer before an
    // entry's leaf is as durable as the entry.
    let mut grown = frontier.clone();
    let mut runs = Runs::default();
    for stored in &rows.stored {
        let canonical = stored.get(32..).ok_or_else(|| "bad audit entry".to_owned())?;
        grown.push(leaf_hash(canonical), &mut runs);
    }
    super::tlog::insert(&mut tx, &mut runs).map_err(e)?;
    tx.commit().map_err(e)?;
    *frontier = grown;
    Ok(results)
}

/// This node can no longer write: its session is closed (so the lock is
/// free for a standby) and every commit from now on fails.
fn step_down(shared: &Shared, client: &mut Option<Client>, reason: &str) {
    tracing::error!(reason = %reason, "the database session or a write failed: this node stops writing and gives up the lock");
    shared.failed.store(true, Ordering::SeqCst);
    shared.lost.store(true, Ordering::SeqCst);
    // Dropping the client ends the session, and with it the advisory lock.
    client.take();
}

pub(super) fn run(shared: &Shared, client: Client, rx: &mpsc::Receiver<Job>, mut frontier: Frontier) {
    let mut client = Some(client);
    let statements = client.as_mut().map(Statements::prepare);
    let statements = match statements {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            step_down(shared, &mut client, &e.to_string());
            None
        }
        None => None,
    };
    loop {
        let first = match rx.recv_timeout(HEARTBEAT) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                if let Some(c) = client.as_mut() {
                    if let Err(e) = c.is_valid(HEARTBEAT) {
                        step_down(shared, &mut client, &e.to_string());
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (Some(c), Some(statements), false) = (
            client.as_mut(),
            statements.as_ref(),
            shared.failed.load(Ordering::SeqCst),
        ) else {
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Failed("store failed earlier".into())));
            }
            continue;
        };
        let started = Instant::now();
        match group(c, statements, &jobs, &mut frontier) {
            Ok(results) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                let s = &shared.stats;
                s.groups.fetch_add(1, Ordering::Relaxed);
                s.commits.fetch_add(jobs.len() as u64, Ordering::Relaxed);
                s.flush_micros.fetch_add(micros, Ordering::Relaxed);
                s.flush_max_micros.fetch_max(micros, Ordering::Relaxed);
                s.flush.observe(started.elapsed());
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(reason) => {
                step_down(shared, &mut client, &reason);
                for job in jobs {
                    let _ = job.reply.send(Err(StoreError::Failed("storage write failed".into())));
                }
            }
        }
    }
}
