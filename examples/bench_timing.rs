//! Timing benchmark for the card-status oracle:
//! `cargo run --release --example bench_timing`.
//!
//! A fact query about an unknown, a revoked or a valid card must not say
//! which by how long it takes: unknown and revoked cards give the same
//! answer (`card_valid: false`), so a difference in time would be the only
//! way to tell them apart. This starts the real vault in-process, enrolls
//! `TIMING_CARDS` cardholders per class (default 2,000) and revokes one
//! class, then asks `POST /v1/facts` about them over one keep-alive
//! connection, one request at a time, the three classes interleaved in a
//! fresh random order each round:
//!
//! - first ask: every card asked once (nothing about it cached yet), and
//! - asked again: the same cards a second time (what a prober repeating a
//!   number sees),
//!
//! and prints the median, p90 and p99 per class and the median differences
//! (target: within noise, < 5 µs between revoked and unknown). Honey cards
//! are a fifth class: a query about one must take as long as one about a
//! valid card, though it raises an alert (written later, off its path). A second pool
//! of unknown numbers is asked too: its difference from the first is the
//! noise of the measurement itself (every answer waits for its audit
//! entry's fsync, which dominates the time).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use civic_vault::clock::SystemClock;
use civic_vault::domain::card::CardNumber;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rand::seq::SliceRandom;
use serde_json::json;

mod support;
use support::{call, PNG};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The fourth class is a second pool of unknown numbers: its difference
/// from the first is the measurement's own noise. The fifth is honey cards
/// (valid cards whose every query raises an alert).
const CLASSES: [&str; 5] = ["valid", "revoked", "unknown", "unknown'", "honey"];

fn main() {
    let per_class: usize = support::env_or("TIMING_CARDS", 2000);
    let rt = support::runtime();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::config_in(dir.path());
        // Three classes of cards are asked about by one system: keep the
        // floor's distinct-card ceiling out of the way of the measurement.
        config.facts.bulk_ceiling_per_hour = 1_000_000;
        // Honey cards enrolled at once, not spread over days.
        config.honey.spread = "0s".parse().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vault = civic_vault::Vault::open(config, Arc::new(SystemClock)).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(civic_vault::serve(vault, listener, async {
            let _ = stopped.await;
        }));
        let admin = std::fs::read_to_string(dir.path().join("keys/admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        let http = reqwest::Client::new();
        let url = |p: &str| format!("http://{addr}{p}");
        let issue = |body: serde_json::Value| {
            let (http, url, admin) = (http.clone(), url("/v1/principals"), admin.clone());
            async move {
                call(&http, reqwest::Method::POST, url, &admin, Some(&body)).await["token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let clerk = issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]})).await;
        // City agencies: the editable bulk guard stops a system past 5,000
        // distinct cards an hour, so each gets its share of the asking.
        let mut systems = Vec::new();
        for i in 0..(5 * per_class).div_ceil(4000) {
            systems.push(
                issue(
                    json!({"id": format!("timing-{i}"), "kind": "system", "agency_kind": "city_agency",
                             "purposes": ["library_services"]}),
                )
                .await,
            );
        }

        let t = Instant::now();
        let photo = base64::engine::general_purpose::STANDARD.encode(PNG);
        let mut issued = Vec::with_capacity(2 * per_class);
        for chunk in (0..2 * per_class).collect::<Vec<_>>().chunks(16) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|i| {
                    let app = json!({
                        "applicant": {"full_name": format!("Holder {i}"), "date_of_birth": "1980-05-05",
                                      "address": {"kind": "none"}},
                        "photo": {"content_type": "image/png", "data": photo},
                        "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("T-{i}")},
                                   {"document_type": "lease", "issuer": "L", "number": "L-1"}]});
                    let (http, url, clerk) = (http.clone(), url("/v1/enrollments"), clerk.clone());
                    tokio::spawn(async move {
                        call(&http, reqwest::Method::POST, url, &clerk, Some(&app)).await["card_number"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                })
                .collect();
            for h in handles {
                issued.push(h.await.unwrap());
            }
        }
        let revoked = issued.split_off(per_class);
        for card in &revoked {
            call(
                &http,
                reqwest::Method::POST,
                url(&format!("/v1/cardholders/{card}/revoke")),
                &clerk,
                Some(&json!({"reason": "lost"})),
            )
            .await;
        }
        let unknown = || -> Vec<String> {
            (0..per_class)
                .map(|_| CardNumber::generate().as_str().to_owned())
                .collect()
        };
        println!(
            "civic-vault timing benchmark: {per_class} cards per class, enrolled and revoked in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let officer = issue(json!({"id": "privacy", "kind": "staff", "roles": ["privacy_officer"]})).await;
        let mut honey = Vec::with_capacity(per_class);
        while honey.len() < per_class {
            let count = (per_class - honey.len()).min(100);
            let made = call(
                &http,
                reqwest::Method::POST,
                url("/v1/honey-cards"),
                &officer,
                Some(&json!({"count": count, "label": "timing"})),
            )
            .await;
            honey.extend(
                made["cards"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["card_number"].as_str().unwrap().to_owned()),
            );
        }
        let pools = [issued, revoked, unknown(), unknown(), honey];

        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut rng = rand::thread_rng();
        for pass in ["first ask", "asked again"] {
            let mut samples: [Vec<u32>; 5] = Default::default();
            let mut order = [0usize, 1, 2, 3, 4];
            for i in 0..per_class {
                order.shuffle(&mut rng);
                let system = &systems[(i * systems.len()) / per_class];
                for &class in &order {
                    let body = json!({"card_number": pools[class][i], "purpose": "library_services",
                                      "facts": ["card_valid", "resident", "age_over_18"]});
                    samples[class].push(ask(&mut sender, addr, system, body.to_string()).await);
                }
            }
            report(pass, &mut samples);
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}

/// One fact query; its latency in nanoseconds.
async fn ask(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    token: &str,
    body: String,
) -> u32 {
    sender.ready().await.unwrap();
    let req = hyper::Request::post("/v1/facts")
        .header("host", addr.to_string())
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let start = Instant::now();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await.unwrap();
    let took = u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX);
    assert_eq!(status, 200, "a fact query failed");
    took
}

fn report(pass: &str, samples: &mut [Vec<u32>; 5]) {
    let pct = |v: &[u32], p: f64| f64::from(v[((v.len() as f64 - 1.0) * p).round() as usize]) / 1000.0;
    println!("{pass}: {} interleaved samples per class", samples[0].len());
    for (class, v) in CLASSES.iter().zip(samples.iter_mut()) {
        v.sort_unstable();
        println!(
            "  {class:8} median {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99)
        );
    }
    let median = |i: usize| pct(&samples[i], 0.5);
    println!(
        "  median difference revoked - unknown: {:+.1} µs; valid - unknown: {:+.1} µs; noise (unknown' - unknown): {:+.1} µs",
        median(1) - median(2),
        median(0) - median(2),
        median(3) - median(2)
    );
    println!("  median difference honey - valid: {:+.1} µs", median(4) - median(0));
}
