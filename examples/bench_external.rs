//! Fact queries measured from outside:
//! `cargo build --release && cargo run --release --example bench_external`
//! (wrk is installed with apt-get when it is missing).
//!
//! Starts the release `civic-vault` binary as its own process on a fresh
//! temporary directory with its embedded defaults plus a benchmark
//! configuration (rate limits off; document commitments at their least cost,
//! so that setting up cardholders takes seconds — `bench_commitments`
//! measures the shipped cost), enrolls `BENCH_CARDS` cardholders (default
//! 10,000) and registers one city system per 1,000 of them (the shipped bulk
//! guards refuse a system past 5,000 distinct cards an hour). Then wrk drives
//! `POST /v1/facts` (three facts per request: three Cedar decisions, three
//! audit entries durable before the answer, one signature) over
//! `BENCH_CONNECTIONS` connections (default 32) for `BENCH_SECONDS` (default
//! 10), each request about a random card with its own system's token. Then
//! the same against a bare axum handler in its own process (this example,
//! run as `bench_external bare <port>`) that parses the same JSON and answers
//! a fixed one. Prints req/s, p50/p99/p99.9, CPU µs per request of the server
//! process (from /proc), audit entries per request and whether the chain
//! verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

mod support;
use support::{call, PNG};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What wrk's `done` hook prints, one `key value` per line.
const LUA_DONE: &str = r#"
done = function(summary, latency, requests)
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH errors %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("BENCH seconds %f\n", summary.duration / 1000000))
  for _, p in pairs({50, 99, 99.9}) do
    io.write(string.format("BENCH p%s %d\n", tostring(p), latency:percentile(p)))
  end
end
"#;

struct Measured {
    requests: f64,
    errors: f64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    cpu_us_per_request: f64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.requests / self.seconds
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:34} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms  CPU {:>6.1} µs/req  ({:.0} requests, {:.0} errors)",
            self.rate(),
            self.p50_us / 1000.0,
            self.p99_us / 1000.0,
            self.p999_us / 1000.0,
            self.cpu_us_per_request,
            self.requests,
            self.errors
        )
    }
}

/// User plus system CPU time of a process so far, in microseconds.
fn cpu_us(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces) end at its ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 of the rest.
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let hz = String::from_utf8(Command::new("getconf").arg("CLK_TCK").output().unwrap().stdout)
        .unwrap()
        .trim()
        .parse::<f64>()
        .unwrap_or(100.0);
    ticks * 1_000_000.0 / hz
}

/// Runs wrk against `url` with the request script `lua`, measuring the CPU
/// of `pid` over the run.
fn wrk(url: &str, lua: &Path, pid: u32, connections: usize, seconds: u64) -> Measured {
    let before = cpu_us(pid);
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s")])
        .args(["--timeout", "10s", "-s"])
        .arg(lua)
        .arg(url)
        .output()
        .expect("wrk did not run");
    let after = cpu_us(pid);
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |key: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("BENCH {key} "))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("wrk printed no {key}: {text}"))
    };
    let requests = get("requests");
    Measured {
        requests,
        errors: get("errors"),
        seconds: get("seconds"),
        p50_us: get("p50"),
        p99_us: get("p99"),
        p999_us: get("p99.9"),
        cpu_us_per_request: (after - before) / requests.max(1.0),
    }
}

