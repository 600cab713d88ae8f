//! `civic-vault serve`: the configuration (file, then flags), a runtime, the
//! listener and the signals that stop it gracefully.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::Config;

#[derive(clap::Args)]
pub(super) struct ServeArgs {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8700).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keys directory (default ./keys).
    #[arg(long)]
    keys_dir: Option<PathBuf>,
    /// Policies directory (default ./policies).
    #[arg(long)]
    policies_dir: Option<PathBuf>,
    /// Program profile: idnyc, hartford, new_haven, san_francisco or chicago.
    #[arg(long)]
    program: Option<String>,
}

/// The configuration `serve` (and `migrate`) run with: the file, then the flags.
pub(super) fn config_of(args: ServeArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.keys_dir {
        config.keys_dir = v;
    }
    if let Some(v) = args.policies_dir {
        config.policies_dir = v;
        config.policies_dir_explicit = true;
    }
    if let Some(v) = args.program {
        config.program = v;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

pub(super) fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    let config = config_of(args)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        tracing::info!(listen = %config.listen, program = %config.program, "civic-vault starting");
        civic_vault::run(listener, config, shutdown)
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Registers SIGTERM and SIGINT handlers now (before the port opens, so a
/// signal that arrives during startup is not fatal) and returns the future
/// that resolves on either.
pub(super) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    })
}
