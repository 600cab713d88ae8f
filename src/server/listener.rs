//! The listener every vault serves on: at most `max_connections` open (at
//! the cap it stops accepting; the kernel's backlog queues, then refuses),
//! at most `max_connections_per_address` from one source address (more are
//! closed at once), TLS handshakes off the accept loop, and on each
//! connection two clocks that slow or idle clients cannot hold off:
//!
//! - `header_read_timeout`: a request's head must be complete this long after
//!   its first byte (for a new connection: after it opened);
//! - `idle_timeout`: a kept-alive connection with no request in progress is
//!   closed when nothing arrives for this long.
//!
//! A request in progress is the request timeout's (`request_timeout`) to
//! bound, not these: [`track_requests`], the outermost layer, tells the
//! connection when one starts and ends.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::config::Limits;

/// The peer, as the router sees it: its address and, over TLS with a client
/// certificate, the SHA-256 of that certificate; and its connection's
/// activity, which [`track_requests`] keeps.
#[derive(Clone, Debug)]
pub struct PeerAddr(pub SocketAddr, pub Option<[u8; 32]>, pub Arc<Activity>);

const NONE: u64 = u64::MAX;

/// What one connection is doing, shared by its stream and its requests.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    /// Requests in progress.
    busy: AtomicUsize,
    /// Requests begun on this connection.
    served: AtomicU64,
    /// Milliseconds after `opened`: the last request ended or a byte was written.
    idle_since: AtomicU64,
    /// Milliseconds after `opened` of a new head's first byte, or [`NONE`].
    head_started: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn read_some(&self) {
        if self.busy.load(Ordering::Acquire) == 0 && self.head_started.load(Ordering::Acquire) == NONE {
            self.head_started.store(self.now_ms(), Ordering::Release);
        }
    }

    fn wrote_some(&self) {
        self.idle_since.store(self.now_ms(), Ordering::Release);
    }

    fn begin(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.served.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Release);
    }

    fn end(&self) {
        self.idle_since.store(self.now_ms(), Ordering::Release);
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// When this connection is to be closed if nothing changes; none while a
    /// request is in progress.
    fn deadline(&self, header_read: Duration, idle: Duration) -> Option<Instant> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != NONE {
            return Some(self.at(head) + header_read);
        }
        let wait = if self.served.load(Ordering::Acquire) == 0 {
            header_read
        } else {
            idle
        };
        Some(self.at(self.idle_since.load(Ordering::Acquire)) + wait)
    }
}

/// The outermost layer of every router served on a [`LimitedListener`]:
/// marks each request in progress on its connection.
pub async fn track_requests(mut req: Request, next: Next) -> Response {
    struct Ending(Option<Arc<Activity>>);
    impl Drop for Ending {
        fn drop(&mut self) {
            if let Some(a) = &self.0 {
                a.end();
            }
        }
    }
    let peer = req.extensions().get::<ConnectInfo<PeerAddr>>().map(|c| c.0.clone());
    if let Some(p) = &peer {
        req.extensions_mut().insert(crate::http::Peer {
            addr: p.0,
            client_cert: p.1,
        });
    }
    let activity = peer.map(|p| p.2);
    if let Some(a) = &activity {
        a.begin();
    }
    let _ending = Ending(activity);
    next.run(req).await
}

/// Open connections per source address.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl PerAddress {
    /// A slot for `ip`, unless it already holds `max`.
    fn take(&self, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot(self.clone(), ip))
    }
}

struct AddressSlot(PerAddress, IpAddr);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = (self.0).0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// A listener that keeps the connection limits of the module comment.
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

#[derive(Clone, Copy)]
struct Clocks {
    header_read: Duration,
    idle: Duration,
}

impl LimitedListener {
    /// # Errors
    /// The listener has no local address.
    pub fn new(inner: TcpListener, limits: &Limits, tls: Option<tokio_rustls::TlsAcceptor>) -> std::io::Result<Self> {
        let local = inner.local_addr()?;
        let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let per_address = PerAddress::default();
        let max_per_address = limits.max_connections_per_address.max(1);
        let clocks = Clocks {
            header_read: limits.header_read_timeout.as_std(),
            idle: limits.idle_timeout.as_std(),
        };
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
                // Over its address's share: closed at once (dropping it), the slot given back.
                let Some(address_slot) = per_address.take(addr.ip(), max_per_address) else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let slot = (permit, address_slot);
                match &tls {
                    None => {
                        let conn = LimitedStream::new(Conn::Plain(stream), None, clocks, slot);
                        if tx.send((conn, addr)).await.is_err() {
                            return;
                        }
                    }
                    Some(tls) => {
                        let (tls, tx) = (tls.clone(), tx.clone());
                        tokio::spawn(async move {
                            let Ok(Ok(s)) = tokio::time::timeout(clocks.header_read, tls.accept(stream)).await else {
                                return; // failed or too slow: the connection is dropped
                            };
                            let client_cert = s.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|der| {
                                use sha2::Digest;
                                sha2::Sha256::digest(der.as_ref()).into()
                            });
                            let conn = LimitedStream::new(Conn::Tls(Box::new(s)), client_cert, clocks, slot);
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
        let io = stream.io();
        Self(*stream.remote_addr(), io.client_cert, Arc::clone(&io.activity))
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A connection that gives its slots back when it closes, and closes itself
/// when a client is too slow with a head or idle too long.
pub struct LimitedStream {
    conn: Conn,
    client_cert: Option<[u8; 32]>,
    activity: Arc<Activity>,
    clocks: Clocks,
    timer: Pin<Box<Sleep>>,
    _slots: (OwnedSemaphorePermit, AddressSlot),
}

impl LimitedStream {
    fn new(
        conn: Conn,
        client_cert: Option<[u8; 32]>,
        clocks: Clocks,
        slots: (OwnedSemaphorePermit, AddressSlot),
    ) -> Self {
        let activity = Arc::new(Activity::new());
        Self {
            conn,
            client_cert,
            timer: Box::pin(tokio::time::sleep_until(activity.opened + clocks.header_read)),
            activity,
            clocks,
            _slots: slots,
        }
    }
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
        let before = buf.filled().len();
        match delegate!(self, s => s.poll_read(cx, buf)) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.activity.read_some();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let this = &mut *self;
                if let Some(deadline) = this.activity.deadline(this.clocks.header_read, this.clocks.idle) {
                    this.timer.as_mut().reset(deadline);
                    if this.timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "client too slow with a request head, or idle too long",
                        )));
                    }
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let written = delegate!(self, s => s.poll_write(cx, buf));
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        written
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
        let written = delegate!(self, s => s.poll_write_vectored(cx, bufs));
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        match &self.conn {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}
