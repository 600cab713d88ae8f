//! Policy check benchmark: `cargo run --release --example bench_policy`.
//!
//! Runs the real vault in-process, records N fact decisions (default 10,000;
//! `BENCH_DECISIONS` to change) from 10 city systems, then times
//! `POST /v1/policies/check` on a candidate that changes some of them, and
//! prints its parts: canaries, policy tests, impact replay, symbolic proof
//! (cvc5 from `$CVC5`, else the repository's `.ci/cvc5`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use support::{call, PNG};

fn main() {
    let decisions: usize = support::env_or("BENCH_DECISIONS", 10_000);
    let rt = support::runtime();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let solver = std::env::var_os("CVC5").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci").join("cvc5"),
            std::path::PathBuf::from,
        );
        let config = civic_vault::Config {
            proof: civic_vault::config::Proof {
                solver: Some(solver),
                ..Default::default()
            },
            ..support::config_in(dir.path())
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vault = civic_vault::Vault::open(config, std::sync::Arc::new(civic_vault::clock::SystemClock))
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(civic_vault::serve(vault, listener, async {
            let _ = stopped.await;
        }));
        let admin = std::fs::read_to_string(dir.path().join("keys/admin.token")).unwrap().trim().to_owned();
        let http = reqwest::Client::new();
        let url = |p: &str| format!("http://{addr}{p}");
        let issue = |body: Value| {
            let (http, admin, u) = (http.clone(), admin.clone(), url("/v1/principals"));
            async move { call(&http, reqwest::Method::POST, u, &admin, Some(&body)).await["token"].as_str().unwrap().to_owned() }
        };
        let clerk = issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]})).await;
        let officer = issue(json!({"id": "officer", "kind": "staff", "roles": ["privacy_officer"]})).await;
        let mut systems = Vec::new();
        for i in 0..10 {
            systems.push(issue(json!({"id": format!("parks-{i}"), "kind": "system", "agency_kind": "city_agency", "purposes": ["parks_recreation"]})).await);
        }
        let photo = base64::engine::general_purpose::STANDARD.encode(PNG);
        let app = json!({
            "applicant": {"full_name": "Bench Holder", "date_of_birth": "1980-01-01", "address": {"kind": "none"}},
            "photo": {"content_type": "image/png", "data": photo},
            "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": "B-1"},
                       {"document_type": "lease", "issuer": "L", "number": "L-1"}]});
        let card = call(&http, reqwest::Method::POST, url("/v1/enrollments"), &clerk, Some(&app)).await["card_number"]
            .as_str()
            .unwrap()
            .to_owned();
        for chunk in 0..decisions.div_ceil(64) {
            let mut tasks = Vec::new();
            for i in chunk * 64..((chunk + 1) * 64).min(decisions) {
                let token = systems[i % systems.len()].clone();
                let (http, u) = (http.clone(), url("/v1/facts"));
                let body = json!({"card_number": card, "purpose": "parks_recreation", "facts": ["resident"]});
                tasks.push(tokio::spawn(async move { call(&http, reqwest::Method::POST, u, &token, Some(&body)).await }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
        // The candidate drops the parks permit: every recorded decision flips.
        let current = call(&http, reqwest::Method::GET, url("/v1/policies"), &officer, None).await;
        let text = current["policies"].as_str().unwrap();
        let start = text.find("@id(\"facts.parks_and_culture\")").unwrap();
        let end = start + text[start..].find("};").unwrap() + 2;
        let candidate = format!("{}{}", &text[..start], &text[end..]);
        let t = Instant::now();
        let r = call(&http, reqwest::Method::POST, url("/v1/policies/check"), &officer, Some(&json!({"policies": candidate}))).await;
        let total = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "policy check over {decisions} recorded decisions: {total:.0} ms in all\n  canaries: {} asked\n  policy tests: {} passed, {} failed (expected: the candidate drops a shipped permit)\n  impact replay: {} replayed, {} flipped, {} ms\n  proof: {} over {} request types, {} ms; lint: {}",
            r["canaries"],
            r["tests"]["passed"],
            r["tests"]["failed"].as_array().map_or(0, Vec::len),
            r["impact"]["replayed"],
            r["impact"]["changed"].as_array().map_or(0, Vec::len),
            r["impact"]["millis"],
            r["proof"]["status"],
            r["proof"]["request_types"],
            r["proof"]["elapsed_ms"],
            r["proof"]["lint"],
        );
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}
