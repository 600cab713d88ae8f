//! The `civic-vault` command: parse the command line, wire I/O, call the library.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::crypto::seal;
use civic_vault::domain::store::Store;
use civic_vault::ops::client::{Client, Connection};
use civic_vault::Config;
use clap::{Parser, Subcommand};

/// Cedar evaluation allocates many small objects on every worker thread;
/// glibc's allocator serialises them on arena locks (a profile showed a
/// tenth of all CPU in its futex), mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "civic-vault", version, about = "A records vault for municipal ID programs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        #[arg(long)]
        archive: PathBuf,
        /// The age identity file (AGE-SECRET-KEY-1...) the backup was made for.
        #[arg(long)]
        identity: PathBuf,
        /// The new, empty data directory.
        #[arg(long)]
        data: PathBuf,
        /// A new, empty keys directory for the sealed keys the archive holds.
        #[arg(long)]
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
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Seals the keys directory under a passphrase or k-of-n shares (stop
    /// the vault first). An empty or missing directory gets a new keyring,
    /// sealed from its first byte. Shares are printed once, one per line,
    /// and stored nowhere.
    Seal {
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
        #[command(flatten)]
        new: NewSealArgs,
    },
    /// Whether the keys are sealed, how, and how many secret files there are.
    Status {
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
    },
    /// Replaces the seal (stop the vault first): opens it with the current
    /// passphrase or shares and seals every key under a new seal key. The
    /// old passphrase or shares open nothing afterwards.
    Rotate {
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
        /// The current passphrase (first line of the file).
        #[arg(long, conflicts_with = "unlock_shares_file")]
        unlock_passphrase_file: Option<PathBuf>,
        /// Current shares, one per line (`-`: standard input).
        #[arg(long)]
        unlock_shares_file: Option<PathBuf>,
        #[command(flatten)]
        new: NewSealArgs,
    },
}

#[derive(clap::Args)]
struct NewSealArgs {
    /// Seal under the passphrase in this file (its first line, 12+ characters).
    #[arg(long, conflicts_with_all = ["shares", "threshold"], required_unless_present = "shares")]
    passphrase_file: Option<PathBuf>,
    /// Split the seal key into this many shares...
    #[arg(long, requires = "threshold")]
    shares: Option<u8>,
    /// ...any this many of which open it (at least 2).
    #[arg(long, requires = "shares")]
    threshold: Option<u8>,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Writes an age identity for backups (mode 0600) and prints its recipient.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Backs up a stopped vault's data directory, encrypted to a recipient.
    Create {
        #[arg(long)]
        data: PathBuf,
        /// Also the keys directory, which must be sealed (plain keys are
        /// never put into a backup).
        #[arg(long)]
        keys: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// age recipient (age1...).
        #[arg(long)]
        recipient: String,
    },
    /// Decrypts an archive and checks its digest and record count.
    Verify {
        #[arg(long)]
        archive: PathBuf,
        #[arg(long)]
        identity: PathBuf,
    },
}

