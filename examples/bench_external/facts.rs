//! `POST /v1/facts`: enrolls `BENCH_CARDS` cardholders (default 10,000;
//! document commitments at their least cost, so that setting them up takes
//! seconds — the `enroll` mode measures the shipped cost) and registers one
//! city system per 1,000 of them (the shipped bulk guards refuse a system
//! past 5,000 distinct cards an hour). Every card is asked about once before
//! the measured run, as a vault that has served its cardholders for a while
//! holds them in its card cache (that first pass is printed too). Then wrk
//! drives `POST /v1/facts` (three facts per request: three Cedar decisions,
//! three audit entries durable before the answer, one signature) over
//! `BENCH_CONNECTIONS` connections (default 32), each request about a random
//! card with its own system's token. Then the same against a bare axum
//! handler in its own process (this example, run as `bench_external bare
//! <port>`) that parses the same JSON and answers a fixed one.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{header, lua_script, lua_strings, support, wait_healthy, wrk, Ledger, Vault, VaultSettings};

/// The bare handler: parse the same JSON, answer a fixed one.
pub fn bare(port: u16) {
    support::runtime().block_on(async move {
        let app = axum::Router::new().route(
            "/v1/facts",
            axum::routing::post(|body: axum::body::Bytes| async move {
                let req: civic_vault::domain::facts::FactRequest = serde_json::from_slice(&body).unwrap();
                std::hint::black_box(&req);
                axum::Json(
                    json!({"decision_id": "x", "facts": {"card_valid": true}, "withheld": {}, "attestation": ""}),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// A fact vault with `cards` cardholders: (auditor token, (body, token) per card).
pub struct FactSetup {
    pub auditor: String,
    pub pairs: Vec<(String, String)>,
    pub numbers: Vec<String>,
}

pub async fn setup(vault: &Vault, cards: usize) -> FactSetup {
    let clerk = vault
        .issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]}))
        .await;
    let auditor = vault
        .issue(json!({"id": "auditor", "kind": "staff", "roles": ["auditor"]}))
        .await;
    let mut systems = Vec::new();
    for s in 0..cards.div_ceil(1000) {
        systems.push(
            vault
                .issue(
                    json!({"id": format!("library-{s}"), "kind": "system", "agency_kind": "city_agency",
                "purposes": ["library_services"]}),
                )
                .await,
        );
    }
    let t = Instant::now();
    let numbers = super::enroll_cards(&vault.base, &clerk, cards).await;
    println!(
        "  enrolled {cards} cardholders in {:.1} s (least commitment cost)",
        t.elapsed().as_secs_f64()
    );
    let pairs: Vec<(String, String)> = numbers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let body = json!({"card_number": c, "purpose": "library_services", "facts": ["card_valid", "resident", "age_over_18"]});
            (body.to_string(), systems[i / 1000].clone())
        })
        .collect();
    // Every card asked about once, 32 at a time: the card cache is warm.
    let t = Instant::now();
    let pairs = Arc::new(pairs);
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (pairs, http, url) = (Arc::clone(&pairs), http.clone(), format!("{}/v1/facts", vault.base));
        tasks.push(tokio::spawn(async move {
            for (body, token) in pairs.iter().skip(w).step_by(32) {
                let r = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  first ask of every card (card cache cold; reqwest client, 32 at a time): {:.0} req/s",
        pairs.len() as f64 / secs
    );
    FactSetup {
        auditor,
        pairs: Arc::try_unwrap(pairs).unwrap_or_else(|p| (*p).clone()),
        numbers,
    }
}

/// A wrk script that posts `bodies[i]` with `tokens[i]`, i at random.
pub fn script(dir: &std::path::Path, pairs: &[(String, String)]) -> std::path::PathBuf {
    let mut lua = lua_strings("bodies", pairs.iter().map(|p| p.0.clone()));
    lua.push_str(&lua_strings("tokens", pairs.iter().map(|p| p.1.clone())));
    lua.push_str(
        r#"math.randomseed(os.time())
request = function()
  local i = math.random(#bodies)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[i]}, bodies[i])
end
"#,
    );
    lua_script(dir, "facts.lua", &lua)
}

/// The fact mode; with `bare`, the bare handler after the vault. The
/// vault's figures.
pub fn run(bare: bool) -> super::Measured {
    let cards: usize = support::env_or("BENCH_CARDS", 10_000);
    let seconds: u64 = support::env_or("BENCH_SECONDS", 10);
    let connections: usize = support::env_or("BENCH_CONNECTIONS", 32);
    header("civic-vault fact queries", connections, seconds);
    let vault = Vault::start(
        VaultSettings {
            cheap_commitments: true,
            one_admin: false,
        },
        &[],
    );
    let rt = support::runtime();
    let s = rt.block_on(setup(&vault, cards));
    // Outlives the vault's directory: the bare run uses it too.
    let scripts = tempfile::tempdir().unwrap();
    let lua = script(scripts.path(), &s.pairs);
    let ledger = rt.block_on(Ledger::open(&vault, &s.auditor));
    let mut run = wrk(
        &format!("{}/v1/facts", vault.base),
        &lua,
        vault.pid(),
        connections,
        seconds,
    );
    println!("{}", run.line("vault POST /v1/facts (3 facts)"));
    rt.block_on(ledger.close(&vault, &s.auditor, &mut run));
    vault.stop();
    if !bare {
        return run;
    }

    let bare_port = super::free_port();
    let bare = super::Reaped(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["bare", &bare_port.to_string()])
            .spawn()
            .unwrap(),
    );
    wait_healthy(bare_port);
    let bare_run = wrk(
        &format!("http://127.0.0.1:{bare_port}/v1/facts"),
        &lua,
        bare.0.id(),
        connections,
        seconds,
    );
    drop(bare);
    println!("{}", bare_run.line("bare axum JSON handler"));
    println!("  ratio vault/bare: {:.3}", run.rate() / bare_run.rate());
    // The necessary work alone, beside the vault's CPU per query.
    let f = super::floor::measure();
    let http = bare_run.cpu_us_per_request;
    let floor = f.sign_us + f.cedar_us + f.hash_us + http;
    println!(
        "  necessary work alone, µs: Ed25519 signature {:.1} + Cedar, 3 facts fresh {:.1} + hashing one entry {:.1} + \
         HTTP round trip (the bare handler's CPU) {:.1} = {:.1}; the vault's CPU per query {:.1}: {:.1} µs above the floor \
         ({:.2}×)",
        f.sign_us,
        f.cedar_us,
        f.hash_us,
        http,
        floor,
        run.cpu_us_per_request,
        run.cpu_us_per_request - floor,
        run.cpu_us_per_request / floor,
    );
    // In the steady state the three decisions come from the engine's memo
    // (the same system, facts and context as a query before): the floor
    // is then the signature, the hashing and the round trip.
    let remembered = f.sign_us + f.hash_us + http;
    println!(
        "  with the decisions remembered (the steady state here): floor {remembered:.1} µs; the vault {:.1} µs above it ({:.2}×)",
        run.cpu_us_per_request - remembered,
        run.cpu_us_per_request / remembered,
    );
    run
}
