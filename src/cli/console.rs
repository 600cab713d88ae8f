//! `civic-vault console invite`: the first person into the console without
//! curl. Run where the keys directory is (it reads `admin.token`); it asks
//! the running vault to issue a staff principal, as the bootstrap admin
//! would through the API, and prints the one-time registration link.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::ops::client::Connection;
use civic_vault::Config;

#[derive(clap::Subcommand)]
pub(super) enum ConsoleCommand {
    /// Prints a one-time console registration link (24 hours) for a new
    /// staff member, issued by the bootstrap admin (keys/admin.token) on
    /// the running vault: same approval rules, audited. The first admin's
    /// way in without curl.
    Invite {
        /// The staff member's id: what they type to sign in.
        #[arg(long)]
        id: String,
        /// Their roles, comma-separated: admin (default), clerk,
        /// privacy_officer, legal, auditor.
        #[arg(long, value_delimiter = ',', default_value = "admin")]
        roles: Vec<String>,
        /// The vault's configuration file, for its address, console origin
        /// and keys directory (default: the built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The keys directory holding admin.token (default: the
        /// configuration's, ./keys).
        #[arg(long = "keys", visible_alias = "keys-dir", value_name = "DIR")]
        keys_dir: Option<PathBuf>,
        /// The running vault's base URL (default: http://<the configuration's listen address>).
        #[arg(long, env = "CIVIC_VAULT_URL")]
        url: Option<String>,
    },
}

pub(super) fn console(command: ConsoleCommand) -> Result<ExitCode, String> {
    let ConsoleCommand::Invite {
        id,
        roles,
        config,
        keys_dir,
        url,
    } = command;
    let config = match &config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let keys = keys_dir.unwrap_or_else(|| config.keys_dir.clone());
    let scheme = if config.tls.cert.is_some() { "https" } else { "http" };
    let connection = Connection {
        url: url.unwrap_or_else(|| format!("{scheme}://{}", config.listen)),
        token_file: Some(keys.join("admin.token")),
    };
    let origin = config.console_origin();
    super::remote(&connection, |c| async move {
        civic_vault::ops::operator::console_invite(&c, &id, &roles, &origin).await
    })
}
