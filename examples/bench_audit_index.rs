//! Audit index benchmark: `cargo run --release --example bench_audit_index`.
//!
//! Runs the real vault in-process over a long audit chain: enrolls
//! `BENCH_CARDS` cardholders (default 1,000) and asks a few facts about each
//! over the API (one library system per 100 cards), then appends `BENCH_ENTRIES` audit entries (default
//! 10,000,000) about other subjects straight through the store's writer
//! (the chain is real: sealed, hashed, grouped and flushed as every entry
//! is). Times the index's first catch-up over the whole chain, then
//! `BENCH_REQUESTS` legal requests with `access_log` (default 2,000, 8 at a
//! time) over random cards, each answered through the index, and checks
//! that every answer holds the card's own entries. Cardholder access reports
//! (`POST /v1/cardholders/{card}/access-report`, as many) are timed twice:
//! before the legal requests (no legal answers stored) and after them (each
//! report also reads every stored legal answer's summary). Prints the
//! process's resident memory after each phase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use civic_vault::domain::audit::{AuditDraft, Decision};
use civic_vault::domain::store::{Commit, Store as _};
use serde_json::json;

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use support::{call, PNG};

/// This process's resident memory now and at its peak, for the figures.
fn memory() -> String {
    let (rss, peak) = support::rss_gb();
    format!("rss {rss:.2} GB, peak {peak:.2} GB")
}

