//! `civic-vault witness serve`: the off-box witness that cosigns a vault's
//! audit checkpoints (see `witness/`), meant for another machine or office.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum WitnessCommand {
    /// Serve the witness: cosign each checkpoint of the pinned vault that
    /// extends the last one cosigned; refuse rollbacks and forks.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8710")]
        listen: SocketAddr,
        /// The witness's own directory: its key (created 0600 on first run),
        /// `witness.pub`, and the newest cosigned checkpoint.
        #[arg(long)]
        state: PathBuf,
        /// The vault's checkpoint public key (base64url, the vault's
        /// `keys/checkpoint.pub`): only checkpoints it signed are cosigned.
        #[arg(long)]
        vault_key: String,
    },
    /// Print the witness's public key (creating its key on first use): the
    /// vault's `[audit.witness] public_key`.
    Key {
        /// The witness's own directory, as for `serve`.
        #[arg(long)]
        state: PathBuf,
        /// As for `serve`.
        #[arg(long)]
        vault_key: String,
    },
}

pub(super) fn witness(command: WitnessCommand) -> Result<ExitCode, String> {
    match command {
        WitnessCommand::Serve {
            listen,
            state,
            vault_key,
        } => {
            let vault = civic_vault::witness::parse_key(&vault_key).map_err(|e| format!("--vault-key: {e}"))?;
            let state = Arc::new(civic_vault::witness::WitnessState::open(&state, vault)?);
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let shutdown = super::serve::shutdown_signal()?;
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                civic_vault::witness::server::serve(listener, state, shutdown)
                    .await
                    .map_err(|e| e.to_string())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Key { state, vault_key } => {
            let vault = civic_vault::witness::parse_key(&vault_key).map_err(|e| format!("--vault-key: {e}"))?;
            let state = civic_vault::witness::WitnessState::open(&state, vault)?;
            println!("{}", civic_vault::witness::key_text(&state.public_key()));
            Ok(ExitCode::SUCCESS)
        }
    }
}
