//! The vault's conversation with its witnesses (C2SP tlog-witness): the
//! check at start, and sending the newest tree checkpoint, with a
//! consistency proof from what each witness last cosigned, until each
//! cosigns it. The state it keeps is `witness.rs`'s.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::crypto::note::Checkpoint;
use crate::domain::store::Store as _;
use crate::vault::witness::{verified_cosignatures, Witness, Witnesses};
use crate::vault::{StartError, Vault};
use crate::witness::{parse_size, AddCheckpoint};

/// How a witness took the newest checkpoint.
enum Outcome {
    /// Its verified cosignature lines.
    Cosigned(Vec<String>),
    /// It shows this log older than, or different from, what it cosigned.
    Conflict(String),
}

/// Checks the log at start against the cosignatures recorded in the data
/// directory, then submits the newest checkpoint to every witness. A
/// witness that does not answer is logged and the vault starts; it is
/// asked again in the background.
///
/// # Errors
/// A recorded cosignature does not verify or covers more than the tree
/// holds (or another root), or a witness shows the log rolled back or forked.
pub async fn at_start(vault: &Arc<Vault>) -> Result<(), StartError> {
    let Some(ws) = &vault.witness else { return Ok(()) };
    let log = vault.tree_checkpoints.verifier_key();
    let keys = ws.keys();
    let data_dir = vault.config.data_dir.clone();
    let cosigned = tokio::task::spawn_blocking(move || verified_cosignatures(&data_dir, &log, &keys))
        .await
        .map_err(|e| StartError::Store(e.to_string()))?
        .map_err(|e| StartError::Store(format!("audit cosignatures: {e}; refusing to start")))?;
    for w in &ws.list {
        let newest = cosigned
            .iter()
            .rev()
            .find(|(_, names)| names.contains(w.name()))
            .map_or(0, |(size, _)| *size);
        w.cosigned.store(newest, Ordering::Relaxed);
    }
    if let Some(&newest) = cosigned.keys().next_back() {
        let log = vault.tree_checkpoints.verifier_key();
        let data_dir = vault.config.data_dir.clone();
        let checked = vault
            .read(move |v| {
                Ok(
                    crate::vault::tlog_checkpoints::read_all(&data_dir, &log).and_then(|all| {
                        let cp = all.into_iter().find(|c| c.size == newest);
                        on_tree(&v.store, newest, cp.as_ref())
                    }),
                )
            })
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        checked.map_err(|e| StartError::Store(format!("{e}; refusing to start")))?;
    }
    // The tree as it stands is signed first, so a copy whose checkpoint
    // files were deleted still shows the witnesses its size.
    vault
        .read(|v| Ok(v.tree_checkpoints.sign(&v.store)))
        .await
        .map_err(|e| StartError::Store(e.to_string()))?
        .map_err(StartError::Store)?;
    if let Err(conflict) = round(vault, ws).await {
        return Err(StartError::Store(format!("{conflict}; refusing to start")));
    }
    Ok(())
}

/// Whether the tree reaches `size` with the cosigned checkpoint's root.
fn on_tree(store: &impl crate::domain::store::Store, size: u64, cp: Option<&Checkpoint>) -> Result<(), String> {
    let tree = store.tlog_size().map_err(|e| e.to_string())?;
    if size > tree {
        return Err(format!(
            "the audit log holds {tree} entries but a witness cosigned a checkpoint of {size}: this data is older than \
             a cosigned checkpoint (rolled back, or restored from an old copy)"
        ));
    }
    let root = crate::domain::tlog::root_at(store, size).map_err(|e| e.to_string())?;
    match cp {
        Some(cp) if cp.root == root => Ok(()),
        _ => Err(format!(
            "the audit log's tree at size {size} differs from the checkpoint a witness cosigned: the history was \
             rewritten"
        )),
    }
}

/// Brings every witness up to date with the newest checkpoint. Never
/// fails: an unreachable witness is logged and counted; a conflict stops
/// requests.
pub async fn sync(vault: &Arc<Vault>) {
    let Some(ws) = &vault.witness else { return };
    if ws.conflict().is_some() {
        return;
    }
    if let Err(conflict) = round(vault, ws).await {
        ws.set_conflict(conflict);
    }
}

