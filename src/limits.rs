//! Load limits: a cap on open connections (the listener stops accepting at
//! the cap), request rates per source address (checked before anything else,
//! so a flood cannot fill the audit log) and per principal (checked right
//! after authentication, audited as `rate_limited`), each a token bucket
//! (governor's GCRA) answered with 429 and `Retry-After`; and TLS on the
//! same listener, with optional client certificates.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;

/// The two keyed rate limiters, or none where the configuration says 0.
pub struct RateLimits {
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    by_principal: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_second: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

impl RateLimits {
    #[must_use]
    pub fn new(c: &Limits) -> Self {
        Self {
            by_address: limiter(c.requests_per_second_per_address, c.burst_per_address),
            by_principal: limiter(c.requests_per_second_per_principal, c.burst_per_principal),
        }
    }

    /// `Err(wait)` when this address is over its rate.
    ///
    /// # Errors
    /// The time after which a request would be accepted.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Duration> {
        check(self.by_address.as_ref(), &ip)
    }

    /// `Err(wait)` when this principal is over its rate.
    ///
    /// # Errors
    /// The time after which a request would be accepted.
    pub fn check_principal(&self, p: &crate::domain::principal::Principal) -> Result<(), Duration> {
        check(self.by_principal.as_ref(), &p.id)
    }

    /// Forgets idle keys (called by the sweep task), so memory follows the
    /// callers of the last moments, not every address ever seen.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.by_address {
            l.retain_recent();
        }
        if let Some(l) = &self.by_principal {
            l.retain_recent();
        }
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(l: Option<&DefaultKeyedRateLimiter<K>>, key: &K) -> Result<(), Duration> {
    match l {
        None => Ok(()),
        Some(l) => l
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
    }
}

/// Whole seconds for `Retry-After`, at least 1.
#[must_use]
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The peer, as the router sees it: its address and, over TLS with a client
/// certificate, the SHA-256 of that certificate.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr, pub Option<[u8; 32]>);

/// Builds the rustls acceptor from the `[tls]` configuration.
///
/// # Errors
/// A file cannot be read or holds no usable certificate or key.
pub fn tls_acceptor(c: &crate::config::Tls) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&c.cert, &c.key) else {
        return Ok(None);
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect)
        .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls.cert {}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls.key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &c.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for der in CertificateDer::pem_file_iter(ca).map_err(|e| format!("tls.client_ca {}: {e}", ca.display()))? {
                let der = der.map_err(|e| format!("tls.client_ca {}: {e}", ca.display()))?;
                roots
                    .add(der)
                    .map_err(|e| format!("tls.client_ca {}: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("tls.client_ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| format!("tls: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

/// A listener that holds at most `max` connections open (at the cap it
/// stops accepting; the kernel's backlog queues, then refuses) and, with
/// TLS, completes each handshake off the accept loop, within 10 s.
pub struct LimitedListener {
    ready: tokio::sync::mpsc::Receiver<(LimitedStream, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl Drop for LimitedListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl LimitedListener {
    /// # Errors
    /// The listener has no local address.
    pub fn new(inner: TcpListener, max: usize, tls: Option<tokio_rustls::TlsAcceptor>) -> std::io::Result<Self> {
        let local = inner.local_addr()?;
        let slots = Arc::new(Semaphore::new(max.max(1)));
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                // The semaphore is never closed, so acquiring cannot fail.
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (stream, addr) = match inner.accept().await {
                    Ok(x) => x,
                    // Out of file descriptors and the like: back off, as axum's own listener does.
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed; retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match &tls {
                    None => {
                        let conn = LimitedStream {
                            conn: Conn::Plain(stream),
                            client_cert: None,
                            _permit: permit,
                        };
                        if tx.send((conn, addr)).await.is_err() {
                            return;
                        }
                    }
                    Some(tls) => {
                        let (tls, tx) = (tls.clone(), tx.clone());
                        tokio::spawn(async move {
                            let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(10), tls.accept(stream)).await
                            else {
                                return; // failed or too slow: the connection is dropped
                            };
                            let client_cert = s.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|der| {
                                use sha2::Digest;
                                sha2::Sha256::digest(der.as_ref()).into()
                            });
                            let conn = LimitedStream {
                                conn: Conn::Tls(Box::new(s)),
                                client_cert,
                                _permit: permit,
                            };
                            let _ = tx.send((conn, addr)).await;
                        });
                    }
                }
            }
        });
        Ok(Self { ready, local, acceptor })
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The acceptor ended (it only does when this listener is dropped).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, LimitedListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, LimitedListener>) -> Self {
        Self(*stream.remote_addr(), stream.io().client_cert)
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A connection that gives its slot back when it closes.
pub struct LimitedStream {
    conn: Conn,
    client_cert: Option<[u8; 32]>,
    _permit: OwnedSemaphorePermit,
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match &mut $self.conn {
            Conn::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Conn::Tls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.conn {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait() {
        let limits = RateLimits::new(&Limits {
            requests_per_second_per_principal: 1,
            burst_per_principal: 3,
            ..Limits::default()
        });
        let who = |id: &str| crate::domain::principal::Principal {
            id: id.into(),
            kind: crate::domain::vocab::PrincipalKind::Staff,
            roles: Vec::new(),
            agency_kind: None,
            purposes: Vec::new(),
            token_hash: [0; 32],
            created_at: 0,
            status: crate::domain::principal::PrincipalStatus::Active,
            issued_by: None,
            approved_by: None,
        };
        for _ in 0..3 {
            assert!(limits.check_principal(&who("p")).is_ok());
        }
        let wait = limits.check_principal(&who("p")).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(1)));
        assert!(
            limits.check_principal(&who("other")).is_ok(),
            "buckets are per principal"
        );
        assert_eq!(retry_after_secs(Duration::from_millis(300)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = RateLimits::new(&Limits {
            requests_per_second_per_address: 0,
            ..Limits::default()
        });
        for _ in 0..10_000 {
            assert!(limits.check_address(IpAddr::from([127, 0, 0, 1])).is_ok());
        }
    }
}
