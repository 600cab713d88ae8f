//! The audit log's witnesses (C2SP tlog-witness; `civic-vault witness
//! serve` is one): a witness cosigns a checkpoint only when a consistency
//! proof shows it extends the last one it cosigned; a vault started on
//! data older than a cosigned checkpoint refuses to start; `audit verify`
//! checks the tree, its checkpoints and their cosignatures; a witness that
//! is down does not stop the vault, which says so in /metrics and catches
//! up when it returns. The witness never receives an entry.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): it verifies the data directory offline.

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

use civic_vault::crypto::note::VerifierKey;
use civic_vault::duration::{HumanDuration, Unit};
use civic_vault::witness::WitnessState;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

const NAME: &str = "witness.ig.example.gov";

struct TestWitness {
    addr: SocketAddr,
    state: Arc<WitnessState>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestWitness {
    async fn start(state_dir: &Path, logs: &[VerifierKey], addr: Option<SocketAddr>) -> Self {
        let listener = tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(WitnessState::open(state_dir, NAME, logs).unwrap());
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
        self.state.verifier_key().text()
    }

    /// The size it last cosigned for the (only) log.
    fn cosigned(&self) -> u64 {
        let origin = self.state.origins().next().unwrap().to_owned();
        self.state.size_of(&origin)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// A vault started once without a witness and stopped: its log's verifier
/// key exists, for the witness to pin (as an operator would give the
/// witness `civic-vault audit verifier-key`).
async fn vault_with_key() -> (tempfile::TempDir, VerifierKey) {
    let v = TestVault::start_sled("idnyc").await;
    let dir = v.stop().await;
    let text = std::fs::read_to_string(dir.path().join("keys").join("checkpoint.vkey")).unwrap();
    (dir, VerifierKey::parse(&text).unwrap())
}

fn witnessed(dir: &Path, url: &str, witness_key: &str) -> civic_vault::Config {
    let mut config = sled_config(dir, "idnyc");
    config.audit.checkpoint_every = 3;
    config.audit.checkpoint_interval = HumanDuration {
        value: 1,
        unit: Unit::Seconds,
    };
    config.witness.0.push(civic_vault::config::Witness {
        url: url.to_owned(),
        key: witness_key.to_owned(),
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
    let (dir, log) = vault_with_key().await;
    let wdir = tempfile::tempdir().unwrap();
    let w = TestWitness::start(wdir.path(), std::slice::from_ref(&log), None).await;
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
    assert!(r["tree_checkpoints"].as_u64().unwrap() >= 1, "{r}");
    // The checkpoint is served with the witness's cosignature after the vault's signature.
    eventually("the served checkpoint carries the witness's cosignature", async || {
        let checkpoint = reqwest::Client::new()
            .get(v.url("/v1/audit/checkpoint"))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let signatures: Vec<&str> = checkpoint.lines().filter(|l| l.starts_with("— ")).collect();
        assert!(signatures[0].starts_with(&format!("— {} ", log.name)), "{checkpoint}");
        signatures[1..].iter().any(|l| l.starts_with(&format!("— {NAME} ")))
    })
    .await;
    let text = v.metrics().await;
    assert_eq!(metric(&text, "civic_vault_witness_up"), 1);
    assert_eq!(metric(&text, "civic_vault_witness_conflict"), 0);

    // Stopping signs the final head, and the witness cosigns it: checkpoint A.
    let dir = v.stop().await;
    let a = w.cosigned();
    let (entries, _) = {
        let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
        assert!(ok, "{report}");
        assert_eq!(report["cosigned_through"], report["entries"], "{report}");
        assert!(report.get("uncosigned").is_none(), "{report}");
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
        message.contains("older than a cosigned checkpoint") && message.contains(&format!("{b} entries")),
        "{message}"
    );
    // Offline, the copy verifies on its own: only the witness knows better.
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
    assert!(ok, "{report}");
    // Not even with its checkpoint and cosignature files deleted does it start.
    for f in [
        "audit-checkpoints.jsonl",
        "audit-tlog-checkpoints.jsonl",
        "audit-tlog-cosignatures.jsonl",
    ] {
        std::fs::remove_file(dir.path().join("data").join(f)).unwrap();
    }
    let err = civic_vault::Vault::open(config.clone(), Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .expect("a rolled-back copy without its files must not start");
    assert!(err.to_string().contains("older than a cosigned checkpoint"), "{err}");

    // With the witness down the same copy starts (the vault cannot tell)...
    let (addr, state_dir) = (w.addr, wdir.path().to_owned());
    w.stop().await;
    let v = TestVault::start_in(dir, config).await;
    let (s, _) = v.get("/v1/principals", &v.admin.clone()).await;
    assert_eq!(s, StatusCode::OK);
    // ... and when the witness answers again, the vault stops serving
    // requests, but for oversight, and says why.
    let w = TestWitness::start(&state_dir, std::slice::from_ref(&log), Some(addr)).await;
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
    let (dir, log) = vault_with_key().await;
    let wdir = tempfile::tempdir().unwrap();
    let w = TestWitness::start(wdir.path(), std::slice::from_ref(&log), None).await;
    let config = witnessed(dir.path(), &w.url(), &w.key());
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    v.enroll_one(&clerk, "P-WIT-F", "1990-04-12").await;
    let dir = v.stop().await;
    let path = dir.path().join("data").join("audit-tlog-cosignatures.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.is_empty());
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
    assert!(ok, "{report}");
    let entries = report["entries"].as_u64().unwrap();
    assert_eq!(report["cosigned_through"], entries, "{report}");

    // Another key under the witness's name: its lines do not verify.
    let impostor = civic_vault::crypto::note::NoteKey::new(NAME, ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
        .unwrap()
        .cosigner()
        .text();
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &impostor]);
    assert!(!ok, "{report}");
    assert!(
        report["witness_problem"].as_str().unwrap().contains("does not verify"),
        "{report}"
    );
    // Another witness altogether: none of its cosignatures, so nothing is cosigned.
    let other =
        civic_vault::crypto::note::NoteKey::new("peer.example.gov", ed25519_dalek::SigningKey::from_bytes(&[8; 32]))
            .unwrap()
            .cosigner()
            .text();
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &other]);
    assert!(ok, "{report}");
    assert_eq!(report["cosigned_through"], 0, "{report}");
    assert!(
        report["uncosigned"]
            .as_str()
            .unwrap()
            .contains(&format!("entries 1 to {entries}")),
        "{report}"
    );
    // Both witnesses required: the threshold is not met.
    let (_, report) = offline_verify(
        dir.path(),
        &[
            "--witness-key",
            &w.key(),
            "--witness-key",
            &other,
            "--witness-threshold",
            "2",
        ],
    );
    assert_eq!(report["cosigned_through"], 0, "{report}");

    // A cosignature moved to another checkpoint's size does not verify.
    let mut line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let size = line["size"].as_u64().unwrap();
    let checkpoints = std::fs::read_to_string(dir.path().join("data").join("audit-tlog-checkpoints.jsonl")).unwrap();
    let other_size = checkpoints
        .lines()
        .map(|l| {
            let note: Value = serde_json::from_str(l).unwrap();
            note["note"]
                .as_str()
                .unwrap()
                .lines()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .find(|s| *s != size)
        .expect("two checkpoints");
    line["size"] = other_size.into();
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
    assert!(!ok, "{report}");
    assert!(
        report["witness_problem"].as_str().unwrap().contains("does not verify"),
        "{report}"
    );

    // The cosignature file deleted: offline, nothing is cosigned any more,
    // and the output says which entries that leaves uncovered.
    std::fs::remove_file(&path).unwrap();
    let (ok, report) = offline_verify(dir.path(), &["--witness-key", &w.key()]);
    assert!(ok, "{report}");
    assert_eq!(report["cosigned_through"], 0, "{report}");
    assert!(report["uncosigned"].is_string(), "{report}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_witness_down_the_vault_serves_and_catches_up() {
    let (dir, log) = vault_with_key().await;
    let wdir = tempfile::tempdir().unwrap();
    // The witness's key exists before it first serves (`witness key`).
    let witness_key = WitnessState::open(wdir.path(), NAME, &[])
        .unwrap()
        .verifier_key()
        .text();
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

    let w = TestWitness::start(wdir.path(), std::slice::from_ref(&log), Some(addr)).await;
    eventually("the vault catches up with the witness", async || {
        let text = v.metrics().await;
        metric(&text, "civic_vault_witness_up") == 1 && metric(&text, "civic_vault_witness_last_cosigned_seq") > 0
    })
    .await;
    let text = v.metrics().await;
    assert!(
        text.contains(&format!("civic_vault_witness_answering{{witness=\"{NAME}\"}} 1\n")),
        "{text}"
    );
    promtool_check(&text);
    eventually(
        "the dashboard's figures: the witness answers, nothing about it needs action",
        async || {
            // Every poll is itself an audited request, so the log grows as
            // fast as this loop asks: a witness a few checkpoints behind is
            // the poll's own doing, not what is tested here.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let (_, status) = v.get("/v1/status", &auditor).await;
            status["audit"]["witness"]["up"] == true
                && status["attention"].as_array().is_some_and(|a| {
                    a.iter()
                        .all(|x| x["area"] != "audit" || x["what"] == "Audit witness behind")
                })
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
