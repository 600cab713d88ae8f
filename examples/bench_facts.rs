//! Fact-query benchmark: `cargo run --release --example bench_facts`.
//!
//! Starts the real vault in-process on 127.0.0.1:0 over a temporary
//! directory, issues a clerk and a city system, enrolls 1,000 cardholders,
//! then drives `POST /v1/facts` (three facts per request, so three Cedar
//! decisions and three audit entries, each durable before its answer) over 32
//! keep-alive connections for `BENCH_SECONDS` (default 10). It then drives a
//! bare axum handler that parses the same JSON and returns a fixed answer
//! the same way, and prints both and their ratio.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use civic_vault::clock::SystemClock;
use civic_vault::domain::facts::FactRequest;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{json, Value};

// The same allocator as the civic-vault binary.
mod support;
use support::PNG;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 32;
const CARDHOLDERS: usize = 1000;

struct Run {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// One client over one keep-alive connection.
async fn client(
    addr: SocketAddr,
    path: &'static str,
    token: Arc<String>,
    bodies: Arc<Vec<Bytes>>,
    offset: usize,
    until: Instant,
) -> (Vec<u32>, usize) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut lat = Vec::with_capacity(100_000);
    let mut errors = 0;
    let mut i = offset;
    while Instant::now() < until {
        let req = Request::post(path)
            .header("host", "bench")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(bodies[i % bodies.len()].clone()))
            .unwrap();
        let start = Instant::now();
        let resp = sender.send_request(req).await.unwrap();
        let ok = resp.status() == 200;
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        lat.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !ok || body.is_empty() {
            errors += 1;
        }
        i += 1;
        sender.ready().await.unwrap();
    }
    (lat, errors)
}

async fn drive(addr: SocketAddr, path: &'static str, token: &str, bodies: Vec<Bytes>, seconds: u64) -> Run {
    let token = Arc::new(token.to_owned());
    let bodies = Arc::new(bodies);
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|c| tokio::spawn(client(addr, path, token.clone(), bodies.clone(), c * 31, until)))
        .collect();
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies_us.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Run {
        requests: latencies_us.len(),
        errors,
        elapsed,
        latencies_us,
    }
}

async fn post(http: &reqwest::Client, addr: SocketAddr, path: &str, token: &str, body: &Value) -> Value {
    let r = http
        .post(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

fn main() {
    let seconds: u64 = support::env_or("BENCH_SECONDS", 10);
    let rt = support::runtime();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let config = support::config_in(dir.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vault = civic_vault::Vault::open(config, Arc::new(SystemClock)).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(civic_vault::serve(vault, listener, async {
            let _ = stopped.await;
        }));
        let admin = std::fs::read_to_string(dir.path().join("keys/admin.token")).unwrap().trim().to_owned();
        let http = reqwest::Client::new();
        let clerk = post(&http, addr, "/v1/principals", &admin, &json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]})).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let system = post(&http, addr, "/v1/principals", &admin,
            &json!({"id": "library-system", "kind": "system", "agency_kind": "city_agency", "purposes": ["library_services"]}))
            .await["token"].as_str().unwrap().to_owned();
        let auditor = post(&http, addr, "/v1/principals", &admin, &json!({"id": "auditor", "kind": "staff", "roles": ["auditor"]})).await["token"]
            .as_str()
            .unwrap()
            .to_owned();

        let t = Instant::now();
        let photo = base64::engine::general_purpose::STANDARD.encode(PNG);
        let mut cards = Vec::with_capacity(CARDHOLDERS);
        for chunk in (0..CARDHOLDERS).collect::<Vec<_>>().chunks(16) {
            let futs = chunk.iter().map(|i| {
                let app = json!({
                    "applicant": {"full_name": format!("Holder {i}"), "date_of_birth": format!("19{:02}-0{}-1{}", 40 + i % 60, 1 + i % 9, i % 10),
                                  "address": {"kind": "none"}},
                    "photo": {"content_type": "image/png", "data": photo},
                    "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("B-{i}")},
                               {"document_type": "lease", "issuer": "L", "number": "L-1"}]});
                let (http, clerk) = (http.clone(), clerk.clone());
                async move { post(&http, addr, "/v1/enrollments", &clerk, &app).await["card_number"].as_str().unwrap().to_owned() }
            });
            cards.extend(futures_join(futs).await);
        }
        let enroll_secs = t.elapsed().as_secs_f64();
        let bodies: Vec<Bytes> = cards
            .iter()
            .map(|c| Bytes::from(json!({"card_number": c, "purpose": "library_services", "facts": ["card_valid", "resident", "age_over_18"]}).to_string()))
            .collect();
        let (_, before) = count_audit(&http, addr, &auditor).await;
        let vault_run = drive(addr, "/v1/facts", &system, bodies.clone(), seconds).await;
        let (ok, after) = count_audit(&http, addr, &auditor).await;
        let metrics = http.get(format!("http://{addr}/metrics")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
        let metric = |name: &str| -> f64 {
            metrics.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
        };
        let (groups, commits, flush_s, flush_max) = (
            metric("civic_vault_commit_groups_total "),
            metric("civic_vault_commits_total "),
            metric("civic_vault_flush_seconds_total "),
            metric("civic_vault_flush_max_seconds "),
        );
        let _ = stop.send(());
        server.await.unwrap().unwrap();

        // The same load against a bare axum handler: parse the same JSON, fixed answer.
        let bare = axum::Router::new().route(
            "/v1/facts",
            axum::routing::post(|body: Bytes| async move {
                let req: FactRequest = serde_json::from_slice(&body).unwrap();
                std::hint::black_box(&req);
                axum::Json(json!({"decision_id": "x", "facts": {"card_valid": true}, "withheld": {}, "attestation": ""}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, bare).await });
        // BENCH_VAULT_ONLY=1 skips this run (for profiling the vault alone).
        let bare_seconds = if std::env::var_os("BENCH_VAULT_ONLY").is_some() { 1 } else { seconds };
        let bare_run = drive(bare_addr, "/v1/facts", &system, bodies, bare_seconds).await;

        println!("civic-vault facts benchmark: {} cores, {CONNECTIONS} keep-alive connections, {seconds} s per run", std::thread::available_parallelism().map_or(0, usize::from));
        println!("enrolled {CARDHOLDERS} cardholders in {enroll_secs:.1} s ({:.0}/s)", CARDHOLDERS as f64 / enroll_secs);
        for (name, r) in [("vault POST /v1/facts (3 facts)", &vault_run), ("bare axum JSON handler", &bare_run)] {
            println!("{name:32} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  requests {}  errors {}", r.rate(), r.pct(0.50), r.pct(0.99), r.requests, r.errors);
        }
        println!("audit entries written during the vault run: {} ({:.2} per request); chain verifies: {ok}", after - before, (after - before) as f64 / vault_run.requests as f64);
        println!(
            "writer: {groups:.0} groups, {:.1} commits per group, mean flush {:.2} ms, longest {:.2} ms",
            commits / groups.max(1.0),
            flush_s * 1000.0 / groups.max(1.0),
            flush_max * 1000.0
        );
        println!("ratio vault/bare: {:.3}", vault_run.rate() / bare_run.rate());
    });
}

async fn count_audit(http: &reqwest::Client, addr: SocketAddr, auditor: &str) -> (bool, u64) {
    let r: Value = http
        .get(format!("http://{addr}/v1/audit/verify"))
        .bearer_auth(auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (r["ok"] == true, r["entries"].as_u64().unwrap())
}

async fn futures_join<F: std::future::Future<Output = String> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<String> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
