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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use civic_vault::clock::ManualClock;
use civic_vault::cluster::client::PeerClient;
use civic_vault::cluster::tls::Identity;
use civic_vault::crypto::seal::{self, NewSeal};
use civic_vault::Config;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use reqwest::StatusCode;
use serde_json::{json, Value};
use zeroize::Zeroizing;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// Writes `<node>.crt`, `<node>.pem` and `ca.crt` (this CA) into `dir`;
    /// returns (cert, key, ca) paths.
    fn issue(&self, node: &str, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        std::fs::create_dir_all(dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![node.to_owned()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, node);
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        let paths = (
            dir.join(format!("{node}.crt")),
            dir.join(format!("{node}.pem")),
            dir.join("ca.crt"),
        );
        std::fs::write(&paths.0, cert.pem()).unwrap();
        std::fs::write(&paths.1, key.serialize_pem()).unwrap();
        std::fs::set_permissions(&paths.1, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&paths.2, self.cert.pem()).unwrap();
        paths
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node's configuration: sled in `dir`, its cluster listener at `port`,
/// the other node at `peer_port`.
fn node_config(dir: &Path, ca: &Ca, me: &str, port: u16, peer: &str, peer_port: u16) -> Config {
    let mut config = test_config(dir, "idnyc");
    config.retention.source_documents = "1d".parse().unwrap();
    let (cert, key, ca_path) = ca.issue(me, &dir.join("tls"));
    let text = format!(
        "[cluster]\nnode_id = \"{me}\"\nlisten = \"127.0.0.1:{port}\"\ncert = \"{}\"\nkey = \"{}\"\nca = \"{}\"\n\
         retry_interval = \"1s\"\npeers = [{{ id = \"{peer}\", url = \"https://127.0.0.1:{peer_port}\" }}]\n",
        cert.display(),
        key.display(),
        ca_path.display()
    );
    config.cluster = Config::from_toml(&text).unwrap().cluster;
    config
}

fn application_with_scan(number: &str) -> Value {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend_from_slice(b"a scan of a passport");
    application(
        "Scan Holder",
        vec![
            json!({"document_type": "foreign_passport", "issuer": "MEX", "number": number,
                   "scan": {"content_type": "application/pdf", "data": b64(&pdf)}}),
            proof("lease", "L", &format!("L-{number}")),
        ],
    )
}

fn scan_keys(keys: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(keys)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("scan-") && n.ends_with(".key"))
        .collect();
    names.sort();
    names
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn certificate_for(v: &TestVault, auditor: &str, key_id: &str) -> Option<Value> {
    v.audit(auditor)
        .await
        .into_iter()
        .find(|e| e["certificate"]["key_id"] == key_id)
}

async fn metric(v: &TestVault, name: &str) -> String {
    let text = v
        .http
        .get(v.url("/metrics"))
        .bearer_auth(&v.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_default()
        .to_owned()
}

/// Node A up (it made the keyring), its keys copied once to B, B up.
async fn two_nodes(ca: &Ca) -> (TestVault, Config, Arc<ManualClock>, TestVault, Config) {
    let (port_a, port_b) = (free_port(), free_port());
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let config_a = node_config(dir_a.path(), ca, "node-a", port_a, "node-b", port_b);
    let config_b = node_config(dir_b.path(), ca, "node-b", port_b, "node-a", port_a);
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let a = TestVault::start_with_clock(dir_a, config_a.clone(), clock.clone()).await;
    // The bootstrap copy, once, before B's first start (not the ledger).
    std::fs::create_dir_all(&config_b.keys_dir).unwrap();
    std::fs::set_permissions(&config_b.keys_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for e in std::fs::read_dir(&config_a.keys_dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "cluster-ledger.json" || name == ".lock" {
            continue;
        }
        std::fs::copy(e.path(), config_b.keys_dir.join(&name)).unwrap();
    }
    // B's keys are sealed (A's are not): what B receives is sealed under B's seal.
    seal::seal(
        &config_b.keys_dir,
        &NewSeal::Passphrase(Zeroizing::new(PASSPHRASE.into())),
    )
    .unwrap();
    let pass_file = config_b.data_dir.with_file_name("passphrase");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    std::fs::set_permissions(&pass_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config_b = config_b;
    config_b.seal.passphrase_file = Some(pass_file);
    let b = TestVault::start_in(dir_b, config_b.clone()).await;
    (a, config_a, clock, b, config_b)
}

const PASSPHRASE: &str = "correct horse battery staple";
const SEALED: &[u8] = b"civic-vault sealed key v1\n";

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
