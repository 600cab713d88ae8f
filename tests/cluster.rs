//! Keys replicated node to node (issue 17, "keys never in the database"):
//! two vault nodes, each with its own data and keys directory, joined by a
//! `[cluster]` over mutual TLS with certificates of the cluster's own CA.
//! A key made on one node arrives on the other, written like a local key;
//! a destruction is certified only once every node has destroyed the key;
//! a node that is down holds the certificate back until it is back; and the
//! cluster listener answers no one else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use civic_vault::cluster::client::PeerClient;
use civic_vault::cluster::tls::Identity;
use common::cluster::*;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_travel_node_to_node_and_destruction_waits_for_every_node() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, clock, b, config_b) = two_nodes(&ca).await;
    let clerk = a.clerk().await;
    let auditor = a.auditor().await;

    // (a) A new epoch key made on A arrives on B, written like a local key
    // and loaded by B's running vault.
    let (s, body) = a.post("/v1/enrollments", &clerk, &application_with_scan("S-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let made = scan_keys(&config_a.keys_dir);
    assert_eq!(made.len(), 1);
    let name = made[0].clone();
    let on_b = config_b.keys_dir.join(&name);
    let cluster_a = Arc::clone(a.vault.as_ref().unwrap().cluster.get().unwrap());
    eventually("B acknowledged the epoch key", || cluster_a.pending() == 0).await;
    let plain_on_a = std::fs::read(config_a.keys_dir.join(&name)).unwrap();
    let sealed_on_b = std::fs::read(&on_b).unwrap();
    assert!(!plain_on_a.starts_with(SEALED));
    assert!(
        sealed_on_b.starts_with(SEALED),
        "sealed under B's seal, like B's own keys"
    );
    assert!(!sealed_on_b
        .windows(plain_on_a.trim_ascii().len())
        .any(|w| w == plain_on_a.trim_ascii()));
    assert_eq!(std::fs::metadata(&on_b).unwrap().permissions().mode() & 0o777, 0o600);
    let epochs = b.vault.as_ref().unwrap().keys.scans.epochs();
    assert_eq!(epochs.len(), 1, "B's running vault holds the received key");
    // Never in the database: the key's text is in no file of A's data.
    let secret = std::fs::read(config_a.keys_dir.join(&name)).unwrap();
    assert!(dir_contains(&config_a.data_dir, secret.trim_ascii()).is_none());

    // (b) Its destruction on A is acknowledged by B, then certified.
    clock.advance(Duration::from_secs(3 * 86_400));
    let (s, report) = a.post("/v1/retention/sweep", &a.admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let key_id = name.trim_end_matches(".key");
    assert_eq!(report["destroyed"][0]["key_id"], key_id, "{report}");
    assert!(!on_b.exists(), "B destroyed the key before A certified it");
    assert!(b.vault.as_ref().unwrap().keys.scans.epochs().is_empty());
    assert!(certificate_for(&a, &auditor, key_id).await.is_some());

    // (c) B down: A destroys the next epoch's key, but certifies nothing.
    let (s, body) = a.post("/v1/enrollments", &clerk, &application_with_scan("S-2")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let second = scan_keys(&config_a.keys_dir)[0].clone();
    let on_b = config_b.keys_dir.join(&second);
    eventually("B acknowledged the second epoch key", || cluster_a.pending() == 0).await;
    assert!(on_b.exists());
    let dir_b = b.stop().await;
    clock.advance(Duration::from_secs(3 * 86_400));
    let (s, report) = a.post("/v1/retention/sweep", &a.admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let key_id = second.trim_end_matches(".key");
    assert!(report["destroyed"].as_array().unwrap().is_empty(), "{report}");
    assert!(report["skipped"][0].as_str().unwrap().contains(key_id), "{report}");
    assert!(!config_a.keys_dir.join(&second).exists(), "destroyed on A at once");
    assert!(on_b.exists(), "B was down: it still holds the key");
    assert!(certificate_for(&a, &auditor, key_id).await.is_none());
    assert_eq!(
        metric(&a, "civic_vault_cluster_pending").await,
        "civic_vault_cluster_pending 1"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        certificate_for(&a, &auditor, key_id).await.is_none(),
        "still no certificate"
    );

    // B back: it destroys the key, and only then is the certificate written.
    let b = TestVault::start_in(dir_b, config_b.clone()).await;
    let mut certificate = None;
    for _ in 0..100 {
        certificate = certificate_for(&a, &auditor, key_id).await;
        if certificate.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let certificate = certificate.expect("certified once B destroyed the key");
    assert_eq!(certificate["certificate"]["data_class"], "source_documents");
    assert!(!on_b.exists(), "B shredded the key");
    assert_eq!(
        metric(&a, "civic_vault_cluster_pending").await,
        "civic_vault_cluster_pending 0"
    );
    let (_, verified) = a.get("/v1/audit/verify", &auditor).await;
    assert_eq!(verified["ok"], true, "{verified}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_listener_answers_only_the_clusters_nodes() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let cluster_b = config_b.cluster.clone().unwrap();
    let url_b = format!("https://{}", cluster_b.listen);
    let kek = a.vault.as_ref().unwrap().keys.active_kek().0;
    let kek_file = format!("{kek}.key");
    let body = serde_json::to_vec(&json!({"name": kek_file})).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // (d) A certificate of another CA: refused at the handshake.
    let other = Ca::new("someone else's CA");
    let (cert, key, _) = other.issue("node-a", tmp.path());
    let (_, _, ours) = ca.issue("unused", &tmp.path().join("ours"));
    let client = PeerClient::new(Identity::load(&cert, &key, &ours).unwrap().connector().unwrap());
    let refused = client
        .post(&url_b, "node-b", "/cluster/v1/destroyed", body.clone())
        .await;
    assert!(refused.is_err(), "{refused:?}");

    // (e) The cluster's CA, but not a configured node: 403, nothing done.
    let (cert, key, ca_path) = ca.issue("node-x", &tmp.path().join("x"));
    let client = PeerClient::new(Identity::load(&cert, &key, &ca_path).unwrap().connector().unwrap());
    let (status, _) = client
        .post(&url_b, "node-b", "/cluster/v1/destroyed", body.clone())
        .await
        .unwrap();
    assert_eq!(status, 403);
    assert!(config_b.keys_dir.join(&kek_file).exists());

    // A configured node may not write anything but a replicated key file.
    let (cert, key, ca_path) = ca.issue("node-a", &tmp.path().join("a"));
    let client = PeerClient::new(Identity::load(&cert, &key, &ca_path).unwrap().connector().unwrap());
    for name in ["../escape.key", "admin.token", "blind-00000000.key"] {
        let bad = serde_json::to_vec(&json!({"name": name, "bytes": "AAAA"})).unwrap();
        let (status, _) = client.post(&url_b, "node-b", "/cluster/v1/keys", bad).await.unwrap();
        assert_eq!(status, 400, "{name}");
    }
    // Nor destroy the KEK B's keyring names active.
    let (status, _) = client
        .post(&url_b, "node-b", "/cluster/v1/destroyed", body.clone())
        .await
        .unwrap();
    assert_eq!(status, 409);
    assert!(config_b.keys_dir.join(&kek_file).exists());
    // Nor the KEK active in B's memory, even when keyring.toml on disk
    // names another (a stale node's manifest, say).
    let manifest_b = config_b.keys_dir.join("keyring.toml");
    let manifest = std::fs::read_to_string(&manifest_b).unwrap();
    std::fs::write(&manifest_b, manifest.replace(kek.as_str(), "kek-00000001")).unwrap();
    let (status, _) = client
        .post(&url_b, "node-b", "/cluster/v1/destroyed", body.clone())
        .await
        .unwrap();
    assert_eq!(status, 409);
    assert!(config_b.keys_dir.join(&kek_file).exists());
    std::fs::write(&manifest_b, manifest).unwrap();
    // Destroying a key B does not hold is acknowledged (idempotent).
    let gone = serde_json::to_vec(&json!({"name": "kek-00000000.key"})).unwrap();
    let (status, ack) = client
        .post(&url_b, "node-b", "/cluster/v1/destroyed", gone)
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&ack));
    // A client dialling B under another node's name is refused by B's certificate.
    assert!(client
        .post(&url_b, "node-a", "/cluster/v1/destroyed", body)
        .await
        .is_err());
    let _ = config_a;
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kek_rotation_reaches_every_node_before_the_old_kek_is_certified() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let clerk = a.clerk().await;
    let auditor = a.auditor().await;
    let old = a.vault.as_ref().unwrap().keys.active_kek().0;
    let erased = a.enroll_one(&clerk, "E-1", "1990-04-12").await;
    let (s, _) = a.request_erasure(&clerk, &erased).await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // The sweep erases the record, rotates the KEK and destroys the old one.
    let (s, report) = a.post("/v1/retention/sweep", &a.admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let destroyed = report["destroyed"].as_array().unwrap();
    assert!(
        destroyed
            .iter()
            .any(|c| c["data_class"] == "key_encryption_key" && c["key_id"] == old.as_str()),
        "{report}"
    );
    let new = a.vault.as_ref().unwrap().keys.active_kek().0;
    assert_ne!(new, old);
    // B took the new KEK (sealed), made it active, and shredded the old one.
    let new_on_b = std::fs::read(config_b.keys_dir.join(format!("{new}.key"))).unwrap();
    assert!(new_on_b.starts_with(SEALED));
    assert_eq!(
        std::fs::read(config_b.keys_dir.join("keyring.toml")).unwrap(),
        std::fs::read(config_a.keys_dir.join("keyring.toml")).unwrap()
    );
    assert!(!config_b.keys_dir.join(format!("{old}.key")).exists());
    let keys_b = &b.vault.as_ref().unwrap().keys;
    assert_eq!(keys_b.active_kek().0, new);
    assert!(keys_b.kek(&old).is_none());
    assert!(certificate_for(&a, &auditor, &old).await.is_some());
    // B restarts on what it received: its keyring opens with the new KEK.
    let dir_b = b.stop().await;
    let b = TestVault::start_in(dir_b, config_b).await;
    assert_eq!(b.vault.as_ref().unwrap().keys.kek_ids(), vec![new.clone()]);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attestation_key_rotation_reaches_every_node() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let old = a.vault.as_ref().unwrap().attestor().kid().to_owned();
    assert_eq!(
        b.vault.as_ref().unwrap().attestor().kid(),
        old,
        "one keys directory, copied"
    );

    let (s, rotation) = a.post("/v1/keys/attestation/rotate", &a.admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{rotation}");
    let new = rotation["kid"].as_str().unwrap().to_owned();
    let cluster_a = Arc::clone(a.vault.as_ref().unwrap().cluster.get().unwrap());
    eventually("B acknowledged the new key and keyring.toml", || {
        cluster_a.pending() == 0
    })
    .await;
    // B signs with the new key (sealed on B like its own keys), publishes the
    // old one beside it, and has destroyed its copy of the old seed.
    assert_eq!(b.vault.as_ref().unwrap().attestor().kid(), new);
    assert!(std::fs::read(config_b.keys_dir.join(format!("{new}.key")))
        .unwrap()
        .starts_with(SEALED));
    assert!(!config_b.keys_dir.join(format!("{old}.key")).exists());
    assert!(!config_a.keys_dir.join(format!("{old}.key")).exists());
    let published: serde_json::Value = b
        .http
        .get(b.url("/v1/attestation-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new.as_str(), old.as_str()]);
    // B restarts on what it received.
    let dir_b = b.stop().await;
    let b = TestVault::start_in(dir_b, config_b).await;
    assert_eq!(b.vault.as_ref().unwrap().attestor().kid(), new);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_holds_key_is_certified_only_once_every_node_destroyed_it() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let cluster_a = Arc::clone(a.vault.as_ref().unwrap().cluster.get().unwrap());
    let clerk = a.clerk().await;
    let legal = a.staff("legal-1", &["legal"]).await;
    let officer = a.staff("privacy-1", &["privacy_officer"]).await;
    let auditor = a.auditor().await;
    let (_, card) = a.post("/v1/enrollments", &clerk, &application_with_scan("H-1")).await;
    let card = card["card_number"].as_str().unwrap().to_owned();
    let (_, hold) = a
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 24-CV-121", "card_number": card}),
        )
        .await;
    let id = hold["id"].as_str().unwrap().to_owned();
    let (s, approved) = a
        .post(&format!("/v1/legal/holds/{id}/approve"), &officer, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["scans_held"], 1);
    // The hold's key reaches B, sealed there.
    eventually("B acknowledged the hold key", || cluster_a.pending() == 0).await;
    let on_b = config_b.keys_dir.join(format!("{id}.key"));
    assert!(std::fs::read(&on_b).unwrap().starts_with(SEALED));

    // B down: the release destroys A's copy, but certifies nothing yet.
    let dir_b = b.stop().await;
    let (s, released) = a
        .post(&format!("/v1/legal/holds/{id}/release"), &legal, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{released}");
    assert!(!config_a.keys_dir.join(format!("{id}.key")).exists());
    assert!(on_b.exists());
    assert!(certificate_for(&a, &auditor, &id).await.is_none());
    assert_eq!(cluster_a.pending(), 1);

    // B back: it shreds its copy, then the certificate is written.
    let b = TestVault::start_in(dir_b, config_b).await;
    let mut certificate = None;
    for _ in 0..100 {
        certificate = certificate_for(&a, &auditor, &id).await;
        if certificate.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let certificate = certificate.expect("certified once B destroyed the hold's key");
    assert_eq!(certificate["certificate"]["records"], 1);
    assert!(!on_b.exists());

    // A crash between a release and its key's destruction leaves the key
    // on A: the next sweep destroys it and certifies it too.
    let on_a = config_a.keys_dir.join(format!("{id}.key"));
    std::fs::write(&on_a, age::x25519::Identity::generate().to_string().expose_secret()).unwrap();
    std::fs::set_permissions(&on_a, std::fs::Permissions::from_mode(0o600)).unwrap();
    let count = |entries: Vec<serde_json::Value>| {
        entries
            .iter()
            .filter(|e| e["certificate"]["key_id"] == id.as_str())
            .count()
    };
    assert_eq!(count(a.audit(&auditor).await), 1);
    let (s, report) = a.post("/v1/retention/sweep", &a.admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert!(!on_a.exists());
    let mut certified = 0;
    for _ in 0..100 {
        certified = count(a.audit(&auditor).await);
        if certified == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(certified, 2, "the sweep's destruction is certified");
    b.stop().await;
    a.stop().await;
}
