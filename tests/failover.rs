//! Two vault processes (the built binary) on one PostgreSQL database: one
//! active, one standby. Enrollments and fact queries run against them; the
//! active node is killed with SIGKILL in the middle; the standby must serve
//! within 10 s, with every acknowledged write there, the chain verifying
//! and no entry written twice. Needs `CIVIC_VAULT_TEST_PG`
//! (`.ci/postgres-setup` prints one; .ci/run sets it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn owner_only_dir(dir: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .unwrap();
}

/// A node's configuration: its own data and keys directories, the shared database.
fn node(dir: &Path, port: u16, url: &str) -> PathBuf {
    owner_only_dir(dir);
    let config = dir.join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nkeys_dir = \"{}\"\npolicies_dir = \"{}\"\n\
             program = \"idnyc\"\n\
             [proof]\nsolver = \"{}\"\n\
             [limits]\nrequests_per_second_per_principal = 0\nrequests_per_second_per_address = 0\n\
             [governance]\nsecond_approval = false\n\
             [commitments]\nmemory_kib = 8\niterations = 1\n\
             [store]\nkind = \"postgres\"\nurl = \"{url}\"\n",
            dir.join("data").display(),
            dir.join("keys").display(),
            policies_dir().display(),
            solver().display(),
        ),
    )
    .unwrap();
    config
}

fn spawn(dir: &Path, config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("vault.log")).unwrap())
        .spawn()
        .unwrap()
}

fn log(dir: &Path) -> String {
    // No personal data is ever logged, so the log can be shown.
    std::fs::read_to_string(dir.join("vault.log")).unwrap_or_default()
}

async fn readyz(http: &reqwest::Client, port: u16) -> Option<(StatusCode, Value)> {
    let resp = http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let s = resp.status();
    Some((s, resp.json().await.unwrap_or(Value::Null)))
}