#[derive(Subcommand)]
enum LegalCommand {
    /// Posts a legal request (the JSON body of POST /v1/legal/requests) and
    /// prints the answer; --letter writes the response letter (Markdown).
    Respond {
        #[arg(long)]
        request: PathBuf,
        #[arg(long)]
        letter: Option<PathBuf>,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Full check of an editable policy set: strict validation, the canary
    /// suite and the policy tests, as `POST /v1/policies/check` does.
    Check {
        /// The policies directory (schema, floor, tests).
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// The editable policies to check (default: <policies>/editable.cedar).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Runs the policy tests (<policies>/tests/*.json) against the editable policies.
    Test {
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Unified diff of a file (or version --to) against the running vault's
    /// active set (or version --from).
    Diff {
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        from: Option<u64>,
        #[arg(long)]
        to: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Checks a file on the running vault and, if it passes, activates it as
    /// the next version (PUT /v1/policies).
    Apply {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value = "")]
        comment: String,
        /// The version this change replaces (default: the active one).
        #[arg(long)]
        expected_version: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
    /// The running vault's policy versions.
    History {
        #[command(flatten)]
        connection: Connection,
    },
    /// Makes an earlier version's text active again, as a new version.
    Rollback {
        #[arg(long)]
        to: u64,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        expected_version: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Writes the active (or --version) set as files: editable.cedar,
    /// floor.cedar, schema.cedarschema.
    Export {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        version: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
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
    /// Program profile: idnyc, hartford, new_haven or san_francisco.
    #[arg(long)]
    program: Option<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the audit chain of a stopped vault's data directory, and that
    /// it reaches every signed checkpoint (audit-checkpoints.jsonl).
    Verify {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The keys directory: checkpoints must be signed by the key pinned
        /// in its `checkpoint.pub`. Without it, nothing anchors the chain.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Answer ok even when nothing anchors the chain (no pinned
        /// `checkpoint.pub`, or entries but no signed checkpoint); the
        /// reason is stated in the output.
        #[arg(long)]
        allow_unanchored: bool,
    },
}

fn main() -> ExitCode {
    // Whatever this process writes (data, checkpoints, backups, restores,
    // keys) is its owner's only.
    civic_vault::vault::owner_only_umask();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    data,
                    keys,
                    allow_unanchored,
                },
        } => verify(&data, keys.as_deref(), allow_unanchored),
        Command::Policy { command } => policy(command),
        Command::Backup { command } => backup(command),
        Command::Restore {
            archive,
            identity,
            data,
            keys,
        } => {
            civic_vault::ops::backup::read_identity(&identity).and_then(|id| {
                let m = civic_vault::ops::backup::restore(&archive, &id, &data, keys.as_deref())
                    .map_err(|e| e.to_string())?;
                println!("{}", serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?);
                // The restored chain must verify, checkpoints included
                // (against the restored pin when the keys came too; an
                // unanchored chain is stated, not refused, as before).
                verify(&data, keys.as_deref(), true)
            })
        }
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
        Command::Keys { command } => keys(command),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("civic-vault: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode, String> {
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
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
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

fn new_seal(args: &NewSealArgs) -> Result<seal::NewSeal, String> {
    match (&args.passphrase_file, args.shares, args.threshold) {
        (Some(f), None, None) => Ok(seal::NewSeal::Passphrase(
            seal::read_passphrase_file(f).map_err(|e| e.to_string())?,
        )),
        (None, Some(shares), Some(threshold)) => Ok(seal::NewSeal::Shares { threshold, shares }),
        _ => Err("give --passphrase-file, or --shares with --threshold".into()),
    }
}

/// Prints what the operator must take away, once, as JSON on standard output.
fn print_sealed(seal_id: &str, shares: &[zeroize::Zeroizing<String>], admin_token: Option<&str>) -> Result<(), String> {
    if !shares.is_empty() {
        eprintln!("civic-vault: give each share to a different operator; they are shown once and stored nowhere.");
    }
    if admin_token.is_some() {
        eprintln!("civic-vault: admin.token is sealed now; admin_token below is its only readable copy.");
    }
    let out = serde_json::json!({
        "seal_id": seal_id,
        "shares": shares.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "admin_token": admin_token,
    });
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    Ok(())
}

fn keys(command: KeysCommand) -> Result<ExitCode, String> {
    match command {
        KeysCommand::Seal { keys, new } => {
            let sealed = seal::seal(&keys, &new_seal(&new)?).map_err(|e| e.to_string())?;
            eprintln!("civic-vault: {} is sealed", keys.display());
            print_sealed(
                &sealed.seal_id,
                &sealed.shares,
                sealed.admin_token.as_deref().map(String::as_str),
            )?;
        }
        KeysCommand::Status { keys } => {
            let status = seal::status(&keys).map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?);
        }
        KeysCommand::Rotate {
            keys,
            unlock_passphrase_file,
            unlock_shares_file,
            new,
        } => {
            let unlock = match (unlock_passphrase_file, unlock_shares_file) {
                (Some(f), None) => seal::Unlock::Passphrase(seal::read_passphrase_file(&f).map_err(|e| e.to_string())?),
                (None, Some(f)) => {
                    let text = zeroize::Zeroizing::new(if f.as_os_str() == "-" {
                        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
                    } else {
                        std::fs::read_to_string(&f).map_err(|e| format!("{}: {}", f.display(), e.kind()))?
                    });
                    seal::Unlock::Shares(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(|l| zeroize::Zeroizing::new(l.to_owned()))
                            .collect(),
                    )
                }
                _ => return Err("give --unlock-passphrase-file or --unlock-shares-file".into()),
            };
            let shares = seal::rotate(&keys, &unlock, &new_seal(&new)?).map_err(|e| e.to_string())?;
            eprintln!("civic-vault: {} is sealed under a new seal key", keys.display());
            let id = seal::state(&keys)
                .map_err(|e| e.to_string())?
                .map(|i| i.id)
                .unwrap_or_default();
            print_sealed(&id, &shares, None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn backup(command: BackupCommand) -> Result<ExitCode, String> {
    match command {
        BackupCommand::Keygen { out } => println!("{}", civic_vault::ops::backup::keygen(&out)?),
        BackupCommand::Create {
            data,
            keys,
            out,
            recipient,
        } => {
            let r: age::x25519::Recipient = recipient.parse().map_err(|e| format!("--recipient: {e}"))?;
            let m = civic_vault::ops::backup::backup(&data, keys.as_deref(), &out, &r).map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?);
        }
        BackupCommand::Verify { archive, identity } => {
            let id = civic_vault::ops::backup::read_identity(&identity)?;
            match civic_vault::ops::backup::verify(&archive, &id) {
                Ok(m) => println!("{}", serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?),
                Err(e) => {
                    eprintln!("civic-vault: {e}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs an operator command against a running vault.
fn remote<F, Fut>(connection: &Connection, f: F) -> Result<ExitCode, String>
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

fn policy(command: PolicyCommand) -> Result<ExitCode, String> {
    use civic_vault::ops::operator;
    let (dir, file, only_tests) = match command {
        PolicyCommand::Check { policies, file } => (policies, file, false),
        PolicyCommand::Test { policies, file } => (policies, file, true),
        PolicyCommand::Diff {
            file,
            from,
            to,
            connection,
        } => {
            return remote(&connection, |c| async move {
                operator::diff(&c, file.as_deref(), from, to).await
            })
        }
        PolicyCommand::Apply {
            file,
            comment,
            expected_version,
            connection,
        } => {
            return remote(&connection, |c| async move {
                operator::apply(&c, &file, &comment, expected_version).await
            })
        }
        PolicyCommand::History { connection } => {
            return remote(&connection, |c| async move { operator::history(&c).await })
        }
        PolicyCommand::Rollback {
            to,
            comment,
            expected_version,
            connection,
        } => {
            return remote(&connection, |c| async move {
                operator::rollback(&c, to, &comment, expected_version).await
            })
        }
        PolicyCommand::Export {
            out,
            version,
            connection,
        } => {
            return remote(
                &connection,
                |c| async move { operator::export(&c, &out, version).await },
            )
        }
    };
    let sources = civic_vault::authz::PolicySources::load(&dir)?;
    let editable = match file {
        Some(f) => std::fs::read_to_string(&f).map_err(|e| format!("{}: {}", f.display(), e.kind()))?,
        None => sources.editable.clone(),
    };
    let started = std::time::Instant::now();
    let (mut report, engine) = civic_vault::authz::check::check(&sources, &editable, 0);
    if let (false, Some(engine)) = (only_tests, engine) {
        let settings = civic_vault::authz::proof::ProofSettings::new(None, std::time::Duration::from_secs(60), false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(report.prove(&engine, &settings));
    }
    let ok = if only_tests {
        let tests = &report.tests;
        for f in &tests.failed {
            println!(
                "FAIL {} / {}: expected {}, got {} ({})",
                f.file,
                f.name,
                f.expected,
                f.got,
                f.policies.join(",")
            );
        }
        if !report.errors.is_empty() {
            for e in &report.errors {
                println!("error {}: {}", e.policy_id, e.message);
            }
        }
        println!("{} passed, {} failed", tests.passed, tests.failed.len());
        report.errors.is_empty() && tests.failed.is_empty()
    } else {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
        eprintln!("checked in {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
        report.valid
    };
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Offline verification. A chain that checks out is only evidence when
/// something outside the data directory anchors it: a signed checkpoint,
/// checked against the key pinned in the keys directory. Deleting the
/// checkpoint file, or signing one with a key of one's own, must not pass
/// as "ok", so either gap fails unless `allow_unanchored` says otherwise.
fn verify(data: &std::path::Path, keys: Option<&std::path::Path>, allow_unanchored: bool) -> Result<ExitCode, String> {
    if !data.join("db").exists() {
        return Err(format!("{} is not a civic-vault data directory", data.display()));
    }
    let pinned = match keys {
        Some(k) => civic_vault::vault::checkpoints::pinned_key(k).map_err(|e| e.to_string())?,
        None => None,
    };
    let signed = civic_vault::vault::checkpoints::read_verified(data, pinned.as_ref());
    let (store, _) = civic_vault::store::SledStore::open(data, None).map_err(|e| e.to_string())?;
    let report = match signed {
        Ok(heads) => store.audit_verify(heads).map_err(|e| e.to_string())?,
        Err(e) => {
            let mut r = store.audit_verify(Default::default()).map_err(|e| e.to_string())?;
            r.ok = false;
            r.checkpoint_problem = Some(e.to_string());
            r
        }
    };
    let gap = unanchored(&report, data, keys, pinned.is_some());
    let mut out = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    let ok = match &gap {
        None => report.ok,
        Some(reason) if allow_unanchored => {
            out["unanchored"] = serde_json::Value::String(format!("{reason} (allowed by --allow-unanchored)"));
            report.ok
        }
        Some(reason) => {
            out["ok"] = serde_json::Value::Bool(false);
            out["anchor_problem"] = serde_json::Value::String(reason.clone());
            eprintln!("civic-vault: {reason}; pass --allow-unanchored to accept an unanchored chain");
            false
        }
    };
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Why nothing anchors the chain, if nothing does.
fn unanchored(
    report: &civic_vault::domain::audit::ChainReport,
    data: &std::path::Path,
    keys: Option<&std::path::Path>,
    pinned: bool,
) -> Option<String> {
    let pin = civic_vault::vault::checkpoints::PUBLIC_FILE;
    match keys {
        None => {
            return Some(format!(
                "no pinned checkpoint key: without --keys there is no {pin}, so a checkpoint signed by any key would \
                 pass"
            ))
        }
        Some(k) if !pinned => return Some(format!("no pinned checkpoint key: {} holds no {pin}", k.display())),
        Some(_) => {}
    }
    (report.entries > 0 && report.checkpoints == 0).then(|| {
        format!(
            "no signed checkpoint: {} has {} audit entries but {} is missing or empty",
            data.display(),
            report.entries,
            civic_vault::vault::checkpoints::FILE
        )
    })
}
