//! The sled implementation of [`crate::domain::store::Store`], the
//! PostgreSQL one ([`postgres`]) beside it, and [`AnyStore`], either.
//!
//! One tree per aggregate (`principals`, `cards`, `photos`, `commitments`,
//! `audit`, `honey_cards`, ...) and a `meta` tree holding the schema version and the keyring
//! fingerprint. Values are postcard; audit entries are their chain hash
//! followed by canonical JSON.
//!
//! All writes go through one writer thread ([`writer`]): it takes whatever
//! commits are queued, applies each as a sled transaction (or, for audit-only
//! commits, as one batch), flushes once, and only then answers every caller
//! in the group. That is group commit: an fsync per group, not per request,
//! and no acknowledgement before the data and its audit entry are durable.

mod any;
pub use any::AnyStore;
mod audit_blocks;
/// A stored audit block's framed entries (for the fuzz target).
pub use audit_blocks::unpack as unpack_audit_block;
mod audit_index;
mod audit_reads;
mod changes;
mod credentials;
mod index_runs;
mod keys;
mod kv;
mod migrate;
pub mod postgres;
pub use migrate::{AttestationV1, CardRecordV1};
mod reads;
mod records;
mod tlog;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use crate::crypto::CommitmentCost;
use crate::domain::principal::Principal;
use crate::domain::store::{Store, StoreError};

/// v2: card records keep only sealed meta, padded fields and index keys
/// (memory-hard commitments); v1 kept status, dates and per-proof
/// attestations in the clear. `civic-vault migrate` turns v1 into v2.
pub const SCHEMA_VERSION: u32 = 2;
const META_COMMITMENT_COST: &[u8] = b"commitment_cost";
pub(crate) const META_SCHEMA: &[u8] = b"schema_version";
pub(crate) const META_KEYRING: &[u8] = b"keyring_fingerprint";

pub(crate) struct Trees {
    pub audit: sled::Tree,
    pub principals: sled::Tree,
    pub cards: sled::Tree,
    pub photos: sled::Tree,
    pub commitments: sled::Tree,
    pub scans: sled::Tree,
    pub due: sled::Tree,
    pub holds: sled::Tree,
    pub held_scans: sled::Tree,
    pub policies: sled::Tree,
    pub legal: sled::Tree,
    pub notices: sled::Tree,
    /// Cards at the counter: waiting to be printed, or printed and waiting
    /// to be picked up (card id → nothing; the state is in the sealed meta).
    pub counter: sled::Tree,
    /// Policy tests per version (version → JSON array of cases).
    pub policy_tests: sled::Tree,
    /// Staff members' registration codes and passkeys (principal id → record).
    pub staff_keys: sled::Tree,
    /// Honey cards (honey id → record): keyed hashes of the canary cards,
    /// never in the card records themselves.
    pub honey: sled::Tree,
    /// Holder-held credentials: each card's status indices, the status
    /// lists' bits, which indices are taken, and revoked cards (see
    /// `keys::credential_*`).
    pub credentials: sled::Tree,
    /// The audit's Merkle tree: runs of stored hashes (`tlog.rs`).
    pub tlog: sled::Tree,
    pub meta: sled::Tree,
}

pub(crate) const META_ERASED: &[u8] = b"erased_since_kek_destruction";

pub(crate) struct Inner {
    pub db: sled::Db,
    pub trees: Trees,
    /// Set after any write or flush fails: from then on every commit fails
    /// closed rather than risk acknowledging something that is not on disk.
    pub failed: AtomicBool,
    pub stats: WriterStats,
    /// The audit chain's index by subject (derived; see `audit_index`).
    pub audit_index: audit_index::AuditIndex,
}

/// What the writer has done, for `/metrics`.
#[derive(Default)]
pub struct WriterStats {
    pub groups: std::sync::atomic::AtomicU64,
    pub commits: std::sync::atomic::AtomicU64,
    pub flush_micros: std::sync::atomic::AtomicU64,
    pub flush_max_micros: std::sync::atomic::AtomicU64,
    /// Each group's flush, as a histogram.
    pub flush: crate::histogram::Histogram,
}

