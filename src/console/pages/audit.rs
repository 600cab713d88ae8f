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
/// Rows per page a person reads (a window holds up to ten).
const PAGE: usize = 100;

#[derive(Template)]
#[template(path = "audit.html", config = "src/console/askama.toml")]
struct Audit {
    nav: Nav,
    principal: String,
    action: String,
    rows: Vec<Row>,
    /// Entries in the window that pass the filters.
    matched: usize,
    first: u64,
    last: u64,
    older: Option<String>,
    newer: Option<String>,
    /// Paging within the window: this page (1-based), how many, and links.
    page: usize,
    pages: usize,
    previous_page: Option<String>,
    next_page: Option<String>,
    verified: Option<Verified>,
    decision: String,
    from: String,
    to: String,
    retention: Vec<(String, String)>,
    chart: Option<Chart>,
}

/// Requests by action since the vault started, as horizontal bars drawn on
/// the server (inline SVG: no script, no chart library).
struct Chart {
    height: usize,
    bars: Vec<Bar>,
    allowed: u64,
    denied: u64,
}

struct Bar {
    label: String,
    count: u64,
    y: usize,
    text_y: usize,
    width: u64,
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
    /// `allow`, `deny` or empty.
    decision: String,
    /// Days (YYYY-MM-DD), inclusive; empty: open.
    from: String,
    to: String,
    /// The window starts after this seq (default: the newest window).
    after: Option<u64>,
    /// The page within the window (1-based; default the first, newest).
    page: Option<usize>,
    verify: Option<String>,
}

/// Page `page` (1-based, clamped) of `rows`, and how many pages there are.
fn paginate<T>(mut rows: Vec<T>, page: usize) -> (Vec<T>, usize, usize) {
    let pages = rows.len().div_ceil(PAGE).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * PAGE;
    rows.truncate(start + PAGE);
    let shown = rows.split_off(start.min(rows.len()));
    (shown, page, pages)
}

/// The address of another window with the same filters.
fn link(after: u64, filters: &[(&str, &str)]) -> String {
    let mut out = format!("/console/audit?after={after}");
    for (k, v) in filters.iter().filter(|(_, v)| !v.is_empty()) {
        out.push('&');
        out.push_str(k);
        out.push('=');
        out.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
    }
    out
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("—").to_owned()
}

impl Row {
    fn of(e: &Value) -> Self {
        Self {
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
        }
    }
}

/// The chain's verification against its signed checkpoints.
async fn verify(staff: &Staff) -> Result<Verified, Refusal> {
    let r = staff.call_ok(Method::GET, "/v1/audit/verify", None).await?.json();
    Ok(Verified {
        ok: r["ok"].as_bool().unwrap_or(false),
        entries: r["entries"].as_u64().unwrap_or(0),
        head: text(&r["head"]),
        checkpoints: r["checkpoints"].as_u64().unwrap_or(0),
        problem: r["checkpoint_problem"]
            .as_str()
            .or_else(|| r["witness_problem"].as_str())
            .map(str::to_owned)
            .or_else(|| {
                r["first_bad_seq"]
                    .as_u64()
                    .map(|s| format!("the chain breaks at entry {s}"))
            })
            .unwrap_or_default(),
    })
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
    let day = |d: &str| {
        let d = d.trim();
        if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            d.to_owned()
        } else {
            String::new()
        }
    };
    let (from, to) = (day(&filter.from), day(&filter.to));
    let decision = match filter.decision.as_str() {
        d @ ("allow" | "deny") => d.to_owned(),
        _ => String::new(),
    };
    let mut rows: Vec<Row> = page["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| principal.is_empty() || e["principal"].as_str() == Some(principal.as_str()))
                .filter(|e| action.is_empty() || e["action"].as_str().is_some_and(|x| x.contains(action.as_str())))
                .filter(|e| decision.is_empty() || e["decision"].as_str() == Some(decision.as_str()))
                .filter(|e| {
                    let day: String = e["at"].as_str().unwrap_or_default().chars().take(10).collect();
                    (from.is_empty() || day.as_str() >= from.as_str()) && (to.is_empty() || day.as_str() <= to.as_str())
                })
                .map(Row::of)
                .collect()
        })
        .unwrap_or_default();
    rows.reverse();
    let verified = if filter.verify.is_some() {
        Some(verify(&staff).await?)
    } else {
        None
    };
    let matched = rows.len();
    let (rows, page_no, pages) = paginate(rows, filter.page.unwrap_or(1));
    let end = (start + WINDOW).min(last);
    let filters = [
        ("principal", principal.as_str()),
        ("action", action.as_str()),
        ("decision", decision.as_str()),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    let page_link = |n: usize| format!("{}&page={n}", link(start, &filters));
    Ok(render(&Audit {
        nav: staff.nav("/console/audit"),
        rows,
        matched,
        page: page_no,
        pages,
        previous_page: (page_no > 1).then(|| page_link(page_no - 1)),
        next_page: (page_no < pages).then(|| page_link(page_no + 1)),
        first: start + 1,
        last: end,
        older: (start > 0).then(|| link(start.saturating_sub(WINDOW), &filters)),
        newer: (end < last).then(|| link(end, &filters)),
        verified,
        retention: retention(&staff).await,
        chart: chart(&staff).await,
        principal,
        action,
        decision,
        from,
        to,
    }))
}

