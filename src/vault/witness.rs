//! The vault's side of its witnesses (`[[witness]]`, C2SP tlog-witness):
//! each signed tree checkpoint goes to every witness with a consistency
//! proof from the size that witness last cosigned; each cosignature line,
//! checked against the witness's pinned key, is kept in
//! `<data_dir>/audit-tlog-cosignatures.jsonl` (fsynced, see
//! `tlog_checkpoints.rs`) and served after the vault's own signature. A
//! witness receives checkpoints and hashes, never an entry.
//!
//! A witness that does not answer never stops the vault: it serves on,
//! says so in the log and `/metrics`, and catches up (one request: a
//! consistency proof spans any gap) when the witness answers again. A
//! witness that shows the log older than, or different from, what it
//! cosigned (409 with a larger size, 422, or 409 at an equal size) puts
//! the vault in conflict: requests are refused (503) until an operator
//! looks. At start the same answer stops the start.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::crypto::note::{Checkpoint, VerifierKey};
use crate::domain::audit::ChainReport;
use crate::domain::store::Store;
use crate::vault::tlog_checkpoints::{read_all, read_cosignatures};

/// One configured witness: where it is, its pinned key, how it answers.
pub struct Witness {
    pub(super) url: String,
    pub(super) key: VerifierKey,
    pub(super) http: reqwest::Client,
    pub(super) up: AtomicBool,
    /// Whether any call has been made yet (the first failure is logged).
    pub(super) tried: AtomicBool,
    /// The size of the newest checkpoint it cosigned, as recorded here.
    pub(super) cosigned: AtomicU64,
}

impl Witness {
    /// The configured witness (validated with the configuration).
    ///
    /// # Errors
    /// The key does not parse or the HTTP client cannot be built.
    pub fn new(config: &crate::config::Witness) -> Result<Self, String> {
        let key = VerifierKey::parse(&config.key).map_err(|e| format!("witness.key: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout.as_std())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url: config.url.trim_end_matches('/').to_owned(),
            key,
            http,
            up: AtomicBool::new(false),
            tried: AtomicBool::new(false),
            cosigned: AtomicU64::new(0),
        })
    }

    /// Its name (in its key and its cosignature lines).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.key.name
    }

    /// Its pinned verifier key.
    #[must_use]
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// Posts one `add-checkpoint` body: the status and the body's text.
    ///
    /// # Errors
    /// No answer.
    pub async fn post(&self, body: String) -> Result<(u16, String), String> {
        let resp = self
            .http
            .post(format!("{}{}", self.url, crate::witness::ADD_CHECKPOINT))
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("witness {}: {}", self.name(), e.without_url()))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("witness {}: {}", self.name(), e.without_url()))?;
        Ok((status, text))
    }

    pub(super) fn down(&self, error: &str) {
        let was_up = self.up.swap(false, Ordering::Relaxed);
        let first = !self.tried.swap(true, Ordering::Relaxed);
        if was_up || first {
            tracing::warn!(
                witness = %self.name(),
                error = %error,
                "audit witness unreachable: serving on; its cosignatures catch up when it answers"
            );
        }
    }

    pub(super) fn answered(&self) {
        let was_up = self.up.swap(true, Ordering::Relaxed);
        let first = !self.tried.swap(true, Ordering::Relaxed);
        if !was_up && !first {
            tracing::info!(witness = %self.name(), "audit witness answers again: catching up");
        }
    }

    /// Whether it answered the last call.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

/// The configured witnesses, the threshold, and what `/metrics` and the
/// log say about them.
pub struct Witnesses {
    pub list: Vec<Witness>,
    pub threshold: usize,
    /// The tree's size at the last round.
    pub(super) tree_size: AtomicU64,
    /// Why the log disagrees with a witness, once it does.
    conflict: Mutex<Option<String>>,
}

