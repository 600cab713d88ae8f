//! Keys replicated node to node, never through the database. With
//! `[cluster]` configured, every vault node keeps its own keys directory
//! (sealed when its keys are); the active node sends each key it makes
//! (a KEK, a scan epoch key, a hold key, an issuer key, and `keyring.toml`
//! when the active KEK changes) and each key it destroys to every other
//! node over mutual TLS on a listener of its own, and retries until each
//! acknowledges. A destruction's certificate is written only once every
//! node has destroyed the key (the vault's side: `vault::keyrep`).
//!
//! - `tls.rs`: the cluster CA, this node's certificate, who a peer is;
//! - `server.rs`: the listener and the two routes a node answers;
//! - `admission.rs`: which connections the listener takes (per address,
//!   with room kept for the peers' addresses);
//! - `client.rs`: sending one message to one node;
//! - `send.rs`: what is pending and the task that delivers it;
//! - `ledger.rs`: `keys/cluster-ledger.json`, pending work across restarts;
//! - `wire.rs`: the messages, and which key files travel at all.
//!
//! Crypto-shredding holds only if no copy of a destroyed key survives, so
//! key material never goes to the store: the database, its WAL archive and
//! its backups hold none (SECURITY.md, "Keys never in the database").

mod accept;
mod admission;
pub mod client;
pub mod ledger;
mod send;
mod server;
pub mod tls;
pub mod wire;

use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::crypto::KeyFiles;
pub use wire::Kind;

/// The running vault's keys in memory, told of keys another node made or
/// destroyed after their files changed here (the vault implements it).
pub trait LiveKeys: Send + Sync {
    /// Loads `name`, a key file just written here.
    ///
    /// # Errors
    /// The file does not read as a key of its kind.
    fn adopt(&self, name: &str, kind: Kind) -> Result<(), String>;
    /// Drops `name`, a key file just shredded here.
    fn forget(&self, name: &str, kind: Kind);
    /// The id of the KEK active in memory (`kek-…`).
    fn active_kek(&self) -> String;
    /// The vault's clock (unix seconds): whether a received key's time has come.
    fn now(&self) -> i64;
}

/// This node's part of the cluster: the listener, the pending work, the
/// delivering task.
pub struct Cluster {
    node_id: String,
    peers: Vec<crate::config::Peer>,
    peer_ids: Vec<String>,
    files: KeyFiles,
    ledger: Mutex<ledger::Ledger>,
    client: client::PeerClient,
    live: RwLock<Option<Weak<dyn LiveKeys>>>,
    /// Something new to send.
    wake: Notify,
    /// A destruction has been acknowledged by every node.
    completed: Notify,
    retry: Duration,
    /// Messages a node refused (4xx): they stay queued, and block that
    /// node's queue, until an operator looks.
    refused: std::sync::atomic::AtomicU64,
    /// One delivery pass at a time, so each node receives in ledger order.
    delivering: tokio::sync::Mutex<()>,
    /// Held while completed destructions are certified, so none is
    /// certified twice.
    pub certifying: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("peers", &self.peer_ids)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Reads the certificates and the ledger, opens the cluster listener and
    /// starts delivering; from now on every key file `files` writes is sent
    /// to every peer.
    ///
    /// # Errors
    /// A certificate or the ledger cannot be read, or the listener cannot open.
    pub async fn start(config: &crate::config::Cluster, files: KeyFiles) -> Result<Arc<Self>, String> {
        let identity = tls::Identity::load(&config.cert, &config.key, &config.ca)?;
        let acceptor = identity.acceptor()?;
        let client = client::PeerClient::new(identity.connector()?);
        let mut ledger = ledger::Ledger::load(files.dir())?;
        let peer_ids: Vec<String> = config.peers.iter().map(|p| p.id.clone()).collect();
        ledger.prune(&peer_ids)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cluster.listen {}: {e}", config.listen))?;
        let (stop, _) = watch::channel(false);
        let cluster = Arc::new(Self {
            node_id: config.node_id.clone(),
            peer_ids,
            peers: config.peers.clone(),
            files: files.clone(),
            ledger: Mutex::new(ledger),
            client,
            live: RwLock::new(None),
            wake: Notify::new(),
            completed: Notify::new(),
            retry: config.retry_interval.as_std(),
            refused: std::sync::atomic::AtomicU64::new(0),
            delivering: tokio::sync::Mutex::new(()),
            certifying: tokio::sync::Mutex::new(()),
            stop,
            tasks: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&cluster);
        if !files.observe(Arc::new(move |name: &str| {
            if let Some(c) = weak.upgrade() {
                c.created(name);
            }
        })) {
            return Err("the keys directory already reports to a cluster".into());
        }
        let tasks = vec![
            tokio::spawn(server::listen(
                Arc::clone(&cluster),
                listener,
                acceptor,
                cluster.stop.subscribe(),
            )),
            tokio::spawn(send::deliver_forever(Arc::clone(&cluster), cluster.stop.subscribe())),
        ];
        *cluster.tasks.lock().unwrap_or_else(PoisonError::into_inner) = tasks;
        tracing::info!(node = %cluster.node_id, peers = cluster.peers.len(), listen = %config.listen, "cluster listener open");
        Ok(cluster)
    }

    /// Makes `live` the keys in memory that received keys are loaded into.
    pub fn attach(&self, live: Weak<dyn LiveKeys>) {
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = Some(live);
    }

    fn live(&self) -> Option<Arc<dyn LiveKeys>> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(Weak::upgrade)
    }

    /// Closes the listener and stops delivering (what is pending stays in
    /// the ledger for the next start).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for t in tasks {
            let _ = t.await;
        }
    }

    #[must_use]
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Resolves when a destruction may have become certifiable, or after
    /// the retry interval.
    pub async fn completion(&self) {
        let _ = tokio::time::timeout(self.retry, self.completed.notified()).await;
    }
}
