//! `civic-vault policy ...`: check and test offline; diff, apply, history,
//! rollback and export through a running vault's API.

use std::path::PathBuf;
use std::process::ExitCode;

use civic_vault::ops::client::Connection;
use clap::Subcommand;

use super::remote;

#[derive(Subcommand)]
pub(super) enum PolicyCommand {
    /// Full check of an editable policy set: strict validation, the canary
    /// suite and the policy tests, as `POST /v1/policies/check` does.
    Check {
        /// The policies directory (schema, floor, tests).
        #[arg(long, visible_alias = "policies-dir", default_value = "policies")]
        policies: PathBuf,
        /// The editable policies to check (default: <policies>/editable.cedar).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Runs the policy tests (<policies>/tests/*.json) against the editable policies.
    Test {
        /// The policies directory (schema, floor, tests).
        #[arg(long, visible_alias = "policies-dir", default_value = "policies")]
        policies: PathBuf,
        /// The editable policies to test (default: <policies>/editable.cedar).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Unified diff of a file (or version --to) against the running vault's
    /// active set (or version --from).
    Diff {
        /// An editable policy file to compare (instead of --to).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The version compared against (default: the active one).
        #[arg(long)]
        from: Option<u64>,
        /// A stored version to compare (instead of --file).
        #[arg(long)]
        to: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Checks a file on the running vault and, if it passes, activates it as
    /// the next version (PUT /v1/policies).
    Apply {
        /// The editable policies to apply.
        #[arg(long)]
        file: PathBuf,
        /// Why: kept with the version in its history.
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
        /// The earlier version whose text becomes active again.
        #[arg(long)]
        to: u64,
        /// Why: kept with the new version in its history.
        #[arg(long, default_value = "")]
        comment: String,
        /// The version this rollback replaces (default: the active one).
        #[arg(long)]
        expected_version: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Writes the active (or --version) set as files: editable.cedar,
    /// floor.cedar, schema.cedarschema.
    Export {
        /// The directory to write the files into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The version to export (default: the active one).
        #[arg(long)]
        version: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
}

pub(super) fn policy(command: PolicyCommand) -> Result<ExitCode, String> {
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
