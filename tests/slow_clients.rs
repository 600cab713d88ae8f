//! Slow and idle clients cannot lock others out: a head must be complete
//! within `header_read_timeout`, a kept-alive connection with no request is
//! closed after `idle_timeout`, and one source address holds at most
//! `max_connections_per_address` connections, so another address is served
//! while the first holds twice its share idle.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use civic_vault::duration::HumanDuration;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PER_ADDRESS: usize = 8;

async fn vault() -> TestVault {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.limits.max_connections = 3 * PER_ADDRESS;
    config.limits.max_connections_per_address = PER_ADDRESS;
    config.limits.header_read_timeout = "2s".parse::<HumanDuration>().unwrap();
    config.limits.idle_timeout = "3s".parse::<HumanDuration>().unwrap();
    TestVault::start_in(dir, config).await
}

async fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the peer closes; how long that took (at most `limit`).
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn healthz_from(source: [u8; 4], to: SocketAddr) -> String {
    let mut s = connect_from(source, to).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: vault\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holding_twice_its_share_idle_cannot_keep_another_out() {
    let v = vault().await;
    // 127.0.0.1 opens twice its share and sends half a head on each.
    let mut idle = Vec::new();
    for _ in 0..2 * PER_ADDRESS {
        let mut s = connect_from([127, 0, 0, 1], v.addr).await;
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: va").await;
        idle.push(s);
    }
    // Those past the share are closed at once.
    let mut closed_at_once = 0;
    for s in &mut idle[PER_ADDRESS..] {
        if closed_within(s, Duration::from_millis(1500)).await.is_some() {
            closed_at_once += 1;
        }
    }
    assert_eq!(
        closed_at_once, PER_ADDRESS,
        "connections over the per-address cap are closed"
    );
    // Another address is served while the share is held.
    let started = Instant::now();
    let answer = healthz_from([127, 0, 0, 2], v.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.200}");
    assert!(started.elapsed() < Duration::from_secs(1), "served at once");
    // And the held ones are closed by the header-read clock.
    for s in &mut idle[..PER_ADDRESS] {
        let took = closed_within(s, Duration::from_secs(6)).await;
        assert!(took.is_some(), "an unfinished head is not held forever");
    }
    // With its connections gone, the first address is served again.
    assert!(healthz_from([127, 0, 0, 1], v.addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_must_finish_and_kept_alive_connections_do_not_idle_forever() {
    let v = vault().await;
    // A head trickled one byte every 500 ms never finishes within 2 s.
    let mut slow = connect_from([127, 0, 0, 1], v.addr).await;
    let started = Instant::now();
    let mut cut = false;
    for b in b"GET /healthz HTTP/1.1\r\nhost: vault\r\nx-slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if slow.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
    }
    if !cut {
        assert!(closed_within(&mut slow, Duration::from_secs(1)).await.is_some());
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed by the header-read clock"
    );

    // A kept-alive connection: one answer, then closed after the idle timeout, not before.
    let mut kept = connect_from([127, 0, 0, 1], v.addr).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: vault\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let took = closed_within(&mut kept, Duration::from_secs(8)).await;
    let took = took.expect("an idle kept-alive connection is closed");
    assert!(took >= Duration::from_millis(2500), "not before idle_timeout: {took:?}");

    // Requests 1 s apart keep a connection alive.
    let mut kept = connect_from([127, 0, 0, 1], v.addr).await;
    for _ in 0..2 {
        kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: vault\r\n\r\n")
            .await
            .unwrap();
        let n = kept.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
