//! Crash safety: `cargo run --release --example crash_safety`.
//!
//! Runs the vault as a child process (this same program, in child mode),
//! drives enrollments and fact queries at it from 8 clients, and kills it
//! with SIGKILL at a random moment (`CRASH_ROUNDS` times, default 20). After
//! each kill it restarts the vault on the same directories and checks:
//! the vault starts (sled recovers, no panic); every enrollment that was
//! answered 201 — in this round and all earlier ones — is there whole (its
//! photo opens: record, wrapped data key, sealed photo identity and age file
//! all present and consistent); the audit chain and its signed checkpoints
//! verify. (Fact queries are load only: checking tens of thousands of cards
//! through one city system would trip the bulk-screening guard, as it should.) It prints the figures and exits non-zero on any loss.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use support::PNG;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(std::path::Path::new(&args[2]));
        return;
    }
    let rounds: usize = support::env_or("CRASH_ROUNDS", 20);
    let dir = tempfile::tempdir().unwrap();
    support::runtime().block_on(drive(dir.path(), rounds));
}

/// Child mode: serve the vault on a free port and print it.
fn child(dir: &std::path::Path) {
    let config = support::config_in(dir);
    support::runtime().block_on(async move {
        // Open first (keys, store recovery, admin token), then announce the port.
        let vault = civic_vault::Vault::open(config, Arc::new(civic_vault::clock::SystemClock))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        civic_vault::serve(vault, listener, std::future::pending())
            .await
            .unwrap();
    });
}

fn spawn(dir: &std::path::Path) -> (Child, u16, Duration) {
    let t = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the vault did not start: {line:?}"));
    (child, port, t.elapsed())
}

async fn post(http: &reqwest::Client, port: u16, path: &str, token: &str, body: &Value) -> Option<(u16, Value)> {
    let r = http
        .post(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.unwrap_or(Value::Null)))
}

async fn drive(dir: &std::path::Path, rounds: usize) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (mut vault, mut port, _) = spawn(dir);
    let admin = std::fs::read_to_string(dir.join("keys/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let issue = |body: Value, port: u16| {
        let (http, admin) = (http.clone(), admin.clone());
        async move {
            post(&http, port, "/v1/principals", &admin, &body).await.unwrap().1["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let clerk = issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]}), port).await;
    let auditor = issue(json!({"id": "auditor", "kind": "staff", "roles": ["auditor"]}), port).await;
    let parks = issue(
        json!({"id": "parks", "kind": "system", "agency_kind": "city_agency", "purposes": ["parks_recreation"]}),
        port,
    )
    .await;
    let photo = base64::engine::general_purpose::STANDARD.encode(PNG);
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let facts_ok = Arc::new(AtomicU64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let next_doc = Arc::new(AtomicU64::new(0));
    let mut recoveries = Vec::new();
    let mut failures = Vec::new();
    for round in 1..=rounds {
        // Load: 6 enrolling clients, 2 asking facts, until the kill.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..8 {
            let (http, clerk, parks, photo) = (http.clone(), clerk.clone(), parks.clone(), photo.clone());
            let (acknowledged, facts_ok, attempts, next_doc, stop) = (
                Arc::clone(&acknowledged),
                Arc::clone(&facts_ok),
                Arc::clone(&attempts),
                Arc::clone(&next_doc),
                Arc::clone(&stop),
            );
            clients.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if c < 6 {
                        let n = next_doc.fetch_add(1, Ordering::Relaxed);
                        let app = json!({
                            "applicant": {"full_name": "Crash Holder", "date_of_birth": "1980-01-01", "address": {"kind": "none"}},
                            "photo": {"content_type": "image/png", "data": photo},
                            "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("C-{n}")},
                                       {"document_type": "lease", "issuer": "L", "number": "L-1"}]});
                        attempts.fetch_add(1, Ordering::Relaxed);
                        match post(&http, port, "/v1/enrollments", &clerk, &app).await {
                            Some((201, b)) => acknowledged.lock().unwrap().push(b["card_number"].as_str().unwrap().to_owned()),
                            _ => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    } else {
                        let card = acknowledged.lock().unwrap().last().cloned();
                        if let Some(card) = card {
                            let q = json!({"card_number": card, "purpose": "parks_recreation", "facts": ["card_valid"]});
                            if let Some((200, _)) = post(&http, port, "/v1/facts", &parks, &q).await {
                                facts_ok.fetch_add(1, Ordering::Relaxed);
                            }
                        } else {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            }));
        }
        let wait = rand::thread_rng().gen_range(150..1200);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        vault.kill().unwrap(); // SIGKILL
        vault.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            let _ = c.await;
        }

        let (child, p, recovery) = spawn(dir);
        vault = child;
        port = p;
        recoveries.push(recovery);
        // Every acknowledged enrollment is there, whole.
        let cards = acknowledged.lock().unwrap().clone();
        let mut missing = 0;
        for chunk in cards.chunks(32) {
            let checks: Vec<_> = chunk
                .iter()
                .map(|card| {
                    let (http, clerk, card) = (http.clone(), clerk.clone(), card.clone());
                    tokio::spawn(async move {
                        let photo = http
                            .get(format!(
                                "http://127.0.0.1:{port}/v1/cardholders/{card}/photo?purpose=card_printing"
                            ))
                            .bearer_auth(&clerk)
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .unwrap_or(0);
                        photo == 200
                    })
                })
                .collect();
            for c in checks {
                if !c.await.unwrap() {
                    missing += 1;
                }
            }
        }
        let verify = http
            .get(format!("http://127.0.0.1:{port}/v1/audit/verify"))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let chain_ok = verify["ok"] == true;
        println!(
            "round {round:>2}: killed after {wait:>4} ms; restarted in {:>4} ms; {} enrollments acknowledged so far, {missing} missing or partial; chain {} entries, {} checkpoints, {}",
            recovery.as_millis(),
            cards.len(),
            verify["entries"],
            verify["checkpoints"],
            if chain_ok { "verifies" } else { "DOES NOT VERIFY" }
        );
        if missing > 0 || !chain_ok {
            failures.push(format!(
                "round {round}: {missing} missing, chain ok: {chain_ok} ({verify})"
            ));
        }
    }
    vault.kill().unwrap();
    let _ = vault.wait();
    let total = acknowledged.lock().unwrap().len();
    let max = recoveries.iter().max().copied().unwrap_or_default();
    let mean = recoveries.iter().sum::<Duration>() / u32::try_from(recoveries.len().max(1)).unwrap();
    println!(
        "\n{rounds} SIGKILLs; {} enrollment attempts, {total} acknowledged (201), all checked after every restart; {} fact answers; restart to serving: mean {} ms, max {} ms",
        attempts.load(Ordering::Relaxed),
        facts_ok.load(Ordering::Relaxed),
        mean.as_millis(),
        max.as_millis()
    );
    if failures.is_empty() {
        println!(
            "no acknowledged enrollment lost, no partial record, the chain and its checkpoints verified every time"
        );
    } else {
        for f in &failures {
            println!("FAILURE {f}");
        }
        std::process::exit(1);
    }
}
