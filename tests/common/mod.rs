//! Shared by the integration tests: start a real vault in-process on
//! 127.0.0.1:0 over a fresh temporary directory, issue principals, and speak
//! HTTP to it the way a city system or staff tool would.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by test files that each use part of it; tests fail loudly"
)]

pub mod cluster;
pub mod wallet;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use civic_vault::clock::{Clock, SystemClock};
use civic_vault::{Config, Vault};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A 4 × 4 PNG (a photo as small as a valid one gets).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09, 0x29, 0x00, 0x00, 0x00, 0x11, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0x38, 0xB1, 0x65, 0x01, 0x1C, 0x31, 0x10, 0xC7, 0x01, 0x00, 0x70, 0x61, 0x21,
    0xC1, 0xAB, 0x62, 0x70, 0xCD, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

pub struct TestVault {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub admin: String,
    pub http: reqwest::Client,
    /// The running vault, for fault injection.
    pub vault: Option<Arc<Vault>>,
    /// Whether shutdown must report a clean flush (not after a simulated disk failure).
    pub clean_stop: bool,
    /// The database URL (with its schema) when the vault runs on PostgreSQL.
    pub pg_url: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), civic_vault::StartError>>>,
}

pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The configuration a test vault runs on, rooted in `dir`.
/// The cvc5 solver for the floor proof: `$CVC5`, else the repository's
/// `.ci/cvc5` (cvc5's PyPI package behind a command line; the README's test
/// command installs it).
pub fn solver() -> PathBuf {
    std::env::var_os("CVC5").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci").join("cvc5"),
        PathBuf::from,
    )
}

/// Whether a test may use `part` (`browser`, `postgres`, `sdjwt`,
/// `promtool`, `walkthrough`): `have` says whether it is there. A test that
/// cannot run fails, saying how to provide what it needs (`how`) — unless
/// the person chose to skip that part with `CIVIC_VAULT_SKIP=part,…`; then
/// it says it skipped and returns `false`. `.ci/test` sets up every part and
/// prints what was skipped in its summary.
pub fn needs(part: &str, have: bool, how: &str) -> bool {
    if have {
        return true;
    }
    let skipped = std::env::var("CIVIC_VAULT_SKIP")
        .unwrap_or_default()
        .split(',')
        .any(|p| p.trim() == part);
    assert!(
        skipped,
        "this test needs {how}. `.ci/test` sets it up; or skip this part by choice with CIVIC_VAULT_SKIP={part}"
    );
    println!("SKIPPED by CIVIC_VAULT_SKIP={part}: this test needs {how}");
    false
}

