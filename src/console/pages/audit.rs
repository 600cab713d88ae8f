//! The audit (auditors, privacy officers): the chain's entries, newest
//! first, a window of 1,000 at a time, filtered by principal or action, and
//! the chain's verification against its signed checkpoints. Each read is the
//! `GET /v1/audit` or `GET /v1/audit/verify` request it stands for (and so
//! is itself audited). Entries hold no personal data: subjects are keyed
//! hashes.

use askama::Template;
use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::store::Store as _;

/// Entries per window (the API's largest page).
const WINDOW: u64 = 1000;

#[derive(Template)]
#[template(path = "audit.html", config = "src/console/askama.toml")]
struct Audit {
    nav: Nav,
    principal: String,
    action: String,
    rows: Vec<Row>,
    first: u64,
    last: u64,
    older: Option<String>,
    newer: Option<String>,
    verified: Option<Verified>,
}

struct Row {
    seq: u64,
    at: String,
    principal: String,
    action: String,
    purpose: String,
    decision: String,
    /// Per item of a legal request: what each was decided.
    items: String,
    channel: String,
    subject: String,
    outcome: String,
}

struct Verified {
    ok: bool,
    entries: u64,
    head: String,
    checkpoints: u64,
    problem: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    principal: String,
    action: String,
    /// The window starts after this seq (default: the newest window).
    after: Option<u64>,
    verify: Option<String>,
}

/// The address of another window with the same filters.
fn link(after: u64, principal: &str, action: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "/console/audit?after={after}&principal={}&action={}",
        enc(principal),
        enc(action)
    )
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("—").to_owned()
}

pub async fn page(staff: Staff, Query(filter): Query<Filter>) -> Result<Response, Refusal> {
    let last = staff
        .console
        .vault
        .read(|v| v.store.audit_last_seq())
        .await
        .map_err(|_| Refusal::Bad("The audit chain could not be read.".into()))?;
    let start = filter.after.unwrap_or_else(|| last.saturating_sub(WINDOW)).min(last);
    let page = staff
        .call_ok(Method::GET, &format!("/v1/audit?after={start}&limit={WINDOW}"), None)
        .await?
        .json();
    let principal = filter.principal.trim().to_owned();
    let action = filter.action.trim().to_owned();
    let mut rows: Vec<Row> = page["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| principal.is_empty() || e["principal"].as_str() == Some(principal.as_str()))
                .filter(|e| action.is_empty() || e["action"].as_str().is_some_and(|x| x.contains(action.as_str())))
                .map(|e| Row {
                    seq: e["seq"].as_u64().unwrap_or(0),
                    at: text(&e["at"]),
                    principal: text(&e["principal"]),
                    action: text(&e["action"]),
                    purpose: text(&e["purpose"]),
                    decision: text(&e["decision"]),
                    items: e["items"]
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, d)| format!("{k}: {}", text(d)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                    channel: e["channel"].as_str().unwrap_or("api").to_owned(),
                    subject: e["subject"]
                        .as_str()
                        .map_or_else(|| "—".to_owned(), |s| s.chars().take(16).collect()),
                    outcome: text(&e["outcome"]),
                })
                .collect()
        })
        .unwrap_or_default();
    rows.reverse();
    let verified = if filter.verify.is_some() {
        let r = staff.call_ok(Method::GET, "/v1/audit/verify", None).await?.json();
        Some(Verified {
            ok: r["ok"].as_bool().unwrap_or(false),
            entries: r["entries"].as_u64().unwrap_or(0),
            head: text(&r["head"]),
            checkpoints: r["checkpoints"].as_u64().unwrap_or(0),
            problem: r["checkpoint_problem"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| {
                    r["first_bad_seq"]
                        .as_u64()
                        .map(|s| format!("the chain breaks at entry {s}"))
                })
                .unwrap_or_default(),
        })
    } else {
        None
    };
    let end = (start + WINDOW).min(last);
    Ok(render(&Audit {
        nav: staff.nav("/console/audit"),
        rows,
        first: start + 1,
        last: end,
        older: (start > 0).then(|| link(start.saturating_sub(WINDOW), &principal, &action)),
        newer: (end < last).then(|| link(end, &principal, &action)),
        verified,
        principal,
        action,
    }))
}
