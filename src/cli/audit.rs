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
        /// The stopped vault's data directory.
        #[arg(long, visible_alias = "data-dir", value_name = "DIR")]
        data: PathBuf,
        /// The keys directory: checkpoints must be signed by the key pinned
        /// in its `checkpoint.pub`. Without it, nothing anchors the chain.
        #[arg(long, visible_alias = "keys-dir", value_name = "DIR")]
        keys: Option<PathBuf>,
        /// Answer ok even when nothing anchors the chain (no pinned
        /// `checkpoint.pub`, or entries but no signed checkpoint); the
        /// reason is stated in the output.
        #[arg(long)]
        allow_unanchored: bool,
        /// A witness's verifier key, `<name>+<id>+<key>` (as in the vault's
        /// `[[witness]] key`); repeat for several. Each of its cosignatures
        /// in audit-tlog-cosignatures.jsonl must verify against its
        /// checkpoint, and the output says which entries no checkpoint
        /// cosigned by the threshold covers. Needs --keys.
        #[arg(long = "witness-key", value_name = "VKEY", requires = "keys")]
        witness_keys: Vec<String>,
        /// How many of the --witness-key witnesses make a checkpoint
        /// cosigned (default 1).
        #[arg(long, value_name = "N", requires = "witness_keys")]
        witness_threshold: Option<usize>,
    },
    /// Print the log's checkpoint verifier key, `<origin>+<hex key id>+<base64 key>`
    /// (C2SP signed-note): what auditors and witnesses pin.
    VerifierKey {
        /// The keys directory (its checkpoint.vkey, written at start).
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
        /// Build the key for this origin from checkpoint.pub instead.
        #[arg(long)]
        origin: Option<String>,
    },
}

/// `audit verifier-key`.
pub(super) fn verifier_key(keys: &std::path::Path, origin: Option<&str>) -> Result<ExitCode, String> {
    use civic_vault::crypto::note::{VerifierKey, ALG_ED25519};
    let text = match origin {
        Some(origin) => {
            let key = civic_vault::vault::checkpoints::pinned_key(keys)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{} holds no checkpoint key", keys.display()))?;
            if !civic_vault::crypto::note::valid_name(origin) {
                return Err("--origin: one word naming the log (no spaces, no +)".into());
            }
            VerifierKey {
                name: origin.to_owned(),
                alg: ALG_ED25519,
                key,
            }
            .text()
        }
        None => {
            let path = keys.join(civic_vault::vault::tlog_checkpoints::VKEY_FILE);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "{}: {} (the vault writes it at start; or pass --origin)",
                    path.display(),
                    e.kind()
                )
            })?;
            VerifierKey::parse(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .text()
        }
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// What `audit verify` checks cosignatures against.
pub(super) struct WitnessPin {
    pub keys: Vec<String>,
    pub threshold: Option<usize>,
}

/// The log's pinned tree-checkpoint key (`checkpoint.vkey`), when the
/// keys directory has one.
fn log_key(keys: Option<&std::path::Path>) -> Result<Option<civic_vault::crypto::note::VerifierKey>, String> {
    let Some(keys) = keys else { return Ok(None) };
    let path = keys.join(civic_vault::vault::tlog_checkpoints::VKEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => civic_vault::crypto::note::VerifierKey::parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {}", path.display(), e.kind())),
    }
}

