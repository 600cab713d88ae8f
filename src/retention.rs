//! The retention sweep: destroys what has outlived its window, by
//! destroying keys (sled cannot erase; overwritten values stay in its files
//! and in backups). Each destruction leaves a certificate in the audit chain.
//!
//! Built so far: document scans, by destruction epoch. A restart in the
//! middle of a sweep is safe: an epoch whose key is already gone but whose
//! records remain is finished (records removed, certificate written) by the
//! next sweep, and nothing is destroyed before its epoch's window has passed.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::RngCore;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::crypto::EpochId;
use crate::domain::audit::{AuditDraft, Certificate, Decision};
use crate::domain::store::{Change, Commit, Store};
use crate::error::ApiError;
use crate::server::Vault;

pub const SOURCE_DOCUMENTS: &str = "source_documents";

/// What one sweep did.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub sweep_id: String,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: String,
    /// One certificate per destruction.
    pub destroyed: Vec<Certificate>,
    /// What was due but kept, and why (legal holds: not built yet, so empty).
    pub skipped: Vec<String>,
    /// Destructions that failed and will be tried again next sweep.
    pub errors: Vec<String>,
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// When an epoch's scans are due for destruction.
fn due(epoch: EpochId, window_secs: i64) -> i64 {
    epoch.end().saturating_add(window_secs)
}

/// Runs one sweep. Sweeps never overlap.
///
/// # Errors
/// 503 when the store cannot read or record a destruction.
pub async fn sweep(v: &Arc<Vault>, trigger: &str, principal: Option<&str>) -> Result<SweepReport, ApiError> {
    let _one_at_a_time = v.sweep_lock.lock().await;
    let started = v.clock.now().unix_timestamp();
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let mut report = SweepReport {
        sweep_id: format!("sweep_{}", hex::encode(id)),
        trigger: trigger.to_owned(),
        started_at: rfc3339(started),
        finished_at: String::new(),
        destroyed: Vec::new(),
        skipped: Vec::new(),
        errors: Vec::new(),
    };
    let window = i64::try_from(v.config.retention.source_documents.as_secs()).unwrap_or(i64::MAX);
    let mut epochs: BTreeSet<EpochId> = v.keys.scans.epochs().into_iter().collect();
    epochs.extend(v.read(|v| v.store.scan_epochs()).await?);
    for epoch in epochs.into_iter().filter(|e| due(*e, window) <= started) {
        let records = v.read(move |v| v.store.scan_keys(epoch)).await?;
        let vault = Arc::clone(v);
        let destroyed = tokio::task::spawn_blocking(move || vault.keys.scans.destroy(epoch))
            .await
            .map_err(|e| ApiError::Internal { detail: e.to_string() })?;
        let had_key = match destroyed {
            Ok(had) => had,
            Err(e) => {
                tracing::error!(epoch = %epoch.key_id(), error = %e, "scan epoch key could not be destroyed; will retry");
                report
                    .errors
                    .push(format!("{}: key could not be destroyed", epoch.key_id()));
                continue;
            }
        };
        if !had_key && records.is_empty() {
            continue;
        }
        let certificate = Certificate {
            data_class: SOURCE_DOCUMENTS.into(),
            records: records.len() as u64,
            key_id: epoch.key_id(),
            method: "cryptographic_erase".into(),
            destroyed_at: rfc3339(v.clock.now().unix_timestamp()),
            sweep_id: report.sweep_id.clone(),
        };
        let draft = AuditDraft {
            at: v.clock.now().unix_timestamp(),
            principal: principal.map(str::to_owned),
            action: "destroy".into(),
            resource: Some(format!("DataClass::{SOURCE_DOCUMENTS}")),
            decision: Decision::Allow,
            outcome: "ok".into(),
            certificate: Some(certificate.clone()),
            ..AuditDraft::default()
        };
        let commit = Commit {
            changes: vec![Change::RemoveScans { keys: records }],
            audit: vec![draft],
        };
        match v.store.submit(commit).await {
            Ok(Ok(_)) => report.destroyed.push(certificate),
            _ => {
                return Err(ApiError::Unavailable {
                    detail: "a destruction certificate could not be written".into(),
                })
            }
        }
    }
    report.finished_at = rfc3339(v.clock.now().unix_timestamp());
    if !report.destroyed.is_empty() {
        tracing::info!(sweep = %report.sweep_id, destroyed = report.destroyed.len(), "retention sweep destroyed data");
    }
    *v.last_sweep.lock().await = Some(report.clone());
    Ok(report)
}

/// What `GET /v1/retention` reports.
///
/// # Errors
/// 503 when the store cannot be read.
pub async fn status(v: &Arc<Vault>) -> Result<serde_json::Value, ApiError> {
    let window = v.config.retention.source_documents;
    let held = v.read(|v| v.store.scan_count()).await?;
    let mut epochs: BTreeSet<EpochId> = v.keys.scans.epochs().into_iter().collect();
    epochs.extend(v.read(|v| v.store.scan_epochs()).await?);
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    let next = epochs.iter().map(|e| due(*e, window_secs)).min().map(rfc3339);
    Ok(serde_json::json!({
        "classes": {
            SOURCE_DOCUMENTS: {
                "window": window.to_string(),
                "held": held,
                "epochs": epochs.len(),
                "next_destruction": next,
            },
            "inactive_cardholders": {
                "window": v.config.retention.inactive_cardholders.to_string(),
                "next_destruction": null,
                "note": "crypto-shredding of inactive cardholders is not built yet; erasure requests only stop the card",
            },
        },
        "sweep_interval": v.config.retention.sweep_interval.to_string(),
        "last_sweep": *v.last_sweep.lock().await,
    }))
}
