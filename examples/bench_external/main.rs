//! The vault's hot paths measured from outside:
//! `cargo build --release && cargo run --release --example bench_external [MODE]`
//! (wrk is installed with apt-get when it is missing). `MODE` (or the
//! `BENCH_MODE` environment variable) is one of:
//!
//! - `facts` (the default): `POST /v1/facts`, then a bare axum handler the
//!   same way (`facts.rs`);
//! - `enroll`: `POST /v1/enrollments` at the shipped memory-hard commitment
//!   cost (`enroll.rs`);
//! - `legal`: `POST /v1/legal/requests` with `access_log`, answered from the
//!   audit index (`legal.rs`);
//! - `all`: the three in turn;
//! - `stores`: fact queries, enrollments and legal requests on sled, then
//!   the same on PostgreSQL (`stores.rs`), one table at the end (with
//!   `data/`'s growth per request on sled);
//! - `instructions`: the vault under `valgrind --tool=callgrind`, a fixed
//!   number of sequential fact queries, instructions per request — the
//!   figure that does not move with whatever else the machine runs
//!   (`instructions.rs`).
//!
//! Each load mode starts the release `civic-vault` binary as its own process
//! on a fresh temporary directory with its embedded defaults plus a
//! benchmark configuration (rate limits off), drives it with wrk over
//! `BENCH_CONNECTIONS` connections for `BENCH_SECONDS` (default 10), and
//! prints req/s, p50/p99/p99.9, the CPU per request of the server process
//! (user + system, from /proc), audit entries per request, the writer's
//! commits per flush and whether the chain verifies afterwards.
//! `BENCH_STORE=postgres` runs any mode's vault on PostgreSQL (a fresh
//! schema per vault in the server `BENCH_PG_URL` names, else one that
//! `.ci/postgres-setup` starts).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod enroll;
mod facts;
mod floor;
mod instructions;
mod legal;
mod stores;
#[path = "../support/mod.rs"]
mod support;

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

pub struct Measured {
    pub requests: f64,
    pub errors: f64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub cpu_us_per_request: f64,
    /// PostgreSQL's processes' CPU per request (0 on sled).
    pub db_cpu_us_per_request: f64,
    /// How much `data/` grew per request (set by [`Ledger::close`]; 0 on
    /// PostgreSQL, whose files are not the vault's).
    pub data_bytes_per_request: f64,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.requests / self.seconds
    }

    pub fn line(&self, name: &str) -> String {
        format!(
            "{name:38} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  CPU {:>8.1} µs/req{}  ({:.0} requests, {:.0} errors)",
            self.rate(),
            self.p50_us / 1000.0,
            self.p99_us / 1000.0,
            self.p999_us / 1000.0,
            self.cpu_us_per_request,
            if self.db_cpu_us_per_request > 0.0 {
                format!(" + PostgreSQL {:.1} µs/req", self.db_cpu_us_per_request)
            } else {
                String::new()
            },
            self.requests,
            self.errors
        )
    }
}

/// User plus system CPU time of a process so far (all its threads), in
/// microseconds.
pub fn cpu_us(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces) end at its ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 of the rest.
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks * 1_000_000.0 / clk_tck()
}

/// User plus system CPU time so far of every process named `postgres` (the
/// server and its backends; a backend that ended in between is not counted),
/// in microseconds.
pub fn postgres_cpu_us() -> f64 {
    let hz = clk_tck();
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != "postgres" {
            continue;
        }
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        total += (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) * 1_000_000.0 / hz;
    }
    total
}

/// The kernel's clock ticks per second (the unit of /proc's CPU times).
fn clk_tck() -> f64 {
    String::from_utf8(Command::new("getconf").arg("CLK_TCK").output().unwrap().stdout)
        .unwrap()
        .trim()
        .parse::<f64>()
        .unwrap_or(100.0)
}

