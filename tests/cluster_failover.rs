//! Keys replicated to a standby (issue 17, "keys never in the database"):
//! two nodes on one PostgreSQL database, each with its own keys directory.
//! A key the active node makes reaches the standby while it waits, so when
//! the active node goes the standby takes over with it. Needs
//! `CIVIC_VAULT_TEST_PG` (`.ci/postgres-setup`); without it, it says so and passes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::cluster::*;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

async fn ready(v: &TestVault) -> bool {
    let (s, _) = v.call(reqwest::Method::GET, "/readyz", None, None).await;
    s == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_receives_keys_and_takes_over_with_them() {
    let Some(url) = common::require_postgres() else {
        return;
    };
    let schema = fresh_schema(&url);
    let store = civic_vault::config::Store {
        kind: civic_vault::config::StoreKind::Postgres,
        url: schema,
    };
    let ca = Ca::new("civic-vault cluster CA");
    let (port_a, port_b) = (free_port(), free_port());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut config_a = node_config(dir_a.path(), &ca, "node-a", port_a, "node-b", port_b);
    let mut config_b = node_config(dir_b.path(), &ca, "node-b", port_b, "node-a", port_a);
    config_a.store = store.clone();
    config_b.store = store;

    // A takes the lock and makes the keyring; its keys are copied to B once.
    let mut a = TestVault::start_run(dir_a, config_a.clone(), "").await;
    let mut tries = 0;
    while !ready(&a).await {
        tries += 1;
        assert!(tries < 400, "A did not become active");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    a.admin = std::fs::read_to_string(config_a.keys_dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    std::fs::create_dir_all(&config_b.keys_dir).unwrap();
    std::fs::set_permissions(&config_b.keys_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for e in std::fs::read_dir(&config_a.keys_dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "cluster-ledger.json" && name != ".lock" {
            std::fs::copy(e.path(), config_b.keys_dir.join(&name)).unwrap();
        }
    }
    let b = TestVault::start_run(dir_b, config_b.clone(), &a.admin).await;
    assert!(!ready(&b).await, "B is a standby");

    // A new epoch key made on A reaches the standby.
    let clerk = a.clerk().await;
    let legal = a.staff("legal-1", &["legal"]).await;
    let officer = a.staff("privacy-1", &["privacy_officer"]).await;
    let (s, card) = a.post("/v1/enrollments", &clerk, &application_with_scan("F-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{card}");
    let card = card["card_number"].as_str().unwrap().to_owned();
    let made = scan_keys(&config_a.keys_dir);
    assert_eq!(made.len(), 1);
    let on_b = config_b.keys_dir.join(&made[0]);
    eventually("the standby has the epoch key", || on_b.exists()).await;

    // A goes; B takes over, and opens the scans with the key it received.
    a.stop().await;
    let mut tries = 0;
    while !ready(&b).await {
        tries += 1;
        assert!(tries < 600, "B did not take over");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (s, hold) = b
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 24-CV-122", "card_number": card}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hold}");
    let id = hold["id"].as_str().unwrap();
    let (s, approved) = b
        .post(&format!("/v1/legal/holds/{id}/approve"), &officer, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(
        approved["scans_held"], 1,
        "B opened the scan with the received epoch key"
    );
    b.stop().await;
}
