//! The sending side: a key made or destroyed here becomes a ledger entry
//! (durably, before anything is sent), and a task delivers the entries to
//! each node in order, retrying every `retry_interval` until it
//! acknowledges. A node that does not answer holds back only its own queue.

use std::sync::{Arc, PoisonError};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::watch;
use zeroize::Zeroizing;

use super::ledger::{Entry, Op};
use super::wire::{self, Ack, Destroyed, KeyFile};
use super::Cluster;

impl Cluster {
    /// A key file was written here (the keys directory's observer): every
    /// node is to receive it. Files that do not travel are ignored.
    pub fn created(&self, name: &str) {
        if wire::kind_of(name).is_none() {
            return;
        }
        let queued = if name == crate::crypto::MANIFEST {
            self.push_manifest(name)
        } else {
            self.push(Op::Key, name, None).map(drop)
        };
        if let Err(e) = queued {
            tracing::error!(file = %name, error = %e, "cluster ledger could not be written; the key is not sent");
        }
    }

    /// A key was destroyed here: every node is to destroy it. `then`, when
    /// given, is the certificate to write once every node has (see
    /// [`Cluster::completed`]).
    /// Returns the entry's ledger id.
    ///
    /// # Errors
    /// The name does not travel, or the ledger cannot be written.
    pub fn destroyed(&self, name: &str, then: Option<serde_json::Value>) -> Result<u64, String> {
        if wire::kind_of(name).is_none_or(|k| k == wire::Kind::Manifest) {
            return Err(format!("{name} is not a replicated key"));
        }
        self.push(Op::Destroyed, name, then)
    }

    /// Queues `keyring.toml` with its content now: a node that sends it
    /// later (after a failover, say) sends what it was, not what it became.
    fn push_manifest(&self, name: &str) -> Result<(), String> {
        let content = self
            .files
            .read_for_peer(name)
            .map_err(|e| e.to_string())?
            .ok_or("keyring.toml is gone")?;
        let content = String::from_utf8(content.to_vec()).map_err(|_| "keyring.toml is not UTF-8")?;
        self.ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_manifest(name, content)?;
        self.wake.notify_one();
        Ok(())
    }

    fn push(&self, op: Op, name: &str, then: Option<serde_json::Value>) -> Result<u64, String> {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let id = ledger.push(op, name, then)?;
        drop(ledger);
        // With no peers an entry is complete at once.
        if self.peer_ids.is_empty() {
            self.completed.notify_one();
        }
        self.wake.notify_one();
        Ok(id)
    }

    /// Whether every node acknowledged the key file `name` (nothing queued
    /// for it).
    #[must_use]
    pub fn delivered(&self, name: &str) -> bool {
        self.ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unacked_key(name)
            .is_none()
    }

