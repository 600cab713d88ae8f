//! `civic-vault keys seal|status|rotate`: sealing the keys directory;
//! `keys rotate-kek` and `keys rotate-attestation`: replacing a running
//! vault's KEK or attestation key now.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::crypto::seal;
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum KeysCommand {
    /// Seals the keys directory under a passphrase (--passphrase-file) or
    /// k-of-n shares (--shares N --threshold K) (stop the vault first). An empty or missing directory gets a new keyring,
    /// sealed from its first byte. Shares are printed once, one per line,
    /// and stored nowhere.
    Seal {
        /// The keys directory.
        #[arg(long, visible_alias = "keys-dir", value_name = "DIR", default_value = "keys")]
        keys: PathBuf,
        #[command(flatten)]
        new: NewSealArgs,
    },
    /// Whether the keys are sealed, how, and how many secret files there are.
    Status {
        /// The keys directory.
        #[arg(long, visible_alias = "keys-dir", value_name = "DIR", default_value = "keys")]
        keys: PathBuf,
    },
    /// Replaces the seal (stop the vault first): opens it with the current
    /// passphrase or shares and seals every key under a new seal key. The
    /// old passphrase or shares open nothing afterwards.
    Rotate {
        /// The keys directory.
        #[arg(long, visible_alias = "keys-dir", value_name = "DIR", default_value = "keys")]
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
    /// Replaces the KEK of a running vault now (as an admin, through
    /// `POST /v1/retention/sweep`): a new KEK, every live data key rewrapped
    /// under it, the old KEK destroyed and certified in the audit chain; on
    /// a cluster, once every node holds the new one. Every backup made before
    /// stops opening any record: take a fresh one afterwards.
    RotateKek(RotateKekArgs),
    /// Replaces the key that signs fact attestations of a running vault
    /// now (as an admin, through `POST /v1/keys/attestation/rotate`): the
    /// old seed destroyed, its public key kept in the published JWKS until
    /// every attestation it signed has expired; on a cluster, every node
    /// takes the new key when it arrives.
    RotateAttestation(RotateKekArgs),
}

/// Which running vault `keys rotate-kek` and `keys rotate-attestation` ask.
#[derive(clap::Args)]
pub(super) struct RotateKekArgs {
    #[command(flatten)]
    pub connection: civic_vault::ops::client::Connection,
}

#[derive(clap::Args)]
pub(super) struct NewSealArgs {
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

pub(super) fn keys(command: KeysCommand) -> Result<ExitCode, String> {
    match command {
        KeysCommand::RotateKek(args) => {
            return super::remote(&args.connection, |c| async move {
                civic_vault::ops::operator::rotate_kek(&c).await
            });
        }
        KeysCommand::RotateAttestation(args) => {
            return super::remote(&args.connection, |c| async move {
                civic_vault::ops::operator::rotate_attestation(&c).await
            });
        }
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
