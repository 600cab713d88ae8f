//! Load limits: per-principal and per-address rates (429 + Retry-After),
//! the concurrency cap (503 at once), the connection cap, request timeouts,
//! and the security headers on every answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::time::{Duration, Instant};

use civic_vault::domain::store::Store;
use common::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limited(dir: &std::path::Path, f: impl FnOnce(&mut civic_vault::config::Limits)) -> civic_vault::Config {
    let mut c = test_config(dir, "idnyc");
    f(&mut c.limits);
    c
}

/// Sends a request whose body never finishes: it holds a request slot.
async fn stalled(addr: std::net::SocketAddr, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/enrollments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"applicant\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

async fn read_status(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => String::from_utf8_lossy(&buf[..n]).lines().next().map(str::to_owned),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_over_its_rate_gets_429_with_retry_after_and_an_audit_entry() {
    let dir = tempfile::tempdir().unwrap();
    let config = limited(dir.path(), |l| {
        l.requests_per_second_per_principal = 1;
        l.burst_per_principal = 3;
    });
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let r = v
            .http
            .get(v.url("/v1/legal/notices"))
            .bearer_auth(&clerk)
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = r.headers().get("retry-after").map(|h| h.to_str().unwrap().to_owned());
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Another principal has its own bucket; the refusal is in the chain.
    let entries = v.audit(&auditor).await;
    assert!(entries
        .iter()
        .any(|e| e["principal"] == "clerk-ana" && e["outcome"] == "rate_limited"));
    // After the wait, the clerk is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _) = v.get("/v1/legal/notices", &clerk).await;
    assert_eq!(s, StatusCode::OK);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_over_its_rate_is_refused_before_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = limited(dir.path(), |l| {
        l.requests_per_second_per_address = 1;
        l.burst_per_address = 5;
    });
    let v = TestVault::start_in(dir, config).await;
    let store = v.vault.clone().unwrap();
    let before = store.store.audit_last_seq().unwrap();
    let mut refused = 0;
    for _ in 0..20 {
        let r = v.http.get(v.url("/v1/audit")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            refused += 1;
        }
    }
    assert!(refused >= 14, "{refused}");
    // Only the admitted (unauthenticated, so 401) requests were audited: the
    // first as an entry of its own, the rest counted into one entry when
    // their one-second window ends.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let entries = store.store.audit_page(before, 1000).unwrap();
    let counted: u64 = entries.iter().map(|(e, _)| e.count.unwrap_or(1)).sum();
    assert_eq!(counted, 20 - refused);
    assert!(entries.len() <= 2, "{} entries", entries.len());
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_concurrency_cap_requests_are_refused_at_once_and_slow_ones_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = limited(dir.path(), |l| {
        l.max_concurrent_requests = 1;
        l.request_timeout = "2s".parse().unwrap();
    });
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let mut slow = stalled(v.addr, &clerk).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let r = v.http.get(v.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() < Duration::from_secs(1), "refused at once");
    // The stalled request is cut off by the request timeout (503), and the slot frees.
    let status = read_status(&mut slow, Duration::from_secs(5)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 503 Service Unavailable"));
    let r = v.http.get(v.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_the_listener_waits_for_one_to_close() {
    let dir = tempfile::tempdir().unwrap();
    let config = limited(dir.path(), |l| l.max_connections = 2);
    let v = TestVault::start_in(dir, config).await;
    let first = TcpStream::connect(v.addr).await.unwrap();
    let _second = TcpStream::connect(v.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(v.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_status(&mut third, Duration::from_millis(500)).await, None);
    drop(first);
    assert_eq!(
        read_status(&mut third, Duration::from_secs(3)).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let v = TestVault::start("idnyc").await;
    for (path, token) in [
        ("/healthz", None),
        ("/v1/audit", None),
        ("/v1/nowhere", Some(v.admin.clone())),
    ] {
        let mut r = v.http.get(v.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
    }
    v.stop().await;
}
