//! Retention: scans kept for their window only, then destroyed by destroying
//! their epoch key, with a certificate in the audit chain.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

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
    let destroyed_at = r["destroyed"][0]["destroyed_at"].as_str().unwrap().to_owned();
    let (_, status) = v.get("/v1/retention", &officer).await;
    assert_eq!(status["classes"]["source_documents"]["held"], 0);
    assert_eq!(status["last_sweep"]["sweep_id"], r["sweep_id"]);
    // A second sweep has nothing left to do.
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"], json!([]));
    // A legal answer's "not held" dates the destruction from its certificate.
    let legal = v.staff("legal-1", &["legal"]).await;
    let (_, a) = v
        .post(
            "/v1/legal/requests",
            &legal,
            &json!({"reference": "Case 1", "requester": {"name": "Court", "agency_kind": "state_agency"},
                    "process": "court_order", "signed_by_judge": true,
                    "subject": {"document": {"document_type": "foreign_passport", "issuer": "MEX", "number": "X"}},
                    "items": []}),
        )
        .await;
    let not_held = a["not_held"][0].as_str().unwrap();
    assert!(
        not_held.contains(&format!("2 destroyed in all, most recently on {destroyed_at}")),
        "{not_held}"
    );
    v.stop().await;
}

/// Every wrapped data key in the raw files (`kek-XXXXXXXX`, a length byte of
/// 72, then nonce ‖ key ‖ tag), tried with every KEK left in keys/ for `owner`.
fn unwrappable_keys(data: &Path, keys: &Path, owner: &[u8; 32]) -> usize {
    use base64::Engine;
    let keks: Vec<(String, civic_vault::crypto::Secret32)> = walk(keys)
        .into_iter()
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            name.starts_with("kek-").then_some(())?;
            let text = std::fs::read_to_string(&p).ok()?;
            let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?
                .try_into()
                .ok()?;
            Some((name, civic_vault::crypto::Secret32::from_bytes(bytes)))
        })
        .collect();
    assert!(!keks.is_empty());
    let mut found = 0;
    for file in walk(data) {
        let bytes = std::fs::read(&file).unwrap();
        for (i, _) in bytes.windows(4).enumerate().filter(|(_, w)| *w == b"kek-") {
            let Some(id) = bytes.get(i..i + 12).and_then(|b| std::str::from_utf8(b).ok()) else {
                continue;
            };
            let Some(sealed) = bytes.get(i + 13..i + 13 + 72) else {
                continue;
            };
            if bytes[i + 12] != 72 {
                continue;
            }
            let wrapped = civic_vault::crypto::WrappedKey {
                kek_id: id.to_owned(),
                sealed: sealed.to_vec(),
            };
            for (_, kek) in &keks {
                if civic_vault::crypto::DataKey::unwrap_with(&wrapped, kek, owner).is_ok() {
                    found += 1;
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_cardholder_is_unrecoverable_from_raw_files_after_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.retention.sweep_interval = "1s".parse().unwrap();
    config.retention.key_rotation = "1s".parse().unwrap();
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let erased = v.enroll_one(&clerk, "E-1", "1990-04-12").await;
    let kept = v.enroll_one(&clerk, "K-1", "1985-01-01").await;
    let (s, _) = v.request_erasure(&clerk, &erased).await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // Bound: the next sweep deletes the record and (rotation period 1 s) the
    // KEK that wrapped its data key is destroyed.
    let started = std::time::Instant::now();
    loop {
        let entries = v.audit(&auditor).await;
        let kek_destroyed = entries
            .iter()
            .any(|e| e["certificate"]["data_class"] == "key_encryption_key");
        if kek_destroyed {
            let deleted = entries
                .iter()
                .find(|e| e["certificate"]["data_class"] == "inactive_cardholders")
                .unwrap();
            assert_eq!(deleted["certificate"]["records"], 1);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "not erased within the bound"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The kept card still works (its data key was rewrapped); the erased one is gone.
    let photo = v.photo(&clerk, &kept).await;
    assert_eq!(photo.status(), StatusCode::OK);
    let (s, _) = v
        .get(&format!("/v1/cardholders/{erased}/photo?purpose=card_printing"), &clerk)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let (_, b) = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": kept, "purpose": "library_services", "facts": ["card_valid", "age_over_18"]}),
        )
        .await;
    assert_eq!(b["facts"], json!({"card_valid": true, "age_over_18": true}));
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
    let dir = v.stop().await;

    let keyring = civic_vault::crypto::Keyring::open_or_create(&dir.path().join("keys")).unwrap();
    let (data, keys) = (dir.path().join("data"), dir.path().join("keys"));
    // The method finds wrapped keys: the kept card's still unwraps...
    assert!(unwrappable_keys(&data, &keys, &keyring.blind.card_id(&kept)) > 0);
    // ...and no copy of the erased card's, anywhere in sled's files, does.
    assert_eq!(unwrappable_keys(&data, &keys, &keyring.blind.card_id(&erased)), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_cards_are_kept_for_the_window_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.retention.inactive_cardholders = "30d".parse().unwrap();
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let admin = v.admin.clone();
    let card = v.enroll_one(&clerk, "R-1", "1990-04-12").await;
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    clock.advance(Duration::from_secs(29 * 86_400));
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"], json!([]), "{r}");
    let photo = |v: &TestVault| {
        v.http
            .get(v.url(&format!("/v1/cardholders/{card}/photo?purpose=card_printing")))
            .bearer_auth(&clerk)
            .send()
    };
    assert_eq!(photo(&v).await.unwrap().status(), StatusCode::OK);
    clock.advance(Duration::from_secs(2 * 86_400));
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    let classes: Vec<&str> = r["destroyed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data_class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["inactive_cardholders", "key_encryption_key"], "{r}");
    assert_eq!(photo(&v).await.unwrap().status(), StatusCode::NOT_FOUND);
    // The same passport may now back a new card.
    let again = v.enroll_one(&clerk, "R-1", "1990-04-12").await;
    assert_ne!(again, card);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_card_survives_sweeps_and_goes_after_release_and_holds_take_two_people() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    // Separation of duties (v1.1): nobody is both legal and privacy officer,
    // so nobody can approve a hold they asked for by holding both roles.
    let (s, refused) = v
        .post(
            "/v1/principals",
            &v.admin,
            &json!({"id": "legal-and-privacy", "kind": "staff", "roles": ["legal", "privacy_officer"]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("roles"));
    let admin = v.admin.clone();
    let card = v.enroll_one(&clerk, "H-1", "1990-04-12").await;

    // Clerks cannot ask for holds; an unknown card is 404.
    let (s, _) = v
        .post(
            "/v1/legal/holds",
            &clerk,
            &json!({"reference": "Case 24-CV-118", "card_number": card}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 24-CV-118", "card_number": "0000-0000-0000-0000"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, own) = v
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 24-CV-118", "card_number": card}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    let own_id = own["id"].as_str().unwrap();
    // Legal cannot approve at all.
    let (s, _) = v
        .post(&format!("/v1/legal/holds/{own_id}/approve"), &legal, &json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v
        .post(&format!("/v1/legal/holds/{own_id}/release"), &legal, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);

    let (_, hold) = v
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 24-CV-119", "card_number": card}),
        )
        .await;
    let id = hold["id"].as_str().unwrap().to_owned();
    assert_eq!(hold["status"], "pending");
    let (s, b) = v
        .post(&format!("/v1/legal/holds/{id}/approve"), &officer, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["approved_by"], "privacy-1");

    // The holder asks for erasure: the hold keeps the record through sweeps.
    let (s, _) = v.request_erasure(&clerk, &card).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"], json!([]), "{r}");
    assert!(r["skipped"][0].as_str().unwrap().contains(&id), "{r}");
    // The held record is looked at again by later sweeps, and kept again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"], json!([]), "{r}");
    assert!(r["skipped"][0].as_str().unwrap().contains(&id), "{r}");
    let (_, list) = v.get("/v1/legal/holds", &officer).await;
    assert_eq!(list["holds"].as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains(&card),
        "the list names cards by keyed hash only"
    );

    let (s, _) = v
        .post(&format!("/v1/legal/holds/{id}/release"), &legal, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"][0]["data_class"], "inactive_cardholders", "{r}");
    assert_eq!(r["skipped"], json!([]));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_preserves_the_cards_scans_past_their_epoch_until_release() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.retention.source_documents = "7d".parse().unwrap();
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let admin = v.admin.clone();
    let (_, held_card) = v.post("/v1/enrollments", &clerk, &application_with_scans()).await;
    let held_card = held_card["card_number"].as_str().unwrap().to_owned();
    let mut other = application_with_scans();
    other["proofs"][0]["number"] = json!("S-2");
    let (s, _) = v.post("/v1/enrollments", &clerk, &other).await;
    assert_eq!(s, StatusCode::CREATED);

    let (_, hold) = v
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 24-CV-120", "card_number": held_card}),
        )
        .await;
    let id = hold["id"].as_str().unwrap().to_owned();
    let (s, approved) = v
        .post(&format!("/v1/legal/holds/{id}/approve"), &officer, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["scans_held"], 2);
    let keys = v.dir.path().join("keys");
    assert!(keys.join(format!("{id}.key")).exists());

    // The epoch (both cards' scans) is destroyed on schedule; the hold's copy is not.
    clock.advance(Duration::from_secs(9 * 86_400));
    let (_, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(r["destroyed"][0]["data_class"], "source_documents", "{r}");
    assert_eq!(r["destroyed"][0]["records"], 4);
    assert!(scan_key_files(&keys).is_empty());
    assert!(keys.join(format!("{id}.key")).exists(), "the hold keeps its scans");

    let (s, released) = v
        .post(&format!("/v1/legal/holds/{id}/release"), &legal, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{released}");
    assert!(
        !keys.join(format!("{id}.key")).exists(),
        "released: the hold's key is destroyed"
    );
    let auditor = v.auditor().await;
    let entries = v.audit(&auditor).await;
    let cert = entries
        .iter()
        .find(|e| e["certificate"]["key_id"] == id.as_str())
        .expect("a certificate for the released scans");
    assert_eq!(cert["certificate"]["records"], 2);
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
    let dir = v.stop().await;
    no_scan_decrypts(&dir.path().join("data"), &dir.path().join("keys"));
}

fn kek_files(keys: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(keys)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("kek-"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_rotates_the_kek_on_demand_and_records_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let card = v.enroll_one(&clerk, "KR-1", "1990-04-12").await;
    let before = kek_files(&keys);
    assert_eq!(before.len(), 1);

    // No erasures, so no rotation is due: a plain sweep leaves the KEK.
    let (s, r) = v.post("/v1/retention/sweep", &v.admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(kek_files(&keys), before);
    // A clerk may not ask for one; an unknown field is named.
    let (s, _) = v
        .post("/v1/retention/sweep", &clerk, &json!({"rotate_kek": true}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = v
        .post("/v1/retention/sweep", &v.admin, &json!({"rotate_kek": true, "x": 1}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    // The operator's command, as the README gives it.
    let out = v.operator(&["keys", "rotate-kek"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let certificate = report["destroyed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["data_class"] == "key_encryption_key")
        .unwrap_or_else(|| panic!("no KEK certificate: {report}"));
    assert_eq!(certificate["key_id"], before[0].trim_end_matches(".key"));
    let after = kek_files(&keys);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a new KEK, the old one gone");

    // The record opens under the new KEK; the chain records the destruction.
    let photo = v.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::OK);
    let entries = v.audit(&auditor).await;
    assert!(entries
        .iter()
        .any(|e| e["certificate"]["data_class"] == "key_encryption_key"));
}
