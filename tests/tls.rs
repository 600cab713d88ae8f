//! TLS with rustls: the vault answers over TLS only, and a system principal
//! bound to a client certificate is authenticated only with that exact
//! certificate besides its token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::sync::Arc;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Pki {
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "civic-vault test CA");
        let ca = p.self_signed(&ca_key).unwrap();
        Self { ca, ca_key }
    }

    fn issue(&self, names: &[&str], client: bool) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        (p.signed_by(&key, &self.ca, &self.ca_key).unwrap(), key)
    }
}

/// One HTTP/1.1 request over TLS; returns the status code (0: no answer).
async fn call(
    addr: std::net::SocketAddr,
    pki: &Pki,
    client: Option<&(rcgen::Certificate, KeyPair)>,
    request: &str,
) -> u16 {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let Ok(mut tls) = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await else {
        return 0;
    };
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn get(path: &str, token: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_client_certificates_bound_to_system_principals() {
    let pki = Pki::new();
    let (server, server_key) = pki.issue(&["localhost"], false);
    let bound = pki.issue(&["parks-1"], true);
    let other = pki.issue(&["parks-2"], true);
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    std::fs::write(tls_dir.join("cert.pem"), server.pem()).unwrap();
    std::fs::write(tls_dir.join("key.pem"), server_key.serialize_pem()).unwrap();
    std::fs::write(tls_dir.join("ca.pem"), pki.ca.pem()).unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.tls.cert = Some(tls_dir.join("cert.pem"));
    config.tls.key = Some(tls_dir.join("key.pem"));
    config.tls.client_ca = Some(tls_dir.join("ca.pem"));
    let fingerprint = format!("sha256:{}", hex_of(&Sha256::digest(bound.0.der().as_ref())));
    config.tls.system_certs.insert("parks-1".into(), fingerprint);
    let v = TestVault::start_in(dir, config).await;
    let admin = v.admin.clone();

    // Over TLS, without a client certificate, staff are served.
    assert_eq!(call(v.addr, &pki, None, &get("/healthz", "")).await, 200);
    let body = r#"{"id": "parks-1", "kind": "system", "agency_kind": "city_agency", "purposes": ["parks_recreation"]}"#;
    let issue = format!(
        "POST /v1/principals HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {admin}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // Issue the principal and read its token.
    let token = issue_over_tls(v.addr, &pki, &issue).await;

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(v.addr).await.unwrap();
    plain.write_all(get("/healthz", "").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));

    // The bound system: its token alone is not enough, another certificate
    // from the same CA is not enough; with its own certificate it is
    // authenticated (and then Cedar decides: no audit for a parks system).
    assert_eq!(call(v.addr, &pki, None, &get("/v1/audit", &token)).await, 401);
    assert_eq!(call(v.addr, &pki, Some(&other), &get("/v1/audit", &token)).await, 401);
    assert_eq!(call(v.addr, &pki, Some(&bound), &get("/v1/audit", &token)).await, 403);
    v.stop().await;
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn issue_over_tls(addr: std::net::SocketAddr, pki: &Pki, request: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["token"].as_str().unwrap().to_owned()
}
