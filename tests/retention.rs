//! Retention: scans kept for their window only, then destroyed by destroying
//! their epoch key, with a certificate in the audit chain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use civic_vault::clock::ManualClock;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const SCAN_MARKER: &[u8] = b"QQ-SCAN-OF-A-PASSPORT-QQ";

fn application_with_scans() -> Value {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend_from_slice(SCAN_MARKER);
    let mut png = PNG.to_vec();
    png.extend_from_slice(SCAN_MARKER);
    application(
        "Scan Holder",
        vec![
            json!({"document_type": "foreign_passport", "issuer": "MEX", "number": "S-1",
                   "scan": {"content_type": "application/pdf", "data": b64(&pdf)}}),
            json!({"document_type": "lease", "issuer": "L", "number": "L-1",
                   "scan": {"content_type": "image/png", "data": b64(&png)}}),
        ],
    )
}

fn scan_key_files(keys: &Path) -> Vec<std::path::PathBuf> {
    walk(keys)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("scan-"))
        .collect()
}

/// Every age file in the raw data directory, tried with every identity left
/// in keys/: none may open to a scan.
fn no_scan_decrypts(data: &Path, keys: &Path) {
    let identities: Vec<age::x25519::Identity> = walk(keys)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    // (After destruction there may be no scan key left at all: then nothing
    // can open, which is the point; the loop below still runs over the files.)
    let header = b"age-encryption.org/v1\n";
    let mut files = 0;
    for file in walk(data) {
        let bytes = std::fs::read(&file).unwrap();
        for start in bytes
            .windows(header.len())
            .enumerate()
            .filter(|(_, w)| *w == header)
            .map(|(i, _)| i)
        {
            files += 1;
            for end in (start + 100..=bytes.len()).rev().take(2048) {
                for id in &identities {
                    if let Ok(plain) = age::decrypt(id, &bytes[start..end]) {
                        assert!(
                            !plain.windows(SCAN_MARKER.len()).any(|w| w == SCAN_MARKER),
                            "a scan still decrypts"
                        );
                    }
                }
            }
        }
    }
    assert!(files > 0, "the raw files hold age files (scans and photos)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_disappear_within_the_bound_with_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.retention.source_documents = "2s".parse().unwrap();
    config.retention.sweep_interval = "1s".parse().unwrap();
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let (s, b) = v.post("/v1/enrollments", &clerk, &application_with_scans()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["source_documents"]["stored"], 2);
    assert!(b["source_documents"]["destroy_after"].is_string());
    let keys = v.dir.path().join("keys");
    let epoch_files = scan_key_files(&keys);
    assert_eq!(epoch_files.len(), 1);
    let (_, r) = v.get("/v1/retention", &auditor).await;
    assert_eq!(r["classes"]["source_documents"]["held"], 2, "{r}");

    // Bound: window (2 s) + one epoch (1 s) + one sweep interval (1 s), plus slack.
    let started = std::time::Instant::now();
    loop {
        let (_, r) = v.get("/v1/retention", &auditor).await;
        if r["classes"]["source_documents"]["held"] == 0 && scan_key_files(&keys).is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "scans outlived the bound: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!epoch_files[0].exists());
    let entries = v.audit(&auditor).await;
    let certs: Vec<&Value> = entries.iter().filter(|e| e["action"] == "destroy").collect();
    assert_eq!(certs.len(), 1);
    let c = &certs[0]["certificate"];
    assert_eq!(c["data_class"], "source_documents");
    assert_eq!(c["records"], 2);
    assert_eq!(c["method"], "cryptographic_erase");
    assert_eq!(
        c["key_id"],
        epoch_files[0].file_stem().unwrap().to_string_lossy().as_ref()
    );
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
    let dir = v.stop().await;
    no_scan_decrypts(&dir.path().join("data"), &dir.path().join("keys"));
    assert!(dir_contains(&dir.path().join("data"), SCAN_MARKER).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_destroyed_before_its_window_and_sweeps_are_admin_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.retention.source_documents = "7d".parse().unwrap();
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let admin = v.admin.clone();
    let (s, b) = v.post("/v1/enrollments", &clerk, &application_with_scans()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let destroy_after = time::OffsetDateTime::parse(
        b["source_documents"]["destroy_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // Due between 7 and 8 days from now (7-day window, 1-day epochs).
    let now = civic_vault::clock::Clock::now(clock.as_ref());
    assert!(destroy_after - now > time::Duration::days(7) && destroy_after - now <= time::Duration::days(8));

    let (s, _) = v.post("/v1/retention/sweep", &clerk, &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v.post("/v1/retention/sweep", &officer, &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    clock.advance(Duration::from_secs(7 * 86_400 - 60));
    let (s, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["destroyed"], json!([]));
    let (_, status) = v.get("/v1/retention", &officer).await;
    assert_eq!(status["classes"]["source_documents"]["held"], 2);

    clock.advance(Duration::from_secs(86_400 + 120));
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["destroyed"][0]["records"], 2);
    assert_eq!(r["trigger"], "request");
    let (_, status) = v.get("/v1/retention", &officer).await;
    assert_eq!(status["classes"]["source_documents"]["held"], 0);
    assert_eq!(status["last_sweep"]["sweep_id"], r["sweep_id"]);
    // A second sweep has nothing left to do.
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"], json!([]));
    v.stop().await;
}
