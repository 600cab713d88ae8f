//! What needs action, derived from the operations figures: the dashboard
//! lists these first, most urgent at the top, each with the counts behind it
//! and what to do. A pure function of [`OpsStatus`], so each rule is tested
//! on figures made by hand.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::OpsStatus;

/// How urgent an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The vault refuses requests or loses its guarantees until someone acts.
    Critical,
    /// Something is behind or due; act soon.
    Warning,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
        }
    }
}

/// One thing that needs action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attention {
    pub severity: Severity,
    /// What it is about: `node`, `audit`, `retention`, `keys`, `cluster`, `disk`.
    pub area: String,
    /// What is wrong, in a line.
    pub what: String,
    /// The counts behind it.
    pub detail: String,
    /// What to do.
    pub action: String,
}

/// Free space under this share of the filesystem is a warning...
const DISK_WARN_PERCENT: u64 = 15;
/// ... and under this, critical.
const DISK_CRITICAL_PERCENT: u64 = 5;

fn item(severity: Severity, area: &str, what: &str, detail: String, action: &str) -> Attention {
    Attention {
        severity,
        area: area.to_owned(),
        what: what.to_owned(),
        detail,
        action: action.to_owned(),
    }
}

/// What needs action in `s` at `now` (unix seconds), critical first.
#[must_use]
pub fn attention(s: &OpsStatus, now: i64) -> Vec<Attention> {
    let mut out = Vec::new();
    node(s, &mut out);
    audit(s, &mut out);
    retention(s, now, &mut out);
    for k in s.keys.iter().filter(|k| k.rotation_due) {
        out.push(item(
            Severity::Warning,
            "keys",
            &format!("Rotation due: {}", k.kind),
            format!("active {} ({} held); {}", k.active, k.held, k.note),
            "The next retention sweep rotates it; run a sweep from Retention to do it now.",
        ));
    }
    cluster(s, &mut out);
    disk(s, &mut out);
    out.sort_by_key(|a| a.severity);
    out
}

fn node(s: &OpsStatus, out: &mut Vec<Attention>) {
    if !s.node.ready {
        out.push(item(
            Severity::Critical,
            "node",
            "This node does not serve requests",
            format!(
                "role {}, reason {}",
                s.node.role,
                s.node.reason.as_deref().unwrap_or("none given")
            ),
            "Load balancers take it out of service; read the server's log for the reason and restore it.",
        ));
    }
    if !s.node.store_writable {
        out.push(item(
            Severity::Critical,
            "node",
            "The store refuses writes",
            format!("store {}", s.node.store),
            "A write failed (disk, database lock): every request is refused. Restart the vault once the cause is fixed.",
        ));
    }
}

fn audit(s: &OpsStatus, out: &mut Vec<Attention>) {
    let Some(w) = &s.audit.witness else { return };
    if w.conflict {
        out.push(item(
            Severity::Critical,
            "audit",
            "The audit chain disagrees with the witness",
            format!("witness cosigned entry {}; chain head {}", w.cosigned_seq, s.audit.head_seq),
            "Requests are refused: the data may have been rolled back. Restore the newest data and run `civic-vault audit verify`.",
        ));
    } else if w.called && !w.up {
        out.push(item(
            Severity::Warning,
            "audit",
            "Audit witness unreachable",
            format!("{} entries not cosigned; last cosigned entry {}", w.lag, w.cosigned_seq),
            "The vault serves and catches up when the witness answers: check the witness host and the network.",
        ));
    } else if w.lag > s.audit.checkpoint_every.saturating_mul(2) {
        out.push(item(
            Severity::Warning,
            "audit",
            "Audit witness behind",
            format!(
                "{} entries not cosigned (checkpoint every {})",
                w.lag, s.audit.checkpoint_every
            ),
            "Check that checkpoints are being signed and sent.",
        ));
    }
}