/// One round: the newest checkpoint to every witness at once.
async fn round(vault: &Arc<Vault>, ws: &Witnesses) -> Result<(), String> {
    if let Ok(size) = vault.read(|v| v.store.tlog_size()).await {
        ws.tree_size.store(size, Ordering::Relaxed);
    }
    let Some(note) = vault.tree_checkpoints.latest() else {
        return Ok(());
    };
    let cp = Checkpoint::parse(&note).map_err(|e| e.to_string())?;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..ws.list.len() {
        let (v, note, cp) = (Arc::clone(vault), note.clone(), cp.clone());
        calls.spawn(async move {
            let Some(w) = v.witness.as_ref().and_then(|ws| ws.list.get(i)) else {
                return Ok(());
            };
            match submit(&v, w, &note, &cp).await {
                Ok(Outcome::Cosigned(lines)) => {
                    record(&v, w, cp.size, &lines);
                    Ok(())
                }
                Ok(Outcome::Conflict(reason)) => Err(reason),
                Err(e) => {
                    w.down(&e);
                    Ok(())
                }
            }
        });
    }
    let mut conflict = Ok(());
    while let Some(done) = calls.join_next().await {
        if let Ok(Err(reason)) = done {
            conflict = Err(reason);
        }
    }
    conflict
}

/// Submits the checkpoint `note` (parsed: `cp`) to `w`, starting from the
/// size it last cosigned here and following its 409s (at most twice).
async fn submit(vault: &Arc<Vault>, w: &Witness, note: &str, cp: &Checkpoint) -> Result<Outcome, String> {
    let name = w.name().to_owned();
    let mut old = w.cosigned.load(Ordering::Relaxed);
    for _ in 0..3 {
        if old > cp.size {
            return Ok(Outcome::Conflict(format!(
                "witness {name} cosigned a checkpoint of {old} entries but this log's newest has {}: this data is \
                 older than a cosigned checkpoint (rolled back, or restored from an old copy)",
                cp.size
            )));
        }
        let size = cp.size;
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            vault
                .read(move |v| Ok(crate::domain::tlog::consistency_proof(&v.store, old, size)))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
        };
        let body = AddCheckpoint {
            old,
            proof,
            checkpoint: note.to_owned(),
        }
        .body();
        let (status, text) = w.post(body).await?;
        match status {
            200 => {
                w.answered();
                return verified(w, cp, &text).map(Outcome::Cosigned);
            }
            409 => {
                w.answered();
                let theirs = parse_size(&text).ok_or_else(|| format!("witness {name}: a 409 without its size"))?;
                if theirs == old {
                    return Ok(Outcome::Conflict(format!(
                        "witness {name} cosigned another tree of {theirs} entries: this log forked or was rewritten"
                    )));
                }
                old = theirs;
            }
            422 => {
                w.answered();
                return Ok(Outcome::Conflict(format!(
                    "witness {name} refused the consistency proof from {old} entries to {size}: this log is not an \
                     extension of what it cosigned (forked or rewritten)"
                )));
            }
            403 => return Err(format!("witness {name}: it does not trust this log's checkpoint key (give it `civic-vault audit verifier-key`)")),
            404 => return Err(format!("witness {name}: it does not witness this log's origin {}", cp.origin)),
            s => return Err(format!("witness {name}: answered {s}")),
        }
    }
    Err(format!("witness {name}: its size kept changing"))
}

/// The lines of a 200 that verify against the witness's pinned key (lines
/// by other keys are ignored, as the protocol says).
fn verified(w: &Witness, cp: &Checkpoint, text: &str) -> Result<Vec<String>, String> {
    let mut answer = cp.clone();
    answer.signatures = text
        .lines()
        .filter(|l| l.starts_with("— "))
        .map(str::to_owned)
        .collect();
    answer
        .verify(w.key())
        .map(|lines| lines.into_iter().map(|(line, _)| line).collect())
        .map_err(|e| {
            format!(
                "witness {}: its answer holds no valid cosignature by its pinned key ({e})",
                w.name()
            )
        })
}

/// Keeps a witness's cosignature lines for the checkpoint of `size`,
/// unless it already cosigned that size or a larger one here.
fn record(vault: &Vault, w: &Witness, size: u64, lines: &[String]) {
    if size <= w.cosigned.load(Ordering::Relaxed) {
        return;
    }
    let Some(line) = lines.first() else { return };
    match vault.tree_checkpoints.record_cosignature(size, line) {
        Ok(()) => {
            w.cosigned.store(size, Ordering::Relaxed);
            tracing::info!(witness = %w.name(), size, "audit checkpoint cosigned");
        }
        Err(e) => tracing::error!(error = %e, "audit cosignature could not be written"),
    }
}
