//! The vault's conversation with the off-box witness: the check at start
//! against its cosignatures, and sending each checkpoint (with the entries
//! since the last cosigned one) until it is cosigned. The state it keeps is
//! `witness.rs`'s.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::domain::audit::format_hash;
use crate::domain::store::Store;
use crate::vault::witness::{append, check_chain, read_verified, Witness};
use crate::vault::{StartError, Vault};
use crate::witness::{CosignRequest, Cosignature, VaultCheckpoint, MAX_ENTRIES};

/// Checks the chain at start against the cosignatures in the data directory
/// and the witness's newest one. A witness that does not answer is logged
/// and the vault starts: the check runs again when it answers.
///
/// # Errors
/// The chain does not reach, or differs from, a cosigned checkpoint.
pub async fn at_start(vault: &Arc<Vault>) -> Result<(), StartError> {
    let Some(w) = &vault.witness else { return Ok(()) };
    let vault_key = vault.checkpointer.public_key();
    let local = read_verified(&vault.config.data_dir, &w.key, Some(&vault_key))
        .map_err(|e| StartError::Store(format!("audit cosignatures: {e}")))?;
    let recorded = local.last_key_value().map_or(0, |(s, _)| *s);
    w.status.recorded_seq.store(recorded, Ordering::Relaxed);
    w.status.cosigned_seq.store(recorded, Ordering::Relaxed);
    let mut heads: Vec<(u64, String)> = local
        .last_key_value()
        .map(|(s, h)| (*s, h.clone()))
        .into_iter()
        .collect();
    let latest = match w.latest(Some(&vault_key)).await {
        Ok(latest) => {
            w.status.up();
            heads.extend(latest.as_ref().map(|l| (l.seq, l.head.clone())));
            latest
        }
        Err(e) => {
            w.status.down(&e);
            None
        }
    };
    for (seq, head) in heads {
        let checked = vault
            .read(move |v| Ok(check_chain(&v.store, seq, &head)))
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        checked.map_err(|e| StartError::Store(format!("{e}; refusing to start")))?;
    }
    if let Some(l) = &latest {
        record(vault, w, l);
        w.status.seen(Some(l));
    }
    Ok(())
}

/// Brings the witness up to date: sends each signed checkpoint it has not
/// cosigned (a few rounds at most per call). Never fails: an unreachable
/// witness is logged and counted; a conflict stops requests.
pub async fn sync(vault: &Arc<Vault>) {
    let Some(w) = &vault.witness else { return };
    if let Ok((seq, _)) = vault.read(|v| v.store.audit_head()).await {
        w.status.head_seq.store(seq, Ordering::Relaxed);
    }
    if w.status.conflict().is_some() {
        return;
    }
    for _ in 0..8 {
        match step(vault, w).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                w.status.down(&e);
                break;
            }
        }
    }
}

/// One round: what the witness has, checked against the chain; then the
/// next checkpoint it lacks. Whether there may be more to send.
async fn step(vault: &Arc<Vault>, w: &Witness) -> Result<bool, String> {
    let vault_key = vault.checkpointer.public_key();
    let latest = w.latest(Some(&vault_key)).await?;
    w.status.up();
    let (from, head) = latest
        .as_ref()
        .map_or_else(|| (0, crate::witness::genesis_head()), |l| (l.seq, l.head.clone()));
    let checked = vault
        .read(move |v| Ok(check_chain(&v.store, from, &head)))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(conflict) = checked {
        w.status.set_conflict(conflict);
        return Ok(false);
    }
    if let Some(l) = &latest {
        record(vault, w, l);
    }
    w.status.seen(latest.as_ref());
    let v = Arc::clone(vault);
    let next = tokio::task::spawn_blocking(move || next_request(&v, from))
        .await
        .map_err(|e| e.to_string())??;
    let Some(req) = next else { return Ok(false) };
    match w.cosign(&req, &vault_key).await? {
        Ok(c) => {
            record(vault, w, &c);
            w.status.seen(Some(&c));
            Ok(true)
        }
        // The witness moved on meanwhile (another answer was lost): again from its newest.
        Err(refusal) if refusal.latest.as_ref().map_or(0, |l| l.seq) != from => Ok(true),
        Err(refusal) => {
            w.status.set_conflict(refusal.reason);
            Ok(false)
        }
    }
}

/// Appends `c` to the file unless it already holds it or a newer one.
fn record(vault: &Vault, w: &Witness, c: &Cosignature) {
    if c.seq <= w.status.recorded_seq.load(Ordering::Relaxed) {
        return;
    }
    match append(&vault.config.data_dir, c) {
        Ok(()) => {
            w.status.recorded_seq.store(c.seq, Ordering::Relaxed);
            tracing::info!(seq = c.seq, head = %c.head, "audit checkpoint cosigned by the witness");
        }
        Err(e) => tracing::error!(error = %e, "audit cosignature could not be written"),
    }
}

/// The next cosign request after entry `from` (blocking): the furthest
/// signed checkpoint at most [`MAX_ENTRIES`] on, or — when the next one is
/// further — a checkpoint signed now at `from + MAX_ENTRIES`, so a long
/// absence or a first contact with a long chain catches up in bounded steps.
fn next_request(vault: &Vault, from: u64) -> Result<Option<CosignRequest>, String> {
    let signed = crate::vault::checkpoints::read_all(&vault.config.data_dir, Some(&vault.checkpointer.public_key()))
        .map_err(|e| e.to_string())?;
    let limit = from.saturating_add(MAX_ENTRIES as u64);
    // Checkpoints signed here for catching up land between the
    // checkpointer's own: the file is not in sequence order.
    let mut later: Vec<_> = signed.into_iter().filter(|c| c.seq > from).collect();
    later.sort_by_key(|c| c.seq);
    let Some(first) = later.first() else { return Ok(None) };
    let target = if first.seq > limit {
        let page = vault.store.audit_page(limit - 1, 1).map_err(|e| e.to_string())?;
        let (entry, hash) = page.first().ok_or("the chain ends before a signed checkpoint")?;
        vault
            .checkpointer
            .write(entry.seq, &format_hash(hash), &entry.at)
            .map_err(|e| e.to_string())?
    } else {
        later
            .iter()
            .rev()
            .find(|c| c.seq <= limit)
            .cloned()
            .ok_or("no signed checkpoint in reach")?
    };
    let mut entries = Vec::with_capacity(usize::try_from(target.seq - from).unwrap_or(0));
    let mut after = from;
    while after < target.seq {
        let want = usize::try_from((target.seq - after).min(1000)).unwrap_or(1000);
        let page = vault.store.audit_page(after, want).map_err(|e| e.to_string())?;
        let Some((last, _)) = page.last() else {
            return Err("the chain ends before a signed checkpoint".into());
        };
        after = last.seq;
        for (e, _) in page {
            entries.push(String::from_utf8(e.canonical()).map_err(|e| e.to_string())?);
        }
    }
    Ok(Some(CosignRequest {
        checkpoint: VaultCheckpoint {
            seq: target.seq,
            head: target.head,
            at: target.at,
            key: target.key,
            signature: target.signature,
        },
        from,
        entries,
    }))
}