async fn wait_active(http: &reqwest::Client, port: u16, child: &mut Child, dir: &Path, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some((StatusCode::OK, b)) = readyz(http, port).await {
            assert_eq!(b, json!({"ready": true, "role": "active"}));
            return started.elapsed();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the vault exited ({status}): {}", log(dir));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("not active after {limit:?}: {}", log(dir));
}

async fn call(
    http: &reqwest::Client,
    port: u16,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Option<(StatusCode, Value)> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let req = match body {
        Some(b) => http.post(url).json(b),
        None => http.get(url),
    };
    let resp = req
        .bearer_auth(token)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .ok()?;
    let s = resp.status();
    Some((s, resp.json().await.unwrap_or(Value::Null)))
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// Card numbers whose enrollment was acknowledged (201).
    enrolled: Mutex<Vec<String>>,
    facts_ok: AtomicUsize,
    refused: AtomicUsize,
}

/// Enrolls (or asks a fact about an enrolled card) over and over, on
/// whichever node answers; only a 201 counts as acknowledged.
async fn worker(id: usize, ports: [u16; 2], clerk: String, system: String, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let http = reqwest::Client::new();
    let mut n = 0usize;
    let mut at = 0usize;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let port = ports[at % 2];
        let known = seen.enrolled.lock().unwrap().last().cloned();
        let result = match (id % 3, known) {
            (0, Some(card)) => {
                let body = json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]});
                call(&http, port, "/v1/facts", &system, Some(&body))
                    .await
                    .map(|(s, b)| {
                        if s == StatusCode::OK {
                            assert_eq!(b["facts"]["card_valid"], json!(true), "{b}");
                            seen.facts_ok.fetch_add(1, Ordering::SeqCst);
                        }
                        s
                    })
            }
            _ => {
                let mut app = application(
                    "Failover Holder",
                    vec![
                        proof("foreign_passport", "MEX", &format!("FO-{id}-{n}")),
                        proof("lease", "L", "L-1"),
                    ],
                );
                app["applicant"]["date_of_birth"] = json!("1980-02-02");
                call(&http, port, "/v1/enrollments", &clerk, Some(&app))
                    .await
                    .map(|(s, b)| {
                        if s == StatusCode::CREATED {
                            seen.enrolled
                                .lock()
                                .unwrap()
                                .push(b["card_number"].as_str().unwrap().to_owned());
                        }
                        s
                    })
            }
        };
        match result {
            Some(s) if s.is_success() => {}
            Some(s) => {
                // A standby's refusal names its role; anything else is a failure of the test.
                assert!(
                    s == StatusCode::SERVICE_UNAVAILABLE || s == StatusCode::CONFLICT,
                    "unexpected {s}"
                );
                seen.refused.fetch_add(1, Ordering::SeqCst);
                at += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => {
                seen.refused.fetch_add(1, Ordering::SeqCst);
                at += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

fn copy_keys(from: &Path, to: &Path) {
    owner_only_dir(to);
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() && entry.file_name() != "keys.lock" {
            // fs::copy keeps the owner-only mode.
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_the_active_node_and_the_standby_serves_within_ten_seconds() {
    let Some(base) = common::require_postgres() else {
        return;
    };
    let url = fresh_schema(&base);
    let root = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    let (pa, pb) = (loopback_port(), loopback_port());
    let http = reqwest::Client::new();

    let a_config = node(&a_dir, pa, &url);
    let mut a = spawn(&a_dir, &a_config);
    // Generous: a debug build's first start proves the floor with cvc5.
    wait_active(&http, pa, &mut a, &a_dir, Duration::from_secs(120)).await;
    // The second node gets the same keyring (kept out of the database).
    copy_keys(&a_dir.join("keys"), &b_dir.join("keys"));
    let b_config = node(&b_dir, pb, &url);
    let mut b = spawn(&b_dir, &b_config);
    let started = Instant::now();
    loop {
        if let Some((s, body)) = readyz(&http, pb).await {
            assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body, json!({"ready": false, "role": "standby"}));
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{}", log(&b_dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = std::fs::read_to_string(a_dir.join("keys/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let issue = |body: Value| {
        let http = http.clone();
        let admin = admin.clone();
        async move {
            let (s, v) = call(&http, pa, "/v1/principals", &admin, Some(&body)).await.unwrap();
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["token"].as_str().unwrap().to_owned()
        }
    };
    let clerk = issue(json!({"id": "clerk-fo", "kind": "staff", "roles": ["clerk"]})).await;
    let system = issue(
        json!({"id": "library-fo", "kind": "system", "agency_kind": "city_partner", "purposes": ["library_services"]}),
    )
    .await;
    let auditor = issue(json!({"id": "auditor-fo", "kind": "staff", "roles": ["auditor"]})).await;
    // The standby refuses, saying what it is.
    let (s, body) = call(&http, pb, "/v1/principals", &admin, None).await.unwrap();
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["role"], "standby");

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|id| {
            tokio::spawn(worker(
                id,
                [pa, pb],
                clerk.clone(),
                system.clone(),
                Arc::clone(&seen),
                Arc::clone(&stop),
            ))
        })
        .collect();
    let started = Instant::now();
    while seen.enrolled.lock().unwrap().len() < 30 {
        assert!(started.elapsed() < Duration::from_secs(120), "no load: {}", log(&a_dir));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = seen.enrolled.lock().unwrap().len();
    a.kill().unwrap(); // SIGKILL, mid-load
    let killed = Instant::now();
    a.wait().unwrap();
    wait_active(&http, pb, &mut b, &b_dir, Duration::from_secs(30)).await;
    let takeover = killed.elapsed();
    eprintln!("takeover: {takeover:?} after SIGKILL; {before} enrollments acknowledged before it");
    assert!(
        takeover < Duration::from_secs(10),
        "the standby took {takeover:?}: {}",
        log(&b_dir)
    );
    let started = Instant::now();
    while seen.enrolled.lock().unwrap().len() < before + 30 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no load after takeover: {}",
            log(&b_dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let enrolled = seen.enrolled.lock().unwrap().clone();
    eprintln!(
        "{} enrollments and {} fact answers acknowledged; {} refusals or broken connections around the failover",
        enrolled.len(),
        seen.facts_ok.load(Ordering::SeqCst),
        seen.refused.load(Ordering::SeqCst)
    );

    // Every acknowledged enrollment is there, once.
    let mut distinct = enrolled.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), enrolled.len(), "a card number was acknowledged twice");
    for card in &enrolled {
        let body = json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]});
        let (s, b) = call(&http, pb, "/v1/facts", &system, Some(&body)).await.unwrap();
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b["facts"]["card_valid"],
            json!(true),
            "an acknowledged enrollment was lost"
        );
    }
    // The chain verifies across both nodes' writes, and every seq is there once.
    let (s, report) = call(&http, pb, "/v1/audit/verify", &auditor, None).await.unwrap();
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], json!(true), "{report}");
    let mut seqs = Vec::new();
    let mut after = 0u64;
    loop {
        let (s, v) = call(
            &http,
            pb,
            &format!("/v1/audit?after={after}&limit=1000"),
            &auditor,
            None,
        )
        .await
        .unwrap();
        assert_eq!(s, StatusCode::OK, "{v}");
        let page = v["entries"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = last["seq"].as_u64().unwrap();
        seqs.extend(page.iter().map(|e| e["seq"].as_u64().unwrap()));
        if page.len() < 1000 {
            break;
        }
    }
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "the chain's sequence numbers are not 1..n, each once");
    let (enrollments, distinct_cards): (i64, i64) = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let row = c
                .query_one("SELECT count(*), count(DISTINCT key) FROM kv WHERE tree = 'cards'", &[])
                .unwrap();
            (row.get(0), row.get(1))
        })
        .join()
        .unwrap()
    };
    assert_eq!(enrollments, distinct_cards);
    assert!(usize::try_from(enrollments).unwrap() >= enrolled.len());

    let _ = b.kill();
    let _ = b.wait();
}

