//! Signed audit checkpoints outside sled: written every N entries and at
//! shutdown, verified by the API and offline; removing the newest entries
//! from the store, or editing a checkpoint, no longer verifies; entries past
//! the newest checkpoint are named unanchored; a store edited in place fails
//! offline verification with a diagnosis, never a panic.
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
        let db = common::sled_open(&dir.path().join("data"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_names_entries_no_checkpoint_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sled_config(dir.path(), "idnyc");
    config.audit.checkpoint_every = 3;
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    v.enroll_one(&clerk, "P-TAIL-0", "1990-04-12").await;
    for _ in 0..50 {
        if !lines(v.dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 1..4 {
        v.enroll_one(&clerk, &format!("P-TAIL-{i}"), "1990-04-12").await;
    }
    let dir = v.stop().await;
    let (ok, report) = offline_verify(dir.path());
    assert!(ok, "{report}");
    let entries = report["entries"].as_u64().unwrap();

    // The checkpoint file cut to its first line: the chain still verifies
    // up to it, and everything after it is named unanchored.
    let path = dir.path().join("data").join("audit-checkpoints.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() >= 2, "{text}");
    let first = text.lines().next().unwrap();
    let first_seq = serde_json::from_str::<Value>(first).unwrap()["seq"].as_u64().unwrap();
    assert!(first_seq < entries, "{first_seq} < {entries}");
    std::fs::write(&path, format!("{first}\n")).unwrap();
    let (ok, report, stderr) = verify_with(dir.path(), &["--keys", "keys"]);
    assert!(!ok, "a chain with an unanchored tail is not ok: {report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["anchored_through"], first_seq, "{report}");
    let problem = report["anchor_problem"].as_str().unwrap();
    assert!(
        problem.contains("unanchored")
            && problem.contains(&format!("entries {} to {entries}", first_seq + 1))
            && problem.contains(&format!("entry {first_seq}")),
        "{problem}"
    );
    assert!(stderr.contains("--allow-unanchored"), "{stderr}");
    let (ok, report, _) = verify_with(dir.path(), &["--keys", "keys", "--allow-unanchored"]);
    assert!(ok, "{report}");
    assert!(
        report["unanchored"].as_str().unwrap().contains("unanchored entries"),
        "{report}"
    );
    // The whole file back: anchored through the last entry again.
    std::fs::write(&path, &text).unwrap();
    let (ok, report) = offline_verify(dir.path());
    assert!(ok, "{report}");
    assert_eq!(report["anchored_through"], entries, "{report}");
}

/// `audit verify` on `dir`, killed after a minute: (exit code, stdout, stderr).
fn verify_bounded(dir: &std::path::Path) -> (Option<i32>, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["audit", "verify", "--data"])
        .arg(dir.join("data"))
        .arg("--keys")
        .arg(dir.join("keys"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "audit verify hung on an edited store"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_of_a_store_edited_in_place_fails_closed_never_panics() {
    let v = TestVault::start_sled("idnyc").await;
    let clerk = v.clerk().await;
    for i in 0..3 {
        v.enroll_one(&clerk, &format!("P-EDIT-{i}"), "1990-04-12").await;
    }
    let pristine = v.stop().await;
    // Verified once as it is (sled writes its snapshot when opened), as an
    // auditor would before anyone edits it.
    let (code, stdout, _) = verify_bounded(pristine.path());
    assert_eq!(code, Some(0), "{stdout}");
    let db = pristine.path().join("data").join("db");
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 0);
    // One byte changed in place, at offsets spread across sled's log file
    // (its first bytes, where recovery starts, most densely).
    let mut offsets: Vec<u64> = (0..64).collect();
    offsets.extend((1..48).map(|i| len * i / 48));
    let mut failed_closed = 0;
    for offset in offsets {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&pristine.path().join("data"), &copy.path().join("data"));
        copy_dir(&pristine.path().join("keys"), &copy.path().join("keys"));
        let path = copy.path().join("data").join("db");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = usize::try_from(offset).unwrap();
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let (code, stdout, stderr) = verify_bounded(copy.path());
        assert_ne!(code, Some(101), "offset {offset}: verify panicked:\n{stderr}");
        assert!(!stderr.contains("panicked"), "offset {offset}: {stderr}");
        assert!(!stderr.contains("P-EDIT") && !stdout.contains("P-EDIT"));
        if code == Some(0) {
            // A byte sled never reads again (padding, a superseded page).
            continue;
        }
        failed_closed += 1;
        // Either a report that says what broke, or the diagnosis.
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("offset {offset}: {stderr}"));
        assert_eq!(report["ok"], false, "offset {offset}: {report}");
        if let Some(problem) = report.get("store_problem") {
            assert!(problem.as_str().unwrap().contains("sled"), "{problem}");
            assert!(stderr.contains("cannot be verified"), "{stderr}");
        }
    }
    assert!(failed_closed > 0, "some edit was caught");
}
