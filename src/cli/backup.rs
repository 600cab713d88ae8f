//! `civic-vault backup keygen|create|verify` and `civic-vault restore`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum BackupCommand {
    /// Writes an age identity for backups (mode 0600) and prints its recipient.
    Keygen {
        /// Where to write the identity (refused if it exists); keep it off
        /// the vault's machine.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Backs up a stopped vault's data directory, encrypted to a recipient.
    Create {
        /// The stopped vault's data directory.
        #[arg(long, visible_alias = "data-dir", value_name = "DIR")]
        data: PathBuf,
        /// Also the keys directory, which must be sealed (plain keys are
        /// never put into a backup).
        #[arg(long, visible_alias = "keys-dir", value_name = "DIR")]
        keys: Option<PathBuf>,
        /// The archive to write (an age file; refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// age recipient (age1...).
        #[arg(long)]
        recipient: String,
    },
    /// Decrypts an archive and checks its digest and record count.
    Verify {
        /// The archive `backup create` wrote.
        #[arg(long, value_name = "FILE")]
        archive: PathBuf,
        /// The age identity file (AGE-SECRET-KEY-1...) the backup was made for.
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
    },
}

pub(super) fn backup(command: BackupCommand) -> Result<ExitCode, String> {
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

/// `civic-vault restore`: the archive into an empty data directory, then the
/// restored chain verified, checkpoints included (against the restored pin
/// when the keys came too; an unanchored chain is stated, not refused).
pub(super) fn restore(
    archive: &std::path::Path,
    identity: &std::path::Path,
    data: &std::path::Path,
    keys: Option<&std::path::Path>,
) -> Result<ExitCode, String> {
    let id = civic_vault::ops::backup::read_identity(identity)?;
    let m = civic_vault::ops::backup::restore(archive, &id, data, keys).map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?);
    super::audit::verify(
        data,
        keys,
        true,
        &super::audit::WitnessPin {
            keys: Vec::new(),
            threshold: None,
        },
    )
}
