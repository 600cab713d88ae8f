//! Startup and shutdown: first-run keys, the admin token, configuration
//! errors naming the key, restarts, and refusing the wrong keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_keys_and_a_private_admin_token_then_restarts_with_them() {
    let v = TestVault::start("idnyc").await;
    let (s, b) = v.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "ok"})));
    let keys = v.dir.path().join("keys");
    let token_mode = std::fs::metadata(keys.join("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(token_mode & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o700);
    for f in walk(&keys) {
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o077,
            0,
            "{}",
            f.display()
        );
    }
    let clerk = v.clerk().await;
    let (s, b) = v
        .post(
            "/v1/enrollments",
            &clerk,
            &application(
                "A",
                vec![proof("foreign_passport", "MEX", "G-1"), proof("lease", "L", "L-1")],
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let card = b["card_number"].as_str().unwrap().to_owned();
    let dir = v.stop().await;

    // Same directories again: same keys, same principals, same cards.
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let photo = v.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::OK);
    let auditor = v.auditor().await;
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
    let dir = v.stop().await;

    // Other keys for this data: refused.
    let mut config = test_config(dir.path(), "idnyc");
    config.keys_dir = dir.path().join("other-keys");
    assert!(
        civic_vault::Vault::open(config, std::sync::Arc::new(civic_vault::clock::SystemClock))
            .await
            .is_err()
    );
    assert!(
        !dir.path().join("other-keys").join("keyring.toml").exists(),
        "no keys are generated for old data"
    );
}

fn serve_with_config(toml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(dir.path())
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_configuration_stops_startup_naming_the_key() {
    for (toml, key) in [
        ("colour = \"blue\"", "colour"),
        ("program = \"gotham\"\nlisten = \"127.0.0.1:0\"", "program"),
        ("[retention]\nsweep_interval = \"hourly\"", "retention.sweep_interval"),
        (
            "[retention]\nsource_documents = \"7 days\"",
            "retention.source_documents",
        ),
        ("[facts]\nage_thresholds = [18, 0]", "facts.age_thresholds"),
        ("[facts]\nattestation_ttl = 5", "facts.attestation_ttl"),
        ("listen = \"nowhere\"", "listen"),
    ] {
        let (ok, stderr) = serve_with_config(toml);
        assert!(!ok, "{toml} started");
        assert!(stderr.contains(key), "{toml}: {stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["serve", "--config", "/nonexistent/vault.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be read"));
}

#[test]
fn serve_runs_on_embedded_defaults_and_stops_cleanly_on_sigterm() {
    // An empty working directory: no policies/, keys/ or data/ yet.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if healthy(port) {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "serve did not start");
    assert!(dir.path().join("keys/admin.token").exists());
    let token = std::fs::read_to_string(dir.path().join("keys/admin.token")).unwrap();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains(token.trim()), "the admin token appeared in the log");
    assert!(log.contains("storage flushed"));
}

/// Directories under `dir`, `dir` included.
fn dirs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(dirs(&e.path()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_its_owners_only_from_the_first_start() {
    // sled's files; on PostgreSQL the records are not in data/.
    let v = TestVault::start_sled("idnyc").await;
    let clerk = v.clerk().await;
    v.enroll_one(&clerk, "P-MODE-1", "1990-04-12").await;
    let dir = v.stop().await;
    let data = dir.path().join("data");
    assert!(data.join("audit-checkpoints.jsonl").exists());
    for d in dirs(&data) {
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            d.display()
        );
    }
    let files = walk(&data);
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_open_to_others_stops_startup_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = test_config(dir.path(), "idnyc");
    let err = civic_vault::Vault::open(config.clone(), std::sync::Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&data.display().to_string()), "{err}");
    assert!(err.contains("allow_shared_data_dir") && err.contains("755"), "{err}");

    let mut allowed = config;
    allowed.allow_shared_data_dir = true;
    let v = TestVault::start_in(dir, allowed).await;
    let (s, _) = v.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    v.stop().await;
}
