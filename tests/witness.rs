//! The off-box witness (`civic-vault witness serve`): it cosigns only
//! checkpoints that extend the last one it cosigned; a vault started on
//! data older than the witness's last cosignature refuses to start;
//! `audit verify` checks cosignatures; a witness that is down does not stop
//! the vault, which says so in /metrics and catches up when it returns.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): it verifies the data directory offline against the witness.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use civic_vault::config::AuditWitness;
use civic_vault::duration::{HumanDuration, Unit};
use civic_vault::witness::{key_text, WitnessState};
use common::*;
use ed25519_dalek::VerifyingKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

struct TestWitness {
    addr: SocketAddr,
    state: Arc<WitnessState>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestWitness {
    async fn start(state_dir: &Path, vault_key: VerifyingKey, addr: Option<SocketAddr>) -> Self {
        let listener = tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(WitnessState::open(state_dir, vault_key).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(civic_vault::witness::server::serve(
            listener,
            Arc::clone(&state),
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            state,
            stop,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn key(&self) -> String {
        key_text(&self.state.public_key())
    }

    fn cosigned(&self) -> u64 {
        self.state.latest().map_or(0, |l| l.seq)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// A vault started once without a witness and stopped: its checkpoint key
/// exists, for the witness to pin (as an operator would copy
/// `keys/checkpoint.pub` to the witness).
async fn vault_with_key() -> (tempfile::TempDir, VerifyingKey) {
    let v = TestVault::start_sled("idnyc").await;
    let dir = v.stop().await;
    let text = std::fs::read_to_string(dir.path().join("keys").join("checkpoint.pub")).unwrap();
    (dir, civic_vault::witness::parse_key(&text).unwrap())
}

fn witnessed(dir: &Path, url: &str, witness_key: &str) -> civic_vault::Config {
    let mut config = sled_config(dir, "idnyc");
    config.audit.checkpoint_every = 3;
    config.audit.checkpoint_interval = HumanDuration {
        value: 1,
        unit: Unit::Seconds,
    };
    config.audit.witness = Some(AuditWitness {
        url: url.to_owned(),
        public_key: witness_key.to_owned(),
        timeout: HumanDuration {
            value: 2,
            unit: Unit::Seconds,
        },
    });
    config
}

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting: {what}");
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// `civic-vault audit verify` on `dir`'s data with the keys and `extra`.
fn offline_verify(dir: &Path, extra: &[&str]) -> (bool, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["audit", "verify", "--data"])
        .arg(dir.join("data"))
        .arg("--keys")
        .arg(dir.join("keys"))
        .args(extra)
        .output()
        .unwrap();
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_rolled_back_after_a_witnessed_checkpoint_is_refused() {
    let (dir, vault_key) = vault_with_key().await;
    let wdir = tempfile::tempdir().unwrap();
    let w = TestWitness::start(wdir.path(), vault_key, None).await;
    let config = witnessed(dir.path(), &w.url(), &w.key());
    let v = TestVault::start_in(dir, config.clone()).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    for i in 0..2 {
        v.enroll_one(&clerk, &format!("P-WIT-{i}"), "1990-04-12").await;
    }
    eventually("a checkpoint cosigned", async || w.cosigned() >= 3).await;
    let (_, r) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["cosignatures"].as_u64().unwrap() >= 1, "{r}");
    let text = v.metrics().await;
    assert_eq!(metric(&text, "civic_vault_witness_up"), 1);
    assert_eq!(metric(&text, "civic_vault_witness_conflict"), 0);

    // Stopping signs the final head, and the witness cosigns it: checkpoint A.
    let dir = v.stop().await;
    let a = w.cosigned();
    let (entries, _) = {
        let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key(), "--witness", &w.url()]);
        assert!(ok, "{report}");
        (report["entries"].as_u64().unwrap(), report)
    };
    assert_eq!(a, entries, "the final head is cosigned at shutdown");
    let old = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("data"), &old.path().join("data"));

    // More entries, and checkpoint B.
    let v = TestVault::start_in(dir, config.clone()).await;
    let clerk = v.staff("clerk-bo", &["clerk"]).await;
    v.enroll_one(&clerk, "P-WIT-9", "1990-04-12").await;
    let dir = v.stop().await;
    let b = w.cosigned();
    assert!(b > a, "{b} > {a}");

    // data/ rolled back to the copy made at A: the vault refuses to start.
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    copy_dir(&old.path().join("data"), &dir.path().join("data"));
    let err = civic_vault::Vault::open(config.clone(), Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .expect("a rolled-back copy must not start");
    let message = err.to_string();
    assert!(
        message.contains("older than the witness's last cosigned checkpoint")
            && message.contains(&format!("entry {b}")),
        "{message}"
    );
    // Offline, the copy verifies on its own, but not against the witness...
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
    assert!(ok, "{report}");
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key(), "--witness", &w.url()]);
    assert!(!ok, "{report}");
    assert!(
        report["witness_problem"].as_str().unwrap().contains("older"),
        "{report}"
    );
    // ... not even with its checkpoint and cosignature files deleted.
    std::fs::remove_file(dir.path().join("data").join("audit-checkpoints.jsonl")).unwrap();
    std::fs::remove_file(dir.path().join("data").join("audit-cosignatures.jsonl")).unwrap();
    let (ok, report) = offline_verify(
        dir.path(),
        &["--witness-key", &w.key(), "--witness", &w.url(), "--allow-unanchored"],
    );
    assert!(!ok, "{report}");
    assert!(report["witness_problem"].is_string(), "{report}");
    let err = civic_vault::Vault::open(config.clone(), Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .expect("a rolled-back copy without its files must not start");
    assert!(err.to_string().contains("older than the witness"), "{err}");

    // With the witness down the same copy starts (the vault cannot tell)...
    let (addr, state_dir) = (w.addr, wdir.path().to_owned());
    w.stop().await;
    let v = TestVault::start_in(dir, config).await;
    let (s, _) = v.get("/v1/principals", &v.admin.clone()).await;
    assert_eq!(s, StatusCode::OK);
    // ... and when the witness answers again, the vault stops serving
    // requests, but for oversight, and says why.
    let w = TestWitness::start(&state_dir, vault_key, Some(addr)).await;
    eventually("the vault sees the conflict", async || {
        metric(&v.metrics().await, "civic_vault_witness_conflict") == 1
    })
    .await;
    let (s, r) = v.get("/v1/principals", &v.admin.clone()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{r}");
    // The load balancer is told too.
    let (s, r) = v.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (s, r),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"ready": false, "role": "active", "reason": "witness_conflict"})
        )
    );
    let (s, r) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["ok"], false, "{r}");
    assert!(r["witness_problem"].as_str().unwrap().contains("witness"), "{r}");
    v.stop().await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_deleted_cosignature_does_not_verify() {
    let (dir, vault_key) = vault_with_key().await;
    let wdir = tempfile::tempdir().unwrap();
    let w = TestWitness::start(wdir.path(), vault_key, None).await;
    let config = witnessed(dir.path(), &w.url(), &w.key());
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    v.enroll_one(&clerk, "P-WIT-F", "1990-04-12").await;
    let dir = v.stop().await;
    let path = dir.path().join("data").join("audit-cosignatures.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.is_empty());
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key(), "--witness", &w.url()]);
    assert!(ok, "{report}");

    // Another witness key pinned: nothing verifies.
    let other = key_text(&ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key());
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &other]);
    assert!(!ok, "{report}");
    assert!(
        report["witness_problem"]
            .as_str()
            .unwrap()
            .contains("pinned witness key"),
        "{report}"
    );

    // A cosignature edited to another head does not verify.
    let mut line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    line["head"] = json!(format!("sha256:{}", "ab".repeat(32)));
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
    assert!(!ok, "{report}");
    assert!(
        report["witness_problem"].as_str().unwrap().contains("does not verify"),
        "{report}"
    );

    // The cosignature file deleted: the witness still knows.
    std::fs::remove_file(&path).unwrap();
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key(), "--witness", &w.url()]);
    assert!(!ok, "{report}");
    assert!(
        report["witness_problem"]
            .as_str()
            .unwrap()
            .contains("audit-cosignatures.jsonl"),
        "{report}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_witness_down_the_vault_serves_and_catches_up() {
    let (dir, vault_key) = vault_with_key().await;
    let wdir = tempfile::tempdir().unwrap();
    // The witness's key exists before it first serves (`witness key`).
    let witness_key = key_text(&WitnessState::open(wdir.path(), vault_key).unwrap().public_key());
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = witnessed(dir.path(), &format!("http://{addr}"), &witness_key);
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    for i in 0..2 {
        v.enroll_one(&clerk, &format!("P-DOWN-{i}"), "1990-04-12").await;
    }
    eventually("metrics say the witness is down and behind", async || {
        let text = v.metrics().await;
        metric(&text, "civic_vault_witness_up") == 0 && metric(&text, "civic_vault_witness_lag_entries") > 0
    })
    .await;
    // The operations dashboard's figures say so, among what needs action.
    let auditor = v.auditor().await;
    let (s, status) = v.get("/v1/status", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{status}");
    assert_eq!(status["audit"]["witness"]["up"], false, "{status}");
    let witness_item = status["attention"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == "audit")
        .cloned()
        .unwrap_or_default();
    assert_eq!(witness_item["what"], "Audit witness unreachable", "{status}");
    assert!(
        witness_item["detail"]
            .as_str()
            .unwrap()
            .contains("entries not cosigned"),
        "{status}"
    );

    let w = TestWitness::start(wdir.path(), vault_key, Some(addr)).await;
    eventually("the vault catches up with the witness", async || {
        let text = v.metrics().await;
        metric(&text, "civic_vault_witness_up") == 1 && metric(&text, "civic_vault_witness_last_cosigned_seq") > 0
    })
    .await;
    eventually(
        "the dashboard's figures: the witness answers, nothing about it needs action",
        async || {
            let (_, status) = v.get("/v1/status", &auditor).await;
            status["audit"]["witness"]["up"] == true
                && status["attention"]
                    .as_array()
                    .is_some_and(|a| a.iter().all(|x| x["area"] != "audit"))
        },
    )
    .await;
    assert!(w.cosigned() > 0);
    let (s, r) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["ok"], true, "{r}");
    v.stop().await;
    w.stop().await;
}

