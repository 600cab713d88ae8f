//! The PostgreSQL implementation of [`crate::domain::store::Store`], for
//! vault nodes that share one database (`[store] kind = "postgres"`).
//!
//! The same trees as sled, as rows of one table `kv(tree, key, value)` with
//! sled's key layouts and postcard values, so every change is applied by the
//! same code (`store::changes`) over either engine. The audit chain is a
//! table of its own, one row per entry (`seq`, the entry's subject and
//! whether it carries a destruction certificate — the index by subject —,
//! and the stored hash ‖ canonical JSON), and its head is one row,
//! `audit_head`, locked (`SELECT … FOR UPDATE`) by every commit group, so
//! the chain stays totally ordered whichever node writes.
//!
//! Exactly one node writes: the holder of a session-level advisory lock
//! (keyed by the schema's name). Its writer thread owns that session and
//! writes only through it, so a node whose session ends — it died, the
//! database restarted, an operator terminated it — can no longer write
//! anything (fencing by construction): its next commit fails, the store
//! fails closed, and the node stops serving. Other nodes wait for the lock
//! ([`PgStore::lock`]) and open the vault once they hold it.
//!
//! Group commit as with sled: the writer takes every queued commit, applies
//! them in one transaction (each commit with changes under a savepoint, so
//! a conflict undoes that commit alone), and answers nobody before COMMIT
//! returns — one WAL flush per group.
//!
//! Key material never enters the database: keys stay in each node's keys
//! directory (SECURITY.md).

mod reads;
mod schema;
mod tlog;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, NoTls};

use super::changes::TreeName;
use super::{Opened, WriterStats};
use crate::crypto::CommitmentCost;
use crate::domain::principal::Principal;
use crate::domain::store::StoreError;

/// How often a waiting node asks for the lock.
const LOCK_POLL: Duration = Duration::from_millis(500);
/// Read connections kept open between reads.
const READ_POOL: usize = 8;

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(format!("postgres: {e}"))
}

/// A database session that holds the vault's lock: the only session this
/// node writes through.
pub struct PgSession {
    client: Client,
    url: String,
}

impl PgSession {
    /// Whether the database already holds a vault's records (a keyring's
    /// fingerprint in its meta rows): asked before any key is generated, so
    /// an empty keys directory never gets a new keyring for old records.
    ///
    /// # Errors
    /// The database fails.
    pub fn holds_records(&mut self) -> Result<bool, StoreError> {
        schema::holds_keyring(&mut self.client)
    }
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgSession")
    }
}

pub(crate) struct Shared {
    pub url: String,
    /// Set after a write fails or the lock's session ends: every later
    /// commit fails closed.
    pub failed: AtomicBool,
    /// Set when the lock's session is gone: this node is no longer active.
    pub lost: AtomicBool,
    pub stats: WriterStats,
    readers: Mutex<Vec<Client>>,
}

/// The vault's PostgreSQL database, as its active node.
pub struct PgStore {
    shared: Arc<Shared>,
    queue: Mutex<Option<mpsc::Sender<super::writer::Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn connect(url: &str) -> Result<Client, StoreError> {
    Client::connect(url, NoTls).map_err(failed)
}

/// The lock's key: a hash of the schema the session works in, so vaults
/// kept in different schemas of one database do not wait for each other.
fn lock_key(client: &mut Client) -> Result<i64, StoreError> {
    let row = client
        .query_one("SELECT coalesce(current_schema(), '')", &[])
        .map_err(failed)?;
    let schema: String = row.get(0);
    if schema.is_empty() {
        return Err(StoreError::Failed(
            "postgres: the session has no schema to work in (search_path names none that exists)".into(),
        ));
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("civic-vault:{schema}").as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    Ok(i64::from_be_bytes(key))
}

/// Runs `f` where the synchronous client may block: reads are meant for
/// tokio's blocking pool, and a read made on an async worker is moved off
/// it (`block_in_place`, or a thread of its own on a current-thread
/// runtime) rather than block the runtime inside the client's own.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, StoreError> {
    match tokio::runtime::Handle::try_current() {
        Err(_) => Ok(f()),
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(f)),
        Ok(_) => std::thread::scope(|s| s.spawn(f).join()).map_err(|_| failed("a read thread failed")),
    }
}

