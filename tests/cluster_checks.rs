//! What a node of the cluster refuses from its peers and from the network
//! (SECURITY.md, "Keys never in the database"): a key that would replace
//! one it holds, a key whose time has not come, a `keyring.toml` that
//! changes more than the active KEK, a key that is not a key; a refused
//! message stays queued and is counted; a configured cluster that is not
//! running certifies nothing; the cluster key must be owner-only; a slow
//! connection is closed; idle connections from other addresses never keep
//! a peer out.

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
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use civic_vault::clock::Clock;
use civic_vault::cluster::client::PeerClient;
use civic_vault::cluster::tls::Identity;
use common::cluster::*;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_never_replaces_a_held_key_nor_sends_one_from_the_future() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, clock, b, config_b) = two_nodes(&ca).await;
    let url_b = format!("https://{}", config_b.cluster.clone().unwrap().listen);
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key, ca_path) = ca.issue("node-a", tmp.path());
    let client = PeerClient::new(Identity::load(&cert, &key, &ca_path).unwrap().connector().unwrap());
    let send = |name: String, bytes: Vec<u8>| {
        let body = serde_json::to_vec(&json!({"name": name, "bytes": B64.encode(bytes)})).unwrap();
        let client = &client;
        let url_b = &url_b;
        async move { client.post(url_b, "node-b", "/cluster/v1/keys", body).await.unwrap().0 }
    };
    let keys_b = &b.vault.as_ref().unwrap().keys;
    let (kek, before) = keys_b.active_kek();
    let kek_file = format!("{kek}.key");
    let on_disk = std::fs::read(config_b.keys_dir.join(&kek_file)).unwrap();
    let ours = std::fs::read(config_a.keys_dir.join(&kek_file)).unwrap();

    // Other bytes under the active KEK's name: 409, nothing replaced.
    assert_eq!(send(kek_file.clone(), B64.encode([7u8; 32]).into_bytes()).await, 409);
    assert_eq!(std::fs::read(config_b.keys_dir.join(&kek_file)).unwrap(), on_disk);
    let (still, after) = keys_b.active_kek();
    assert_eq!(still, kek);
    assert!(Arc::ptr_eq(&before, &after), "the KEK in memory is the same");
    // The same bytes again: acknowledged.
    assert_eq!(send(kek_file.clone(), ours).await, 200);

    // A scan epoch key: refused for an epoch not started, taken for this one.
    let identity = age::x25519::Identity::generate();
    let text = identity.to_string().expose_secret().to_owned();
    let now = clock.now().unix_timestamp();
    let len = 86_400_i64;
    let future = format!("scan-{len}s-{}.key", now / len + 2);
    assert_eq!(send(future.clone(), text.clone().into_bytes()).await, 409);
    assert!(!config_b.keys_dir.join(&future).exists());
    let current = format!("scan-{len}s-{}.key", now / len);
    assert_eq!(send(current.clone(), text.clone().into_bytes()).await, 200);
    // Then another key for that epoch (a failover's new active made its
    // own): refused, the first kept.
    let other = age::x25519::Identity::generate();
    let other = other.to_string().expose_secret().to_owned();
    assert_eq!(send(current.clone(), other.into_bytes()).await, 409);
    assert_eq!(b.vault.as_ref().unwrap().keys.scans.epochs().len(), 1);

    // An issuer key dated far ahead would become the signing key: refused.
    let issuer = format!("issuer-{}-0a1b2c3d.key", now + 10 * 365 * 86_400);
    assert_eq!(send(issuer.clone(), B64.encode([9u8; 32]).into_bytes()).await, 409);
    assert!(!config_b.keys_dir.join(&issuer).exists());
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_manifest_or_key_is_checked_before_it_is_written() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, _config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let url_b = format!("https://{}", config_b.cluster.clone().unwrap().listen);
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key, ca_path) = ca.issue("node-a", tmp.path());
    let client = PeerClient::new(Identity::load(&cert, &key, &ca_path).unwrap().connector().unwrap());
    let send = |name: &str, bytes: Vec<u8>| {
        let body = serde_json::to_vec(&json!({"name": name, "bytes": B64.encode(bytes)})).unwrap();
        let client = &client;
        let url_b = &url_b;
        async move { client.post(url_b, "node-b", "/cluster/v1/keys", body).await.unwrap().0 }
    };
    let manifest_path = config_b.keys_dir.join("keyring.toml");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    let kek = b.vault.as_ref().unwrap().keys.active_kek().0;

    // Garbage would brick B at its next start: refused, nothing written.
    assert_eq!(send("keyring.toml", b"not toml [".to_vec()).await, 409);
    // Another attestation key swapped in: refused.
    let table: toml::Table = toml::from_str(&manifest).unwrap();
    let mut swapped = table.clone();
    swapped.insert("attestation".into(), "attest-00000000".into());
    let swapped = toml::to_string(&swapped).unwrap();
    assert_eq!(send("keyring.toml", swapped.into_bytes()).await, 409);
    // A KEK not held here yet: acknowledged, not applied.
    let mut ahead = table.clone();
    ahead.insert("kek".into(), "kek-0badc0de".into());
    let ahead = toml::to_string(&ahead).unwrap();
    assert_eq!(send("keyring.toml", ahead.into_bytes()).await, 200);
    assert_eq!(std::fs::read_to_string(&manifest_path).unwrap(), manifest);
    assert_eq!(b.vault.as_ref().unwrap().keys.active_kek().0, kek);

    // A key file that is not a key of its kind: 400, never written.
    for (name, bytes) in [
        ("kek-0badc0de.key", B64.encode([1u8; 16]).into_bytes()),
        ("issuer-1000-0a1b2c3d.key", b"not base64".to_vec()),
        ("hold_ab12.key", b"AGE-SECRET-KEY-NOPE".to_vec()),
    ] {
        assert_eq!(send(name, bytes).await, 400, "{name}");
        assert!(!config_b.keys_dir.join(name).exists(), "{name}");
    }
    let dir_b = b.stop().await;
    // B still starts on what it holds.
    let b = TestVault::start_in(dir_b, config_b).await;
    assert_eq!(b.vault.as_ref().unwrap().keys.active_kek().0, kek);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_cluster_that_is_not_running_certifies_nothing() {
    let ca = Ca::new("civic-vault cluster CA");
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), &ca, "node-a", free_port(), "node-b", free_port());
    // Opened, not served: no cluster joined.
    let vault = civic_vault::vault::Vault::open(config, Arc::new(civic_vault::clock::SystemClock))
        .await
        .unwrap();
    assert!(vault.cluster.get().is_none());
    let certificate = civic_vault::domain::audit::Certificate {
        data_class: "source_documents".into(),
        records: 0,
        key_id: "scan-86400s-1".into(),
        method: "shred".into(),
        destroyed_at: "2026-01-01T00:00:00Z".into(),
        sweep_id: "sweep-1".into(),
    };
    let certified =
        civic_vault::vault::keyrep::certify(&vault, "scan-86400s-1.key", None, "source_documents", &certificate).await;
    assert!(certified.is_err(), "{certified:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_stays_queued_and_is_counted() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, clock, b, config_b) = two_nodes(&ca).await;
    let cluster_a = Arc::clone(a.vault.as_ref().unwrap().cluster.get().unwrap());
    // A key B refuses (an epoch far ahead of its clock), queued on A.
    let name = format!("scan-86400s-{}.key", clock.now().unix_timestamp() / 86_400 + 30);
    let identity = age::x25519::Identity::generate();
    let path = config_a.keys_dir.join(&name);
    std::fs::write(&path, identity.to_string().expose_secret()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    cluster_a.created(&name);
    let mut refused = String::new();
    for _ in 0..100 {
        refused = metric(&a, "civic_vault_cluster_refused_total").await;
        if refused != "civic_vault_cluster_refused_total 0" && !refused.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(refused, "civic_vault_cluster_refused_total 0");
    assert!(refused.starts_with("civic_vault_cluster_refused_total "), "{refused}");
    assert_eq!(cluster_a.pending(), 1, "kept, not dropped");
    assert!(!config_b.keys_dir.join(&name).exists());
    b.stop().await;
    a.stop().await;
}

#[test]
fn a_cluster_key_readable_by_others_is_refused() {
    let ca = Ca::new("civic-vault cluster CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_path) = ca.issue("node-a", dir.path());
    let text = format!(
        "[cluster]\nnode_id = \"node-a\"\nlisten = \"127.0.0.1:{}\"\ncert = \"{}\"\nkey = \"{}\"\nca = \"{}\"\n\
         peers = [{{ id = \"node-b\", url = \"https://127.0.0.1:{}\" }}]\n",
        free_port(),
        cert.display(),
        key.display(),
        ca_path.display(),
        free_port()
    );
    assert!(civic_vault::config::Config::from_toml(&text).is_ok());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = civic_vault::config::Config::from_toml(&text).unwrap_err().to_string();
    assert!(
        refused.contains("cluster.key") && refused.contains("chmod 600"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = Ca::new("civic-vault cluster CA");
    let (a, _config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let listen = config_b.cluster.clone().unwrap().listen;
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key, ca_path) = ca.issue("node-a", tmp.path());
    let connector = Identity::load(&cert, &key, &ca_path).unwrap().connector().unwrap();
    let tcp = tokio::net::TcpStream::connect(listen).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("node-b").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"POST /cluster/v1/keys HTTP/1.1\r\nhost: node-b\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(25), tls.read(&mut buf)).await;
    assert!(closed.is_ok(), "the slow connection was left open");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_manifest_is_sent_as_it_was_when_queued() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, clock, b, config_b) = two_nodes(&ca).await;
    let cluster_a = Arc::clone(a.vault.as_ref().unwrap().cluster.get().unwrap());
    // B down: A queues its keyring.toml as it is.
    let dir_b = b.stop().await;
    let path = config_a.keys_dir.join("keyring.toml");
    let manifest = std::fs::read_to_string(&path).unwrap();
    cluster_a.created("keyring.toml");
    // Then the file changes (a field B refuses to take): what B receives
    // is what was queued, which it takes.
    let mut table: toml::Table = toml::from_str(&manifest).unwrap();
    table.insert("audit_subject".into(), "subject-00000000".into());
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    let b = TestVault::start_with_clock(dir_b, config_b.clone(), clock.clone()).await;
    eventually("B acknowledged the queued manifest", || cluster_a.pending() == 0).await;
    assert_eq!(
        std::fs::read_to_string(config_b.keys_dir.join("keyring.toml")).unwrap(),
        manifest
    );
    std::fs::write(&path, manifest).unwrap();
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_rewraps_nothing_before_every_node_holds_the_new_kek() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, clock, b, config_b) = two_nodes(&ca).await;
    let clerk = a.clerk().await;
    let old = a.vault.as_ref().unwrap().keys.active_kek().0;
    let erased = a.enroll_one(&clerk, "E-1", "1990-04-12").await;
    let (s, _) = a.request_erasure(&clerk, &erased).await;
    assert_eq!(s, reqwest::StatusCode::ACCEPTED);
    // B down: the sweep rotates the KEK, but neither rewraps nor destroys
    // the old one while B does not hold the new one.
    let dir_b = b.stop().await;
    let (s, report) = a.post("/v1/retention/sweep", &a.admin, &json!({})).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{report}");
    let new = a.vault.as_ref().unwrap().keys.active_kek().0;
    assert_ne!(new, old);
    assert!(config_a.keys_dir.join(format!("{old}.key")).exists(), "{report}");
    assert!(report["skipped"].to_string().contains(&new), "{report}");
    // B back: the next sweep carries on.
    let b = TestVault::start_with_clock(dir_b, config_b.clone(), clock.clone()).await;
    let cluster_a = Arc::clone(a.vault.as_ref().unwrap().cluster.get().unwrap());
    eventually("B holds the new KEK", || cluster_a.delivered(&format!("{new}.key"))).await;
    let (s, report) = a.post("/v1/retention/sweep", &a.admin, &json!({})).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{report}");
    assert!(!config_a.keys_dir.join(format!("{old}.key")).exists(), "{report}");
    b.stop().await;
    a.stop().await;
}

/// Opens `n` TCP connections to `to` from the loopback address `from`
/// (Linux routes all of 127.0.0.0/8 to lo) and sends nothing on them.
async fn idle_connections(from: std::net::Ipv4Addr, to: std::net::SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut out = Vec::new();
    for _ in 0..n {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        if let Ok(c) = socket.connect(to).await {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_from_other_addresses_never_keep_a_peer_out() {
    let ca = Ca::new("civic-vault cluster CA");
    let (a, config_a, _clock, b, config_b) = two_nodes(&ca).await;
    let listen = config_b.cluster.clone().unwrap().listen;
    let url_b = format!("https://{listen}");
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key, ca_path) = ca.issue("node-a", tmp.path());
    let client = PeerClient::new(Identity::load(&cert, &key, &ca_path).unwrap().connector().unwrap());
    // The KEK both nodes hold, sent again: acknowledged, nothing changes.
    let kek = format!("{}.key", b.vault.as_ref().unwrap().keys.active_kek().0);
    let body = serde_json::to_vec(&json!({
        "name": kek,
        "bytes": B64.encode(std::fs::read(config_a.keys_dir.join(&kek)).unwrap()),
    }))
    .unwrap();
    let peer_sends = async || {
        client
            .post(&url_b, "node-b", "/cluster/v1/keys", body.clone())
            .await
            .map(|(status, _)| status)
    };
    assert_eq!(peer_sends().await, Ok(200));

    // 200 idle connections from one address that is not node A's (its URL
    // names 127.0.0.1): at most a few are held, and node A gets through.
    let one = idle_connections(std::net::Ipv4Addr::new(127, 0, 0, 2), listen, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        peer_sends().await,
        Ok(200),
        "a peer gets through 200 idle connections from one address"
    );

    // As many from a hundred addresses, two each, fill every room but the
    // peer's own.
    let mut many = Vec::new();
    for i in 1..=100 {
        many.extend(idle_connections(std::net::Ipv4Addr::new(127, 0, 1, i), listen, 2).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        peer_sends().await,
        Ok(200),
        "a peer gets through idle connections from a hundred addresses"
    );
    // And an address of the flood gets no further connection.
    let refused = idle_connections(std::net::Ipv4Addr::new(127, 0, 2, 1), listen, 1).await;
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let mut c = refused.into_iter().next().unwrap();
        c.read(&mut buf).await
    })
    .await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "past the general cap a connection is closed at once"
    );
    drop((one, many));
    b.stop().await;
    a.stop().await;
}
