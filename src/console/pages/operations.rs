//! Operations: city IT's dashboard (admins, auditors) — what needs action
//! first, then the node, audit chain and witness, retention sweeps, keys,
//! cluster, refusals and disk, all from `GET /v1/status` as the signed-in
//! person (so Cedar decides it and the audit records it). An admin lands
//! here. Counts, times and key ids only: no personal data.

use askama::Template;
use axum::http::Method;
use axum::response::Response;

use crate::console::page::{check_allowed, render, Nav, Refusal, Staff};
use crate::vault::ops_status::{Attention, OpsStatus};

#[derive(Template)]
#[template(path = "operations.html", config = "src/console/askama.toml")]
struct Operations {
    nav: Nav,
    at: String,
    attention: Vec<Attention>,
    sections: Vec<Section>,
    keys: Vec<KeyRow>,
    nodes: Vec<(String, String)>,
}

/// A titled list of figures.
struct Section {
    title: &'static str,
    rows: Vec<(&'static str, String)>,
}

struct KeyRow {
    kind: String,
    active: String,
    held: usize,
    age: String,
    due: &'static str,
    note: String,
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    let answer = staff.call(Method::GET, "/v1/status", None).await;
    check_allowed(&answer)?;
    let status: OpsStatus = serde_json::from_slice(&answer.body)
        .map_err(|_| Refusal::Bad("The vault's figures could not be read; reload the page.".into()))?;
    Ok(render(&Operations {
        nav: staff.nav("/console/operations"),
        at: status.at.clone(),
        attention: status.attention.clone(),
        sections: sections(&status),
        keys: status
            .keys
            .iter()
            .map(|k| KeyRow {
                kind: k.kind.clone(),
                active: k.active.clone(),
                held: k.held,
                age: k.age_seconds.map_or_else(|| "not known (since start)".into(), age),
                due: if k.rotation_due { "Due" } else { "No" },
                note: k.note.clone(),
            })
            .collect(),
        nodes: status.cluster.as_ref().map_or_else(Vec::new, |c| {
            c.nodes
                .iter()
                .map(|n| (n.id.clone(), n.unacknowledged.to_string()))
                .collect()
        }),
    }))
}

fn yes(b: bool) -> String {
    (if b { "yes" } else { "no" }).to_owned()
}

/// Seconds as days, hours or minutes.
pub fn age(secs: i64) -> String {
    match secs {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} min", s / 60),
    }
}

/// Bytes in binary units.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 10 * 1024 && unit < UNITS.len() - 1 {
        value /= 1024;
        unit += 1;
    }
    format!("{value} {}", UNITS[unit])
}

fn sections(s: &OpsStatus) -> Vec<Section> {
    let mut out = vec![
        Section {
            title: "This node",
            rows: vec![
                ("Ready for requests", yes(s.node.ready)),
                ("Role", s.node.role.clone()),
                (
                    "Store",
                    format!(
                        "{} ({})",
                        s.node.store,
                        if s.node.store_writable {
                            "writable"
                        } else {
                            "refusing writes"
                        }
                    ),
                ),
                ("Keys sealed at rest", s.node.seal.clone()),
                ("Version", s.version.clone()),
            ],
        },
        audit_section(s),
        Section {
            title: "Retention sweeps",
            rows: vec![
                ("Runs every", s.retention.interval.clone()),
                (
                    "Last finished",
                    s.retention
                        .last_finished_at
                        .clone()
                        .unwrap_or_else(|| "none since start".into()),
                ),
                (
                    "Last sweep",
                    format!(
                        "{} destroyed, {} kept (holds), {} failed",
                        s.retention.last_destroyed, s.retention.last_skipped, s.retention.last_errors
                    ),
                ),
                ("Failed in a row", s.retention.failing.to_string()),
                (
                    "Next by",
                    s.retention
                        .next_at
                        .clone()
                        .unwrap_or_else(|| "one interval after start".into()),
                ),
            ],
        },
        Section {
            title: "Refusals",
            rows: vec![
                ("Unauthenticated, since start", s.refusals.unauthenticated.to_string()),
                (
                    "Addresses refused in the last second",
                    s.refusals.sources_now.to_string(),
                ),
            ],
        },
    ];
    if let Some(d) = &s.disk {
        out.push(Section {
            title: "Disk",
            rows: vec![
                ("Data directory", bytes(d.data_bytes)),
                ("Free", format!("{} of {}", bytes(d.free_bytes), bytes(d.total_bytes))),
            ],
        });
    }
    if let Some(c) = &s.cluster {
        out.push(Section {
            title: "Cluster",
            rows: vec![
                ("This node", c.node_id.clone()),
                ("Keys pending replication", c.pending.to_string()),
                ("Messages refused by a node", c.refused.to_string()),
            ],
        });
    }
    out
}

fn audit_section(s: &OpsStatus) -> Section {
    let a = &s.audit;
    let mut rows = vec![
        ("Newest entry", a.head_seq.to_string()),
        (
            "Newest checkpoint",
            match &a.checkpoint_at {
                Some(at) => format!("entry {} at {at}", a.checkpoint_seq),
                None => format!("entry {} (found at start)", a.checkpoint_seq),
            },
        ),
    ];
    match &a.witness {
        None => rows.push(("Witness", "none configured".into())),
        Some(w) => {
            let state = if w.conflict {
                "CONFLICT: the chain disagrees with it"
            } else if !w.called {
                "not called yet"
            } else if w.up {
                "answering"
            } else {
                "unreachable"
            };
            rows.push(("Witness", state.into()));
            rows.push(("Cosigned up to", format!("entry {} ({} behind)", w.cosigned_seq, w.lag)));
        }
    }
    Section {
        title: "Audit chain",
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::{age, bytes};

    #[test]
    fn figures_read_as_a_person_reads_them() {
        assert_eq!(age(59), "0 min");
        assert_eq!(age(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(age(90 * 86_400 + 7200), "90 d 2 h");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(50 << 30), "50 GiB");
        assert_eq!(bytes(15 << 20), "15 MiB");
    }
}
