//! The audit chain's index by subject: a legal request's access log comes
//! from it (no walk of the chain) and holds exactly the card's entries; the
//! index catches up after a restart, is checked against the chain by
//! `audit verify`, and is rebuilt when it was tampered with or lost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use civic_vault::domain::store::Store as _;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn access_log(v: &TestVault, legal: &str, card: &str) -> Vec<Value> {
    let body = json!({
        "reference": "Index 7/2026",
        "requester": {"name": "Det. Example", "agency_kind": "state_agency"},
        "process": "court_order",
        "signed_by_judge": true,
        "subject": {"card_number": card},
        "items": ["access_log"],
        "notice_prohibited_by_court": true,
    });
    let (s, b) = v.post("/v1/legal/requests", legal, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["package"]["access_log"].as_array().unwrap().clone()
}

fn actions(log: &[Value]) -> Vec<String> {
    log.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_comes_from_the_index_and_the_index_from_the_chain() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let library = v.system("nypl", "city_partner", &["library_services"]).await;
    let a = v.enroll_one(&clerk, "P-INDEX-A", "1980-01-01").await;
    let b = v.enroll_one(&clerk, "P-INDEX-B", "1981-02-02").await;
    for card in [&a, &a, &b] {
        let (s, body) = v
            .post(
                "/v1/facts",
                &library,
                &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }

    // A's log: its enrollment and its two fact queries, nothing about B.
    let log = access_log(&v, &legal, &a).await;
    assert_eq!(actions(&log), ["enroll", "query_fact", "query_fact"], "{log:?}");
    assert!(log
        .iter()
        .all(|e| e["principal"] != "nypl" || e["purpose"] == "library_services"));
    let log_b = access_log(&v, &legal, &b).await;
    assert_eq!(actions(&log_b), ["enroll", "query_fact"], "{log_b:?}");
    // A new query is in the very next answer (the index catches up first).
    let _ = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": b, "purpose": "library_services", "facts": ["card_valid"]}),
        )
        .await;
    assert_eq!(
        actions(&access_log(&v, &legal, &b).await),
        ["enroll", "query_fact", "query_fact"]
    );

    // Tamper with the index while the vault is stopped: drop one key, add one.
    let dir = v.stop().await;
    let data = dir.path().join("data");
    {
        let db = sled::open(&data).unwrap();
        let index = db.open_tree("audit_index").unwrap();
        let victim = index
            .iter()
            .keys()
            .map(Result::unwrap)
            .find(|k| k.first() == Some(&b's'))
            .unwrap();
        index.remove(victim).unwrap();
        let mut bogus = b"shmac-sha256:forged\0".to_vec();
        bogus.extend_from_slice(&3u64.to_be_bytes());
        index.insert(bogus, &[][..]).unwrap();
        db.flush().unwrap();
    }
    let (store, _) = civic_vault::store::SledStore::open(&data, None).unwrap();
    let report = store.audit_verify(std::collections::BTreeMap::new()).unwrap();
    assert!(report.ok, "{report:?}");
    let index = report.index.clone().unwrap();
    assert!(!index.consistent && index.rebuilt, "{report:?}");
    let again = store.audit_verify(std::collections::BTreeMap::new()).unwrap();
    let index = again.index.unwrap();
    assert!(index.consistent && !index.rebuilt, "{index:?}");
    assert!(index.keys >= 6, "{index:?}");
    assert!(store
        .audit_about(Some("hmac-sha256:forged"))
        .unwrap()
        .entries
        .is_empty());
    drop(store);

    // Lose the index altogether: the restarted vault rebuilds it on first use.
    {
        let db = sled::open(&data).unwrap();
        db.drop_tree("audit_index").unwrap();
        db.flush().unwrap();
    }
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let log = access_log(&v, &legal, &a).await;
    assert_eq!(actions(&log), ["enroll", "query_fact", "query_fact"], "{log:?}");
    let auditor = v.auditor().await;
    let (s, verified) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{verified}");
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["index"]["consistent"], true, "{verified}");
    v.stop().await;
}
