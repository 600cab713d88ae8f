//! Two vault nodes joined by a `[cluster]` (tests/cluster.rs): a CA of
//! the cluster's own, node certificates, the bootstrap copy of the keys.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use civic_vault::clock::ManualClock;
use civic_vault::crypto::seal::{self, NewSeal};
use civic_vault::Config;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::*;

pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// Writes `<node>.crt`, `<node>.pem` and `ca.crt` (this CA) into `dir`;
    /// returns (cert, key, ca) paths.
    pub fn issue(&self, node: &str, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
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

/// A port for a cluster listener, below the ephemeral range: a port
/// handed out by `bind(0)` and dropped could be taken by another test's
/// `127.0.0.1:0` listener before the node binds it.
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let offset = u16::try_from(std::process::id() % 1_000).unwrap() * 12;
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let port = 20_000 + offset.wrapping_add(n) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A node's configuration: sled in `dir`, its cluster listener at `port`,
/// the other node at `peer_port`.
pub fn node_config(dir: &Path, ca: &Ca, me: &str, port: u16, peer: &str, peer_port: u16) -> Config {
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

pub fn application_with_scan(number: &str) -> Value {
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

pub fn scan_keys(keys: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(keys)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("scan-") && n.ends_with(".key"))
        .collect();
    names.sort();
    names
}

pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

pub async fn certificate_for(v: &TestVault, auditor: &str, key_id: &str) -> Option<Value> {
    v.audit(auditor)
        .await
        .into_iter()
        .find(|e| e["certificate"]["key_id"] == key_id)
}

pub async fn metric(v: &TestVault, name: &str) -> String {
    let text = v.metrics().await;
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_default()
        .to_owned()
}

/// Node A up (it made the keyring), its keys copied once to B, B up.
pub async fn two_nodes(ca: &Ca) -> (TestVault, Config, Arc<ManualClock>, TestVault, Config) {
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
    // B keeps A's time: a received epoch or issuer key must have started.
    let b = TestVault::start_with_clock(dir_b, config_b.clone(), clock.clone()).await;
    // `serve` opens the cluster listener after the test has its handle.
    for port in [port_a, port_b] {
        let mut tries = 0;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            tries += 1;
            assert!(tries < 200, "the cluster listener on {port} did not open");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    (a, config_a, clock, b, config_b)
}

pub const PASSPHRASE: &str = "correct horse battery staple";
pub const SEALED: &[u8] = b"civic-vault sealed key v1\n";
