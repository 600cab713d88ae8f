//! The retention sweep: destroys what has outlived its window, by
//! destroying keys (sled cannot erase; overwritten values stay in its files
//! and in backups). Each destruction leaves a certificate in the audit chain.
//!
//! Three kinds of destruction, each certified in the audit chain:
//! - document scans, by destruction epoch: the epoch key is destroyed;
//! - inactive cardholder records (found through the due index): deleted;
//! - the key-encryption key they were wrapped under: replaced on the
//!   `key_rotation` schedule (live data keys rewrapped), then destroyed.
//!
//! A restart in the middle of a sweep is safe: an epoch whose key is already
//! gone but whose records remain is finished by the next sweep; an old KEK
//! still on disk makes the next sweep finish its rotation; nothing is
//! destroyed before it is due.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::RngCore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::crypto::{DataKey, EpochId};
use crate::domain::audit::{AuditDraft, Certificate};
use crate::domain::card::CardId;
use crate::domain::error::Error;
use crate::domain::holds::HoldStatus;
use crate::domain::store::{Change, Commit, Due, Store};
use crate::vault::keyrep::{certificate_entry, certify, Certification};
use crate::vault::Vault;

pub use crate::domain::retention::{SweepReport, INACTIVE_CARDHOLDERS, KEY_ENCRYPTION_KEY, SOURCE_DOCUMENTS};

/// A destruction in the sweep's report: certified, or destroyed here and
/// waiting for the other cluster nodes before it is.
fn report_destruction(report: &mut SweepReport, certificate: Certificate, certified: &Certification) {
    if matches!(certified, Certification::Waiting) {
        report.skipped.push(format!(
            "{}: destroyed on this node; certified once every cluster node has destroyed it",
            certificate.key_id
        ));
    } else {
        report.destroyed.push(certificate);
    }
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

/// Runs one sweep (`rotate_kek`: replacing the KEK in it, due or not).
/// Sweeps never overlap.
///
/// # Errors
/// 503 when the store cannot read or record a destruction.
pub async fn sweep(
    v: &Arc<Vault>,
    trigger: &str,
    principal: Option<&str>,
    rotate_kek: bool,
) -> Result<SweepReport, Error> {
    let result = sweep_once(v, trigger, principal, rotate_kek).await;
    // A sweep that failed before its end leaves no report: the operations
    // dashboard counts it here.
    v.metrics.sweep_finished(result.is_ok());
    result
}

async fn sweep_once(
    v: &Arc<Vault>,
    trigger: &str,
    principal: Option<&str>,
    rotate_kek: bool,
) -> Result<SweepReport, Error> {
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
        let records = v.read(move |v| v.store.scans_of(epoch)).await?;
        let vault = Arc::clone(v);
        let destroyed = tokio::task::spawn_blocking(move || vault.keys.scans.destroy(epoch))
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
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
        let key_file = format!("{}.key", epoch.key_id());
        let certified = certify(v, &key_file, principal, SOURCE_DOCUMENTS, &certificate).await?;
        let audit = match &certified {
            Certification::Now(draft) => vec![(**draft).clone()],
            Certification::Written | Certification::Waiting => Vec::new(),
        };
        commit(v, vec![Change::RemoveScans { scans: records }], audit).await?;
        report_destruction(&mut report, certificate, &certified);
    }
    destroy_released_hold_keys(v).await?;
    sweep_cardholders(v, &mut report, started, principal).await?;
    rotate_kek_if_due(v, &mut report, started, principal, rotate_kek).await?;
    if let Err(e) = crate::vault::issuer_upkeep::maintain_keys(v, started).await {
        tracing::error!(error = %e, "credential issuer keys could not be rotated or retired; will retry");
        report.errors.push("credential issuer keys: rotation failed".into());
    }
    report.finished_at = rfc3339(v.clock.now().unix_timestamp());
    if !report.destroyed.is_empty() {
        tracing::info!(sweep = %report.sweep_id, destroyed = report.destroyed.len(), "retention sweep destroyed data");
    }
    *v.last_sweep.lock().await = Some(report.clone());
    Ok(report)
}

async fn commit(v: &Vault, changes: Vec<Change>, audit: Vec<AuditDraft>) -> Result<(), Error> {
    v.store
        .commit(Commit { changes, audit })
        .await
        .map(drop)
        .map_err(|_| Error::unavailable("a retention change could not be written"))
}

/// A due index entry and, if its record is still there, the record's due
/// time, KEK id and credential index key.
type DueRecord = (Due, Option<(i64, String, Option<crate::crypto::IndexKey>)>);

