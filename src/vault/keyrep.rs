//! The running vault's side of key replication (`src/cluster/`): keys
//! received from another node loaded into memory, and destructions
//! certified only once every configured node has destroyed the key too.
//!
//! Without `[cluster]` a destruction is certified at once, as on one node.
//! With it, the certificate is kept in the cluster ledger (no secret in it)
//! and written to the audit chain when the last node acknowledges —
//! possibly much later, by the background task, if a node is down.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::{Kind, LiveKeys};
use crate::domain::audit::{AuditDraft, Certificate, Decision};
use crate::domain::error::Error;
use crate::domain::store::{Commit, Store};
use crate::vault::Vault;

impl LiveKeys for Vault {
    fn adopt(&self, name: &str, kind: Kind) -> Result<(), String> {
        let id = name.strip_suffix(".key").unwrap_or(name);
        match kind {
            Kind::Manifest => self.keys.reload_manifest().map(|()| self.refresh_attestor()),
            Kind::Kek => self.keys.adopt_kek(id),
            Kind::Scan => self.keys.scans.adopt(name),
            Kind::Issuer => self.credentials.issuer.adopt(name),
            // Hold keys are read from their file when a held scan is opened;
            // an attestation key is taken when the manifest naming it comes.
            Kind::Hold | Kind::Attestation => Ok(()),
        }
        .map_err(|e| e.to_string())
    }

    fn forget(&self, name: &str, kind: Kind) {
        let id = name.strip_suffix(".key").unwrap_or(name);
        match kind {
            Kind::Kek => {
                self.keys.forget_kek(id);
                self.cards.clear();
            }
            Kind::Scan => self.keys.scans.forget(name),
            Kind::Issuer => self.credentials.issuer.forget(name),
            Kind::Hold | Kind::Manifest | Kind::Attestation => {}
        }
    }

    fn active_kek(&self) -> String {
        self.keys.active_kek().0
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

/// How long a destruction waits for the other nodes before its caller
/// goes on (the certificate then follows from the background task).
const PROMPT: std::time::Duration = std::time::Duration::from_secs(3);

/// A certificate waiting in the cluster ledger for every node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deferred {
    principal: Option<String>,
    class: String,
    certificate: Certificate,
}

/// What became of a destruction's certificate.
#[derive(Debug)]
pub enum Certification {
    /// No cluster: write this entry now (with the changes it goes with).
    Now(Box<AuditDraft>),
    /// Every node acknowledged at once; the certificate is written.
    Written,
    /// Some node has not acknowledged; the certificate is written when it does.
    Waiting,
}

/// Certifies the destruction of `key_file`, already destroyed here: at once
/// without a cluster; with one, after every node has destroyed it too.
/// Never at once when `[cluster]` is configured but no cluster runs here.
///
/// # Errors
/// 503 when the cluster ledger or the audit chain cannot be written, or a
/// cluster is configured but not running.
pub async fn certify(
    v: &Arc<Vault>,
    key_file: &str,
    principal: Option<&str>,
    class: &str,
    certificate: &Certificate,
) -> Result<Certification, Error> {
    let Some(cluster) = v.cluster.get() else {
        if v.config.cluster.is_some() {
            // Configured, but not running: peers may hold the key, and no
            // certificate is written while one might.
            tracing::error!(file = %key_file, "a cluster is configured but not running: the destruction is not certified");
            return Err(Error::unavailable(
                "a cluster is configured but not running here: the destruction cannot be certified",
            ));
        }
        return Ok(Certification::Now(Box::new(certificate_entry(
            v,
            principal,
            class,
            certificate,
        ))));
    };
    let deferred = Deferred {
        principal: principal.map(str::to_owned),
        class: class.to_owned(),
        certificate: certificate.clone(),
    };
    let then = serde_json::to_value(&deferred).map_err(|e| Error::internal(e.to_string()))?;
    let id = cluster
        .destroyed(key_file, Some(then))
        .map_err(|e| Error::unavailable(format!("cluster ledger: {e}")))?;
    // One prompt attempt, bounded: a node that does not answer must not
    // hold a sweep or a hold's release (the background task carries on).
    let _ = tokio::time::timeout(PROMPT, cluster.deliver()).await;
    certify_acked(v).await?;
    Ok(if cluster.is_pending(id) {
        Certification::Waiting
    } else {
        Certification::Written
    })
}

/// Sends the destruction of `key_file` (destroyed here) to every node,
/// when there is a cluster; nothing waits on it.
pub fn replicate_destruction(v: &Vault, key_file: &str) {
    if let Some(cluster) = v.cluster.get() {
        if let Err(e) = cluster.destroyed(key_file, None) {
            tracing::error!(file = %key_file, error = %e, "key destruction could not be queued for the cluster");
        }
    }
}

/// Writes the certificates of destructions every node has acknowledged;
/// returns them.
///
/// # Errors
/// 503 when the audit chain or the ledger cannot be written.
pub async fn certify_acked(v: &Arc<Vault>) -> Result<Vec<Certificate>, Error> {
    let Some(cluster) = v.cluster.get() else {
        return Ok(Vec::new());
    };
    let _one_at_a_time = cluster.certifying.lock().await;
    let mut written = Vec::new();
    for (id, then) in cluster.completed() {
        let Ok(deferred) = serde_json::from_value::<Deferred>(then) else {
            tracing::error!(
                entry = id,
                "a pending certificate in the cluster ledger does not read; dropped"
            );
            let _ = cluster.certified(id);
            continue;
        };
        let draft = certificate_entry(v, deferred.principal.as_deref(), &deferred.class, &deferred.certificate);
        v.store
            .commit(Commit {
                changes: Vec::new(),
                audit: vec![draft],
            })
            .await
            .map_err(|_| Error::unavailable("a destruction certificate could not be written"))?;
        cluster
            .certified(id)
            .map_err(|e| Error::unavailable(format!("cluster ledger: {e}")))?;
        tracing::info!(key = %deferred.certificate.key_id, "every cluster node destroyed the key: certificate written");
        written.push(deferred.certificate);
    }
    Ok(written)
}

/// Whether every node holds the KEK `active` and the `keyring.toml` naming
/// it (always, without a cluster): a rotation rewraps records under the new
/// KEK, and destroys the old one, only then, so that losing this node's
/// disk never leaves records under a KEK no other node holds. One bounded
/// delivery attempt first; the next sweep carries on.
pub async fn kek_everywhere(v: &Vault, active: &str) -> bool {
    let Some(cluster) = v.cluster.get() else { return true };
    let kek_file = format!("{active}.key");
    let done = || cluster.delivered(&kek_file) && cluster.delivered(crate::crypto::MANIFEST);
    if done() {
        return true;
    }
    let _ = tokio::time::timeout(PROMPT, cluster.deliver()).await;
    done()
}

/// The audit entry that certifies a destruction.
pub(crate) fn certificate_entry(
    v: &Vault,
    principal: Option<&str>,
    class: &str,
    certificate: &Certificate,
) -> AuditDraft {
    AuditDraft {
        at: v.clock.now().unix_timestamp(),
        principal: principal.map(str::to_owned),
        action: "destroy".into(),
        resource: Some(format!("DataClass::{class}")),
        decision: Decision::Allow,
        outcome: "ok".into(),
        certificate: Some(certificate.clone()),
        ..AuditDraft::default()
    }
}