fn retention(s: &OpsStatus, now: i64, out: &mut Vec<Attention>) {
    let r = &s.retention;
    if r.failing > 0 {
        out.push(item(
            Severity::Critical,
            "retention",
            "Retention sweeps failing",
            format!("{} sweep(s) in a row failed before their end", r.failing),
            "Records due for destruction are kept past their window: read the server's log for the sweep's error.",
        ));
    }
    if r.last_errors > 0 {
        out.push(item(
            Severity::Warning,
            "retention",
            "The last sweep could not destroy everything due",
            format!(
                "{} destruction(s) failed in sweep {}",
                r.last_errors,
                r.last_id.as_deref().unwrap_or("?")
            ),
            "They are tried again at the next sweep; if they fail again, check the keys directory.",
        ));
    }
    let finished = r
        .last_finished_at
        .as_deref()
        .and_then(|f| OffsetDateTime::parse(f, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp);
    let overdue = i64::try_from(r.interval_seconds.saturating_mul(2)).unwrap_or(i64::MAX);
    if let Some(f) = finished.filter(|f| now.saturating_sub(*f) > overdue) {
        out.push(item(
            Severity::Warning,
            "retention",
            "No retention sweep lately",
            format!(
                "last finished {}s ago; sweeps run every {}",
                now.saturating_sub(f),
                r.interval
            ),
            "Run a sweep from Retention and read the server's log.",
        ));
    }
}

fn cluster(s: &OpsStatus, out: &mut Vec<Attention>) {
    let Some(c) = &s.cluster else { return };
    if c.refused > 0 {
        out.push(item(
            Severity::Critical,
            "cluster",
            "A cluster node refused key messages",
            format!("{} message(s) refused; each blocks its node's queue", c.refused),
            "Check the refusing node's log and its cluster certificate.",
        ));
    }
    for n in c.nodes.iter().filter(|n| n.unacknowledged > 0) {
        out.push(item(
            Severity::Warning,
            "cluster",
            &format!("Node {} is behind", n.id),
            format!("{} key message(s) not acknowledged", n.unacknowledged),
            "Keys are resent until it answers; check that the node is up and reachable.",
        ));
    }
}

fn disk(s: &OpsStatus, out: &mut Vec<Attention>) {
    let Some(d) = &s.disk else { return };
    if d.total_bytes == 0 {
        return;
    }
    let percent_free = d.free_bytes.saturating_mul(100) / d.total_bytes;
    let severity = if percent_free < DISK_CRITICAL_PERCENT {
        Severity::Critical
    } else if percent_free < DISK_WARN_PERCENT {
        Severity::Warning
    } else {
        return;
    };
    out.push(item(
        severity,
        "disk",
        "Disk filling",
        format!(
            "{percent_free}% free ({} MiB of {} MiB); the data directory holds {} MiB",
            d.free_bytes >> 20,
            d.total_bytes >> 20,
            d.data_bytes >> 20
        ),
        "Free space or grow the volume before writes fail (a failed write stops the store).",
    ));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::vault::ops_status::{
        AuditFigures, ClusterFigures, DiskFigures, KeyFigures, NodeBacklog, NodeFigures, RefusalFigures, SweepFigures,
        WitnessFigures,
    };

    const NOW: i64 = 1_800_000_000;

    fn healthy() -> OpsStatus {
        OpsStatus {
            version: "0".into(),
            at: String::new(),
            node: NodeFigures {
                ready: true,
                role: "active".into(),
                reason: None,
                store: "sled".into(),
                store_writable: true,
                seal: "none".into(),
            },
            audit: AuditFigures {
                head_seq: 120,
                checkpoint_seq: 100,
                checkpoint_at: None,
                checkpoint_every: 100,
                witness: Some(WitnessFigures {
                    up: true,
                    called: true,
                    cosigned_seq: 100,
                    lag: 20,
                    conflict: false,
                }),
            },
            retention: SweepFigures {
                interval: "1h".into(),
                interval_seconds: 3600,
                last_id: Some("sweep_1".into()),
                last_finished_at: Some(super::super::rfc3339(NOW - 600)),
                last_destroyed: 2,
                last_errors: 0,
                last_skipped: 0,
                failing: 0,
                next_at: None,
            },
            keys: vec![KeyFigures {
                kind: "key-encryption key".into(),
                active: "kek-1".into(),
                held: 1,
                age_seconds: None,
                rotation_due: false,
                note: String::new(),
            }],
            cluster: Some(ClusterFigures {
                node_id: "a".into(),
                nodes: vec![NodeBacklog {
                    id: "b".into(),
                    unacknowledged: 0,
                }],
                pending: 0,
                refused: 0,
            }),
            refusals: RefusalFigures {
                unauthenticated: 40,
                sources_now: 1,
            },
            disk: Some(DiskFigures {
                data_bytes: 1 << 20,
                free_bytes: 50 << 30,
                total_bytes: 100 << 30,
            }),
            attention: Vec::new(),
        }
    }

    fn areas(s: &OpsStatus) -> Vec<(Severity, String)> {
        attention(s, NOW).into_iter().map(|a| (a.severity, a.area)).collect()
    }

    #[test]
    fn a_healthy_vault_needs_nothing() {
        assert!(attention(&healthy(), NOW).is_empty());
    }

    #[test]
    fn an_unreachable_witness_shows_with_its_lag() {
        let mut s = healthy();
        let w = s.audit.witness.as_mut().unwrap();
        w.up = false;
        w.lag = 37;
        let a = attention(&s, NOW);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].what, "Audit witness unreachable");
        assert!(a[0].detail.contains("37 entries"), "{}", a[0].detail);
        // Not yet called since start: not (yet) a finding.
        s.audit.witness.as_mut().unwrap().called = false;
        assert!(attention(&s, NOW).is_empty());
    }

    #[test]
    fn critical_items_come_first() {
        let mut s = healthy();
        s.keys[0].rotation_due = true;
        s.cluster.as_mut().unwrap().nodes[0].unacknowledged = 3;
        s.retention.failing = 2;
        s.audit.witness.as_mut().unwrap().conflict = true;
        assert_eq!(
            areas(&s),
            vec![
                (Severity::Critical, "audit".into()),
                (Severity::Critical, "retention".into()),
                (Severity::Warning, "keys".into()),
                (Severity::Warning, "cluster".into()),
            ]
        );
    }

    #[test]
    fn a_stale_sweep_and_failed_destructions_show() {
        let mut s = healthy();
        s.retention.last_finished_at = Some(super::super::rfc3339(NOW - 3 * 3600));
        s.retention.last_errors = 1;
        let a = attention(&s, NOW);
        assert_eq!(a.len(), 2, "{a:?}");
        assert!(a
            .iter()
            .all(|x| x.area == "retention" && x.severity == Severity::Warning));
        // Within two intervals: not overdue.
        s.retention.last_finished_at = Some(super::super::rfc3339(NOW - 2 * 3600));
        assert_eq!(attention(&s, NOW).len(), 1);
    }

    #[test]
    fn a_filling_disk_warns_then_turns_critical() {
        let mut s = healthy();
        s.disk.as_mut().unwrap().free_bytes = 10 << 30;
        assert_eq!(areas(&s), vec![(Severity::Warning, "disk".into())]);
        s.disk.as_mut().unwrap().free_bytes = 4 << 30;
        assert_eq!(areas(&s), vec![(Severity::Critical, "disk".into())]);
    }

    #[test]
    fn a_node_that_does_not_serve_and_a_refusing_peer_are_critical() {
        let mut s = healthy();
        s.node.ready = false;
        s.node.reason = Some("store_failed".into());
        s.node.store_writable = false;
        s.cluster.as_mut().unwrap().refused = 1;
        let a = attention(&s, NOW);
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|x| x.severity == Severity::Critical));
        assert!(a[0].detail.contains("store_failed"));
    }
}
