//! Retention sweep benchmark: `cargo run --release --example bench_sweep`.
//!
//! Runs the real vault in-process with a manual clock. Enrolls N applicants
//! (default 100,000; `BENCH_CARDS` to change) each with one document scan,
//! moving the clock so the scans fall into 10 destruction epochs, then times
//! the sweep that destroys all 10 epochs. Then asks for erasure of every
//! card and times the sweep that deletes the records and rotates the KEK.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use civic_vault::clock::ManualClock;
use serde_json::json;

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use support::{call, PNG};

fn main() {
    let cards: usize = support::env_or("BENCH_CARDS", 100_000);
    let rt = support::runtime();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let config = civic_vault::Config {
            retention: civic_vault::config::Retention {
                source_documents: "40d".parse().unwrap(),
                inactive_cardholders: "365d".parse().unwrap(),
                sweep_interval: "365d".parse().unwrap(),
                key_rotation: "1s".parse().unwrap(),
            },
            ..support::config_in(dir.path())
        };
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vault = civic_vault::Vault::open(config, clock.clone()).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(civic_vault::serve(vault, listener, async {
            let _ = stopped.await;
        }));
        let admin = std::fs::read_to_string(dir.path().join("keys/admin.token")).unwrap().trim().to_owned();
        let http = reqwest::Client::new();
        let url = |p: &str| format!("http://{addr}{p}");
        let clerk = call(&http, reqwest::Method::POST, url("/v1/principals"), &admin,
            Some(&json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]}))).await["token"].as_str().unwrap().to_owned();

        let photo = base64::engine::general_purpose::STANDARD.encode(PNG);
        let scan = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 a scanned document, about this long");
        let epoch = Duration::from_secs(10 * 86_400); // window 40d -> 10-day epochs
        let t = Instant::now();
        let mut numbers = Vec::with_capacity(cards);
        let mut current_epoch = 0;
        for chunk in 0..cards.div_ceil(64) {
            // Spread the applicants over 10 destruction epochs.
            let wanted = chunk * 64 * 10 / cards;
            while current_epoch < wanted {
                clock.advance(epoch);
                current_epoch += 1;
            }
            let mut tasks = Vec::new();
            for i in chunk * 64..((chunk + 1) * 64).min(cards) {
                let app = json!({
                    "applicant": {"full_name": "Bench Holder", "date_of_birth": "1980-01-01", "address": {"kind": "none"}},
                    "photo": {"content_type": "image/png", "data": photo},
                    "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("B-{i}"),
                                "scan": {"content_type": "application/pdf", "data": scan}},
                               {"document_type": "lease", "issuer": "L", "number": "L-1"}]});
                let (http, clerk, u) = (http.clone(), clerk.clone(), url("/v1/enrollments"));
                tasks.push(tokio::spawn(async move { call(&http, reqwest::Method::POST, u, &clerk, Some(&app)).await["card_number"].as_str().unwrap().to_owned() }));
            }
            for task in tasks {
                numbers.push(task.await.unwrap());
            }
        }
        let enroll_s = t.elapsed().as_secs_f64();
        let status = call(&http, reqwest::Method::GET, url("/v1/retention"), &admin, None).await;
        let (held, epochs) = (status["classes"]["source_documents"]["held"].clone(), status["classes"]["source_documents"]["epochs"].clone());

        clock.advance(Duration::from_secs(60 * 86_400));
        let t = Instant::now();
        let r = call(&http, reqwest::Method::POST, url("/v1/retention/sweep"), &admin, Some(&json!({}))).await;
        let scan_sweep = t.elapsed().as_secs_f64();
        let scans_destroyed: u64 = r["destroyed"].as_array().unwrap().iter().filter(|c| c["data_class"] == "source_documents").map(|c| c["records"].as_u64().unwrap()).sum();

        let t = Instant::now();
        for chunk in numbers.chunks(64) {
            let tasks: Vec<_> = chunk.iter().map(|n| {
                let (http, clerk, u) = (http.clone(), clerk.clone(), url(&format!("/v1/cardholders/{n}")));
                tokio::spawn(async move { call(&http, reqwest::Method::DELETE, u, &clerk, None).await })
            }).collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
        let erase_requests_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let r = call(&http, reqwest::Method::POST, url("/v1/retention/sweep"), &admin, Some(&json!({}))).await;
        let card_sweep = t.elapsed().as_secs_f64();
        let classes: Vec<String> = r["destroyed"].as_array().unwrap().iter().map(|c| format!("{}={}", c["data_class"].as_str().unwrap(), c["records"])).collect();
        let _ = stop.send(());
        server.await.unwrap().unwrap();

        println!("civic-vault retention sweep benchmark ({cards} cardholders, one scan each)");
        println!("enrolled {cards} with scans in {enroll_s:.1} s; scans held {held} in {epochs} epochs");
        println!("sweep destroying {scans_destroyed} scans across the epochs: {:.3} s", scan_sweep);
        println!("{cards} erasure requests in {erase_requests_s:.1} s");
        println!("sweep deleting the erased cardholders and rotating the KEK: {card_sweep:.3} s ({})", classes.join(", "));
    });
}
