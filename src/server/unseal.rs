//! A sealed vault. When the keys directory is sealed and nothing configured
//! opens it, the vault listens at once but holds no key: `/healthz` answers,
//! `GET /v1/unseal` says how far unsealing has got, `POST /v1/unseal` takes
//! one share (or the passphrase), and every other request is refused with
//! 503 `unavailable`. When enough shares have arrived (or the passphrase
//! opens the seal), the vault opens exactly as an unsealed start would (the
//! same checks: keys, store, checkpoints, floor proof) and from then on the
//! gate hands every request to it.
//!
//! Unsealing is deliberately unauthenticated: nothing can be authenticated
//! before the keys open. What guards it: a share is 256 bits of Shamir
//! share data (guessing is hopeless), a passphrase attempt costs one age
//! scrypt run and attempts go one at a time, and every attempt counts
//! against the per-address rate limit. Shares are held in memory only
//! (zeroized when dropped), never logged, and all of them are discarded
//! when a combination fails.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::seal::{self, Mode, SealInfo, Unlock};
use crate::domain::audit::{AuditDraft, Decision as AuditDecision};
use crate::domain::store::{Commit, Store};
use crate::http::error::{ApiError, Error};
use crate::server::gate::Opened;
use crate::server::listener::PeerAddr;
use crate::vault::{StartError, Vault};

pub(crate) struct Gate {
    config: Config,
    clock: Arc<dyn Clock>,
    info: SealInfo,
    /// Shares received so far, by index.
    shares: tokio::sync::Mutex<BTreeMap<u8, Zeroizing<Vec<u8>>>>,
    opened: OnceLock<Opened>,
    limits: crate::vault::rate_limits::RateLimits,
    /// Set when opening failed after the seal opened: the vault stops.
    fatal: tokio::sync::watch::Sender<Option<String>>,
    /// No seal change while the vault waits; handed over on opening.
    lock: std::sync::Mutex<Option<seal::KeysLock>>,
}

/// Serves a sealed vault on `listener` until `shutdown`; unsealed in place.
///
/// # Errors
/// The listener fails, TLS settings are bad, or the vault, once unsealed,
/// cannot open (it then stops, as an unsealed start would).
pub async fn serve_sealed(
    config: Config,
    clock: Arc<dyn Clock>,
    info: SealInfo,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let tls = crate::server::tls::acceptor(&config.tls).map_err(StartError::Config)?;
    let lock = seal::KeysLock::acquire(&config.keys_dir)?;
    tracing::warn!(
        seal = %info.id,
        mode = info.mode.as_str(),
        threshold = info.threshold,
        "the keys are sealed: serving /healthz and /v1/unseal only until they are unsealed"
    );
    let (fatal, failed) = tokio::sync::watch::channel(None);
    let gate = Arc::new(Gate {
        limits: crate::vault::rate_limits::RateLimits::new(&config.limits),
        config,
        clock,
        info,
        shares: tokio::sync::Mutex::new(BTreeMap::new()),
        opened: OnceLock::new(),
        fatal,
        lock: std::sync::Mutex::new(Some(lock)),
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/unseal", get(status).post(unseal))
        .route("/v1/openapi.json", get(crate::http::handlers::ops::openapi))
        .fallback(forward)
        .with_state(Arc::clone(&gate));
    let listener = crate::server::listener::LimitedListener::new(listener, &gate.config.limits, tls)?;
    // Serving (sealed): systemd's start is over; /readyz says "sealed" until
    // the operators unseal.
    let served = crate::server::gate::serve(router, listener, shutdown, failed, true).await;
    if let Some(reason) = gate.fatal.borrow().clone() {
        return Err(StartError::Store(reason));
    }
    let Some(opened) = gate.opened.get() else {
        served?;
        return Ok(());
    };
    opened.finish(served).await
}

async fn healthz(State(gate): State<Arc<Gate>>, req: Request) -> Response {
    if let Some(o) = gate.opened.get() {
        return o.forward(req).await;
    }
    Json(json!({"status": "ok", "sealed": true})).into_response()
}

async fn readyz(State(gate): State<Arc<Gate>>, req: Request) -> Response {
    if let Some(o) = gate.opened.get() {
        return o.forward(req).await;
    }
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"ready": false, "role": "sealed"})),
    )
        .into_response()
}

async fn forward(State(gate): State<Arc<Gate>>, req: Request) -> Response {
    match gate.opened.get() {
        Some(o) => o.forward(req).await,
        None => ApiError::Sealed.into_response(),
    }
}

pub(crate) async fn status(State(gate): State<Arc<Gate>>) -> Json<Value> {
    let received = gate.shares.lock().await.len();
    Json(gate.progress(received))
}

