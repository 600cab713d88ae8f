//! What must hold before the vault opens anything: an owner-only data
//! directory, the database's lock (PostgreSQL), and no new keyring where
//! records already are; and the umask that keeps every file the process
//! makes its owner's only.

use super::StartError;
use crate::config::Config;

/// Every file the process creates from here on is its owner's only (0600,
/// directories 0700): sled makes its own files, and so do the checkpoint
/// writer, backups and restores, none of which should be readable by the
/// host's other accounts.
pub fn owner_only_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the data directory 0700, or checks that an existing one is not
/// open to its group or others (unless `allow_shared`, the
/// `allow_shared_data_dir` config key, says to start anyway).
pub(super) fn owner_only_data_dir(dir: &std::path::Path, allow_shared: bool) -> Result<(), StartError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    owner_only_umask();
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !allow_shared {
                return Err(StartError::Config(format!(
                    "data directory {shown} is open to its group or others (mode {mode:o}): `chmod 700 {shown}`, or \
                     set config key `allow_shared_data_dir = true` to start anyway"
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StartError::Store(format!("{shown}: cannot be created: {}", e.kind()))),
        Err(e) => Err(StartError::Store(format!("{shown}: {}", e.kind()))),
    }
}

/// On PostgreSQL, a session holding the vault's lock (waiting for it when
/// the caller brought none), taken before the keys are opened so the
/// database can be asked whether it already holds records.
pub(super) fn database_session(
    config: &Config,
    session: Option<crate::store::postgres::PgSession>,
) -> Result<Option<crate::store::postgres::PgSession>, StartError> {
    if session.is_some() || config.store.kind != crate::config::StoreKind::Postgres {
        return Ok(session);
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    crate::store::postgres::PgStore::lock(&config.store.url, &stop)
        .map_err(|e| StartError::Store(e.to_string()))?
        .ok_or_else(|| StartError::Store("stopped while waiting for the database lock".into()))
        .map(Some)
}

/// Refuses to generate a keyring where records already are (sled's data
/// directory, or a database holding a keyring's fingerprint) and the keys
/// directory holds none: those records need their own keys, and a new
/// keyring would only be an orphan next to them.
pub(super) fn no_new_keys_for_old_records(
    config: &Config,
    session: Option<&mut crate::store::postgres::PgSession>,
) -> Result<(), StartError> {
    if config.keys_dir.join("keyring.toml").exists() {
        return Ok(());
    }
    let where_ = if config.data_dir.join("db").exists() {
        config.data_dir.display().to_string()
    } else if let Some(session) = session {
        if !session.holds_records().map_err(|e| StartError::Store(e.to_string()))? {
            return Ok(());
        }
        "the database".to_owned()
    } else {
        return Ok(());
    };
    Err(StartError::Store(format!(
        "{where_} holds data but {} holds no keyring; refusing to create new keys for old data",
        config.keys_dir.display()
    )))
}
