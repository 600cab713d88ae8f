//! The keys of legal holds in the sweep: the certificate of the scans a
//! released hold had kept, and the keys of released holds a crash left
//! behind.

use std::sync::Arc;

use crate::domain::audit::{AuditDraft, Certificate};
use crate::domain::error::Error;
use crate::domain::holds::HoldStatus;
use crate::domain::store::Store;
use crate::vault::Vault;

use super::{certificate_entry, rfc3339, SOURCE_DOCUMENTS};

/// The certificate for scans a released hold had preserved.
#[must_use]
pub fn hold_release_certificate(v: &Vault, principal: &str, hold_id: &str, records: u64) -> AuditDraft {
    let certificate = Certificate {
        data_class: SOURCE_DOCUMENTS.into(),
        records,
        key_id: hold_id.to_owned(),
        method: "cryptographic_erase".into(),
        destroyed_at: rfc3339(v.clock.now().unix_timestamp()),
        sweep_id: format!("release:{hold_id}"),
    };
    certificate_entry(v, Some(principal), SOURCE_DOCUMENTS, &certificate)
}

/// Destroys the keys of holds already released (left by a crash between the
/// release and the key's destruction).
pub(super) async fn destroy_released_hold_keys(v: &Arc<Vault>) -> Result<(), Error> {
    let on_disk = v.keys.holds.held();
    if on_disk.is_empty() {
        return Ok(());
    }
    let holds = v.read(|v| v.store.holds()).await?;
    for id in on_disk {
        if holds.iter().any(|h| h.id == id && h.status == HoldStatus::Released) {
            let vault = Arc::clone(v);
            let key_file = format!("{id}.key");
            if let Ok(Ok(())) = tokio::task::spawn_blocking(move || vault.keys.holds.destroy(&id)).await {
                crate::vault::keyrep::replicate_destruction(v, &key_file);
            }
        }
    }
    Ok(())
}
