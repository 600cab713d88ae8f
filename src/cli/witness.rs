//! `civic-vault witness serve`: a C2SP tlog-witness (see `witness/`) that
//! cosigns the checkpoints of the logs it is given — the vault's audit log
//! or any other C2SP log — meant for another machine or office.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use civic_vault::crypto::note::VerifierKey;
use clap::Subcommand;

/// The witness's key name when `--name` is not given.
const DEFAULT_NAME: &str = "civic-vault-witness";

#[derive(Subcommand)]
pub(super) enum WitnessCommand {
    /// Serve the witness (c2sp.org/tlog-witness, `POST /add-checkpoint`):
    /// cosign each checkpoint of a known log that a consistency proof shows
    /// extends the last one cosigned; refuse rollbacks and forks.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8710")]
        listen: SocketAddr,
        /// The witness's own directory: its key (created 0600 on first run),
        /// `witness.vkey`, and each log's newest cosigned checkpoint.
        #[arg(long)]
        state: PathBuf,
        /// The witness's name, in its verifier key and its cosignature lines
        /// (e.g. `witness.ig.example.gov`).
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
        /// A log to witness: its checkpoint verifier key
        /// `<origin>+<id>+<key>` (the vault prints it with `civic-vault
        /// audit verifier-key`). Repeat for several logs.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
    },
    /// Print the witness's verifier key (creating its key on first use):
    /// what a vault puts in `[[witness]] key`.
    Key {
        /// The witness's own directory, as for `serve`.
        #[arg(long)]
        state: PathBuf,
        /// As for `serve`.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
}

fn log_keys(logs: &[String]) -> Result<Vec<VerifierKey>, String> {
    logs.iter()
        .map(|l| VerifierKey::parse(l).map_err(|e| format!("--log: {e}")))
        .collect()
}

pub(super) fn witness(command: WitnessCommand) -> Result<ExitCode, String> {
    match command {
        WitnessCommand::Serve {
            listen,
            state,
            name,
            logs,
        } => {
            let logs = log_keys(&logs)?;
            let state = Arc::new(civic_vault::witness::WitnessState::open(&state, &name, &logs)?);
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
        WitnessCommand::Key { state, name } => {
            let state = civic_vault::witness::WitnessState::open(&state, &name, &[])?;
            println!("{}", state.verifier_key().text());
            Ok(ExitCode::SUCCESS)
        }
    }
}
