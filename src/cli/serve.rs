//! `civic-vault serve`: the configuration (file, then flags), a runtime, the
//! listener and the signals that stop it gracefully.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::Config;

/// Where a vault's configuration, records, keys and policies are: what
/// `serve` and `migrate` share.
#[derive(clap::Args)]
pub(super) struct VaultArgs {
    /// TOML configuration file; the flags below override its keys (without
    /// one: the embedded defaults, the paths below relative to the current
    /// directory).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory: the records (sled), the audit chain's files (default ./data).
    #[arg(long = "data", visible_alias = "data-dir", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keys directory: every key, and the bootstrap admin's token in
    /// admin.token, mode 0600 (default ./keys). Keep it apart from data/.
    #[arg(long = "keys", visible_alias = "keys-dir", value_name = "DIR")]
    keys_dir: Option<PathBuf>,
    /// Policies directory: schema, floor, editable policies and tests, seeded
    /// at first start (default ./policies, else the embedded set).
    #[arg(long = "policies", visible_alias = "policies-dir", value_name = "DIR")]
    policies_dir: Option<PathBuf>,
    /// Program profile: idnyc, hartford, new_haven, san_francisco or chicago.
    #[arg(long)]
    program: Option<String>,
}

#[derive(clap::Args)]
#[command(after_help = "Where things are, on the embedded defaults:
  the API and console   http://127.0.0.1:8700 (the console at http://localhost:8700/console/;
                        passkeys are bound to that origin: [console] origin)
  the admin token       keys/admin.token (mode 0600): the bootstrap admin's; `civic-vault
                        console invite --id NAME` turns it into a console sign-in link
  the policy solver     [proof] solver, else $CVC5, else cvc5 on the PATH, else ./.ci/cvc5
                        (from a source tree, after .ci/solver-setup); start-up says if none runs
  the start-up log      says the address, the console URL and how the first person gets in")]
pub(super) struct ServeArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// Address to listen on (default 127.0.0.1:8700; `listen` in the file).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

/// The configuration `serve` and `migrate` run with: the file, then the flags.
pub(super) fn config_of(args: VaultArgs, listen: Option<std::net::SocketAddr>) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(v) = listen {
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
    let config = config_of(args.vault, args.listen)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let scheme = if config.tls.cert.is_some() { "https" } else { "http" };
        let bound = listener.local_addr().unwrap_or(config.listen);
        tracing::info!(program = %config.program, listen = %config.listen, "civic-vault {} starting", env!("CARGO_PKG_VERSION"));
        tracing::info!("listening on {scheme}://{bound}");
        tracing::info!(
            "console: {}/console/ (open it at this address: passkeys are bound to it)",
            config.console_origin()
        );
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