/// The retention status, as label/value lines (empty when not permitted).
async fn retention(staff: &Staff) -> Vec<(String, String)> {
    let answer = staff.call(Method::GET, "/v1/retention", None).await;
    if !answer.ok() {
        return Vec::new();
    }
    let j = answer.json();
    let docs = &j["classes"]["source_documents"];
    let cards = &j["classes"]["inactive_cardholders"];
    let num = |v: &Value| v.as_u64().unwrap_or(0).to_string();
    let next = |v: &Value| v.as_str().unwrap_or("none due").to_owned();
    vec![
        (
            "Scans held".into(),
            format!(
                "{} (kept {}; next destruction: {})",
                num(&docs["held"]),
                text(&docs["window"]),
                next(&docs["next_destruction"])
            ),
        ),
        (
            "Cardholder records held".into(),
            format!(
                "{} (inactive ones destroyed after {}; next: {})",
                num(&cards["held"]),
                text(&cards["window"]),
                next(&cards["next_destruction"])
            ),
        ),
        (
            "Erased, awaiting key rotation".into(),
            format!(
                "{} (key rotation every {})",
                num(&cards["erased_awaiting_key_rotation"]),
                text(&cards["key_rotation"])
            ),
        ),
        ("Sweep".into(), format!("every {}", text(&j["sweep_interval"]))),
    ]
}

/// The value of a Prometheus sample line's label.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &line[start..];
    Some(&rest[..rest.find('"')?])
}

/// Requests by action from `/metrics` (None when not permitted).
async fn chart(staff: &Staff) -> Option<Chart> {
    let answer = staff.call(Method::GET, "/metrics", None).await;
    if !answer.ok() {
        return None;
    }
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    let mut by_action: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let (mut allowed, mut denied) = (0, 0);
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some(n) = line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if line.starts_with("civic_vault_requests_total{") {
            if let Some(a) = label(line, "action") {
                *by_action.entry(a.to_owned()).or_default() += n;
            }
        } else if line.starts_with("civic_vault_decisions_total{") {
            match label(line, "decision") {
                Some("allow") => allowed = n,
                Some("deny") => denied = n,
                _ => {}
            }
        }
    }
    let mut counts: Vec<(String, u64)> = by_action.into_iter().collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts.truncate(15);
    let max = counts.first().map_or(1, |(_, n)| (*n).max(1));
    let bars = counts
        .into_iter()
        .enumerate()
        .map(|(i, (label, count))| Bar {
            y: i * 24,
            text_y: i * 24 + 15,
            width: (count * 400 / max).max(1),
            label,
            count,
        })
        .collect::<Vec<_>>();
    Some(Chart {
        height: bars.len() * 24,
        bars,
        allowed,
        denied,
    })
}

#[cfg(test)]
mod tests {
    use super::{paginate, PAGE};

    #[test]
    fn a_window_reads_a_hundred_rows_a_page() {
        let rows: Vec<usize> = (0..250).collect();
        let (first, page, pages) = paginate(rows.clone(), 1);
        assert_eq!((first.len(), first[0], page, pages), (PAGE, 0, 1, 3));
        let (last, page, _) = paginate(rows.clone(), 3);
        assert_eq!((last.len(), last[0], page), (50, 200, 3));
        // Past the end: the last page; before the start: the first.
        assert_eq!(paginate(rows.clone(), 9).1, 3);
        assert_eq!(paginate(rows, 0).1, 1);
        let (none, page, pages) = paginate(Vec::<usize>::new(), 2);
        assert_eq!((none.len(), page, pages), (0, 1, 1));
    }
}