impl PgStore {
    /// Waits until this node holds the vault's lock (a session-level
    /// advisory lock), asking every half second and reconnecting when the
    /// database is away. Returns `None` when `stop` is set first.
    ///
    /// # Errors
    /// The URL is not a PostgreSQL URL, or the session has no schema.
    pub fn lock(url: &str, stop: &AtomicBool) -> Result<Option<PgSession>, StoreError> {
        url.parse::<postgres::Config>()
            .map_err(|e| StoreError::Failed(format!("config key `store.url`: {e}")))?;
        let mut warned = false;
        while !stop.load(Ordering::SeqCst) {
            match connect(url).and_then(|mut c| lock_key(&mut c).map(|k| (c, k))) {
                Ok((mut client, key)) => loop {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(None);
                    }
                    match client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]) {
                        Ok(row) if row.get::<_, bool>(0) => {
                            tracing::info!("holding the database lock: this node is active");
                            return Ok(Some(PgSession {
                                client,
                                url: url.to_owned(),
                            }));
                        }
                        Ok(_) => {
                            if !warned {
                                tracing::info!("another node holds the database lock: standing by");
                                warned = true;
                            }
                            std::thread::sleep(LOCK_POLL);
                        }
                        Err(e) => {
                            tracing::warn!(reason = %e, "database session lost while standing by; reconnecting");
                            break;
                        }
                    }
                },
                Err(StoreError::Failed(e)) if e.contains("no schema") => return Err(StoreError::Failed(e)),
                Err(e) => {
                    tracing::warn!(reason = %e, "cannot reach the database; retrying");
                    std::thread::sleep(LOCK_POLL);
                }
            }
        }
        Ok(None)
    }

    /// Opens the store through a session holding the lock: brings the
    /// schema up to date (versioned migrations), checks the record format
    /// and the keyring's fingerprint as sled does, and starts the writer.
    ///
    /// # Errors
    /// The database's schema is newer than this build, the keyring differs,
    /// or the database fails.
    pub fn open(session: PgSession, fingerprint: Option<&str>) -> Result<(Self, Opened), StoreError> {
        let PgSession { mut client, url } = session;
        schema::migrate(&mut client)?;
        let opened = schema::check_meta(&mut client, fingerprint)?;
        let frontier = tlog::open(&mut client)?;
        let shared = Arc::new(Shared {
            url,
            failed: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            stats: WriterStats::default(),
            readers: Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("vault-writer-pg".into())
            .spawn(move || writer::run(&thread_shared, client, &rx, frontier))
            .map_err(failed)?;
        Ok((
            Self {
                shared,
                queue: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            },
            opened,
        ))
    }

    /// Runs `f` on a pooled read connection (a new one when none is free;
    /// a connection that failed is not kept).
    pub(crate) fn read<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| self.read_here(f))?
    }

    fn read_here<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>) -> Result<T, StoreError> {
        let pooled = self
            .shared
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut client = match pooled {
            Some(c) => c,
            None => connect(&self.shared.url)?,
        };
        let out = f(&mut client).map_err(failed)?;
        let mut pool = self
            .shared
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < READ_POOL {
            pool.push(client);
        }
        Ok(out)
    }

    /// One value of the meta tree.
    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT value FROM kv WHERE tree = $1 AND key = $2",
                &[&TreeName::Meta.name(), &key],
            )?
            .map(|r| r.get(0)))
        })
    }

    /// As [`SledStore::commitment_cost`](super::SledStore::commitment_cost).
    ///
    /// # Errors
    /// Storage failure, or an unreadable recorded cost.
    pub fn commitment_cost(&self, configured: CommitmentCost) -> Result<CommitmentCost, StoreError> {
        if let Some(v) = self.meta(super::META_COMMITMENT_COST)? {
            return super::decode(&v);
        }
        let bytes = super::encode(&configured)?;
        self.direct(TreeName::Meta, super::META_COMMITMENT_COST, &bytes)?;
        // Whoever wrote first decides.
        let v = self
            .meta(super::META_COMMITMENT_COST)?
            .ok_or_else(|| failed("commitment cost vanished"))?;
        super::decode(&v)
    }

    /// Writes one value outside the writer (start-up only, before the
    /// node serves), keeping an existing one.
    fn direct(&self, tree: TreeName, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.read(|c| {
            c.execute(
                "INSERT INTO kv (tree, key, value) VALUES ($1, $2, $3) ON CONFLICT (tree, key) DO NOTHING",
                &[&tree.name(), &key, &value],
            )
            .map(drop)
        })
    }

    /// As [`SledStore::bootstrap_principal`](super::SledStore::bootstrap_principal).
    ///
    /// # Errors
    /// Storage failure.
    pub fn bootstrap_principal(&self, principal: &Principal) -> Result<(), StoreError> {
        let bytes = super::encode_principal(principal)?;
        self.direct(TreeName::Principals, principal.id.as_bytes(), &bytes)
    }

    /// Stops the writer after it has answered everything queued; its
    /// session, and with it the lock, ends.
    ///
    /// # Errors
    /// None today; the signature matches sled's.
    pub fn close(&self) -> Result<(), StoreError> {
        off_runtime(|| self.close_here())
    }

    fn close_here(&self) {
        if let Ok(mut q) = self.queue.lock() {
            q.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        self.shared
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// As [`SledStore::simulate_write_failure`](super::SledStore::simulate_write_failure).
    pub fn simulate_write_failure(&self) {
        self.shared.failed.store(true, Ordering::SeqCst);
    }

    /// Whether this node has lost the database lock (its writer's session
    /// ended): it must stop serving.
    #[must_use]
    pub fn lost_lock(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// Writer statistics as Prometheus text.
    #[must_use]
    pub fn render_stats(&self) -> String {
        super::render_stats(&self.shared.stats, !self.writable())
    }

    /// False once a write failed or the lock was lost: nothing more is written.
    #[must_use]
    pub fn writable(&self) -> bool {
        !self.shared.failed.load(Ordering::SeqCst) && !self.lost_lock()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