/// The witness alone, spoken to directly: a hand-made chain and checkpoints
/// signed with a test vault key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_cosigns_only_an_extension() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use civic_vault::domain::audit::{chain_hash, format_hash, GENESIS};
    use ed25519_dalek::Signer;

    let vault = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let forger = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    let entries: Vec<String> = (1..=6).map(|i| format!("{{\"seq\":{i}}}")).collect();
    let mut heads = vec![format_hash(&GENESIS)];
    let mut h = GENESIS;
    for e in &entries {
        h = chain_hash(&h, e.as_bytes());
        heads.push(format_hash(&h));
    }
    let checkpoint = |key: &ed25519_dalek::SigningKey, seq: u64, head: &str| {
        let at = "2026-12-02T12:00:00Z";
        let sig = key.sign(&civic_vault::witness::checkpoint_message(seq, head, at));
        json!({"seq": seq, "head": head, "at": at, "key": key_text(&key.verifying_key()),
               "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes())})
    };
    let wdir = tempfile::tempdir().unwrap();
    let w = TestWitness::start(wdir.path(), vault.verifying_key(), None).await;
    let http = reqwest::Client::new();
    let post = async |body: Value| {
        let resp = http
            .post(format!("{}/v1/witness/cosign", w.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    };

    // The first three entries, from genesis: cosigned.
    let (s, c) =
        post(json!({"checkpoint": checkpoint(&vault, 3, &heads[3]), "from": 0, "entries": entries[..3]})).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let c: civic_vault::witness::Cosignature = serde_json::from_value(c).unwrap();
    c.verify(&w.state.public_key(), Some(&vault.verifying_key())).unwrap();
    assert_eq!((c.seq, c.head.as_str()), (3, heads[3].as_str()));
    // Asked again: the same cosignature.
    let (s, again) =
        post(json!({"checkpoint": checkpoint(&vault, 3, &heads[3]), "from": 0, "entries": entries[..3]})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["signature"], json!(c.signature));

    // Signed by another key: refused.
    let (s, r) =
        post(json!({"checkpoint": checkpoint(&forger, 5, &heads[5]), "from": 3, "entries": entries[3..5]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    // A rollback: an older checkpoint.
    let (s, r) =
        post(json!({"checkpoint": checkpoint(&vault, 2, &heads[2]), "from": 0, "entries": entries[..2]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    assert!(r["reason"].as_str().unwrap().contains("rollback"), "{r}");
    assert_eq!(r["latest"]["seq"], 3);
    // A fork at the same entry.
    let (s, r) =
        post(json!({"checkpoint": checkpoint(&vault, 3, &heads[2]), "from": 0, "entries": entries[..3]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    assert!(r["reason"].as_str().unwrap().contains("fork"), "{r}");
    // Rewritten history: entries after 3 that do not lead to the signed head.
    let rewritten = vec!["{\"seq\":4,\"x\":1}".to_owned(), entries[4].clone()];
    let (s, r) = post(json!({"checkpoint": checkpoint(&vault, 5, &heads[5]), "from": 3, "entries": rewritten})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    assert!(r["reason"].as_str().unwrap().contains("do not hash"), "{r}");
    // A new history from genesis that skips the cosigned one.
    let (s, r) =
        post(json!({"checkpoint": checkpoint(&vault, 5, &heads[5]), "from": 0, "entries": entries[..5]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    // Not a cosign request at all.
    let (s, _) = post(json!({"hello": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The extension: cosigned.
    let (s, r) =
        post(json!({"checkpoint": checkpoint(&vault, 5, &heads[5]), "from": 3, "entries": entries[3..5]})).await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // The state survives a restart of the witness.
    w.stop().await;
    let w = TestWitness::start(wdir.path(), vault.verifying_key(), None).await;
    assert_eq!(w.cosigned(), 5);
    let latest: Value = reqwest::get(format!("{}/v1/witness/latest", w.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latest["seq"], 5);
    assert_eq!(latest["head"], json!(heads[5]));
    // Its state is not readable by others, its key not at all.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| std::fs::metadata(wdir.path().join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("witness.key"), 0o600);
        assert_eq!(mode(""), 0o700);
    }
    w.stop().await;
}
