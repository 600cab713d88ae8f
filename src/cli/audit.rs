//! `civic-vault audit verify`: the chain of a stopped vault, offline, and
//! what anchors it.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::domain::store::Store;
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// Verify the audit chain of a stopped vault's data directory, and that
    /// it reaches every signed checkpoint (audit-checkpoints.jsonl).
    Verify {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The keys directory: checkpoints must be signed by the key pinned
        /// in its `checkpoint.pub`. Without it, nothing anchors the chain.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Answer ok even when nothing anchors the chain (no pinned
        /// `checkpoint.pub`, or entries but no signed checkpoint); the
        /// reason is stated in the output.
        #[arg(long)]
        allow_unanchored: bool,
        /// The off-box witness's public key (base64url, its `witness.pub`):
        /// every cosignature in audit-cosignatures.jsonl must verify with it
        /// and lie on the chain.
        #[arg(long)]
        witness_key: Option<String>,
        /// The witness's URL: its newest cosigned checkpoint must lie on
        /// the chain, and the data directory must hold its cosignature (a
        /// copy rolled back, or with its files deleted, fails).
        #[arg(long, requires = "witness_key")]
        witness: Option<String>,
    },
}

/// What `audit verify` checks cosignatures against.
pub(super) struct WitnessPin {
    pub key: Option<String>,
    pub url: Option<String>,
}

/// Offline verification. A chain that checks out is only evidence when
/// something outside the data directory anchors it: a signed checkpoint,
/// checked against the key pinned in the keys directory. Deleting the
/// checkpoint file, or signing one with a key of one's own, must not pass
/// as "ok", so either gap fails unless `allow_unanchored` says otherwise.
pub(super) fn verify(
    data: &std::path::Path,
    keys: Option<&std::path::Path>,
    allow_unanchored: bool,
    witness: &WitnessPin,
) -> Result<ExitCode, String> {
    if !data.join("db").exists() {
        return Err(format!("{} is not a civic-vault data directory", data.display()));
    }
    let pinned = match keys {
        Some(k) => civic_vault::vault::checkpoints::pinned_key(k).map_err(|e| e.to_string())?,
        None => None,
    };
    let signed = civic_vault::vault::checkpoints::read_verified(data, pinned.as_ref());
    let (store, _) = civic_vault::store::SledStore::open(data, None).map_err(|e| e.to_string())?;
    let report = match signed {
        Ok(heads) => store.audit_verify(heads).map_err(|e| e.to_string())?,
        Err(e) => {
            let mut r = store.audit_verify(Default::default()).map_err(|e| e.to_string())?;
            r.ok = false;
            r.checkpoint_problem = Some(e.to_string());
            r
        }
    };
    let mut report = report;
    if let Some(key) = &witness.key {
        let key = civic_vault::witness::parse_key(key).map_err(|e| format!("--witness-key: {e}"))?;
        let latest = match &witness.url {
            Some(url) => witness_latest(url, &key, pinned.as_ref())?,
            None => None,
        };
        let cosigned = civic_vault::vault::witness::read_verified(data, &key, pinned.as_ref());
        civic_vault::vault::witness::check_report(&mut report, &store, cosigned, latest.as_ref(), None);
    }
    let gap = unanchored(&report, data, keys, pinned.is_some());
    let mut out = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    let ok = match &gap {
        None => report.ok,
        Some(reason) if allow_unanchored => {
            out["unanchored"] = serde_json::Value::String(format!("{reason} (allowed by --allow-unanchored)"));
            report.ok
        }
        Some(reason) => {
            out["ok"] = serde_json::Value::Bool(false);
            out["anchor_problem"] = serde_json::Value::String(reason.clone());
            eprintln!("civic-vault: {reason}; pass --allow-unanchored to accept an unanchored chain");
            false
        }
    };
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The witness's newest cosignature, checked against its pinned key.
fn witness_latest(
    url: &str,
    key: &ed25519_dalek::VerifyingKey,
    vault: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<Option<civic_vault::witness::Cosignature>, String> {
    let w = civic_vault::vault::witness::Witness::new(&civic_vault::config::AuditWitness {
        url: url.to_owned(),
        public_key: civic_vault::witness::key_text(key),
        timeout: civic_vault::duration::HumanDuration {
            value: 10,
            unit: civic_vault::duration::Unit::Seconds,
        },
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(w.latest(vault))
}

/// Why nothing anchors the chain, if nothing does.
fn unanchored(
    report: &civic_vault::domain::audit::ChainReport,
    data: &std::path::Path,
    keys: Option<&std::path::Path>,
    pinned: bool,
) -> Option<String> {
    let pin = civic_vault::vault::checkpoints::PUBLIC_FILE;
    match keys {
        None => {
            return Some(format!(
                "no pinned checkpoint key: without --keys there is no {pin}, so a checkpoint signed by any key would \
                 pass"
            ))
        }
        Some(k) if !pinned => return Some(format!("no pinned checkpoint key: {} holds no {pin}", k.display())),
        Some(_) => {}
    }
    (report.entries > 0 && report.checkpoints == 0).then(|| {
        format!(
            "no signed checkpoint: {} has {} audit entries but {} is missing or empty",
            data.display(),
            report.entries,
            civic_vault::vault::checkpoints::FILE
        )
    })
}
