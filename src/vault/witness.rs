//! The vault's side of the off-box witness (`[audit.witness]`): it sends
//! each signed checkpoint, with the entries since the witness's last
//! cosigned one, and keeps each cosignature in
//! `<data_dir>/audit-cosignatures.jsonl` (fsynced). At start the chain must
//! reach the witness's newest cosigned checkpoint and agree with it, or the
//! vault does not start. A witness that does not answer never stops the
//! vault: it serves on, says so in the log and `/metrics`, and catches up
//! when the witness answers again. If the witness, answering again, shows
//! the chain older than or different from what it cosigned, the vault stops
//! serving requests (503) until an operator looks.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use ed25519_dalek::VerifyingKey;

use crate::config::AuditWitness;
use crate::domain::audit::format_hash;
use crate::domain::store::Store;
use crate::witness::{CosignRequest, Cosignature, Refusal, COSIGN_PATH, LATEST_PATH};

/// The cosignatures, in the data directory.
pub const FILE: &str = "audit-cosignatures.jsonl";

/// The configured witness: where it is, its pinned key, and how it answers.
pub struct Witness {
    pub(super) url: String,
    pub(super) key: VerifyingKey,
    pub(super) http: reqwest::Client,
    pub status: WitnessStatus,
}

/// What `/metrics` and the log say about the witness.
#[derive(Default)]
pub struct WitnessStatus {
    pub(super) up: AtomicBool,
    /// Whether any call has been made yet (the first failure is logged).
    pub(super) tried: AtomicBool,
    pub(super) cosigned_seq: AtomicU64,
    pub(super) head_seq: AtomicU64,
    /// The newest cosignature in the file (appended up to here).
    pub(super) recorded_seq: AtomicU64,
    /// Why the chain disagrees with the witness, once it does.
    pub(super) conflict: Mutex<Option<String>>,
    /// The witness's newest cosignature, as last seen.
    pub(super) latest: Mutex<Option<Cosignature>>,
}

impl WitnessStatus {
    pub(super) fn down(&self, error: &str) {
        let was_up = self.up.swap(false, Ordering::Relaxed);
        let first = !self.tried.swap(true, Ordering::Relaxed);
        if was_up || first {
            tracing::warn!(
                error = %error,
                "audit witness unreachable: serving on without cosignatures; they catch up when it answers"
            );
        }
    }

    pub(super) fn up(&self) {
        let was_up = self.up.swap(true, Ordering::Relaxed);
        let first = !self.tried.swap(true, Ordering::Relaxed);
        if !was_up && !first {
            tracing::info!("audit witness answers again: catching up");
        }
    }

    pub(super) fn seen(&self, latest: Option<&Cosignature>) {
        self.cosigned_seq.store(latest.map_or(0, |l| l.seq), Ordering::Relaxed);
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = latest.cloned();
    }