/// A wrk script that posts `bodies[i]` with `tokens[i]`, i at random.
fn request_script(dir: &Path, pairs: &[(String, String)]) -> PathBuf {
    let mut lua = String::from("local bodies = {\n");
    for (body, _) in pairs {
        writeln!(lua, "  {body:?},").unwrap();
    }
    lua.push_str("}\nlocal tokens = {\n");
    for (_, token) in pairs {
        writeln!(lua, "  {token:?},").unwrap();
    }
    lua.push_str(
        r#"}
math.randomseed(os.time())
request = function()
  local i = math.random(#bodies)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[i]}, bodies[i])
end
"#,
    );
    lua.push_str(LUA_DONE);
    let path = dir.join("facts.lua");
    std::fs::write(&path, lua).unwrap();
    path
}

fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server on port {port} did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The bare handler: parse the same JSON, answer a fixed one.
fn bare(port: u16) {
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

fn vault_config(dir: &Path, port: u16) -> PathBuf {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let toml = format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
keys_dir = "{keys}"
policies_dir = "{policies}"
[limits]
requests_per_second_per_principal = 0
requests_per_second_per_address = 0
max_concurrent_requests = 100000
[commitments]
memory_kib = 8
iterations = 1
"#,
        data = dir.join("data").display(),
        keys = dir.join("keys").display(),
        policies = policies.display(),
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

struct Setup {
    pairs: Vec<(String, String)>,
    auditor: String,
    enroll_secs: f64,
}

async fn setup(base: &str, admin: &str, cards: usize) -> Setup {
    let http = reqwest::Client::new();
    let issue = |body: Value| {
        let (http, admin, u) = (http.clone(), admin.to_owned(), format!("{base}/v1/principals"));
        async move {
            call(&http, reqwest::Method::POST, u, &admin, Some(&body)).await["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let clerk = issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]})).await;
    let auditor = issue(json!({"id": "auditor", "kind": "staff", "roles": ["auditor"]})).await;
    let mut systems = Vec::new();
    for s in 0..cards.div_ceil(1000) {
        systems.push(
            issue(
                json!({"id": format!("library-{s}"), "kind": "system", "agency_kind": "city_agency",
                "purposes": ["library_services"]}),
            )
            .await,
        );
    }
    let photo = base64::engine::general_purpose::STANDARD.encode(PNG);
    let t = Instant::now();
    let mut numbers = Vec::with_capacity(cards);
    for chunk in (0..cards).collect::<Vec<_>>().chunks(16) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let app = json!({
                "applicant": {"full_name": format!("Holder {i}"), "date_of_birth": format!("19{:02}-0{}-1{}", 40 + i % 60, 1 + i % 9, i % 10),
                              "address": {"kind": "none"}},
                "photo": {"content_type": "image/png", "data": photo},
                "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("B-{i}")},
                           {"document_type": "lease", "issuer": "L", "number": "L-1"}]});
            let (http, clerk, u) = (http.clone(), clerk.clone(), format!("{base}/v1/enrollments"));
            tasks.push(tokio::spawn(async move {
                call(&http, reqwest::Method::POST, u, &clerk, Some(&app)).await["card_number"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }));
        }
        for task in tasks {
            numbers.push(task.await.unwrap());
        }
    }
    let enroll_secs = t.elapsed().as_secs_f64();
    let pairs = numbers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let body = json!({"card_number": c, "purpose": "library_services", "facts": ["card_valid", "resident", "age_over_18"]});
            (body.to_string(), systems[i / 1000].clone())
        })
        .collect();
    Setup {
        pairs,
        auditor,
        enroll_secs,
    }
}

async fn chain(base: &str, auditor: &str) -> (bool, u64) {
    let v = call(
        &reqwest::Client::new(),
        reqwest::Method::GET,
        format!("{base}/v1/audit/verify"),
        auditor,
        None,
    )
    .await;
    (v["ok"].as_bool().unwrap_or(false), v["entries"].as_u64().unwrap_or(0))
}

fn stop(mut child: Child) {
    // SIGTERM: the vault finishes in-flight requests and flushes.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// Installs wrk (Debian's package) when it is not on the PATH.
fn ensure_wrk() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    let root = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
        .unwrap()
        .trim()
        == "0";
    let apt = |args: &[&str]| {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            Command::new("sudo")
        };
        if !root {
            c.arg("apt-get");
        }
        c.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .unwrap()
            .success()
    };
    if !apt(&["install", "-y", "-q", "wrk"]) {
        assert!(
            apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "wrk"]),
            "wrk could not be installed"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("bare") {
        bare(args[2].parse().unwrap());
        return;
    }
    ensure_wrk();
    let cards: usize = support::env_or("BENCH_CARDS", 10_000);
    let seconds: u64 = support::env_or("BENCH_SECONDS", 10);
    let connections: usize = support::env_or("BENCH_CONNECTIONS", 32);
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/bench_external → target/<profile>/civic-vault
    let binary = exe.parent().unwrap().parent().unwrap().join("civic-vault");
    assert!(
        binary.exists(),
        "build the binary first: cargo build --release ({})",
        binary.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = vault_config(dir.path(), port);
    let vault = Command::new(&binary)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(port);
    let base = format!("http://127.0.0.1:{port}");
    let admin = std::fs::read_to_string(dir.path().join("keys/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let rt = support::runtime();
    let s = rt.block_on(setup(&base, &admin, cards));
    let lua = request_script(dir.path(), &s.pairs);
    let (_, before) = rt.block_on(chain(&base, &s.auditor));
    let run = wrk(&format!("{base}/v1/facts"), &lua, vault.id(), connections, seconds);
    let (verifies, after) = rt.block_on(chain(&base, &s.auditor));
    stop(vault);

    let bare_port = free_port();
    let bare = Command::new(&exe)
        .args(["bare", &bare_port.to_string()])
        .spawn()
        .unwrap();
    wait_healthy(bare_port);
    let bare_run = wrk(
        &format!("http://127.0.0.1:{bare_port}/v1/facts"),
        &lua,
        bare.id(),
        connections,
        seconds,
    );
    stop(bare);

    println!(
        "civic-vault fact queries from wrk: {} cores, {connections} connections, {seconds} s per run, release binary in its own process",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!("enrolled {cards} cardholders in {:.1} s", s.enroll_secs);
    println!("{}", run.line("vault POST /v1/facts (3 facts)"));
    println!("{}", bare_run.line("bare axum JSON handler"));
    println!("ratio vault/bare: {:.3}", run.rate() / bare_run.rate());
    println!(
        "audit entries written during the vault run: {} ({:.2} per request); chain verifies: {verifies}",
        after - before,
        (after - before) as f64 / run.requests.max(1.0)
    );
}