/// CPU time (user, system, in µs) and context switches of a process's
/// threads so far, summed by thread name.
pub fn threads(pid: u32) -> std::collections::BTreeMap<String, [f64; 3]> {
    let hz = clk_tck();
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.filter_map(Result::ok) {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let user = f[11].parse::<f64>().unwrap_or(0.0) * 1_000_000.0 / hz;
        let system = f[12].parse::<f64>().unwrap_or(0.0) * 1_000_000.0 / hz;
        let switches: f64 = std::fs::read_to_string(task.path().join("status"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
            .sum();
        let e = out.entry(name).or_insert([0.0; 3]);
        e[0] += user;
        e[1] += system;
        e[2] += switches;
    }
    out
}

/// Prints the CPU per request of each kind of thread between two
/// [`threads`] readings (threads that ended in between are not counted).
pub fn print_threads(
    before: &std::collections::BTreeMap<String, [f64; 3]>,
    after: &std::collections::BTreeMap<String, [f64; 3]>,
    requests: f64,
) {
    let mut line = String::from("  by thread (µs/req user+system, context switches/req):");
    for (name, a) in after {
        let b = before.get(name).copied().unwrap_or([0.0; 3]);
        let (u, s, c) = (
            (a[0] - b[0]) / requests,
            (a[1] - b[1]) / requests,
            (a[2] - b[2]) / requests,
        );
        if u + s + c > 0.05 {
            write!(line, "  {name} {u:.0}+{s:.0} µs, {c:.2} cs;").unwrap();
        }
    }
    println!("{line}");
}

/// Runs wrk against `url` with the request script `lua`, measuring the CPU
/// of `pid` over the run.
pub fn wrk(url: &str, lua: &Path, pid: u32, connections: usize, seconds: u64) -> Measured {
    let threads_before = threads(pid);
    let db = postgres_store().is_some();
    let db_before = if db { postgres_cpu_us() } else { 0.0 };
    let before = cpu_us(pid);
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s")])
        .args(["--timeout", "30s", "-s"])
        .arg(lua)
        .arg(url)
        .output()
        .expect("wrk did not run");
    let after = cpu_us(pid);
    let db_after = if db { postgres_cpu_us() } else { 0.0 };
    let threads_after = threads(pid);
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
    print_threads(&threads_before, &threads_after, requests.max(1.0));
    Measured {
        requests,
        errors: get("errors"),
        seconds: get("seconds"),
        p50_us: get("p50"),
        p99_us: get("p99"),
        p999_us: get("p99.9"),
        cpu_us_per_request: (after - before) / requests.max(1.0),
        db_cpu_us_per_request: (db_after - db_before) / requests.max(1.0),
        data_bytes_per_request: 0.0,
    }
}

/// Writes a wrk script: `body` is Lua defining `request`; the `done` hook
/// that prints the figures is appended.
pub fn lua_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let mut lua = String::from(body);
    lua.push_str(LUA_DONE);
    let path = dir.join(name);
    std::fs::write(&path, lua).unwrap();
    path
}

/// A Lua table literal of strings.
pub fn lua_strings(name: &str, items: impl IntoIterator<Item = String>) -> String {
    let mut lua = format!("local {name} = {{\n");
    for s in items {
        writeln!(lua, "  {s:?},").unwrap();
    }
    lua.push_str("}\n");
    lua
}

/// Waits until the server on `port` answers HTTP (the vault binds its port
/// before it has opened its store and keys).
pub fn wait_healthy(port: u16) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            // Any answer but 503: a PostgreSQL node answers 503 ("standby")
            // until it holds the database's lock.
            let mut head = [0u8; 12];
            if c.write_all(b"GET /v1/attestation-keys HTTP/1.0\r\n\r\n").is_ok()
                && c.read_exact(&mut head).is_ok()
                && head.starts_with(b"HTTP/")
                && &head[9..12] != b"503"
            {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server on port {port} did not start");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the benchmark's vault differs from the embedded defaults.
#[derive(Clone, Copy)]
pub struct VaultSettings {
    /// Document commitments at their least cost (setting up thousands of
    /// cardholders takes seconds) instead of the shipped cost.
    pub cheap_commitments: bool,
    /// Privileged principals (the legal officer) without a second admin.
    pub one_admin: bool,
}

/// The PostgreSQL server the next vaults store in (`None`: sled, the
/// embedded default). `BENCH_STORE=postgres` with `BENCH_PG_URL` sets it for
/// every mode; the `stores` mode sets it itself.
static POSTGRES: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn postgres_store() -> Option<String> {
    POSTGRES.lock().unwrap().clone()
}

pub fn set_postgres_store(url: Option<String>) {
    *POSTGRES.lock().unwrap() = url;
}

/// The PostgreSQL server to benchmark on: `BENCH_PG_URL`, else
/// `CIVIC_VAULT_TEST_PG`, else one started by `.ci/postgres-setup` (Debian's
/// postgresql in a scratch directory, loopback only).
pub fn postgres_url() -> String {
    for var in ["BENCH_PG_URL", "CIVIC_VAULT_TEST_PG"] {
        if let Ok(url) = std::env::var(var) {
            if !url.is_empty() {
                return url;
            }
        }
    }
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/postgres-setup");
    let out = Command::new(setup)
        .stderr(Stdio::inherit())
        .output()
        .expect(".ci/postgres-setup did not run");
    assert!(out.status.success(), ".ci/postgres-setup failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// A fresh schema in the database at `url`, as the tests make one: the URL
/// whose sessions work in it.
fn fresh_schema(url: &str) -> String {
    let name = format!("bench{}", uuid::Uuid::new_v4().simple());
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("cannot connect to PostgreSQL");
    c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{name}")
}

/// A running vault process on a fresh directory.
pub struct Vault {
    pub child: Child,
    pub base: String,
    pub admin: String,
    pub dir: tempfile::TempDir,
}

impl Vault {
    /// Starts `program args… serve --config …` (the binary itself, or the
    /// binary under valgrind).
    pub fn start(settings: VaultSettings, wrapper: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let mut toml = format!(
            r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
keys_dir = "{keys}"
policies_dir = "{policies}"
[limits]
requests_per_second_per_principal = 0
requests_per_second_per_address = 0
max_concurrent_requests = 100000
"#,
            data = dir.path().join("data").display(),
            keys = dir.path().join("keys").display(),
            policies = policies.display(),
        );
        if settings.cheap_commitments {
            toml.push_str("[commitments]\nmemory_kib = 8\niterations = 1\n");
        }
        if settings.one_admin {
            toml.push_str("[governance]\nsecond_approval = false\n");
        }
        if let Some(url) = postgres_store() {
            writeln!(toml, "[store]\nkind = \"postgres\"\nurl = {:?}", fresh_schema(&url)).unwrap();
        }
        let config = dir.path().join("bench.toml");
        std::fs::write(&config, toml).unwrap();
        let binary = binary();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&binary);
                c
            }
            None => Command::new(&binary),
        };
        let log = dir.path().join("vault.log");
        let mut child = command
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        wait_healthy(port);
        // The admin token is written before the listener opens.
        let admin = std::fs::read_to_string(dir.path().join("keys/admin.token"))
            .unwrap_or_else(|e| {
                panic!(
                    "no admin token ({e}); the vault {:?} said: {}",
                    child.try_wait(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .trim()
            .to_owned();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            admin,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Issues a principal; its token.
    pub async fn issue(&self, body: Value) -> String {
        let http = reqwest::Client::new();
        support::call(
            &http,
            reqwest::Method::POST,
            format!("{}/v1/principals", self.base),
            &self.admin,
            Some(&body),
        )
        .await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Whether the chain verifies, and its length.
    pub async fn chain(&self, auditor: &str) -> (bool, u64) {
        let v = support::call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            format!("{}/v1/audit/verify", self.base),
            auditor,
            None,
        )
        .await;
        (v["ok"].as_bool().unwrap_or(false), v["entries"].as_u64().unwrap_or(0))
    }

    /// The length of the newest fact query's audit entry's canonical JSON
    /// (as served, without its `hash`).
    pub async fn last_entry_bytes(&self, auditor: &str) -> usize {
        let (_, entries) = self.chain(auditor).await;
        let v = support::call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            format!("{}/v1/audit?after={}&limit=20", self.base, entries.saturating_sub(20)),
            auditor,
            None,
        )
        .await;
        let list = v["entries"].as_array().cloned().unwrap_or_default();
        let Some(mut entry) = list.into_iter().rev().find(|e| e["action"] == "query_fact") else {
            return 0;
        };
        if let Some(map) = entry.as_object_mut() {
            map.remove("hash");
        }
        serde_json::to_vec(&entry).map_or(0, |b| b.len())
    }

    /// The writer's commit groups (flushes) and commits so far.
    pub async fn writer(&self, auditor: &str) -> (f64, f64) {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.base))
            .bearer_auth(auditor)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let get = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok()))
                .unwrap_or(f64::NAN)
        };
        (
            get("civic_vault_commit_groups_total "),
            get("civic_vault_commits_total "),
        )
    }

    /// SIGTERM: the vault finishes in-flight requests and flushes.
    pub fn stop(self) {}
}

