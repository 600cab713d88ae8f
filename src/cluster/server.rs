//! The cluster listener: TLS with a required client certificate of the
//! cluster's CA, then HTTP/1 with two routes, answered only to a
//! certificate issued for a configured node.
//!
//! - `POST /cluster/v1/keys`: write the key file through this node's
//!   `KeyFiles` (sealed when its keys are, exactly as a local key) and load
//!   it into the running vault, if one is open;
//! - `POST /cluster/v1/destroyed`: shred the key file the way a local
//!   destruction does and drop the key from memory.
//!
//! Both are idempotent: a key received twice, or the destruction of a key
//! not held, is acknowledged.
//!
//! Which connections are taken at all, before TLS, is `admission.rs`'s:
//! a cap per source address, and room of their own for the peers' addresses.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use zeroize::Zeroizing;

use super::admission::{self, Admission};
use super::wire::{self, Ack, Destroyed, KeyFile, Kind};
use super::Cluster;

/// The largest message taken (a key file is well under a kilobyte).
const MAX_BODY: usize = 64 * 1024;
const HANDSHAKE: Duration = Duration::from_secs(10);
/// How long a connection may take to send a request's headers.
const HEADER_READ: Duration = Duration::from_secs(10);
/// The pause after a failed accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How often the peers' URLs are resolved again (a node's address may
/// change under its name).
const RESOLVE_EVERY: Duration = Duration::from_secs(60);

pub(super) async fn listen(
    cluster: Arc<Cluster>,
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    mut stop: watch::Receiver<bool>,
) {
    let admission = Arc::new(Admission::default());
    admission.set_peers(admission::resolve(&cluster.peers).await);
    // Resolved again off the accept loop: a slow resolver must not stall it.
    let refresh = tokio::spawn({
        let admission = Arc::clone(&admission);
        let peers = cluster.peers.clone();
        async move {
            loop {
                tokio::time::sleep(RESOLVE_EVERY).await;
                admission.set_peers(admission::resolve(&peers).await);
            }
        }
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, from)) = accepted else {
                    // Out of file descriptors, say: do not spin.
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                };
                // Past a cap a connection is closed at once (never logged
                // with its address: a flood would fill the log).
                let ticket = match admission.admit(from.ip()) {
                    Ok(t) => t,
                    Err(full) => {
                        tracing::debug!(cap = ?full, "cluster connection refused: too many open");
                        continue;
                    }
                };
                let cluster = Arc::clone(&cluster);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    connection(cluster, acceptor, tcp).await;
                    drop(ticket);
                });
            }
            _ = stop.changed() => break,
        }
    }
    refresh.abort();
}