    /// Whether the witness answered the last call.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Why the chain disagrees with the witness, if it does: the vault
    /// refuses requests while this is set.
    #[must_use]
    pub fn conflict(&self) -> Option<String> {
        self.conflict.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(super) fn set_conflict(&self, reason: String) {
        let mut c = self.conflict.lock().unwrap_or_else(PoisonError::into_inner);
        if c.is_none() {
            tracing::error!(
                reason = %reason,
                "AUDIT WITNESS CONFLICT: the chain is older than or differs from what the witness cosigned; \
                 refusing requests until an operator restores the data"
            );
            *c = Some(reason);
        }
    }

    /// Whether the witness has been called since start.
    #[must_use]
    pub fn tried(&self) -> bool {
        self.tried.load(Ordering::Relaxed)
    }

    /// The newest entry the witness cosigned, and how many entries it lags.
    #[must_use]
    pub fn cosigned_and_lag(&self) -> (u64, u64) {
        let cosigned = self.cosigned_seq.load(Ordering::Relaxed);
        let head = self.head_seq.load(Ordering::Relaxed);
        (cosigned, head.saturating_sub(cosigned))
    }

    /// The witness's newest cosignature, as last seen.
    #[must_use]
    pub fn latest(&self) -> Option<Cosignature> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Prometheus text.
    #[must_use]
    pub fn render(&self) -> String {
        let cosigned = self.cosigned_seq.load(Ordering::Relaxed);
        let head = self.head_seq.load(Ordering::Relaxed);
        format!(
            "# HELP civic_vault_witness_up Whether the audit witness answered the last call.\n\
             # TYPE civic_vault_witness_up gauge\n\
             civic_vault_witness_up {}\n\
             # HELP civic_vault_witness_last_cosigned_seq The newest audit entry the witness cosigned.\n\
             # TYPE civic_vault_witness_last_cosigned_seq gauge\n\
             civic_vault_witness_last_cosigned_seq {cosigned}\n\
             # HELP civic_vault_witness_lag_entries Audit entries not yet cosigned by the witness.\n\
             # TYPE civic_vault_witness_lag_entries gauge\n\
             civic_vault_witness_lag_entries {}\n\
             # HELP civic_vault_witness_conflict Whether the chain disagrees with the witness (requests refused).\n\
             # TYPE civic_vault_witness_conflict gauge\n\
             civic_vault_witness_conflict {}\n",
            u8::from(self.up.load(Ordering::Relaxed)),
            head.saturating_sub(cosigned),
            u8::from(self.conflict().is_some()),
        )
    }
}

impl Witness {
    /// The configured witness (validated with the configuration).
    ///
    /// # Errors
    /// The key does not parse or the HTTP client cannot be built.
    pub fn new(config: &AuditWitness) -> Result<Self, String> {
        let key =
            crate::witness::parse_key(&config.public_key).map_err(|e| format!("audit.witness.public_key: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout.as_std())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url: config.url.trim_end_matches('/').to_owned(),
            key,
            http,
            status: WitnessStatus::default(),
        })
    }