impl Drop for Vault {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// A child process that is killed when this goes out of scope (a panic
/// included), so no benchmark server outlives the run.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the chain and the writer did over one measured run.
pub struct Ledger {
    entries: u64,
    groups: f64,
    commits: f64,
    /// The data directory's size (bytes of its files) when the run began.
    data_bytes: u64,
}

/// The bytes of every file under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

impl Ledger {
    pub async fn open(vault: &Vault, auditor: &str) -> Self {
        let (_, entries) = vault.chain(auditor).await;
        let (groups, commits) = vault.writer(auditor).await;
        Self {
            entries,
            groups,
            commits,
            data_bytes: dir_bytes(&vault.dir.path().join("data")),
        }
    }

    /// Prints entries per request, commits per flush and the verification;
    /// records `data/`'s growth per request in `run`.
    pub async fn close(self, vault: &Vault, auditor: &str, run: &mut Measured) {
        let (groups, commits) = vault.writer(auditor).await;
        let (verifies, entries) = vault.chain(auditor).await;
        let written = entries - self.entries;
        println!(
            "  audit entries written: {written} ({:.2} per request; the verify request's own entry included); \
             writer: {:.0} flushes, {:.1} commits per flush; chain verifies: {verifies}",
            written as f64 / run.requests.max(1.0),
            groups - self.groups,
            (commits - self.commits) / (groups - self.groups).max(1.0),
        );
        let data = vault.dir.path().join("data");
        let grown = dir_bytes(&data).saturating_sub(self.data_bytes);
        let index = dir_bytes(&data.join("audit-index"));
        let entry = match vault.last_entry_bytes(auditor).await {
            0 => String::new(),
            n => format!("; the last fact query's entry: {n} bytes of canonical JSON"),
        };
        println!(
            "  data/ grew by {:.1} MB over the run: {:.0} bytes per request (the audit index's runs: {:.1} MB in all){entry}",
            grown as f64 / 1e6,
            grown as f64 / run.requests.max(1.0),
            index as f64 / 1e6,
        );
        run.data_bytes_per_request = grown as f64 / run.requests.max(1.0);
    }
}

/// The release `civic-vault` binary beside this example, or the one
/// `BENCH_BINARY` names (to compare builds).
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("BENCH_BINARY") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/bench_external → target/<profile>/civic-vault
    let binary = exe.parent().unwrap().parent().unwrap().join("civic-vault");
    assert!(
        binary.exists(),
        "build the binary first: cargo build --release ({})",
        binary.display()
    );
    binary
}

