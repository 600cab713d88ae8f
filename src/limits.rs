//! Load limits: a cap on open connections (the listener stops accepting at
//! the cap), request rates per source address (checked before anything else,
//! so a flood cannot fill the audit log) and per principal (checked right
//! after authentication, audited as `rate_limited`), each a token bucket
//! (governor's GCRA) answered with 429 and `Retry-After`.

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
    pub fn check_principal(&self, id: &str) -> Result<(), Duration> {
        match &self.by_principal {
            None => Ok(()),
            Some(l) => check(Some(l), &id.to_owned()),
        }
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

/// The peer's address, as the router sees it.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// A TCP listener that holds at most `max` connections open: at the cap it
/// stops accepting (the kernel's backlog queues, then refuses) until one closes.
pub struct LimitedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
}

impl LimitedListener {
    #[must_use]
    pub fn new(inner: TcpListener, max: usize) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = loop {
            if let Ok(p) = Arc::clone(&self.slots).acquire_owned().await {
                break p;
            }
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        LimitedStream {
                            stream,
                            _permit: permit,
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: back off, as axum's own listener does.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, LimitedListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, LimitedListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// A connection that gives its slot back when it closes.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
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
        for _ in 0..3 {
            assert!(limits.check_principal("p").is_ok());
        }
        let wait = limits.check_principal("p").err();
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(1)));
        assert!(limits.check_principal("other").is_ok(), "buckets are per principal");
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
