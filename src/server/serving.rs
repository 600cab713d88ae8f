//! Serving an opened vault, and the start `civic-vault serve` runs: plain
//! or passphrase-opened keys serve at once, sealed keys behind the unseal
//! gate (`crate::unseal`).

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::{KeyAccess, StartError, Vault};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;

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
    let tls = crate::limits::tls_acceptor(&vault.config.tls).map_err(StartError::Config)?;
    let app = crate::http::router(Arc::clone(&vault));
    let background = Background::start(&vault);
    if tls.is_none() {
        tracing::warn!(
            "TLS is off: serve behind a TLS-terminating proxy on a trusted network, or set [tls] cert and key"
        );
    }
    let listener = crate::listener::LimitedListener::new(listener, &vault.config.limits, tls)?;
    let app = app
        .layer(axum::middleware::from_fn(crate::listener::track_requests))
        .into_make_service_with_connect_info::<crate::limits::PeerAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    background.finish(vault, served).await
}

/// The sweep and checkpoint tasks of a running vault.
pub(crate) struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    sweeper: tokio::task::JoinHandle<()>,
    checkpoints: tokio::task::JoinHandle<()>,
    tallies: tokio::task::JoinHandle<()>,
}

impl Background {
    pub(crate) fn start(vault: &Arc<Vault>) -> Self {
        let (stop_sweeps, mut stopped) = tokio::sync::watch::channel(false);
        let sweeper = {
            let vault = Arc::clone(vault);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(vault.config.retention.sweep_interval.as_std());
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            vault.rate_limits.forget_idle();
                            if let Err(e) = crate::retention::sweep(&vault, "schedule", None).await {
                                tracing::error!(error = %e, "scheduled retention sweep failed; will retry");
                            }
                        }
                        _ = stopped.changed() => break,
                    }
                }
            })
        };
        let checkpoints = crate::checkpoints::spawn(Arc::clone(vault), stop_sweeps.subscribe());
        let tallies = {
            let vault = Arc::clone(vault);
            let mut stopped = stop_sweeps.subscribe();
            tokio::spawn(async move {
                // A tenth of the window: an aggregate is written at most this
                // late, and entries of one source stay at least a window apart.
                let mut tick = tokio::time::interval(crate::audit_tally::INTERVAL / 10);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => crate::http::audit_layer::write_tallies(&vault, false).await,
                        _ = stopped.changed() => break,
                    }
                }
            })
        };
        Self {
            stop: stop_sweeps,
            sweeper,
            checkpoints,
            tallies,
        }
    }

    /// After the server stopped: lets a sweep in progress finish, signs the
    /// final head, flushes and closes the store.
    pub(crate) async fn finish(self, vault: Arc<Vault>, served: std::io::Result<()>) -> Result<(), StartError> {
        // The sweep in progress, if any, finishes; no new one starts.
        let _ = self.stop.send(true);
        let _ = self.sweeper.await;
        let _ = self.checkpoints.await;
        let _ = self.tallies.await;
        // Every request has been answered: the counts still open are written.
        crate::http::audit_layer::write_tallies(&vault, true).await;
        served?;
        // Every request has been answered: sign the final head.
        let _ = crate::checkpoints::sign_head(&vault).await;
        let v = Arc::clone(&vault);
        drop(vault);
        tokio::task::spawn_blocking(move || v.store.close())
            .await
            .map_err(|e| StartError::Store(e.to_string()))?
            .map_err(|e| StartError::Store(e.to_string()))?;
        tracing::info!("stopped; storage flushed");
        Ok(())
    }
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
        KeyAccess::Open(files) => {
            let vault = Vault::open_with(config, clock, files).await?;
            serve(vault, listener, shutdown).await
        }
        KeyAccess::Sealed(info) => crate::unseal::serve_sealed(config, clock, info, listener, shutdown).await,
    }
}
