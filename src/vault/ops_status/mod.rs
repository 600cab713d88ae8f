//! `GET /v1/status`: the running vault's health in one answer, for city IT
//! (the console's operations dashboard reads it as the signed-in admin or
//! auditor). Everything here is the vault's own state — readiness, store,
//! seal, audit chain and witness, retention sweeps, key ages, cluster
//! backlog, refusal tallies, disk — as counts, times and key ids; never a
//! person's data. [`attention`] derives from it what needs action first.

pub mod attention;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

pub use attention::{attention, Attention, Severity};

use crate::domain::error::Error;
use crate::domain::store::Store;
use crate::vault::Vault;

/// The operations figures of one node.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OpsStatus {
    /// This build's version.
    pub version: String,
    /// When these figures were read (RFC 3339).
    pub at: String,
    pub node: NodeFigures,
    pub audit: AuditFigures,
    pub retention: SweepFigures,
    /// Key-encryption and issuer keys: ages and rotations due.
    pub keys: Vec<KeyFigures>,
    /// The cluster, when this node replicates keys to others.
    pub cluster: Option<ClusterFigures>,
    pub refusals: RefusalFigures,
    /// The data directory's filesystem (none where it cannot be read).
    pub disk: Option<DiskFigures>,
    /// What needs action, most urgent first (derived from the figures above).
    pub attention: Vec<Attention>,
}

/// Readiness, role, store and seal.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeFigures {
    /// Whether load balancers should send requests here (`/readyz`).
    pub ready: bool,
    /// `active` (a vault that answers this is open; a standby or sealed node
    /// serves only `/readyz` and `/v1/unseal`).
    pub role: String,
    /// Why an active node is not ready.
    pub reason: Option<String>,
    /// `sled` or `postgres`.
    pub store: String,
    /// Whether the store takes writes.
    pub store_writable: bool,
    /// How the keys are sealed at rest: `passphrase`, `shares`, or `none`.
    pub seal: String,
}

/// The audit chain, its signed checkpoints and the off-box witness.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditFigures {
    /// The newest entry's sequence number.
    pub head_seq: u64,
    /// The newest signed checkpoint (sequence number), since start or found at start.
    pub checkpoint_seq: u64,
    /// When it was signed (RFC 3339), when signed since start.
    pub checkpoint_at: Option<String>,
    /// A checkpoint after this many new entries.
    pub checkpoint_every: u64,
    pub witness: Option<WitnessFigures>,
}

/// The witness as this node last saw it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WitnessFigures {
    /// Whether it answered the last call.
    pub up: bool,
    /// Whether it has been called since start.
    pub called: bool,
    /// The newest entry it cosigned.
    pub cosigned_seq: u64,
    /// Entries not yet cosigned.
    pub lag: u64,
    /// Whether the chain disagrees with it (requests are refused).
    pub conflict: bool,
}

/// The retention sweep.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SweepFigures {
    /// How often it runs by itself (e.g. `1h`).
    pub interval: String,
    pub interval_seconds: u64,
    /// The last sweep since start, if any.
    pub last_id: Option<String>,
    pub last_finished_at: Option<String>,
    pub last_destroyed: usize,
    /// Destructions of the last sweep that failed (tried again next time).
    pub last_errors: usize,
    /// Due but kept (legal holds, keys not yet everywhere).
    pub last_skipped: usize,
    /// Sweeps that failed before their end, in a row.
    pub failing: u64,
    /// When the next scheduled sweep runs at the latest (after the last
    /// one; none before the first).
    pub next_at: Option<String>,
}

/// One kind of key.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyFigures {
    /// `key-encryption key` or `credential issuer key`.
    pub kind: String,
    /// The active key's id.
    pub active: String,
    /// Keys of this kind held (an older one waits for its successor to take over).
    pub held: usize,
    /// The active key's age in seconds, where it is known.
    pub age_seconds: Option<i64>,
    /// Whether the next sweep rotates it.
    pub rotation_due: bool,
    /// When it is due, or why not.
    pub note: String,
}

/// Keys replicated node to node.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClusterFigures {
    pub node_id: String,
    /// Each other node and the messages it has not acknowledged.
    pub nodes: Vec<NodeBacklog>,
    /// Keys made or destroyed here not yet everywhere (or not yet certified).
    pub pending: usize,
    /// Messages a node refused since start (each blocks its queue).
    pub refused: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeBacklog {
    pub id: String,
    pub unacknowledged: usize,
}

/// Unauthenticated refusals (counts only, never an address).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RefusalFigures {
    /// Since start.
    pub unauthenticated: u64,
    /// Source addresses refused within the last second.
    pub sources_now: usize,
}

/// The data directory's use of its filesystem.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DiskFigures {
    /// Bytes in the data directory.
    pub data_bytes: u64,
    /// Bytes free for the vault on its filesystem.
    pub free_bytes: u64,
    /// The filesystem's size.
    pub total_bytes: u64,
}