/// A PostgreSQL server for the tests that need one whatever store the
/// suite runs on (failover, the cluster's takeover): `CIVIC_VAULT_TEST_PG`
/// (the whole suite on PostgreSQL), else `CIVIC_VAULT_PG` (a server is
/// there; `.ci/test` sets it from `.ci/postgres-setup`).
pub fn postgres_server() -> Option<String> {
    ["CIVIC_VAULT_TEST_PG", "CIVIC_VAULT_PG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|u| !u.is_empty()))
}

/// The PostgreSQL server for a test that cannot run without one, or `None`
/// when the person skipped `postgres` (see [`needs`]).
pub fn require_postgres() -> Option<String> {
    let url = postgres_server();
    needs(
        "postgres",
        url.is_some(),
        "a PostgreSQL server: run .ci/postgres-setup and set CIVIC_VAULT_PG to the URL it prints",
    )
    .then_some(url)
    .flatten()
}

pub fn test_config(dir: &Path, program: &str) -> Config {
    config_on(dir, program, test_store(dir))
}

/// A test vault's configuration on sled whatever `CIVIC_VAULT_TEST_PG`
/// says: for the tests about sled's own data directory (its raw bytes, its
/// backups, its offline verification, its migrations), which PostgreSQL
/// stores do not have.
pub fn sled_config(dir: &Path, program: &str) -> Config {
    config_on(dir, program, civic_vault::config::Store::default())
}

fn config_on(dir: &Path, program: &str, store: civic_vault::config::Store) -> Config {
    Config {
        data_dir: dir.join("data"),
        keys_dir: dir.join("keys"),
        policies_dir: policies_dir(),
        policies_dir_explicit: true,
        program: program.to_owned(),
        proof: civic_vault::config::Proof {
            solver: Some(solver()),
            ..Default::default()
        },
        // Tests drive hundreds of requests from one address and principal;
        // tests/limits.rs sets limits of its own.
        limits: civic_vault::config::Limits {
            requests_per_second_per_principal: 0,
            requests_per_second_per_address: 0,
            ..Default::default()
        },
        // Tests not about governance issue privileged staff with the
        // bootstrap admin alone; tests/governance.rs turns approval on.
        governance: civic_vault::config::Governance { second_approval: false },
        // Memory-hard commitments at their least cost: tests enroll
        // thousands of documents; the shipped cost is measured by
        // `cargo run --release --example bench_commitments`.
        commitments: civic_vault::config::Commitments {
            memory_kib: 8,
            iterations: 1,
        },
        store,
        ..Config::default()
    }
}

/// The store a test vault in `dir` runs on: sled under it, or, when
/// `CIVIC_VAULT_TEST_PG` names a PostgreSQL server (`.ci/postgres-setup`
/// prints one), a fresh schema of its own in that server's database — the
/// same one for every vault started on `dir` (a restart "on the same data").
pub fn test_store(dir: &Path) -> civic_vault::config::Store {
    match std::env::var("CIVIC_VAULT_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            let remembered = dir.join("postgres-url");
            let url = std::fs::read_to_string(&remembered).unwrap_or_else(|_| {
                let fresh = fresh_schema(&url);
                std::fs::write(&remembered, &fresh).unwrap();
                fresh
            });
            civic_vault::config::Store {
                kind: civic_vault::config::StoreKind::Postgres,
                url,
            }
        }
        _ => civic_vault::config::Store::default(),
    }
}

fn pg_url_of(config: &Config) -> Option<String> {
    (config.store.kind == civic_vault::config::StoreKind::Postgres).then(|| config.store.url.clone())
}

/// Writes every byte the vault's schema holds (each tree's keys and values,
/// every audit row) to `data/postgres-dump.bin`, so the tests that search
/// the raw data directory for what must not be there search the database
/// too.
pub fn dump_database(url: &str, data: &Path) {
    let url = url.to_owned();
    let bytes = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut out = Vec::new();
        for row in c
            .query("SELECT tree, key, value FROM kv ORDER BY tree, key", &[])
            .unwrap()
        {
            out.extend_from_slice(row.get::<_, &str>(0).as_bytes());
            out.extend_from_slice(row.get::<_, &[u8]>(1));
            out.extend_from_slice(row.get::<_, &[u8]>(2));
        }
        for row in c.query("SELECT subject, stored FROM audit ORDER BY seq", &[]).unwrap() {
            out.extend_from_slice(row.get::<_, Option<&str>>(0).unwrap_or("").as_bytes());
            out.extend_from_slice(row.get::<_, &[u8]>(1));
        }
        out
    })
    .join()
    .unwrap();
    std::fs::create_dir_all(data).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(data.join("postgres-dump.bin"))
        .unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
}

/// Whether the tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("CIVIC_VAULT_TEST_PG").is_ok_and(|u| !u.is_empty())
}

/// Creates an empty schema in the database at `url` and returns a URL whose
/// sessions work in it (search_path). On a thread of its own: the
/// synchronous client cannot run on an async worker.
pub fn fresh_schema(url: &str) -> String {
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    let base = url.to_owned();
    let schema = name.clone();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("CIVIC_VAULT_TEST_PG: cannot connect");
        c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    })
    .join()
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{name}")
}

