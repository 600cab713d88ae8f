//! The command line: what each command and flag is, and which library call
//! each runs. Serving, keys, backups, policies and audit each have a file.

mod audit;
mod backup;
mod console;
mod credential;
mod keys;
mod policy;
mod serve;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::ops::client::{Client, Connection};
use clap::{Parser, Subcommand};

use audit::AuditCommand;
use backup::BackupCommand;
use keys::KeysCommand;
use policy::PolicyCommand;
use serve::{ServeArgs, VaultArgs};
use witness::WitnessCommand;

#[derive(Parser)]
#[command(name = "civic-vault", version, about = "A records vault for municipal ID programs")]
pub struct Cli {
    /// How log lines are written to standard error: `text` (for people) or
    /// `json` (one object per line, for a log collector; the same fields).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CIVIC_VAULT_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Work with the audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check and test policies offline; administer them on a running vault.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Encrypted backups of a stopped vault's data directory.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Restores a backup into an empty data directory.
    Restore {
        /// The archive `backup create` wrote.
        #[arg(long, value_name = "FILE")]
        archive: PathBuf,
        /// The age identity file (AGE-SECRET-KEY-1...) the backup was made for.
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        /// The new, empty data directory.
        #[arg(long, visible_alias = "data-dir", value_name = "DIR")]
        data: PathBuf,
        /// A new, empty keys directory for the sealed keys the archive holds.
        #[arg(long, visible_alias = "keys-dir", value_name = "DIR")]
        keys: Option<PathBuf>,
    },
    /// Legal requests, answered by a running vault.
    Legal {
        #[command(subcommand)]
        command: LegalCommand,
    },
    /// Seal the keys directory, show its state, or replace its seal.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Reports from a running vault (privacy officers, auditors).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// The counter's print queue on a running vault (clerks).
    Counter {
        #[command(subcommand)]
        command: CounterCommand,
    },
    /// Moves a stopped vault's records from format v1 (status, dates and
    /// proofs readable without keys) to v2, once; the vault refuses a v1
    /// store until then. Takes the same configuration as `serve`.
    Migrate(VaultArgs),
    /// Holder-held credentials: verify a presentation offline.
    Credential {
        #[command(subcommand)]
        command: credential::CredentialCommand,
    },
    /// The staff console: invite the first person in.
    Console {
        #[command(subcommand)]
        command: console::ConsoleCommand,
    },
    /// The off-box witness that cosigns a vault's audit checkpoints.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
}

#[derive(Subcommand)]
enum LegalCommand {
    /// Posts a legal request (the JSON body of POST /v1/legal/requests) and
    /// prints the answer; --letter writes the response letter (Markdown).
    Respond {
        /// The request as JSON (the body of POST /v1/legal/requests).
        #[arg(long, value_name = "FILE")]
        request: PathBuf,
        /// Where to write the response letter (Markdown); not written when
        /// the answer has none.
        #[arg(long, value_name = "FILE")]
        letter: Option<PathBuf>,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The quarter's counts in the shape of NYC Local Law 35's IDNYC report
    /// (every count under 10 shown as "<10").
    Quarterly {
        /// The calendar year, e.g. 2026.
        #[arg(long)]
        year: i32,
        /// The quarter, 1 to 4.
        #[arg(long)]
        quarter: u8,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Subcommand)]
enum CounterCommand {
    /// Cards waiting to be printed or picked up.
    Queue {
        #[command(flatten)]
        connection: Connection,
    },
}

/// Runs one parsed command; its exit code, or the message of why it could not run.
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    data,
                    keys,
                    allow_unanchored,
                    witness_keys,
                    witness_threshold,
                },
        } => audit::verify(
            &data,
            keys.as_deref(),
            allow_unanchored,
            &audit::WitnessPin {
                keys: witness_keys,
                threshold: witness_threshold,
            },
        ),
        Command::Audit {
            command: AuditCommand::VerifierKey { keys, origin },
        } => audit::verifier_key(&keys, origin.as_deref()),
        Command::Witness { command } => witness::witness(command),
        Command::Console { command } => console::console(command),
        Command::Credential { command } => credential::credential(command),
        Command::Policy { command } => policy::policy(command),
        Command::Backup { command } => backup::backup(command),
        Command::Restore {
            archive,
            identity,
            data,
            keys,
        } => backup::restore(&archive, &identity, &data, keys.as_deref()),
        Command::Legal {
            command:
                LegalCommand::Respond {
                    request,
                    letter,
                    connection,
                },
        } => remote(&connection, |c| async move {
            civic_vault::ops::operator::legal_respond(&c, &request, letter.as_deref()).await
        }),
        Command::Keys { command } => keys::keys(command),
        Command::Report {
            command:
                ReportCommand::Quarterly {
                    year,
                    quarter,
                    connection,
                },
        } => remote(&connection, |c| async move {
            civic_vault::ops::operator::quarterly_report(&c, year, quarter).await
        }),
        Command::Counter {
            command: CounterCommand::Queue { connection },
        } => remote(&connection, |c| async move {
            civic_vault::ops::operator::print_queue(&c).await
        }),
        Command::Migrate(args) => {
            let config = serve::config_of(args, None)?;
            let started = std::time::Instant::now();
            let done = civic_vault::ops::migrate::migrate(&config)?;
            println!("{}", serde_json::to_string_pretty(&done).map_err(|e| e.to_string())?);
            eprintln!("migrated in {:.1} s", started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs an operator command against a running vault.
pub(super) fn remote<F, Fut>(connection: &Connection, f: F) -> Result<ExitCode, String>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<u8, String>>,
{
    let client = Client::new(connection)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(f(client)).map(ExitCode::from)
}