/// One page of the due index, with each record's due time, KEK id and
/// credential index key: one blocking hop per page, not per card. Each
/// record's due time is in its sealed meta; a record that no longer opens
/// (its KEK destroyed) is due now.
async fn due_records(v: &Arc<Vault>, entries: Vec<Due>, now: i64, window: i64) -> Result<Vec<DueRecord>, Error> {
    v.read(move |v| {
        entries
            .into_iter()
            .map(|due| {
                let found = v.store.card(&due.card_id)?.map(|r| {
                    let kek = r.dek.kek_id.clone();
                    let index_key = crate::domain::access::index_key(&v.keys, &due.card_id, &r).ok();
                    let at = crate::domain::access::open_card(&v.keys, &due.card_id, r)
                        .map_or(i64::MIN, |c| c.meta.index_due(now, window));
                    (at, kek, index_key)
                });
                Ok((due, found))
            })
            .collect::<Result<Vec<_>, crate::domain::store::StoreError>>()
    })
    .await
}

/// Deletes the cardholder records that are due (erasure requested; revoked
/// or expired longer than the window), found through the due index, so the
/// cost follows the records destroyed. Their sealed fields and photo remain
/// in sled's free space and in backups, wrapped under the KEK of the time:
/// the erasure is complete when that KEK is destroyed by the next rotation.
async fn sweep_cardholders(
    v: &Arc<Vault>,
    report: &mut SweepReport,
    now: i64,
    principal: Option<&str>,
) -> Result<(), Error> {
    let window = i64::try_from(v.config.retention.inactive_cardholders.as_secs()).unwrap_or(i64::MAX);
    let mut deleted = 0u64;
    let mut keks = BTreeSet::new();
    let held: std::collections::HashMap<CardId, (String, String, String)> = v
        .read(|v| v.store.holds())
        .await?
        .into_iter()
        .filter(|h| h.status == HoldStatus::Active)
        .map(|h| (h.card_id, (h.id, h.reference, h.card_subject)))
        .collect();
    loop {
        let entries = v.read(move |v| v.store.due_entries(now, 512)).await?;
        if entries.is_empty() {
            break;
        }
        let records = due_records(v, entries, now, window).await?;
        let mut changes = Vec::with_capacity(records.len());
        for (key, record) in records {
            let id = key.card_id;
            match record {
                Some((at, ..)) if at > now => changes.push(Change::MoveDue {
                    from: key,
                    to: Due { at, card_id: id },
                }),
                // Held: kept, and looked at again by the next sweep.
                Some(_) if held.contains_key(&id) => {
                    let (hold, reference, subject) = &held[&id];
                    report.skipped.push(format!(
                        "{subject}: {INACTIVE_CARDHOLDERS} due but kept by legal hold {hold} ({reference})"
                    ));
                    changes.push(Change::MoveDue {
                        from: key,
                        to: Due {
                            at: now.saturating_add(1),
                            card_id: id,
                        },
                    });
                }
                Some((_, kek, index_key)) => {
                    keks.insert(kek);
                    deleted += 1;
                    v.cards.invalidate(&id);
                    // Its credentials end with it (most are revoked or
                    // expired already): their sealed list opens only here.
                    if let Some(index_key) = index_key {
                        changes.push(Change::RevokeCredentials {
                            card_id: id,
                            key: index_key,
                        });
                    }
                    changes.push(Change::DeleteCard { card_id: id, due: key });
                }
                // Already gone (an older index entry): drop the entry.
                None => changes.push(Change::DeleteCard { card_id: id, due: key }),
            }
        }
        commit(v, changes, Vec::new()).await?;
    }
    if deleted > 0 {
        v.cards.clear();
        let certificate = Certificate {
            data_class: INACTIVE_CARDHOLDERS.into(),
            records: deleted,
            key_id: keks.into_iter().collect::<Vec<_>>().join(","),
            method: "record_deleted; cryptographic_erase when the named KEK is destroyed at the next key rotation"
                .into(),
            destroyed_at: rfc3339(v.clock.now().unix_timestamp()),
            sweep_id: report.sweep_id.clone(),
        };
        commit(
            v,
            Vec::new(),
            vec![certificate_entry(v, principal, INACTIVE_CARDHOLDERS, &certificate)],
        )
        .await?;
        report.destroyed.push(certificate);
    }
    Ok(())
}