/// Enrolls `cards` applicants through the API, 16 at a time, with
/// passports `B-0`, `B-1`, …; their card numbers, in order.
pub async fn enroll_cards(base: &str, clerk: &str, cards: usize) -> Vec<String> {
    let http = reqwest::Client::new();
    let photo = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, support::PNG);
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
            let (http, clerk, u) = (http.clone(), clerk.to_owned(), format!("{base}/v1/enrollments"));
            tasks.push(tokio::spawn(async move {
                support::call(&http, reqwest::Method::POST, u, &clerk, Some(&app)).await["card_number"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }));
        }
        for task in tasks {
            numbers.push(task.await.unwrap());
        }
    }
    numbers
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

pub fn header(what: &str, connections: usize, seconds: u64) {
    println!(
        "\n{what}: wrk, {} cores, {connections} connections, {seconds} s per run, release binary in its own process",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("bare") {
        facts::bare(args[2].parse().unwrap());
        return;
    }
    let mode = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("BENCH_MODE").ok())
        .unwrap_or_else(|| "facts".to_owned());
    if mode == "instructions" {
        instructions::run();
        return;
    }
    ensure_wrk();
    if std::env::var("BENCH_STORE").is_ok_and(|s| s == "postgres") {
        set_postgres_store(Some(postgres_url()));
    }
    match mode.as_str() {
        "stores" => stores::run(),
        "facts" => {
            facts::run(true);
        }
        "enroll" => {
            enroll::run();
        }
        "legal" => {
            legal::run();
        }
        "all" => {
            facts::run(true);
            legal::run();
            enroll::run();
        }
        other => panic!("unknown mode {other}: facts, enroll, legal, all, stores or instructions"),
    }
}
