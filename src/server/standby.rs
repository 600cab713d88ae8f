//! A node of a vault on PostgreSQL. It listens at once; while another node
//! holds the database lock it is a standby: `/healthz` answers, `/readyz`
//! says 503 `standby`, and every other request is refused with 503
//! `unavailable` and `"role": "standby"`. When it takes the lock (the
//! active node died or lost its session) it opens the vault exactly as a
//! first start would — everything it caches (principals, policies, honey
//! cards, the chain's head) read from the database then — and from then on
//! hands every request to it. Within the lock poll (half a second) plus
//! the opening, well under the contract's 10 s.
//!
//! If the active node loses its session, its writer stops writing at once
//! and gives up the lock (`store::postgres`); this gate then stops the
//! node, so that it restarts as a standby (under systemd) rather than keep
//! answering with a store that cannot write.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::KeyFiles;
use crate::http::error::ApiError;
use crate::server::gate::Opened;
use crate::store::postgres::PgStore;
use crate::vault::{StartError, Vault};

/// How often the active node checks that it still holds the lock.
const WATCH: Duration = Duration::from_millis(250);

struct Gate {
    active: OnceLock<Opened>,
}

impl Gate {
    /// The active vault, unless this node is (or has become) a standby.
    fn active(&self) -> Option<&Opened> {
        self.active.get().filter(|a| !a.vault.store.lost_lock())
    }
}

/// Serves a node of a PostgreSQL vault on `listener` until `shutdown`:
/// standby until it holds the lock, then active.
///
/// # Errors
/// The listener fails, TLS settings are bad, the vault cannot open once
/// the lock is held, or the node lost the lock while active.
pub async fn serve_node(
    config: Config,
    clock: Arc<dyn Clock>,
    files: KeyFiles,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let tls = crate::server::tls::acceptor(&config.tls).map_err(StartError::Config)?;
    let gate = Arc::new(Gate {
        active: OnceLock::new(),
    });
    let (fatal, failed) = tokio::sync::watch::channel(None::<String>);
    let stop_waiting = Arc::new(AtomicBool::new(false));
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(forward)
        .with_state(Arc::clone(&gate));
    let listener = crate::server::listener::LimitedListener::new(listener, &config.limits, tls)?;
    // A standby receives keys too: its keys directory must be complete
    // before it takes over.
    let cluster = crate::server::nodes::start_cluster(&config, &files).await?;
    let opener = tokio::spawn(take_over(
        Arc::clone(&gate),
        config,
        clock,
        (files, cluster.clone()),
        Arc::clone(&stop_waiting),
        fatal,
    ));
    let served = crate::server::gate::serve(router, listener, shutdown, failed, false).await;
    stop_waiting.store(true, Ordering::SeqCst);
    let reason = opener.await.ok().flatten();
    let Some(active) = gate.active.get() else {
        if let Some(c) = &cluster {
            c.stop().await;
        }
        served?;
        return reason.map_or(Ok(()), |r| Err(StartError::Store(r)));
    };
    let finished = active.finish(served).await;
    match reason {
        Some(r) => Err(StartError::Store(r)),
        None => finished,
    }
}

/// Waits for the lock, opens the vault, serves it, and watches the lock.
/// Returns why the node must stop, if it must.
async fn take_over(
    gate: Arc<Gate>,
    config: Config,
    clock: Arc<dyn Clock>,
    (files, cluster): (KeyFiles, Option<Arc<crate::cluster::Cluster>>),
    stop: Arc<AtomicBool>,
    fatal: tokio::sync::watch::Sender<Option<String>>,
) -> Option<String> {
    let url = config.store.url.clone();
    let waiting = Arc::clone(&stop);
    let session = match tokio::task::spawn_blocking(move || PgStore::lock(&url, &waiting)).await {
        Ok(Ok(Some(session))) => session,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => return stop_node(&fatal, e.to_string()),
        Err(e) => return stop_node(&fatal, e.to_string()),
    };
    let vault = match Vault::open_on(config, clock, files, Some(session)).await {
        Ok(v) => v,
        Err(e) => {
            return stop_node(
                &fatal,
                format!("holding the database lock, but the vault cannot open: {e}"),
            )
        }
    };
    crate::server::nodes::join_cluster(&vault, cluster.as_ref());
    let store = Arc::clone(&vault);
    let _ = gate.active.set(Opened::start(vault));
    tracing::info!("active: serving");
    while !stop.load(Ordering::SeqCst) {
        if store.store.lost_lock() {
            return stop_node(
                &fatal,
                "this node lost its database session and with it the lock: it stopped writing and stops now".into(),
            );
        }
        tokio::time::sleep(WATCH).await;
    }
    None
}

fn stop_node(fatal: &tokio::sync::watch::Sender<Option<String>>, reason: String) -> Option<String> {
    tracing::error!(reason = %reason, "stopping");
    let _ = fatal.send(Some(reason.clone()));
    Some(reason)
}

async fn healthz(State(gate): State<Arc<Gate>>, req: Request) -> Response {
    if let Some(a) = gate.active() {
        return a.forward(req).await;
    }
    Json(json!({"status": "ok"})).into_response()
}

/// 200 only on the active node whose store can write; what load balancers route on.
async fn readyz(State(gate): State<Arc<Gate>>) -> Response {
    use crate::domain::store::Store;
    match gate.active() {
        Some(a) if a.vault.store.flush().is_ok() => Json(json!({"ready": true, "role": "active"})).into_response(),
        // A node whose store failed, or that lost the lock, is active no more.
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "role": "standby"})),
        )
            .into_response(),
    }
}

async fn forward(State(gate): State<Arc<Gate>>, req: Request) -> Response {
    match gate.active() {
        Some(a) => a.forward(req).await,
        None => ApiError::Standby.into_response(),
    }
}