async fn connection(cluster: Arc<Cluster>, acceptor: tokio_rustls::TlsAcceptor, tcp: tokio::net::TcpStream) {
    let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cluster connection refused at the TLS handshake");
            return;
        }
        Err(_) => return,
    };
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| super::tls::node_of(c, &cluster.peer_ids));
    let service = hyper::service::service_fn(move |req| {
        let cluster = Arc::clone(&cluster);
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(answer(&cluster, peer.as_deref(), req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ)
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
        .await;
}

fn reply(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn refuse(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(status, &serde_json::json!({ "error": message }))
}

async fn answer(cluster: &Arc<Cluster>, peer: Option<&str>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(peer) = peer else {
        tracing::warn!("cluster request refused: the certificate names no configured node");
        return refuse(StatusCode::FORBIDDEN, "this certificate is not a node of this cluster");
    };
    let path = req.uri().path().to_owned();
    if path != wire::KEYS_PATH && path != wire::DESTROYED_PATH {
        return refuse(StatusCode::NOT_FOUND, "no such route");
    }
    if req.method() != Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let Ok(body) = Limited::new(req.into_body(), MAX_BODY).collect().await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large or was cut off");
    };
    let body = zeroed_copy(body.to_bytes());
    let done = if path == wire::KEYS_PATH {
        receive_key(cluster, &body).await
    } else {
        receive_destroyed(cluster, &body).await
    };
    match done {
        Ok(name) => {
            tracing::info!(peer = %peer, file = %name, route = %path, "cluster message applied");
            reply(
                StatusCode::OK,
                &Ack {
                    node: cluster.node_id.clone(),
                    name,
                },
            )
        }
        Err((status, message)) => {
            tracing::warn!(peer = %peer, route = %path, error = %message, "cluster message refused");
            refuse(status, &message)
        }
    }
}

/// The body, copied into memory zeroed when dropped, and the collected
/// buffer zeroed when this is its only reference (hyper's own read buffers
/// are beyond reach).
fn zeroed_copy(bytes: Bytes) -> Zeroizing<Vec<u8>> {
    let copy = Zeroizing::new(bytes.to_vec());
    if let Ok(mut buffer) = bytes.try_into_mut() {
        zeroize::Zeroize::zeroize(&mut buffer[..]);
    }
    copy
}

type Refusal = (StatusCode, String);

fn bad(message: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, message.into())
}

fn failed(message: impl std::fmt::Display) -> Refusal {
    (StatusCode::SERVICE_UNAVAILABLE, message.to_string())
}

async fn receive_key(cluster: &Arc<Cluster>, body: &[u8]) -> Result<String, Refusal> {
    let message: KeyFile = serde_json::from_slice(body).map_err(|_| bad("not a key file message"))?;
    let kind = wire::kind_of(&message.name).ok_or_else(|| bad("not a replicated key file name"))?;
    let bytes = Zeroizing::new(
        STANDARD
            .decode(message.bytes.as_bytes())
            .map_err(|_| bad("bytes: not base64"))?,
    );
    let live = cluster.live();
    let now = live.as_ref().map_or_else(system_now, |l| l.now());
    let files = cluster.files.clone();
    let name = message.name.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        let verdict = super::accept::check(&files, &name, kind, &bytes, now)?;
        if verdict == super::accept::Verdict::Write {
            files.write_received(&name, &bytes).map_err(failed)?;
        }
        Ok::<_, Refusal>(verdict)
    })
    .await
    .map_err(failed)??;
    if verdict != super::accept::Verdict::Write {
        return Ok(message.name.clone());
    }
    if let Some(live) = live {
        let name = message.name.clone();
        tokio::task::spawn_blocking(move || live.adopt(&name, kind))
            .await
            .map_err(failed)?
            .map_err(failed)?;
    }
    Ok(message.name.clone())
}

fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn receive_destroyed(cluster: &Arc<Cluster>, body: &[u8]) -> Result<String, Refusal> {
    let message: Destroyed = serde_json::from_slice(body).map_err(|_| bad("not a destruction message"))?;
    let kind = wire::kind_of(&message.name)
        .filter(|k| *k != Kind::Manifest)
        .ok_or_else(|| bad("not a replicated key file name"))?;
    let files = cluster.files.clone();
    let name = message.name.clone();
    if kind == Kind::Kek && names_active_kek(&files, &name) {
        return Err((
            StatusCode::CONFLICT,
            "the KEK this node's keyring.toml names active is not destroyed".into(),
        ));
    }
    let live = cluster.live();
    if kind == Kind::Kek && live.as_ref().is_some_and(|l| format!("{}.key", l.active_kek()) == name) {
        return Err((
            StatusCode::CONFLICT,
            "the KEK active in this node's memory is not destroyed".into(),
        ));
    }
    tokio::task::spawn_blocking(move || files.shred(&name))
        .await
        .map_err(failed)?
        .map_err(failed)?;
    if let Some(live) = live {
        live.forget(&message.name, kind);
    }
    Ok(message.name)
}

/// Whether `name` is the file of the KEK this node's `keyring.toml` names
/// active. A rotation sends the new manifest before the old KEK's
/// destruction, so a destruction of the active KEK is never legitimate: it
/// would leave this node unable to start.
fn names_active_kek(files: &crate::crypto::KeyFiles, name: &str) -> bool {
    let Ok(Some(text)) = files.read_for_peer(crate::crypto::MANIFEST) else {
        return false;
    };
    toml::from_str::<toml::Table>(&String::from_utf8_lossy(&text))
        .ok()
        .and_then(|t| {
            t.get("kek")
                .and_then(|k| k.as_str())
                .map(|kek| format!("{kek}.key") == name)
        })
        .unwrap_or(false)
}
