//! Signed audit checkpoints outside sled: written every N entries and at
//! shutdown, verified by the API and offline; removing the newest entries
//! from the store, or editing a checkpoint, no longer verifies.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): it verifies the data directory offline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

fn lines(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("data").join("audit-checkpoints.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn offline_verify(dir: &std::path::Path) -> (bool, Value) {
    let (ok, report, _) = verify_with(dir, &["--keys", "keys"]);
    (ok, report)
}

/// `civic-vault audit verify --data <dir>/data` with `args` (a `keys` or
/// `data` argument is taken relative to `dir`): success, stdout, stderr.
fn verify_with(dir: &std::path::Path, args: &[&str]) -> (bool, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["audit", "verify", "--data"])
        .arg(dir.join("data"))
        .args(args.iter().map(|a| match *a {
            "keys" | "data" => dir.join(a).into_os_string(),
            other => other.into(),
        }))
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_fails_when_nothing_anchors_the_chain() {
    let v = TestVault::start_sled("idnyc").await;
    let clerk = v.clerk().await;
    v.enroll_one(&clerk, "P-ANCHOR-1", "1990-04-12").await;
    let dir = v.stop().await;
    let (ok, report, _) = verify_with(dir.path(), &["--keys", "keys"]);
    assert!(ok, "{report}");
    assert!(
        report.get("anchor_problem").is_none() && report.get("unanchored").is_none(),
        "{report}"
    );

    // Without --keys nothing pins the checkpoint key: a checkpoint signed by
    // any key would pass, so verify says so and fails.
    let (ok, report, stderr) = verify_with(dir.path(), &[]);
    assert!(!ok, "{report}");
    assert_eq!(report["ok"], false);
    let problem = report["anchor_problem"].as_str().unwrap();
    assert!(
        problem.contains("checkpoint.pub") && problem.contains("--keys"),
        "{problem}"
    );
    assert!(stderr.contains("--allow-unanchored"), "{stderr}");
    let (ok, report, _) = verify_with(dir.path(), &["--allow-unanchored"]);
    assert!(ok, "{report}");
    assert_eq!(report["ok"], true);
    let reason = report["unanchored"].as_str().unwrap();
    assert!(
        reason.contains("checkpoint.pub") && reason.contains("--allow-unanchored"),
        "{reason}"
    );

    // A keys directory without checkpoint.pub pins nothing either.
    let empty_keys = dir.path().join("no-pin");
    std::fs::create_dir(&empty_keys).unwrap();
    let (ok, report, _) = verify_with(dir.path(), &["--keys", empty_keys.to_str().unwrap()]);
    assert!(!ok, "{report}");
    assert!(
        report["anchor_problem"].as_str().unwrap().contains("checkpoint.pub"),
        "{report}"
    );

    // The checkpoint file deleted: entries but no signed checkpoint is no
    // longer "ok, checkpoints: 0".
    std::fs::remove_file(dir.path().join("data").join("audit-checkpoints.jsonl")).unwrap();
    let (ok, report, stderr) = verify_with(dir.path(), &["--keys", "keys"]);
    assert!(!ok, "{report}");
    assert_eq!(report["checkpoints"], 0);
    let problem = report["anchor_problem"].as_str().unwrap();
    assert!(
        problem.contains("no signed checkpoint") && problem.contains("audit-checkpoints.jsonl"),
        "{problem}"
    );
    assert!(stderr.contains("no signed checkpoint"), "{stderr}");
    let (ok, report, _) = verify_with(dir.path(), &["--keys", "keys", "--allow-unanchored"]);
    assert!(ok, "{report}");
    assert!(
        report["unanchored"].as_str().unwrap().contains("no signed checkpoint"),
        "{report}"
    );
    assert!(!report.to_string().contains("P-ANCHOR-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_signed_and_catch_truncation_and_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sled_config(dir.path(), "idnyc");
    config.audit.checkpoint_every = 5;
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    for i in 0..3 {
        v.enroll_one(&clerk, &format!("P-CP-{i}"), "1990-04-12").await;
    }
    // The task looks once a second.
    let mut written = Vec::new();
    for _ in 0..50 {
        written = lines(v.dir.path());
        if !written.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!written.is_empty(), "a checkpoint after 5 entries");
    // Each line verifies with standard Ed25519 over the documented message.
    let cp = &written[0];
    let key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(cp["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sig: [u8; 64] = URL_SAFE_NO_PAD
        .decode(cp["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let message = format!(
        "civic-vault audit checkpoint v1\n{}\n{}\n{}\n",
        cp["seq"],
        cp["head"].as_str().unwrap(),
        cp["at"].as_str().unwrap()
    );
    VerifyingKey::from_bytes(&key)
        .unwrap()
        .verify(message.as_bytes(), &Signature::from_bytes(&sig))
        .unwrap();
    let (_, r) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["checkpoints"].as_u64().unwrap() >= 1);

    // Shutdown signs the final head.
    let dir = v.stop().await;
    let all = lines(dir.path());
    let last_signed = all.last().unwrap()["seq"].as_u64().unwrap();
    let (ok, report) = offline_verify(dir.path());
    assert!(ok, "{report}");
    assert_eq!(
        report["entries"].as_u64().unwrap(),
        last_signed,
        "the final head is signed"
    );

    // Remove the newest block of entries, as someone covering tracks would.
    {
        let db = sled::open(dir.path().join("data")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let (k, _) = audit.last().unwrap().unwrap();
        audit.remove(k).unwrap();
        db.flush().unwrap();
    }
    let (ok, report) = offline_verify(dir.path());
    assert!(!ok);
    assert!(
        report["checkpoint_problem"].as_str().unwrap().starts_with("truncated"),
        "{report}"
    );
    // The vault refuses to start on it.
    let config = sled_config(dir.path(), "idnyc");
    let err = civic_vault::Vault::open(config, std::sync::Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("entries were removed"), "{err}");

    // An edited checkpoint does not verify either.
    let path = dir.path().join("data").join("audit-checkpoints.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let edited = text.replacen(&format!("\"seq\":{}", first["seq"]), "\"seq\":2", 1);
    std::fs::write(&path, edited).unwrap();
    let (ok, report) = offline_verify(dir.path());
    assert!(!ok);
    assert!(
        report["checkpoint_problem"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{report}"
    );
}