/// Replaces the KEK when records were erased under it and `key_rotation`
/// has passed since the last rotation (or when an older KEK is still on disk
/// after an interrupted rotation): new KEK, every live data key rewrapped,
/// then the old KEK destroyed — which turns every leftover copy of an erased
/// record's wrapped data key, in sled's files or in backups, into noise.
/// `asked`: an operator asked for a rotation now, due or not.
async fn rotate_kek_if_due(
    v: &Arc<Vault>,
    report: &mut SweepReport,
    now: i64,
    principal: Option<&str>,
    asked: bool,
) -> Result<(), Error> {
    let erased = v.read(|v| v.store.erased_count()).await?;
    let (active, _) = v.keys.active_kek();
    let stale = v.keys.kek_ids().into_iter().any(|id| id != active);
    let period = i64::try_from(v.config.retention.key_rotation.as_secs()).unwrap_or(i64::MAX);
    let last = *v.last_rotation.lock().await;
    let rotation_due = asked || (erased > 0 && now.saturating_sub(last) >= period);
    if !(stale || rotation_due) {
        return Ok(());
    }
    if !stale {
        let vault = Arc::clone(v);
        tokio::task::spawn_blocking(move || vault.keys.rotate_kek())
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(|e| Error::unavailable(e.to_string()))?;
        // Wait out enrollments that wrapped under the old KEK.
        drop(v.kek_gate.write().await);
    }
    let (active, _) = v.keys.active_kek();
    if !crate::vault::keyrep::kek_everywhere(v, &active).await {
        report.skipped.push(format!(
            "{active}: records are rewrapped under it once every cluster node holds it"
        ));
        return Ok(());
    }
    let old: Vec<String> = v.keys.kek_ids().into_iter().filter(|id| *id != active).collect();
    // Rewrap until a full pass finds nothing left under an old KEK.
    loop {
        let mut rewrapped = 0usize;
        let mut after = None;
        loop {
            let vault = Arc::clone(v);
            let (changes, last) = tokio::task::spawn_blocking(move || rewrap_page(&vault, after))
                .await
                .map_err(|e| Error::internal(e.to_string()))??;
            let Some(last) = last else { break };
            after = Some(last);
            rewrapped += changes.len();
            if !changes.is_empty() {
                commit(v, changes, Vec::new()).await?;
                v.cards.clear();
            }
        }
        if rewrapped == 0 {
            break;
        }
    }
    let mut entries = Vec::new();
    for id in old {
        let vault = Arc::clone(v);
        let target = id.clone();
        let destroyed = tokio::task::spawn_blocking(move || vault.keys.destroy_kek(&target))
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        if let Err(e) = destroyed {
            tracing::error!(kek = %id, error = %e, "old KEK could not be destroyed; will retry");
            report.errors.push(format!("{id}: could not be destroyed"));
            continue;
        }
        let certificate = Certificate {
            data_class: KEY_ENCRYPTION_KEY.into(),
            records: erased,
            key_id: id,
            method: "cryptographic_erase".into(),
            destroyed_at: rfc3339(v.clock.now().unix_timestamp()),
            sweep_id: report.sweep_id.clone(),
        };
        let certified = certify(
            v,
            &format!("{}.key", certificate.key_id),
            principal,
            KEY_ENCRYPTION_KEY,
            &certificate,
        )
        .await?;
        if let Certification::Now(draft) = &certified {
            entries.push((**draft).clone());
        }
        report_destruction(report, certificate, &certified);
    }
    v.cards.clear();
    commit(v, vec![Change::ResetErasedCount], entries).await?;
    *v.last_rotation.lock().await = now;
    Ok(())
}

/// One page of cards: rewraps those under an old KEK. Returns the changes
/// and the last card id seen (`None` when there were no more cards).
fn rewrap_page(v: &Vault, after: Option<CardId>) -> Result<(Vec<Change>, Option<CardId>), Error> {
    let page = v.store.card_page(after, 512)?;
    let last = page.last().map(|(id, _)| *id);
    let (active, active_key) = v.keys.active_kek();
    let mut changes = Vec::new();
    for (id, record) in page {
        if record.dek.kek_id == active {
            continue;
        }
        // An old KEK already destroyed (interrupted rotation): nothing to save.
        let Some(old) = v.keys.kek(&record.dek.kek_id) else {
            continue;
        };
        let dek = DataKey::unwrap_with(&record.dek, &old, &id).map_err(|_| Error::Internal {
            detail: "a data key did not unwrap during rotation".into(),
        })?;
        changes.push(Change::Rewrap {
            card_id: id,
            from_kek: record.dek.kek_id.clone(),
            wrapped: dek.wrap(&active, &active_key, &id),
        });
    }
    Ok((changes, last))
}

mod hold_keys;
mod status;
use hold_keys::destroy_released_hold_keys;
pub use hold_keys::hold_release_certificate;
pub use status::{status, CardholdersHeld, RetentionClasses, RetentionStatus, SourceDocumentsHeld};