/// The lock's key as the store derives it from the schema's name.
fn lock_key(schema: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("civic-vault:{schema}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_node_whose_session_is_terminated_stops_writing_and_exits() {
    let Some(base) = common::require_postgres() else {
        return;
    };
    let url = fresh_schema(&base);
    let schema = url.rsplit("%3D").next().unwrap().to_owned();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a");
    let port = loopback_port();
    let http = reqwest::Client::new();
    let config = node(&dir, port, &url);
    let mut a = spawn(&dir, &config);
    wait_active(&http, port, &mut a, &dir, Duration::from_secs(120)).await;
    let admin = std::fs::read_to_string(dir.join("keys/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let body = json!({"id": "clerk-1", "kind": "staff", "roles": ["clerk"]});
    let (s, _) = call(&http, port, "/v1/principals", &admin, Some(&body)).await.unwrap();
    assert_eq!(s, StatusCode::CREATED);

    // An operator (or a network partition the database notices) ends the
    // session that holds the lock.
    let key = lock_key(&schema);
    let (classid, objid) = (
        u32::try_from(key >> 32 & 0xFFFF_FFFF).unwrap(),
        u32::try_from(key & 0xFFFF_FFFF).unwrap(),
    );
    let admin_url = url.clone();
    let (terminated, head_before) = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
        let n = c
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2",
                &[&i64::from(classid), &i64::from(objid)],
            )
            .unwrap()
            .len();
        // Nothing can land after this through the ended session.
        let head: i64 = c.query_one("SELECT seq FROM audit_head", &[]).unwrap().get(0);
        (n, head)
    })
    .join()
    .unwrap();
    assert_eq!(terminated, 1, "exactly one session holds the vault's lock");

    // The node stops writing at once and exits (for its supervisor to
    // restart it as a standby); nothing more of it lands in the chain.
    let started = Instant::now();
    let status = loop {
        let _ = call(
            &http,
            port,
            "/v1/principals",
            &admin,
            Some(&json!({"id": "clerk-2", "kind": "staff", "roles": ["clerk"]})),
        )
        .await;
        if let Some(status) = a.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still running: {}",
            log(&dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "it must stop with an error");
    assert!(log(&dir).contains("lost its database session"), "{}", log(&dir));
    let head_after: i64 = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query_one("SELECT seq FROM audit_head", &[]).unwrap().get(0)
    })
    .join()
    .unwrap();
    assert_eq!(head_after, head_before, "a write landed after the session ended");
}