    /// Whether ledger entry `id` still waits (for a node, or for its certificate).
    #[must_use]
    pub fn is_pending(&self, id: u64) -> bool {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner).contains(id)
    }

    /// Destructions every node acknowledged whose certificate is still to
    /// be written: `(ledger id, certificate)`.
    #[must_use]
    pub fn completed(&self) -> Vec<(u64, serde_json::Value)> {
        self.ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .complete(&self.peer_ids)
    }

    /// The certificate of ledger entry `id` is written: it is done.
    ///
    /// # Errors
    /// The ledger cannot be written.
    pub fn certified(&self, id: u64) -> Result<(), String> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner).remove(id)
    }

    /// Distributions and destructions not yet done everywhere (a metric).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner).pending()
    }

    /// Each cluster node, with how many messages it has not acknowledged.
    #[must_use]
    pub fn backlog(&self) -> Vec<(String, usize)> {
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        self.peer_ids
            .iter()
            .map(|id| (id.clone(), ledger.unacked_by(id).len()))
            .collect()
    }

    /// Messages a cluster node refused since start.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `civic_vault_cluster_pending` in Prometheus text.
    #[must_use]
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP civic_vault_cluster_pending Keys made or destroyed here that some cluster node has not yet acknowledged, or whose destruction certificate is not yet written.\n\
             # TYPE civic_vault_cluster_pending gauge\n\
             civic_vault_cluster_pending {}\n\
             # HELP civic_vault_cluster_refused_total Messages a cluster node refused (4xx); each stays queued and blocks that node's queue until an operator resolves it.\n\
             # TYPE civic_vault_cluster_refused_total counter\n\
             civic_vault_cluster_refused_total {}\n",
            self.pending(),
            self.refused.load(std::sync::atomic::Ordering::Relaxed)
        )
    }

    /// One pass: each node is sent what it has not acknowledged, in order,
    /// until it fails to answer.
    pub async fn deliver(&self) {
        let _one_pass = self.delivering.lock().await;
        for peer in &self.peers {
            let entries = self
                .ledger
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .unacked_by(&peer.id);
            for entry in entries {
                if let Err(e) = self.send(peer, &entry).await {
                    tracing::warn!(peer = %peer.id, file = %entry.name, error = %e, "cluster node did not acknowledge; will retry");
                    break;
                }
                let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
                if let Err(e) = ledger.ack(entry.id, &peer.id, &self.peer_ids) {
                    tracing::error!(error = %e, "cluster ledger could not be written");
                    break;
                }
                if entry.then.is_some() && self.peer_ids.iter().all(|n| *n == peer.id || entry.acked.contains(n)) {
                    self.completed.notify_one();
                }
            }
        }
    }

    async fn send(&self, peer: &crate::config::Peer, entry: &Entry) -> Result<(), String> {
        let (path, body) = match entry.op {
            Op::Key if entry.manifest.is_some() => {
                let message = KeyFile {
                    name: entry.name.clone(),
                    bytes: Zeroizing::new(STANDARD.encode(entry.manifest.as_deref().unwrap_or_default())),
                };
                let body = Zeroizing::new(serde_json::to_vec(&message).map_err(|e| e.to_string())?);
                (wire::KEYS_PATH, body)
            }
            Op::Key => {
                let files = self.files.clone();
                let name = entry.name.clone();
                let read = tokio::task::spawn_blocking(move || files.read_for_peer(&name))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                // Destroyed here before it was sent: nothing to send (its
                // destruction follows in the ledger).
                let Some(bytes) = read else { return Ok(()) };
                let message = KeyFile {
                    name: entry.name.clone(),
                    bytes: Zeroizing::new(STANDARD.encode(&*bytes)),
                };
                let body = Zeroizing::new(serde_json::to_vec(&message).map_err(|e| e.to_string())?);
                (wire::KEYS_PATH, body)
            }
            Op::Destroyed => {
                let message = Destroyed {
                    name: entry.name.clone(),
                };
                let body = Zeroizing::new(serde_json::to_vec(&message).map_err(|e| e.to_string())?);
                (wire::DESTROYED_PATH, body)
            }
        };
        let (status, answer) = self.client.post(&peer.url, &peer.id, path, body).await?;
        if (400..500).contains(&status) {
            // A refusal is permanent: retrying sends the same. Kept (a
            // destruction is never dropped silently), logged, counted.
            self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(peer = %peer.id, file = %entry.name, status, "a cluster node refused this message; its queue waits on an operator");
            return Err(format!("refused ({status})"));
        }
        let ack: Ack =
            serde_json::from_slice(&answer).map_err(|_| format!("answered {status} without an acknowledgement"))?;
        if status != 200 || ack.name != entry.name || ack.node != peer.id {
            return Err(format!("answered {status}, not an acknowledgement of this file"));
        }
        Ok(())
    }
}

/// Delivers whenever something new is pending, and every retry interval.
pub(super) async fn deliver_forever(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    loop {
        cluster.deliver().await;
        tokio::select! {
            () = cluster.wake.notified() => {}
            () = tokio::time::sleep(cluster.retry) => {}
            _ = stop.changed() => break,
        }
    }
}
