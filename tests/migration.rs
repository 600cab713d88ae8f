//! A store written in record format v1 (status, dates and per-proof
//! attestations readable without keys; keyed-HMAC commitments), made by an
//! earlier build and kept as a fixture: the vault refuses it naming the
//! command, `civic-vault migrate` converts it once (again: nothing to do),
//! and afterwards every card answers as before, its documents are still
//! recognised, and the records look like any v2 record.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): record format v1 was sled's alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use civic_vault::clock::SystemClock;
use civic_vault::domain::store::Store;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}

fn migrate(config_file: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["migrate", "--config"])
        .arg(config_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_store_is_refused_then_migrated_and_serves_as_before() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-store");
    let facts: Value = serde_json::from_str(&std::fs::read_to_string(fixture.join("cards.json")).unwrap()).unwrap();
    let cards: Vec<String> = facts["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), &dir.path().join("data"));
    copy_dir(&fixture.join("keys"), &dir.path().join("keys"));
    let config = sled_config(dir.path(), "idnyc");

    // Refused, naming what to run.
    let refused = civic_vault::Vault::open(config.clone(), Arc::new(SystemClock)).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("civic-vault migrate"), "{message}");

    let file = dir.path().join("vault.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\nkeys_dir = \"{}\"\npolicies_dir = \"{}\"\n[commitments]\nmemory_kib = 8\niterations = 1\n",
            dir.path().join("data").display(),
            dir.path().join("keys").display(),
            policies_dir().display()
        ),
    )
    .unwrap();
    let done = migrate(&file);
    assert_eq!(
        (done["cards"].as_u64(), done["schema"].as_u64()),
        (Some(3), Some(2)),
        "{done}"
    );
    let again = migrate(&file);
    assert_eq!(again["cards"], 0, "a second run has nothing to do");

    let v = TestVault::start_in(dir, config).await;
    let library = v.system("lib", "city_agency", &["library_services"]).await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-lee", &["legal"]).await;
    for (card, valid) in [(&cards[0], true), (&cards[1], false), (&cards[2], true)] {
        let (s, b) = v
            .post(
                "/v1/facts",
                &library,
                &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid", "age_over_18"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["facts"]["card_valid"], valid, "{b}");
        if valid {
            assert_eq!(b["facts"]["age_over_18"], true);
        }
    }
    // The migrated commitments still recognise the documents: the passport
    // behind a valid card cannot back a second one; the one behind the
    // revoked card can.
    let app = |n: &str| {
        application(
            "New Applicant",
            vec![proof("foreign_passport", "MEX", n), proof("lease", "L", "L-NEW")],
        )
    };
    let (s, b) = v.post("/v1/enrollments", &clerk, &app("V1-PASS-1")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate_enrollment"))
    );
    let (s, b) = v.post("/v1/enrollments", &clerk, &app("V1-PASS-2")).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = v
        .post(
            "/v1/legal/requests",
            &legal,
            &json!({"reference": "Case M-1", "requester": {"name": "Court", "agency_kind": "local_law_enforcement"},
                    "process": "court_order", "signed_by_judge": true,
                    "subject": {"document": {"document_type": "foreign_passport", "issuer": "MEX", "number": "V1-PASS-3"}},
                    "items": ["card_status"], "notice_prohibited_by_court": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["package"]["document_match"]["backs_a_card"], true, "{b}");
    assert_eq!(b["package"]["card_status"]["status"], "active");

    // Migrated records look like any other: nothing in the clear tells them apart.
    let dir = v.stop().await;
    let (store, opened) = civic_vault::store::SledStore::open(&dir.path().join("data"), None).unwrap();
    assert_eq!(opened.schema, 2);
    let records = store.card_page(None, 100).unwrap();
    assert_eq!(records.len(), 4);
    let lens: Vec<_> = records
        .iter()
        .map(|(_, r)| (r.meta.len(), r.fields.len(), r.index.len()))
        .collect();
    assert!(lens.windows(2).all(|w| w[0] == w[1]), "{lens:?}");
    for (_, r) in &records {
        let bytes = postcard::to_allocvec(r).unwrap();
        for needle in ["fraud", "clerk-v1", "Vone", "Old Format"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle}");
        }
    }
}