impl TestVault {
    pub async fn start(program: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path(), program);
        Self::start_in(dir, config).await
    }

    /// A vault on sled whatever `CIVIC_VAULT_TEST_PG` says ([`sled_config`]).
    pub async fn start_sled(program: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = sled_config(dir.path(), program);
        Self::start_in(dir, config).await
    }

    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> Self {
        Self::start_with_clock(dir, config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(dir: tempfile::TempDir, config: Config, clock: Arc<dyn Clock>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, dir, config, clock).await
    }

    /// A vault whose public origin (the console's, the credential
    /// issuer's) is the address it listens on, for a client that follows
    /// the URLs the vault publishes (a wallet library).
    pub async fn start_reachable(program: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path(), program);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        config.console.origin = Some(format!("http://localhost:{port}"));
        Self::start_on(listener, dir, config, Arc::new(SystemClock)).await
    }

    async fn start_on(
        listener: tokio::net::TcpListener,
        dir: tempfile::TempDir,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let keys = config.keys_dir.clone();
        let pg_url = pg_url_of(&config);
        let vault = Vault::open(config, clock).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = Arc::clone(&vault);
        let task = tokio::spawn(civic_vault::serve(vault, listener, async {
            let _ = stopped.await;
        }));
        let admin = std::fs::read_to_string(keys.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        Self {
            addr,
            dir,
            admin,
            http: reqwest::Client::new(),
            vault: Some(handle),
            clean_stop: true,
            pg_url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts the vault the way `civic-vault serve` does (`server::run`),
    /// which serves a sealed vault too; `admin` is the bootstrap token the
    /// caller knows (a sealed keyring's admin.token is not readable).
    pub async fn start_run(dir: tempfile::TempDir, config: Config, admin: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let pg_url = pg_url_of(&config);
        let task = tokio::spawn(civic_vault::server::run(listener, config, async {
            let _ = stopped.await;
        }));
        let me = Self {
            addr,
            dir,
            admin: admin.to_owned(),
            http: reqwest::Client::new(),
            vault: None,
            clean_stop: true,
            pg_url,
            stop: Some(stop),
            task: Some(task),
        };
        for _ in 0..200 {
            if me.http.get(me.url("/healthz")).send().await.is_ok() {
                return me;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the vault did not start listening");
    }

    /// Graceful shutdown; returns the directory so tests can inspect the files.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take();
        // Drop our handle first: the store closes when the last one goes.
        self.vault.take();
        if let Some(t) = task {
            let result = t.await.unwrap();
            if self.clean_stop {
                result.unwrap();
            }
        }
        if let Some(url) = self.pg_url.take() {
            dump_database(&url, &self.dir.path().join("data"));
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// `GET /metrics` as the bootstrap admin: the exposition text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Issues a principal with the admin token; returns its token.
    pub async fn issue(&self, body: Value) -> String {
        let (status, v) = self.post("/v1/principals", &self.admin.clone(), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn staff(&self, id: &str, roles: &[&str]) -> String {
        self.issue(json!({"id": id, "kind": "staff", "roles": roles})).await
    }

    pub async fn clerk(&self) -> String {
        self.staff("clerk-ana", &["clerk"]).await
    }

    /// A city system registered for `purposes`.
    pub async fn system(&self, id: &str, agency_kind: &str, purposes: &[&str]) -> String {
        self.issue(json!({"id": id, "kind": "system", "agency_kind": agency_kind, "purposes": purposes}))
            .await
    }

    /// Enrolls a standard applicant born on `birth` and returns the card number.
    pub async fn enroll_one(&self, clerk: &str, doc_number: &str, birth: &str) -> String {
        let mut app = application(
            "Test Holder",
            vec![proof("foreign_passport", "MEX", doc_number), proof("lease", "L", "L-1")],
        );
        app["applicant"]["date_of_birth"] = json!(birth);
        let (s, b) = self.post("/v1/enrollments", clerk, &app).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["card_number"].as_str().unwrap().to_owned()
    }

    /// `DELETE /v1/cardholders/{card}`: an erasure request as `token`.
    pub async fn request_erasure(&self, token: &str, card: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, &format!("/v1/cardholders/{card}"), Some(token), None)
            .await
    }

    pub async fn auditor(&self) -> String {
        self.staff("auditor-1", &["auditor"]).await
    }

    /// `GET /v1/cardholders/{card}/photo?purpose=card_printing`.
    pub async fn photo(&self, token: &str, card: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/v1/cardholders/{card}/photo?purpose=card_printing")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Every audit entry, in order.
    pub async fn audit(&self, token: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (s, v) = self.get(&format!("/v1/audit?after={after}&limit=1000"), token).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let page = v["entries"].as_array().unwrap().clone();
            // Each page read appends its own entry, so stop at a short page.
            let done = page.len() < 1000;
            if let Some(last) = page.last() {
                after = last["seq"].as_u64().unwrap();
            }
            all.extend(page);
            if done {
                return all;
            }
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

pub fn days_ago(n: i64) -> String {
    (today() - time::Duration::days(n)).to_string()
}

pub fn years_from_now(n: i32) -> String {
    let t = today();
    time::Date::from_calendar_date(t.year() + n, t.month(), 1)
        .unwrap()
        .to_string()
}

/// A proof document. Numbers and issuers are distinctive so the raw-bytes
/// test can search the data directory for them.
pub fn proof(doc_type: &str, issuer: &str, number: &str) -> Value {
    json!({"document_type": doc_type, "issuer": issuer, "number": number})
}

pub fn proof_dated(doc_type: &str, issuer: &str, number: &str, issued_days_ago: i64) -> Value {
    json!({"document_type": doc_type, "issuer": issuer, "number": number, "issued_on": days_ago(issued_days_ago)})
}

pub fn application(name: &str, proofs: Vec<Value>) -> Value {
    json!({
        "applicant": {
            "full_name": name,
            "date_of_birth": "1990-04-12",
            "address": {"kind": "residential", "line1": "12 Quillfeather Main St", "city": "Hartford", "postal_code": "06103"},
            "gender": "X"
        },
        "photo": {"content_type": "image/png", "data": b64(PNG)},
        "proofs": proofs
    })
}

/// Scans a directory's files for a byte string: their bytes, and what every
/// compressed audit block in them holds (sled's audit tree stores its
/// blocks as `0xFF 0x01 ‖ a Zstandard frame`), so that something written
/// into the audit is found as surely as anywhere else.
pub fn dir_contains(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    let found = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if found(&bytes) || audit_blocks_in(&bytes).iter().any(|b| found(b)) {
            return Some(entry);
        }
    }
    None
}

/// What each `0xFF 0x01` and Zstandard frame in `bytes` decompresses to,
/// as far as it does (a frame cut short still yields its start).
fn audit_blocks_in(bytes: &[u8]) -> Vec<Vec<u8>> {
    use std::io::Read as _;
    const MARK: [u8; 6] = [0xFF, 0x01, 0x28, 0xB5, 0x2F, 0xFD];
    let mut out = Vec::new();
    for (i, _) in bytes.windows(MARK.len()).enumerate().filter(|(_, w)| *w == MARK) {
        let Ok(d) = zstd::stream::read::Decoder::with_buffer(&bytes[i + 2..]) else {
            continue;
        };
        let mut d = d.single_frame().take(1 << 24);
        let (mut block, mut chunk) = (Vec::new(), [0u8; 4096]);
        while let Ok(n) = d.read(&mut chunk) {
            if n == 0 {
                break;
            }
            block.extend_from_slice(&chunk[..n]);
        }
        if !block.is_empty() {
            out.push(block);
        }
    }
    out
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A free loopback port for a vault process to listen on.
pub fn loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a vault answers `GET /healthz` with 200 on `port` (blocking).
pub fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nhost: vault\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.starts_with(b"HTTP/1.0 200") || buf.starts_with(b"HTTP/1.1 200")
}

/// Copies a directory tree (a data or keys directory, for a test that
/// rolls a store back or starts from a copy).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

impl TestVault {
    /// Runs an operator command (`civic-vault <args>`) against this vault
    /// as its bootstrap admin, the way the README gives it: `--url` and
    /// `--token-file`.
    pub async fn operator(&self, args: &[&str]) -> std::process::Output {
        let token = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(token.path(), &self.admin).unwrap();
        let url = self.url("").trim_end_matches('/').to_owned();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
                .args(&args)
                .args(["--url", &url])
                .arg("--token-file")
                .arg(token.path())
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }
}

/// `promtool check metrics` on a `/metrics` text (Debian's prometheus
/// package; `.ci/test` installs it): the text must pass, or the test says
/// what it needs unless `CIVIC_VAULT_SKIP=promtool`.
pub fn promtool_check(text: &str) {
    use std::io::Write as _;
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => {
            needs(
                "promtool",
                false,
                "promtool to check /metrics (Debian's prometheus package; .ci/test installs it)",
            );
        }
    }
}

/// `sled::open`, waiting up to 5 s while the lock of a vault that just
/// stopped is still held by sled's own threads.
pub fn sled_open(path: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("sled::open: {e}"),
        }
    }
}