/// Offline verification. A chain that checks out is only evidence when
/// something outside the data directory anchors it: a signed checkpoint,
/// checked against the key pinned in the keys directory. Deleting the
/// checkpoint file, cutting its newest lines, or signing one with a key of
/// one's own, must not pass as "ok", so each gap fails unless
/// `allow_unanchored` says otherwise. A store that cannot be read (damaged,
/// edited in place) fails with a diagnosis, never a panic.
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
    let anchored_through = signed
        .as_ref()
        .ok()
        .and_then(|heads| heads.last_key_value().map(|(seq, _)| *seq))
        .unwrap_or(0);
    let witnesses = witness
        .keys
        .iter()
        .map(|k| {
            civic_vault::crypto::note::VerifierKey::parse(k)
                .ok()
                .filter(|k| k.alg == civic_vault::crypto::note::ALG_COSIGNATURE_V1)
                .ok_or_else(|| "--witness-key: not a witness's verifier key <name>+<id>+<key>".to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let threshold = witness.threshold.unwrap_or(1);
    if !witnesses.is_empty() && (threshold == 0 || threshold > witnesses.len()) {
        return Err("--witness-threshold: between 1 and the number of --witness-key".into());
    }
    let tree = match log_key(keys)? {
        Some(log) => Some(Tree {
            log,
            witnesses,
            threshold,
        }),
        None if witnesses.is_empty() => None,
        None => return Err("--witness-key: the keys directory holds no checkpoint.vkey".into()),
    };
    let report = match walk_store(data, signed, tree.as_ref()) {
        Ok(report) => report,
        Err(problem) => {
            let out = serde_json::json!({ "ok": false, "store_problem": problem });
            eprintln!("civic-vault: the store cannot be verified: {problem}");
            println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
            return Ok(ExitCode::from(1));
        }
    };
    let gap = unanchored(&report, data, keys, pinned.is_some(), anchored_through);
    let mut out = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    out["anchored_through"] = serde_json::Value::from(anchored_through);
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

/// The tree's pinned checkpoint key and the witnesses to check.
struct Tree {
    log: civic_vault::crypto::note::VerifierKey,
    witnesses: Vec<civic_vault::crypto::note::VerifierKey>,
    threshold: usize,
}

/// Opens the sled store read by `audit verify` and walks its chain against
/// the signed heads (and the witness's cosignatures, when pinned).
///
/// # Errors
/// The store cannot be opened or read: why, in words that quote no stored byte.
fn walk_store(
    data: &std::path::Path,
    signed: Result<std::collections::BTreeMap<u64, String>, civic_vault::vault::checkpoints::CheckpointError>,
    tree: Option<&Tree>,
) -> Result<civic_vault::domain::audit::ChainReport, String> {
    let unreadable = |e: &dyn std::fmt::Display| format!("{}: sled could not read its database: {e}", data.display());
    guard_sled(data, || {
        let store = match civic_vault::store::SledStore::open(data, None) {
            Ok((store, _)) => store,
            Err(civic_vault::domain::error::StoreError::Failed(why))
                if why.starts_with(civic_vault::domain::tlog::TRUNCATED) =>
            {
                // The tree outlived entries removed from the chain: a finding
                // about the log, not an unreadable store.
                let why = match &signed {
                    Ok(_) => why,
                    Err(bad) => format!("{bad}; {why}"),
                };
                return Ok(civic_vault::domain::audit::ChainReport::truncated(why));
            }
            Err(e) => return Err(unreadable(&e)),
        };
        let mut report = match signed {
            Ok(heads) => store.audit_verify(heads).map_err(|e| unreadable(&e))?,
            Err(e) => {
                let mut r = store.audit_verify(Default::default()).map_err(|e| unreadable(&e))?;
                r.ok = false;
                r.checkpoint_problem = Some(e.to_string());
                r
            }
        };
        if let Some(t) = tree {
            civic_vault::vault::witness::check_tree_checkpoints(&mut report, &store, data, &t.log);
            if !t.witnesses.is_empty() {
                civic_vault::vault::witness::check_report(&mut report, data, &t.log, &t.witnesses, t.threshold, None);
            }
        }
        Ok(report)
    })
}

/// Runs `f`, which opens and reads a sled database, turning a panic into
/// an error.
///
/// Why catch a panic: sled 0.34 does not treat every damaged file as an
/// error. A one-byte edit of its log, in place, can trip an assertion or an
/// out-of-range index inside sled's own recovery and page reads, and sled
/// panics there, in code this crate does not own. Offline verification is
/// the tool for exactly such copies (damaged, or tampered with), so a panic
/// must not be its answer: exit 101, with a message that reads as a bug in
/// verify and may quote what sled read. The panic's message is not printed
/// (a hook that stays silent is installed for the call) and the caller gets
/// a diagnosis instead. Nothing from the half-read database is used after a
/// panic: the store is dropped while unwinding.
///
/// # Errors
/// `f`'s error, or the diagnosis of a panic.
fn guard_sled<T>(data: &std::path::Path, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.unwrap_or_else(|_| {
        Err(format!(
            "{}: sled could not read its database (it stopped inside its own code): the files were damaged or \
             edited in place; nothing in it can be verified — compare with a backup (civic-vault backup verify)",
            data.display()
        ))
    })
}

/// Why nothing anchors the chain, if nothing does.
fn unanchored(
    report: &civic_vault::domain::audit::ChainReport,
    data: &std::path::Path,
    keys: Option<&std::path::Path>,
    pinned: bool,
    anchored_through: u64,
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
    let file = civic_vault::vault::checkpoints::FILE;
    if report.entries > 0 && report.checkpoints == 0 {
        return Some(format!(
            "no signed checkpoint: {} has {} audit entries but {file} is missing or empty",
            data.display(),
            report.entries,
        ));
    }
    // A vault signs its head when it stops: entries past the newest
    // checkpoint of a stopped vault's copy mean checkpoint lines were cut
    // (or the vault did not stop cleanly), and nothing shows those entries
    // were not rewritten.
    (report.checkpoints > 0 && report.entries > anchored_through).then(|| {
        format!(
            "unanchored entries: entries {} to {} follow the newest signed checkpoint (entry {anchored_through}) in \
             {file}, so nothing anchors them; a vault signs its head when it stops, so lines of {file} were removed or \
             the vault did not stop cleanly",
            anchored_through + 1,
            report.entries,
        )
    })
}
