//! The tasks a serving vault runs beside its requests: the scheduled
//! retention sweep, audit checkpoints (every `checkpoint_every` entries or
//! `checkpoint_interval`), sending them to the off-box witness, and writing
//! the counts of unauthenticated requests; and the orderly stop that finishes them, signs the final head
//! and closes the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::store::Store;
use crate::vault::{StartError, Vault};

/// The background tasks of a running vault.
pub(crate) struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    pub(crate) fn start(vault: &Arc<Vault>) -> Self {
        let (stop, _) = watch::channel(false);
        let mut tasks = vec![
            tokio::spawn(sweeps(Arc::clone(vault), stop.subscribe())),
            tokio::spawn(checkpoints(Arc::clone(vault), stop.subscribe())),
            tokio::spawn(tallies(Arc::clone(vault), stop.subscribe())),
            tokio::spawn(witnessing(Arc::clone(vault), stop.subscribe())),
            tokio::spawn(honey(Arc::clone(vault), stop.subscribe())),
        ];
        if vault.cluster.get().is_some() {
            tasks.push(tokio::spawn(cluster_certificates(Arc::clone(vault), stop.subscribe())));
        }
        Self { stop, tasks }
    }

    /// After the server stopped: lets a sweep in progress finish, writes the
    /// counts still open, signs the final head, flushes and closes the store.
    pub(crate) async fn finish(self, vault: Arc<Vault>, served: std::io::Result<()>) -> Result<(), StartError> {
        // The sweep in progress, if any, finishes; no new one starts.
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // The cluster listener closes; what is still pending stays in the
        // ledger for the next start.
        if let Some(cluster) = vault.cluster.get() {
            cluster.stop().await;
        }
        // Every request has been answered: the honey card alerts still
        // queued are written.
        if crate::vault::honey::write_alerts(&vault, true).await.is_err() {
            tracing::error!("honey card alerts could not be written at shutdown");
        }
        // Every request has been answered: the counts still open are written.
        if let Err(e) = vault
            .unauthenticated
            .write(&vault.store, &vault.keys.subjects, true)
            .await
        {
            tracing::error!(error = %e, "counted unauthenticated requests could not be written at shutdown");
        }
        served?;
        // ... and the final head is signed (and sent to the witness, if it answers).
        let _ = sign_checkpoint(&vault).await;
        crate::vault::witness_sync::sync(&vault).await;
        let v = Arc::clone(&vault);
        drop(vault);
        tokio::task::spawn_blocking(move || v.store.close())
            .await
            .map_err(|e| StartError::Store(e.to_string()))?
            .map_err(|e| StartError::Store(e.to_string()))?;
        tracing::info!("stopped; storage flushed");
        Ok(())
    }
}

/// Writes the certificates of destructions every cluster node has
/// acknowledged since (see `vault::keyrep`).
async fn cluster_certificates(vault: Arc<Vault>, mut stopped: watch::Receiver<bool>) {
    let Some(cluster) = vault.cluster.get().cloned() else {
        return;
    };
    loop {
        tokio::select! {
            () = cluster.completion() => {
                if let Err(e) = crate::vault::keyrep::certify_acked(&vault).await {
                    tracing::error!(error = %e, "destruction certificates could not be written; will retry");
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// The scheduled retention sweep, every `sweep_interval`.
async fn sweeps(vault: Arc<Vault>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(vault.config.retention.sweep_interval.as_std());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                vault.rate_limits.forget_idle();
                if let Err(e) = crate::vault::retention::sweep(&vault, "schedule", None, false).await {
                    tracing::error!(error = %e, "scheduled retention sweep failed; will retry");
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// Signs the current chain head, if there is one; its sequence number.
async fn sign_checkpoint(vault: &Arc<Vault>) -> Option<u64> {
    let at = vault
        .clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let v = Arc::clone(vault);
    tokio::task::spawn_blocking(move || {
        let seq = v.checkpointer.sign_head(&v.store, &at);
        // `sign_head` flushed the store: the tree it signs is durable.
        if seq.is_some() {
            if let Err(e) = v.tree_checkpoints.sign(&v.store) {
                tracing::error!(error = %e, "audit tree checkpoint could not be written");
            }
        }
        seq
    })
    .await
    .ok()
    .flatten()
}

/// A checkpoint every `checkpoint_every` entries or `checkpoint_interval`
/// (when the chain grew).
async fn checkpoints(vault: Arc<Vault>, mut stopped: watch::Receiver<bool>) {
    let mut last = vault.signed_at_start;
    let mut since = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Ok((seq, _)) = vault.read(|v| v.store.audit_head()).await else { continue };
                let every = vault.config.audit.checkpoint_every.max(1);
                let due = seq >= last + every
                    || (seq > last && since.elapsed() >= vault.config.audit.checkpoint_interval.as_std());
                if due {
                    if let Some(s) = sign_checkpoint(&vault).await {
                        last = s;
                        since = tokio::time::Instant::now();
                    }
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// Sends new checkpoints to the witness (when one is configured): after
/// each checkpoint, every `RETRY` while it does not answer, and at least
/// every `HEARTBEAT` so `/metrics` knows whether it is up.
async fn witnessing(vault: Arc<Vault>, mut stopped: watch::Receiver<bool>) {
    const RETRY: Duration = Duration::from_secs(2);
    const HEARTBEAT: Duration = Duration::from_secs(30);
    let Some(witness) = &vault.witness else { return };
    let file = vault.config.data_dir.join(crate::vault::tlog_checkpoints::FILE);
    let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
    let mut seen = u64::MAX;
    let mut last = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = size();
                let wait = if witness.list.iter().all(|w| w.is_up()) { HEARTBEAT } else { RETRY };
                if now != seen || last.elapsed() >= wait {
                    crate::vault::witness_sync::sync(&vault).await;
                    seen = now;
                    last = tokio::time::Instant::now();
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// Honey cards: each planned card enrolled at its second, each queued
/// alert written at its own (both checked every second).
async fn honey(vault: Arc<Vault>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                crate::vault::honey::enroll_due(&vault).await;
                if crate::vault::honey::write_alerts(&vault, false).await.is_err() {
                    vault.metrics.audit_failure();
                    tracing::error!("honey card alerts could not be written to the audit log; will retry");
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// The counts of unauthenticated requests, written as their windows end.
async fn tallies(vault: Arc<Vault>, mut stopped: watch::Receiver<bool>) {
    // A tenth of the window: an aggregate is written at most this late, and
    // entries of one source stay at least a window apart.
    let mut tick = tokio::time::interval(crate::vault::audit_tally::INTERVAL / 10);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if vault.unauthenticated.write(&vault.store, &vault.keys.subjects, false).await.is_err() {
                    vault.metrics.audit_failure();
                    tracing::error!("counted unauthenticated requests could not be written to the audit log");
                }
            }
            _ = stopped.changed() => break,
        }
    }
}
