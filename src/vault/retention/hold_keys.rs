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
        let Some(hold) = holds.iter().find(|h| h.id == id && h.status == HoldStatus::Released) else {
            continue;
        };
        let vault = Arc::clone(v);
        let key_file = format!("{id}.key");
        let doomed = id.clone();
        if !matches!(
            tokio::task::spawn_blocking(move || vault.keys.holds.destroy(&doomed)).await,
            Ok(Ok(()))
        ) {
            continue;
        }
        if v.cluster.get().is_none() {
            // One node: the release wrote its certificate with the release.
            continue;
        }
        // With a cluster the release's certificate waits for every node,
        // and the crash came before it was queued: certify now. The count
        // of scans the hold kept went with the release (its held scans are
        // removed then); what is still counted is certified.
        let records = v.read(move |v| v.store.held_scans(&id)).await?.len() as u64;
        let principal = hold.released_by.clone().unwrap_or_default();
        let draft = hold_release_certificate(v, &principal, &hold.id, records);
        if let Some(certificate) = &draft.certificate {
            crate::vault::keyrep::certify(v, &key_file, Some(&principal), &certificate.data_class, certificate).await?;
        }
    }
    Ok(())
}