/// The figures of `v` now.
///
/// # Errors
/// 503 when the store cannot be read.
pub async fn status(v: &Arc<Vault>) -> Result<OpsStatus, Error> {
    let now = v.clock.now().unix_timestamp();
    let (head_seq, _) = v.read(|v| v.store.audit_head()).await?;
    let erased = v.read(|v| v.store.erased_count()).await?;
    let retention = sweep_figures(v).await;
    let keys = key_figures(v, now, erased).await;
    let dir = v.config.data_dir.clone();
    let disk = tokio::task::spawn_blocking(move || disk_figures(&dir))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    let (unauthenticated, sources_now) = v.unauthenticated.totals();
    let mut out = OpsStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        at: rfc3339(now),
        node: node_figures(v),
        audit: audit_figures(v, head_seq),
        retention,
        keys,
        cluster: v.cluster.get().map(|c| cluster_figures(c)),
        refusals: RefusalFigures {
            unauthenticated,
            sources_now,
        },
        disk,
        attention: Vec::new(),
    };
    out.attention = attention(&out, now);
    Ok(out)
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn node_figures(v: &Vault) -> NodeFigures {
    let r = v.readiness();
    let seal = match crate::crypto::seal::mode(&v.config.keys_dir) {
        Ok(Some(mode)) => mode.as_str(),
        Ok(None) => "none",
        Err(_) => "unreadable",
    }
    .to_owned();
    NodeFigures {
        ready: r.ready,
        role: r.role.to_owned(),
        reason: r.reason.map(str::to_owned),
        store: match v.config.store.kind {
            crate::config::StoreKind::Sled => "sled",
            crate::config::StoreKind::Postgres => "postgres",
        }
        .to_owned(),
        store_writable: v.store.writable(),
        seal,
    }
}

fn audit_figures(v: &Vault, head_seq: u64) -> AuditFigures {
    let last = v.checkpointer.last_signed();
    AuditFigures {
        head_seq,
        checkpoint_seq: last.as_ref().map_or(v.signed_at_start, |(seq, _)| *seq),
        checkpoint_at: last.map(|(_, at)| at),
        checkpoint_every: v.config.audit.checkpoint_every,
        witness: v.witness.as_ref().map(|w| {
            let (cosigned_seq, lag) = w.cosigned_and_lag();
            WitnessFigures {
                up: w.is_up(),
                called: w.tried(),
                cosigned_seq,
                lag,
                conflict: w.conflict().is_some(),
            }
        }),
    }
}

async fn sweep_figures(v: &Vault) -> SweepFigures {
    let interval = v.config.retention.sweep_interval;
    let last = v.last_sweep.lock().await.clone();
    let next_at = last.as_ref().and_then(|l| {
        let finished = OffsetDateTime::parse(&l.finished_at, &Rfc3339).ok()?;
        let step = i64::try_from(interval.as_secs()).ok()?;
        Some(rfc3339(finished.unix_timestamp().saturating_add(step)))
    });
    SweepFigures {
        interval: interval.to_string(),
        interval_seconds: interval.as_secs(),
        last_id: last.as_ref().map(|l| l.sweep_id.clone()),
        last_finished_at: last.as_ref().map(|l| l.finished_at.clone()),
        last_destroyed: last.as_ref().map_or(0, |l| l.destroyed.len()),
        last_errors: last.as_ref().map_or(0, |l| l.errors.len()),
        last_skipped: last.as_ref().map_or(0, |l| l.skipped.len()),
        failing: v.metrics.sweeps_failing(),
        next_at,
    }
}

async fn key_figures(v: &Vault, now: i64, erased: u64) -> Vec<KeyFigures> {
    let (active, _) = v.keys.active_kek();
    let held = v.keys.kek_ids().len();
    let period = i64::try_from(v.config.retention.key_rotation.as_secs()).unwrap_or(i64::MAX);
    let last = *v.last_rotation.lock().await;
    let due = held > 1 || (erased > 0 && now.saturating_sub(last) >= period);
    let note = if held > 1 {
        "an older key waits: records are rewrapped and it is destroyed at the next sweep".to_owned()
    } else if erased > 0 {
        format!(
            "{erased} record(s) erased since the last rotation: rotated at most every {}",
            v.config.retention.key_rotation
        )
    } else {
        "no record erased since the last rotation: nothing to rotate".to_owned()
    };
    let kek = KeyFigures {
        kind: "key-encryption key".into(),
        active,
        held,
        age_seconds: (last > 0).then(|| now.saturating_sub(last)),
        rotation_due: due,
        note,
    };
    let issuer = &v.credentials.issuer;
    let alg = v.config.credentials.signing_alg;
    let since = issuer.active_since(alg);
    let kids = issuer.kids();
    let max_age = crate::vault::issuer_upkeep::ISSUER_KEY_AGE;
    let issuer_figures = KeyFigures {
        kind: "credential issuer key".into(),
        active: issuer.active(alg).map(|a| a.kid().to_owned()).unwrap_or_default(),
        held: kids.len(),
        age_seconds: since.map(|s| now.saturating_sub(s)),
        rotation_due: since.is_some_and(|s| s.saturating_add(max_age) <= now),
        note: since.map_or_else(
            || "no issuer key".to_owned(),
            |s| {
                format!(
                    "replaced at the first sweep after {}",
                    rfc3339(s.saturating_add(max_age))
                )
            },
        ),
    };
    vec![kek, issuer_figures]
}

fn cluster_figures(c: &crate::cluster::Cluster) -> ClusterFigures {
    ClusterFigures {
        node_id: c.node_id().to_owned(),
        nodes: c
            .backlog()
            .into_iter()
            .map(|(id, unacknowledged)| NodeBacklog { id, unacknowledged })
            .collect(),
        pending: c.pending(),
        refused: c.refused(),
    }
}

/// The data directory's size and its filesystem's free space.
fn disk_figures(dir: &Path) -> Option<DiskFigures> {
    let fs = rustix::fs::statvfs(dir).ok()?;
    Some(DiskFigures {
        data_bytes: dir_size(dir),
        free_bytes: fs.f_bavail.saturating_mul(fs.f_frsize),
        total_bytes: fs.f_blocks.saturating_mul(fs.f_frsize),
    })
}

/// Bytes in the files under `dir` (not following links).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}