impl Gate {
    fn progress(&self, received: usize) -> Value {
        if self.opened.get().is_some() {
            return json!({"sealed": false});
        }
        json!({
            "sealed": true,
            "mode": self.info.mode.as_str(),
            "seal_id": self.info.id,
            "threshold": self.info.threshold,
            "received": received,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsealBody {
    share: Option<Zeroizing<String>>,
    passphrase: Option<Zeroizing<String>>,
}

pub(crate) async fn unseal(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(wait) = gate.limits.check_address(peer.0.ip()) {
        return ApiError::RateLimited {
            retry_after_secs: crate::vault::rate_limits::retry_after_secs(wait),
        }
        .into_response();
    }
    // One attempt at a time: a passphrase attempt is a whole scrypt run.
    let mut shares = gate.shares.lock().await;
    if gate.opened.get().is_some() {
        return Json(gate.progress(0)).into_response();
    }
    let body: UnsealBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return ApiError::invalid("body", "must be {\"share\": \"cvs1-...\"} or {\"passphrase\": \"...\"}")
                .into_response()
        }
    };
    let unlock = match (body.share, body.passphrase, gate.info.mode) {
        (Some(share), None, Mode::Shares) => {
            let (x, bytes) = match seal::parse_share(&gate.info, &share) {
                Ok(s) => s,
                Err(e) => return ApiError::invalid("share", &e.to_string()).into_response(),
            };
            shares.insert(x, bytes);
            let threshold = usize::from(gate.info.threshold.unwrap_or(u8::MAX));
            if shares.len() < threshold {
                tracing::info!(received = shares.len(), threshold, "unseal share received");
                return Json(gate.progress(shares.len())).into_response();
            }
            None
        }
        (None, Some(p), Mode::Passphrase) => Some(Unlock::Passphrase(p)),
        (Some(_), None, Mode::Passphrase) => {
            return ApiError::invalid("share", "this vault's seal opens with a passphrase").into_response()
        }
        (None, Some(_), Mode::Shares) => {
            return ApiError::invalid("passphrase", "this vault's seal opens with shares").into_response()
        }
        _ => return ApiError::invalid("body", "give exactly one of `share` and `passphrase`").into_response(),
    };
    let dir = gate.config.keys_dir.clone();
    let info = gate.info.clone();
    let used = shares.len();
    let taken = std::mem::take(&mut *shares);
    let opened = tokio::task::spawn_blocking(move || match unlock {
        Some(u) => seal::open(&dir, &info, &u),
        None => seal::combine(&info, &taken).map(|key| seal::KeyFiles::sealed_with(&dir, key)),
    })
    .await;
    let files = match opened {
        Ok(Ok(files)) => files,
        Ok(Err(e)) => {
            tracing::warn!(mode = gate.info.mode.as_str(), "unseal attempt failed");
            let what = match gate.info.mode {
                Mode::Shares => format!("{e}; all {used} shares submitted so far were discarded: start again"),
                Mode::Passphrase => e.to_string(),
            };
            return ApiError::UnsealFailed(what).into_response();
        }
        Err(e) => return ApiError::from(Error::internal(e.to_string())).into_response(),
    };
    // The vault takes the keys lock itself as it opens.
    drop(
        gate.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(),
    );
    match Vault::open_with(gate.config.clone(), Arc::clone(&gate.clock), files).await {
        Ok(vault) => serve_opened(&gate, vault).await,
        Err(e) => {
            tracing::error!(error = %e, "the seal opened but the vault cannot start; stopping");
            let _ = gate.fatal.send(Some(e.to_string()));
            ApiError::from(Error::unavailable(
                "the seal opened but the vault cannot start; see its log",
            ))
            .into_response()
        }
    }
}

/// The vault opened: records the unsealing and starts serving it (the API
/// alone if the console cannot start).
async fn serve_opened(gate: &Gate, vault: Arc<Vault>) -> Response {
    record_unseal(&vault, &gate.info).await;
    match crate::server::nodes::start_cluster(&vault.config, &vault.keys.files).await {
        Ok(cluster) => crate::server::nodes::join_cluster(&vault, cluster.as_ref()),
        Err(e) => {
            // Fail closed, as `serve` and a standby do: a node that cannot
            // replicate must not make keys or certify destructions.
            tracing::error!(error = %e, "the seal opened but the cluster listener cannot start; stopping");
            let _ = gate.fatal.send(Some(e.to_string()));
            return ApiError::from(Error::unavailable(
                "the seal opened but the cluster listener cannot start; see its log",
            ))
            .into_response();
        }
    }
    let _ = gate.opened.set(Opened::start(vault));
    tracing::info!(seal = %gate.info.id, "unsealed; serving");
    Json(gate.progress(0)).into_response()
}

/// One audit entry for the unsealing: which seal and how, never with what.
async fn record_unseal(vault: &Arc<Vault>, info: &SealInfo) {
    let draft = AuditDraft {
        at: vault.clock.now().unix_timestamp(),
        action: format!("unseal_{}", info.mode.as_str()),
        resource: Some(format!("seal:{}", info.id)),
        decision: AuditDecision::Allow,
        outcome: "ok".into(),
        ..AuditDraft::default()
    };
    let commit = Commit {
        changes: Vec::new(),
        audit: vec![draft],
    };
    if vault.store.commit(commit).await.is_err() {
        tracing::error!("the unseal could not be recorded in the audit log");
    }
}
