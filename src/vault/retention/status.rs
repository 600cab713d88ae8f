//! `GET /v1/retention`: what is held per data class and when it goes next.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{due, rfc3339, SweepReport};
use crate::crypto::EpochId;
use crate::domain::error::Error;
use crate::domain::store::Store;
use crate::vault::Vault;

/// What `GET /v1/retention` reports.
///
/// # Errors
/// 503 when the store cannot be read.
pub async fn status(v: &Arc<Vault>) -> Result<RetentionStatus, Error> {
    let window = v.config.retention.source_documents;
    let held = v.read(|v| v.store.scan_count()).await?;
    let mut epochs: BTreeSet<EpochId> = v.keys.scans.epochs().into_iter().collect();
    epochs.extend(v.read(|v| v.store.scan_epochs()).await?);
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    let next = epochs.iter().map(|e| due(*e, window_secs)).min().map(rfc3339);
    let cards = v.read(|v| v.store.card_count()).await?;
    let erased = v.read(|v| v.store.erased_count()).await?;
    let next_card = v
        .read(|v| v.store.due_entries(i64::MAX, 1))
        .await?
        .first()
        .map(|due| rfc3339(due.at));
    Ok(RetentionStatus {
        classes: RetentionClasses {
            source_documents: SourceDocumentsHeld {
                window: window.to_string(),
                held,
                epochs: epochs.len(),
                next_destruction: next,
            },
            inactive_cardholders: CardholdersHeld {
                window: v.config.retention.inactive_cardholders.to_string(),
                held: cards,
                next_destruction: next_card,
                erased_awaiting_key_rotation: erased,
                key_rotation: v.config.retention.key_rotation.to_string(),
                active_kek: v.keys.active_kek().0,
            },
        },
        sweep_interval: v.config.retention.sweep_interval.to_string(),
        last_sweep: v.last_sweep.lock().await.clone(),
    })
}

/// `GET /v1/retention`: what is held per data class, and when it goes.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RetentionStatus {
    pub classes: RetentionClasses,
    /// How often the sweep runs by itself (e.g. `1h`).
    pub sweep_interval: String,
    /// The last sweep's report since the vault started, or null.
    pub last_sweep: Option<SweepReport>,
}

/// One entry per data class (the keys are the data class names).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RetentionClasses {
    /// Scans of proof documents.
    pub source_documents: SourceDocumentsHeld,
    /// Cardholder records.
    pub inactive_cardholders: CardholdersHeld,
}

/// Scans of proof documents, kept by destruction epoch.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SourceDocumentsHeld {
    /// The configured window (`retention.source_documents`, e.g. `7d`).
    pub window: String,
    /// Scans held.
    pub held: u64,
    /// Destruction epochs with a key or scans.
    pub epochs: usize,
    /// The earliest epoch's destruction time (RFC 3339), or null.
    pub next_destruction: Option<String>,
}

/// Cardholder records, destroyed once inactive for the window.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CardholdersHeld {
    /// The configured window (`retention.inactive_cardholders`).
    pub window: String,
    /// Cardholder records held.
    pub held: u64,
    /// When the next record is due (RFC 3339), or null.
    pub next_destruction: Option<String>,
    /// Erased records whose key-encryption key is not yet rotated away.
    pub erased_awaiting_key_rotation: u64,
    /// The configured KEK rotation (`retention.key_rotation`).
    pub key_rotation: String,
    /// The id of the key-encryption key in use.
    pub active_kek: String,
}