impl Witnesses {
    /// The configured witnesses, or none.
    ///
    /// # Errors
    /// A witness's key does not parse or its client cannot be built.
    pub fn new(config: &crate::config::Config) -> Result<Option<Self>, String> {
        if config.witness.0.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            list: config.witness.0.iter().map(Witness::new).collect::<Result<_, _>>()?,
            threshold: config.witness_threshold(),
            tree_size: AtomicU64::new(0),
            conflict: Mutex::new(None),
        }))
    }

    /// The pinned keys.
    #[must_use]
    pub fn keys(&self) -> Vec<VerifierKey> {
        self.list.iter().map(|w| w.key.clone()).collect()
    }

    /// Whether at least the threshold of witnesses answered their last call.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.list.iter().filter(|w| w.is_up()).count() >= self.threshold
    }

    /// Whether any witness has been called since start.
    #[must_use]
    pub fn tried(&self) -> bool {
        self.list.iter().any(|w| w.tried.load(Ordering::Relaxed))
    }

    /// The largest size cosigned by at least the threshold of witnesses.
    #[must_use]
    pub fn cosigned(&self) -> u64 {
        let mut sizes: Vec<u64> = self.list.iter().map(|w| w.cosigned.load(Ordering::Relaxed)).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.get(self.threshold.saturating_sub(1)).copied().unwrap_or(0)
    }

    /// The size cosigned by the threshold, and how many entries it lags the tree.
    #[must_use]
    pub fn cosigned_and_lag(&self) -> (u64, u64) {
        let cosigned = self.cosigned();
        (
            cosigned,
            self.tree_size.load(Ordering::Relaxed).saturating_sub(cosigned),
        )
    }

    /// Why the log disagrees with a witness, if it does: the vault refuses
    /// requests while this is set.
    #[must_use]
    pub fn conflict(&self) -> Option<String> {
        self.conflict.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(super) fn set_conflict(&self, reason: String) {
        let mut c = self.conflict.lock().unwrap_or_else(PoisonError::into_inner);
        if c.is_none() {
            tracing::error!(
                reason = %reason,
                "AUDIT WITNESS CONFLICT: the log is older than or differs from what a witness cosigned; \
                 refusing requests until an operator restores the data"
            );
            *c = Some(reason);
        }
    }

    /// Prometheus text.
    #[must_use]
    pub fn render(&self) -> String {
        let (cosigned, lag) = self.cosigned_and_lag();
        let mut out = format!(
            "# HELP civic_vault_witnesses Audit witnesses configured.\n\
             # TYPE civic_vault_witnesses gauge\n\
             civic_vault_witnesses {}\n\
             # HELP civic_vault_witness_threshold Cosignatures that make a checkpoint cosigned.\n\
             # TYPE civic_vault_witness_threshold gauge\n\
             civic_vault_witness_threshold {}\n\
             # HELP civic_vault_witness_up Whether at least the threshold of witnesses answered their last call.\n\
             # TYPE civic_vault_witness_up gauge\n\
             civic_vault_witness_up {}\n\
             # HELP civic_vault_witness_last_cosigned_seq The audit tree size the threshold of witnesses cosigned.\n\
             # TYPE civic_vault_witness_last_cosigned_seq gauge\n\
             civic_vault_witness_last_cosigned_seq {cosigned}\n\
             # HELP civic_vault_witness_lag_entries Audit entries in no checkpoint the threshold cosigned.\n\
             # TYPE civic_vault_witness_lag_entries gauge\n\
             civic_vault_witness_lag_entries {lag}\n\
             # HELP civic_vault_witness_conflict Whether the log disagrees with a witness (requests refused).\n\
             # TYPE civic_vault_witness_conflict gauge\n\
             civic_vault_witness_conflict {}\n\
             # HELP civic_vault_witness_answering Whether this witness answered its last call.\n\
             # TYPE civic_vault_witness_answering gauge\n",
            self.list.len(),
            self.threshold,
            u8::from(self.is_up()),
            u8::from(self.conflict().is_some()),
        );
        for w in &self.list {
            let _ = writeln!(
                out,
                "civic_vault_witness_answering{{witness=\"{}\"}} {}",
                w.name().replace(['\\', '"', '\n'], "_"),
                u8::from(w.is_up())
            );
        }
        out.push_str(
            "# HELP civic_vault_witness_cosigned_size The newest tree size this witness cosigned.\n\
             # TYPE civic_vault_witness_cosigned_size gauge\n",
        );
        for w in &self.list {
            let _ = writeln!(
                out,
                "civic_vault_witness_cosigned_size{{witness=\"{}\"}} {}",
                w.name().replace(['\\', '"', '\n'], "_"),
                w.cosigned.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// The cosignatures recorded in `data_dir`, each checked against the
/// checkpoint of its size (signed by `log`) and the pinned `witnesses`:
/// for each size, the names of the witnesses that cosigned it. Lines by
/// keys not pinned are ignored (the protocol says so).
///
/// # Errors
/// A file cannot be read or parsed, a cosignature names a size no
/// checkpoint has, or a pinned witness's line does not verify.
pub fn verified_cosignatures(
    data_dir: &Path,
    log: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<BTreeMap<u64, BTreeSet<String>>, String> {
    let checkpoints: BTreeMap<u64, Checkpoint> = read_all(data_dir, log)?.into_iter().map(|c| (c.size, c)).collect();
    let mut out: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (i, c) in read_cosignatures(data_dir)?.into_iter().enumerate() {
        let line_no = i + 1;
        let Some(name) = c.line.strip_prefix("— ").and_then(|r| r.split(' ').next()) else {
            return Err(format!("cosignature line {line_no}: not a signature line"));
        };
        let Some(key) = witnesses.iter().find(|k| k.name == name) else {
            continue;
        };
        let cp = checkpoints
            .get(&c.size)
            .ok_or_else(|| format!("cosignature line {line_no}: no signed checkpoint of size {}", c.size))?;
        let mut alone = cp.clone();
        alone.signatures = vec![c.line.clone()];
        alone.verify(key).map_err(|e| {
            format!("cosignature line {line_no} (witness {name}) does not verify against its pinned key: {e}")
        })?;
        out.entry(c.size).or_default().insert(name.to_owned());
    }
    Ok(out)
}

/// The largest size at least `threshold` witnesses cosigned.
#[must_use]
pub fn cosigned_through(cosigned: &BTreeMap<u64, BTreeSet<String>>, threshold: usize) -> u64 {
    cosigned
        .iter()
        .rev()
        .find(|(_, names)| names.len() >= threshold.max(1))
        .map_or(0, |(size, _)| *size)
}

/// What a verification adds for the witnesses: every recorded
/// cosignature must verify against its checkpoint and pinned key, and lie
/// on the tree as the store holds it (checked by `check_tree_checkpoints`
/// for every checkpoint); the tail no checkpoint cosigned by `threshold`
/// witnesses covers is said. A running vault in conflict with a witness
/// fails. Sets `cosignatures`, `cosigned_through`, `uncosigned` and, on a
/// problem, `witness_problem` and `ok = false`.
pub fn check_report(
    report: &mut ChainReport,
    data_dir: &Path,
    log: &VerifierKey,
    witnesses: &[VerifierKey],
    threshold: usize,
    conflict: Option<String>,
) {
    let problem = match verified_cosignatures(data_dir, log, witnesses) {
        Err(e) => Some(e),
        Ok(cosigned) => {
            report.cosignatures = Some(cosigned.values().map(|n| n.len() as u64).sum());
            let through = cosigned_through(&cosigned, threshold);
            report.cosigned_through = Some(through);
            if report.entries > through {
                report.uncosigned = Some(format!(
                    "entries {} to {} are in no checkpoint cosigned by {} witness(es)",
                    through + 1,
                    report.entries,
                    threshold.max(1)
                ));
            }
            conflict
        }
    };
    if let Some(p) = problem {
        report.ok = false;
        report.witness_problem = Some(p);
    }
}

/// Checks every signed tree checkpoint in `data_dir` against the tree the
/// store holds: its size must not exceed the tree's and its root must be
/// the tree's root at that size. Sets `tree_checkpoints` and, on a
/// problem, `checkpoint_problem` (unless one is set) and `ok = false`.
pub fn check_tree_checkpoints(report: &mut ChainReport, store: &impl Store, data_dir: &Path, log: &VerifierKey) {
    let problem = (|| {
        let all = read_all(data_dir, log)?;
        report.tree_checkpoints = Some(all.len() as u64);
        let size = store.tlog_size().map_err(|e| e.to_string())?;
        for cp in &all {
            if cp.size > size {
                return Err(format!(
                    "the tree holds {size} entries but a signed checkpoint covers {}: the log was rolled back",
                    cp.size
                ));
            }
            let root = crate::domain::tlog::root_at(store, cp.size).map_err(|e| e.to_string())?;
            if root != cp.root {
                return Err(format!(
                    "the tree's root at size {} is not the signed checkpoint's: the log was rewritten",
                    cp.size
                ));
            }
        }
        Ok(())
    })();
    if let Err(p) = problem {
        report.ok = false;
        if report.checkpoint_problem.is_none() {
            report.checkpoint_problem = Some(p);
        }
    }
}
