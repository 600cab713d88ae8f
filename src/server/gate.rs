//! What the sealed vault's gate (`unseal.rs`) and a PostgreSQL standby
//! (`standby.rs`) share: a small router of their own, served until shutdown
//! or a fatal stop, that hands every request to the vault's router once the
//! vault is open ([`Opened`]); and, at the end, the opened vault's orderly
//! stop.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use crate::server::background::Background;
use crate::server::listener::{LimitedListener, PeerAddr};
use crate::vault::{StartError, Vault};

/// The vault once open behind a gate: its router and background tasks.
pub(super) struct Opened {
    pub vault: Arc<Vault>,
    router: Router,
    background: Mutex<Option<Background>>,
}

impl Opened {
    /// Builds the vault's router (the API alone if the console cannot
    /// start) and starts its background tasks: after the vault joined its
    /// cluster, whose certificates the background writes.
    pub fn start(vault: Arc<Vault>) -> Self {
        let router = match crate::server::app::app(&vault) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "the console cannot start; serving the API alone");
                crate::http::router(Arc::clone(&vault))
            }
        };
        let background = Background::start(&vault);
        tokio::spawn(crate::server::hint::first_person_hint(Arc::clone(&vault)));
        Self {
            vault,
            router,
            background: Mutex::new(Some(background)),
        }
    }

    /// Hands `req` to the vault's router.
    pub async fn forward(&self, req: Request) -> Response {
        self.router.clone().oneshot(req).await.into_response()
    }

    /// The orderly stop once the gate stopped serving: in-flight work,
    /// the writer, the final flush.
    ///
    /// # Errors
    /// Serving failed, or the final flush did.
    pub async fn finish(&self, served: std::io::Result<()>) -> Result<(), StartError> {
        let background = self.background.lock().unwrap_or_else(PoisonError::into_inner).take();
        match background {
            Some(b) => b.finish(Arc::clone(&self.vault), served).await,
            None => Ok(served?),
        }
    }
}

/// Serves the gate's `router` (with the security headers every answer
/// carries) on `listener` until `shutdown` resolves or `failed` holds a
/// reason; `ready` tells systemd the start is over once it serves.
pub(super) async fn serve(
    router: Router,
    listener: LimitedListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut failed: tokio::sync::watch::Receiver<Option<String>>,
    ready: bool,
) -> std::io::Result<()> {
    let app = router
        .layer(crate::http::security_headers(tower::ServiceBuilder::new()))
        // The gate's routes read small bodies only (an unseal share).
        .layer(axum::middleware::from_fn(crate::http::body_limit::limit_bodies))
        .layer(axum::middleware::from_fn(crate::server::listener::track_requests))
        .into_make_service_with_connect_info::<PeerAddr>();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = failed.wait_for(Option::is_some) => {}
        }
    };
    if ready {
        crate::server::systemd::notify(&[sd_notify::NotifyState::Ready]);
    }
    axum::serve(listener, app).with_graceful_shutdown(stop).await
}
