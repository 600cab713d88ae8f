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
    },
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