/// The vault's sled database.
pub struct SledStore {
    inner: Arc<Inner>,
    queue: Mutex<Option<mpsc::Sender<writer::Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What opening found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The database had never been used.
    pub fresh: bool,
    /// The record format found (a vault serves only [`SCHEMA_VERSION`];
    /// offline audit verification reads any).
    pub schema: u32,
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

pub(crate) use records::{decode, decode_principal, encode, encode_principal};

/// Opens a sled database, waiting up to 3 s while its file lock is held:
/// a database closed a moment ago (a vault that just stopped, a restore
/// that just wrote it) keeps the lock until sled's own threads let go of
/// it. A database that a running vault holds is still refused, after the wait.
fn open_waiting(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl SledStore {
    /// Opens (or creates) the database under `path`. With `fingerprint`, the
    /// store remembers which keyring it was created with and refuses another.
    ///
    /// # Errors
    /// sled cannot open the directory (it is locked by a running vault, say),
    /// the schema is newer than this build, or the keyring does not match.
    pub fn open(path: &Path, fingerprint: Option<&str>) -> Result<(Self, Opened), StoreError> {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(128 * 1024 * 1024)
            // The writer flushes every commit group itself; sled's timer
            // flush would only add a second, unsynchronised fsync stream.
            .flush_every_ms(None);
        let db = open_waiting(&config).map_err(failed)?;
        let meta = db.open_tree("meta").map_err(failed)?;
        let fresh = meta.get(META_SCHEMA).map_err(failed)?.is_none();
        let mut schema = SCHEMA_VERSION;
        if fresh {
            meta.insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
                .map_err(failed)?;
        } else {
            let v = meta.get(META_SCHEMA).map_err(failed)?.unwrap_or_default();
            let version = u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0xFF; 4]));
            if version > SCHEMA_VERSION || version == 0 {
                return Err(StoreError::Failed(format!(
                    "data schema version {version}; this build reads versions 1 to {SCHEMA_VERSION}"
                )));
            }
            schema = version;
        }
        if let Some(fp) = fingerprint {
            match meta.get(META_KEYRING).map_err(failed)? {
                None => {
                    meta.insert(META_KEYRING, fp.as_bytes()).map_err(failed)?;
                }
                Some(stored) if stored.as_ref() == fp.as_bytes() => {}
                Some(_) => {
                    return Err(StoreError::Failed(
                        "the data directory was written with a different keyring; refusing to start".into(),
                    ))
                }
            }
        }
        db.flush().map_err(failed)?;
        let trees = Trees {
            audit: db.open_tree("audit").map_err(failed)?,
            principals: db.open_tree("principals").map_err(failed)?,
            cards: db.open_tree("cards").map_err(failed)?,
            photos: db.open_tree("photos").map_err(failed)?,
            commitments: db.open_tree("commitments").map_err(failed)?,
            scans: db.open_tree("scans").map_err(failed)?,
            due: db.open_tree("due").map_err(failed)?,
            holds: db.open_tree("holds").map_err(failed)?,
            held_scans: db.open_tree("held_scans").map_err(failed)?,
            policies: db.open_tree("policy_versions").map_err(failed)?,
            legal: db.open_tree("legal_requests").map_err(failed)?,
            notices: db.open_tree("notices").map_err(failed)?,
            counter: db.open_tree("counter_queue").map_err(failed)?,
            policy_tests: db.open_tree("policy_tests").map_err(failed)?,
            staff_keys: db.open_tree("staff_keys").map_err(failed)?,
            honey: db.open_tree("honey_cards").map_err(failed)?,
            credentials: db.open_tree("credentials").map_err(failed)?,
            tlog: db.open_tree("tlog").map_err(failed)?,
            meta: meta.clone(),
        };
        // The audit index lives in files beside sled's (see `audit_index`);
        // earlier versions kept it in this tree.
        if db.tree_names().iter().any(|n| n.as_ref() == b"audit_index") {
            db.drop_tree("audit_index").map_err(failed)?;
        }
        let audit_index = audit_index::AuditIndex::new(path.join("audit-index"));
        let inner = Arc::new(Inner {
            db,
            trees,
            failed: AtomicBool::new(false),
            stats: WriterStats::default(),
            audit_index,
        });
        let head = writer::chain_head(&inner.trees.audit)?;
        let frontier = tlog::open(&inner.db, &inner.trees.tlog, &inner.trees.audit, head.seq)?;
        let (tx, rx) = mpsc::channel();
        let thread_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("vault-writer".into())
            .spawn(move || writer::run(&thread_inner, &rx, head, frontier))
            .map_err(failed)?;
        Ok((
            Self {
                inner,
                queue: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            },
            Opened { fresh, schema },
        ))
    }

    /// The cost this store's document commitments are made at: the one
    /// recorded when it was first asked, which `configured` becomes for a
    /// store that has none yet. The caller refuses a configured cost that
    /// differs (commitments made at another cost never match).
    ///
    /// # Errors
    /// Storage failure, or an unreadable recorded cost.
    pub fn commitment_cost(&self, configured: CommitmentCost) -> Result<CommitmentCost, StoreError> {
        let meta = &self.inner.trees.meta;
        if let Some(v) = meta.get(META_COMMITMENT_COST).map_err(failed)? {
            return decode(&v);
        }
        meta.insert(META_COMMITMENT_COST, encode(&configured)?)
            .map_err(failed)?;
        meta.flush().map_err(failed)?;
        Ok(configured)
    }

    /// Records the schema version (after a migration).
    ///
    /// # Errors
    /// Storage failure.
    pub fn set_schema(&self, version: u32) -> Result<(), StoreError> {
        self.inner
            .trees
            .meta
            .insert(META_SCHEMA, &version.to_be_bytes())
            .map_err(failed)?;
        self.flush()
    }

    /// Stops the writer after it has answered everything queued, then flushes.
    ///
    /// # Errors
    /// The final flush failed.
    pub fn close(&self) -> Result<(), StoreError> {
        if let Ok(mut q) = self.queue.lock() {
            q.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        self.flush()?;
        // What the index holds in memory, so the next start need not redo it.
        if let Err(e) = self.inner.audit_index.persist(&self.inner.trees.audit) {
            tracing::warn!(error = %e, "could not write the audit index's newest records; they are indexed again at next use");
        }
        Ok(())
    }

    /// Puts the store in the state a failed write or flush leaves it in:
    /// every later commit fails and the vault answers 503. For tests that
    /// prove the vault fails closed; nothing in the service calls it.
    pub fn simulate_write_failure(&self) {
        self.inner.failed.store(true, Ordering::SeqCst);
    }

    /// Writer statistics as Prometheus text.
    #[must_use]
    pub fn render_stats(&self) -> String {
        render_stats(&self.inner.stats, !self.writable())
    }

    /// False once a storage write failed: the store then refuses writes.
    #[must_use]
    pub fn writable(&self) -> bool {
        !self.inner.failed.load(Ordering::SeqCst)
    }

    /// Inserts directly, outside the writer (first-start bootstrap only,
    /// before the server accepts requests).
    ///
    /// # Errors
    /// Storage failure.
    pub fn bootstrap_principal(&self, principal: &Principal) -> Result<(), StoreError> {
        let t = &self.inner.trees.principals;
        t.insert(principal.id.as_bytes(), encode_principal(principal)?)
            .map_err(failed)?;
        self.flush()
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Writer statistics as Prometheus text (either engine's writer); `failed`
/// once a storage write failed.
pub(crate) fn render_stats(s: &WriterStats, failed: bool) -> String {
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut out = format!(
        "# HELP civic_vault_commit_groups_total Commit groups made durable (one flush each).\n\
         # TYPE civic_vault_commit_groups_total counter\n\
         civic_vault_commit_groups_total {}\n\
         # HELP civic_vault_commits_total Commits written (each with its audit entries).\n\
         # TYPE civic_vault_commits_total counter\n\
         civic_vault_commits_total {}\n\
         # HELP civic_vault_flush_seconds_total Time spent making groups durable.\n\
         # TYPE civic_vault_flush_seconds_total counter\n\
         civic_vault_flush_seconds_total {:.6}\n\
         # HELP civic_vault_flush_max_seconds Longest single group flush since start.\n\
         # TYPE civic_vault_flush_max_seconds gauge\n\
         civic_vault_flush_max_seconds {:.6}\n\
         # HELP civic_vault_store_failed 1 once a storage write failed (the vault then fails closed).\n\
         # TYPE civic_vault_store_failed gauge\n\
         civic_vault_store_failed {}\n\
         # HELP civic_vault_commit_flush_seconds Each commit group's flush to disk (sled) or COMMIT (PostgreSQL).\n\
         # TYPE civic_vault_commit_flush_seconds histogram\n",
        get(&s.groups),
        get(&s.commits),
        get(&s.flush_micros) as f64 / 1e6,
        get(&s.flush_max_micros) as f64 / 1e6,
        u8::from(failed),
    );
    s.flush.render(&mut out, "civic_vault_commit_flush_seconds", "");
    out
}
