//! Serving the vault, above HTTP: the listener (connection caps, slow-client
//! clocks, TLS), the background tasks (sweeps, checkpoints, counted
//! unauthenticated requests), the sealed vault's unseal gate, and the start
//! `civic-vault serve` runs: plain or passphrase-opened keys serve at once,
//! sealed keys behind the unseal gate.

pub mod app;
pub(crate) mod background;
mod gate;
mod hint;
pub mod listener;
mod nodes;
pub mod standby;
mod systemd;
pub mod tls;
pub mod unseal;

pub use app::app;

use background::Background;
use nodes::{join_cluster, start_cluster};

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::vault::{KeyAccess, StartError, Vault};

/// Serves `vault` on `listener` until `shutdown` resolves, then finishes
/// in-flight requests, stops the writer and flushes storage.
///
/// # Errors
/// The listener fails, or the final flush does.
pub async fn serve(
    vault: Arc<Vault>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // Certificates first: a bad [tls] section stops startup before anything runs.
    let tls = crate::server::tls::acceptor(&vault.config.tls).map_err(StartError::Config)?;
    let app = app(&vault)?;
    let cluster = start_cluster(&vault.config, &vault.keys.files).await?;
    join_cluster(&vault, cluster.as_ref());
    let background = Background::start(&vault);
    tokio::spawn(crate::server::hint::first_person_hint(Arc::clone(&vault)));
    if tls.is_none() {
        tracing::warn!(
            "TLS is off: serve behind a TLS-terminating proxy on a trusted network, or set [tls] cert and key"
        );
    }
    let listener = crate::server::listener::LimitedListener::new(listener, &vault.config.limits, tls)?;
    let app = app
        .layer(axum::middleware::from_fn(crate::server::listener::track_requests))
        .into_make_service_with_connect_info::<crate::server::listener::PeerAddr>();
    crate::server::systemd::notify(&[sd_notify::NotifyState::Ready]);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    crate::server::systemd::notify(&[sd_notify::NotifyState::Stopping]);
    background.finish(vault, served).await
}

/// Opens the vault with the system clock and serves it: what `civic-vault
/// serve` runs, and what tests run in-process on `127.0.0.1:0`.
///
/// # Errors
/// See [`Vault::open`] and [`serve`].
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match KeyAccess::at_start(&config)? {
        KeyAccess::Open(files) if config.store.kind == crate::config::StoreKind::Postgres => {
            crate::server::standby::serve_node(config, clock, files, listener, shutdown).await
        }
        KeyAccess::Open(files) => {
            let vault = Vault::open_with(config, clock, files).await?;
            serve(vault, listener, shutdown).await
        }
        KeyAccess::Sealed(info) => crate::server::unseal::serve_sealed(config, clock, info, listener, shutdown).await,
    }
}