/// `requests` access reports at the counter, 8 at a time, over `numbers`;
/// each answer must hold the card's own entries. Returns reports a second.
async fn access_reports(
    http: &reqwest::Client,
    clerk: &str,
    numbers: &Arc<Vec<String>>,
    base: &str,
    requests: usize,
) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8usize {
        let http = http.clone();
        let clerk = clerk.to_owned();
        let numbers = Arc::clone(numbers);
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            for k in (w..requests).step_by(8) {
                let card = &numbers[(k * 7919) % numbers.len()];
                let u = format!("{base}/v1/cardholders/{card}/access-report");
                let b = call(&http, reqwest::Method::POST, u, &clerk, None).await;
                let entries = b["entries"].as_array().unwrap();
                assert!(!entries.is_empty(), "the card's fact queries: {b}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    requests as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let cards: usize = support::env_or("BENCH_CARDS", 1_000);
    let entries: u64 = support::env_or("BENCH_ENTRIES", 10_000_000);
    let requests: usize = support::env_or("BENCH_REQUESTS", 2_000);
    let rt = support::runtime();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let config = civic_vault::Config {
            governance: civic_vault::config::Governance { second_approval: false },
            ..support::config_in(dir.path())
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vault = civic_vault::Vault::open(config, Arc::new(civic_vault::clock::SystemClock)).await.unwrap();
        let handle = Arc::clone(&vault);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(civic_vault::serve(vault, listener, async {
            let _ = stopped.await;
        }));
        let admin = std::fs::read_to_string(dir.path().join("keys/admin.token")).unwrap().trim().to_owned();
        let http = reqwest::Client::new();
        let url = |p: &str| format!("http://{addr}{p}");
        let issue = |body: serde_json::Value| {
            let http = http.clone();
            let admin = admin.clone();
            let u = url("/v1/principals");
            async move { call(&http, reqwest::Method::POST, u, &admin, Some(&body)).await["token"].as_str().unwrap().to_owned() }
        };
        let clerk = issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]})).await;
        let legal = issue(json!({"id": "legal", "kind": "staff", "roles": ["legal"]})).await;
        // One library system per 100 cardholders: the bulk guards refuse a
        // system that asks about too many distinct cards an hour.
        let mut libraries = Vec::new();
        for b in 0..cards.div_ceil(100) {
            libraries.push(issue(json!({"id": format!("nypl-{b}"), "kind": "system", "agency_kind": "city_partner",
                "purposes": ["library_services"]})).await);
        }

        let photo = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG);
        let t = Instant::now();
        let mut numbers = Vec::with_capacity(cards);
        for i in 0..cards {
            let body = json!({
                "applicant": {"full_name": format!("Bench Holder {i}"), "date_of_birth": "1980-05-05",
                              "address": {"kind": "residential", "line1": "1 Bench St", "city": "New York", "postal_code": "10001"}},
                "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("B{i:08}")},
                           {"document_type": "utility_bill", "issuer": "Con Edison", "number": format!("U{i:08}"),
                            "issued_on": (time::OffsetDateTime::now_utc().date() - time::Duration::days(3)).to_string()}],
                "photo": {"content_type": "image/png", "data": photo},
            });
            let b = call(&http, reqwest::Method::POST, url("/v1/enrollments"), &clerk, Some(&body)).await;
            let number = b["card_number"].as_str().unwrap().to_owned();
            for _ in 0..3 {
                call(&http, reqwest::Method::POST, url("/v1/facts"), &libraries[i / 100],
                    Some(&json!({"card_number": number, "purpose": "library_services", "facts": ["card_valid"]}))).await;
            }
            numbers.push(number);
        }
        println!("setup: {cards} cardholders enrolled, 3 fact queries each, in {:.1} s", t.elapsed().as_secs_f64());

        // The long chain: entries about other subjects, through the real writer.
        let t = Instant::now();
        let per_commit: u64 = support::env_or("BENCH_PER_COMMIT", 2_000);
        let mut written = 0u64;
        let mut pending = Vec::new();
        while written < entries {
            let n = per_commit.min(entries - written);
            let audit: Vec<AuditDraft> = (0..n)
                .map(|j| AuditDraft {
                    at: 1_780_000_000 + i64::try_from(written + j).unwrap(),
                    principal: Some("nypl".into()),
                    action: "query_fact".into(),
                    purpose: Some("library_services".into()),
                    decision: Decision::Allow,
                    subject: Some(format!("hmac-sha256:{:064x}", (written + j) % 5_000_000)),
                    outcome: "ok".into(),
                    ..AuditDraft::default()
                })
                .collect();
            written += n;
            let v = Arc::clone(&handle);
            pending.push(tokio::spawn(async move { v.store.commit(Commit { changes: Vec::new(), audit }).await.unwrap() }));
            if pending.len() >= 8 {
                for p in pending.drain(..) {
                    p.await.unwrap();
                }
            }
        }
        for p in pending.drain(..) {
            p.await.unwrap();
        }
        let append = t.elapsed().as_secs_f64();
        let chain = handle.store.audit_last_seq().unwrap();
        println!("chain: {chain} entries ({entries} appended in {append:.1} s, {:.0}/s); {}", entries as f64 / append, memory());

        // The index's first catch-up over the whole chain (once per store).
        let t = Instant::now();
        let v = Arc::clone(&handle);
        tokio::task::spawn_blocking(move || v.store.audit_about(None).unwrap()).await.unwrap();
        let catch_up = t.elapsed().as_secs_f64();
        println!(
            "index: first catch-up over {chain} entries in {catch_up:.1} s ({:.0} entries/s); {}; on disk: sled {:.2} GB, index {:.0} MB",
            chain as f64 / catch_up,
            memory(),
            support::size_of(&dir.path().join("data")) as f64 / 1e9 - support::size_of(&dir.path().join("data/audit-index")) as f64 / 1e9,
            support::size_of(&dir.path().join("data/audit-index")) as f64 / 1e6,
        );

        // Access reports at the counter, 8 at a time, before any legal answer is stored.
        let numbers = Arc::new(numbers);
        let rate = access_reports(&http, &clerk, &numbers, &url(""), requests).await;
        println!(
            "access reports, no legal answers stored: {requests} in {:.1} s = {rate:.0}/s over a chain of {chain} entries",
            requests as f64 / rate
        );

        // Legal requests with access_log, 8 at a time.
        let t = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..8usize {
            let http = http.clone();
            let legal = legal.clone();
            let numbers = Arc::clone(&numbers);
            let u = url("/v1/legal/requests");
            tasks.push(tokio::spawn(async move {
                for k in (w..requests).step_by(8) {
                    let card = &numbers[(k * 7919) % numbers.len()];
                    let body = json!({
                        "reference": format!("Bench {k}"),
                        "requester": {"name": "Bench", "agency_kind": "state_agency"},
                        "process": "court_order", "signed_by_judge": true,
                        "subject": {"card_number": card}, "items": ["access_log"],
                        "notice_prohibited_by_court": true,
                    });
                    let b = call(&http, reqwest::Method::POST, u.clone(), &legal, Some(&body)).await;
                    let log = b["package"]["access_log"].as_array().unwrap();
                    assert!(log.len() >= 4, "the card's own entries: {log:?}");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "legal requests with access_log: {requests} in {secs:.1} s = {:.0}/s over a chain of {chain} entries",
            requests as f64 / secs
        );

        // Access reports again, now with the legal answers stored: each
        // report reads every stored legal answer's summary.
        let rate = access_reports(&http, &clerk, &numbers, &url(""), requests).await;
        println!(
            "access reports, {requests} legal answers stored: {requests} in {:.1} s = {rate:.0}/s over a chain of {chain} entries; {}",
            requests as f64 / rate,
            memory()
        );
        let _ = stop.send(());
        drop(handle);
        server.await.unwrap().unwrap();
    });
}