    /// The witness's pinned public key.
    #[must_use]
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The witness's newest cosignature for `vault`'s log (checked against
    /// the pinned key), or none before the first.
    ///
    /// # Errors
    /// No answer, or an answer that is not a cosignature by the pinned key.
    pub async fn latest(&self, vault: Option<&VerifyingKey>) -> Result<Option<Cosignature>, String> {
        let resp = self
            .http
            .get(format!("{}{LATEST_PATH}", self.url))
            .send()
            .await
            .map_err(|e| format!("witness: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("witness: answered {}", resp.status()));
        }
        let latest: Option<Cosignature> = resp
            .json()
            .await
            .map_err(|_| "witness: its answer is not a cosignature".to_owned())?;
        if let Some(l) = &latest {
            l.verify(&self.key, vault).map_err(|e| format!("witness: {e}"))?;
        }
        Ok(latest)
    }

    /// Sends one cosign request: the cosignature (checked), or the refusal.
    ///
    /// # Errors
    /// No answer, or an answer that is neither.
    pub async fn cosign(
        &self,
        req: &CosignRequest,
        vault: &VerifyingKey,
    ) -> Result<Result<Cosignature, Refusal>, String> {
        let resp = self
            .http
            .post(format!("{}{COSIGN_PATH}", self.url))
            .json(req)
            .send()
            .await
            .map_err(|e| format!("witness: {}", e.without_url()))?;
        match resp.status() {
            s if s.is_success() => {
                let c: Cosignature = resp
                    .json()
                    .await
                    .map_err(|_| "witness: its answer is not a cosignature".to_owned())?;
                c.verify(&self.key, Some(vault)).map_err(|e| format!("witness: {e}"))?;
                if c.seq != req.checkpoint.seq || c.head != req.checkpoint.head {
                    return Err("witness: cosigned another checkpoint than the one sent".into());
                }
                Ok(Ok(c))
            }
            reqwest::StatusCode::CONFLICT => resp
                .json::<Refusal>()
                .await
                .map(Err)
                .map_err(|_| "witness: refused without saying why".to_owned()),
            s => Err(format!("witness: answered {s}")),
        }
    }
}

/// Appends a cosignature (fsynced) to the data directory's file.
///
/// # Errors
/// The file cannot be written.
pub fn append(data_dir: &Path, c: &Cosignature) -> Result<(), String> {
    let path = data_dir.join(FILE);
    let io = |e: std::io::Error| format!("{}: {}", path.display(), e.kind());
    let mut line = serde_json::to_vec(c).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    f.write_all(&line).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads and checks every cosignature of `data_dir` against the pinned
/// witness key (and vault key, when given): cosigned heads by sequence number.
///
/// # Errors
/// A line does not parse or does not verify.
pub fn read_verified(
    data_dir: &Path,
    witness: &VerifyingKey,
    vault: Option<&VerifyingKey>,
) -> Result<BTreeMap<u64, String>, String> {
    let path = data_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: {}", path.display(), e.kind())),
    };
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let c: Cosignature =
            serde_json::from_str(line).map_err(|_| format!("cosignature line {}: not a cosignature", i + 1))?;
        c.verify(witness, vault)
            .map_err(|e| format!("cosignature line {}: {e}", i + 1))?;
        out.insert(c.seq, c.head);
    }
    Ok(out)
}

/// Whether the store's chain reaches entry `seq` and its hash there is
/// `head` (blocking): what a cosignature says the chain held.
///
/// # Errors
/// Why not, for the log and the refusal.
pub fn check_chain(store: &impl Store, seq: u64, head: &str) -> Result<(), String> {
    if seq == 0 {
        return Ok(());
    }
    let (head_seq, _) = store.audit_head().map_err(|e| e.to_string())?;
    if seq > head_seq {
        return Err(format!(
            "the audit chain ends at entry {head_seq} but the witness cosigned entry {seq}: this data is older than \
             the witness's last cosigned checkpoint (rolled back, or restored from an old copy)"
        ));
    }
    let page = store.audit_page(seq - 1, 1).map_err(|e| e.to_string())?;
    match page.first() {
        Some((e, hash)) if e.seq == seq && format_hash(hash) == head => Ok(()),
        _ => Err(format!(
            "the audit chain's entry {seq} differs from the one the witness cosigned: the history was rewritten"
        )),
    }
}

/// What a verification adds for the witness: every cosignature in the file
/// (checked against the pinned key) and the witness's newest (when known)
/// must lie on the chain, and the running vault must not be in conflict
/// with the witness. Sets `report.cosignatures` and, on a problem,
/// `report.witness_problem` and `ok = false`.
pub fn check_report(
    report: &mut crate::domain::audit::ChainReport,
    store: &impl Store,
    cosigned: Result<BTreeMap<u64, String>, String>,
    latest: Option<&Cosignature>,
    conflict: Option<String>,
) {
    let problem = match cosigned {
        Err(e) => Some(e),
        Ok(_) if conflict.is_some() => conflict,
        Ok(heads) => {
            report.cosignatures = Some(heads.len() as u64);
            let recorded = heads.last_key_value().map_or(0, |(s, _)| *s);
            let mut problem = heads.iter().find_map(|(s, h)| check_chain(store, *s, h).err());
            if problem.is_none() {
                if let Some(l) = latest {
                    problem = check_chain(store, l.seq, &l.head).err();
                    if problem.is_none() && l.seq > recorded {
                        problem = Some(format!(
                            "the witness cosigned entry {} but {FILE} holds no cosignature past entry {recorded} \
                             (deleted or rolled back)",
                            l.seq
                        ));
                    }
                }
            }
            problem
        }
    };
    if let Some(p) = problem {
        report.ok = false;
        report.witness_problem = Some(p);
    }
}
