//! The database's schema, versioned: each migration runs once, in order,
//! in one transaction with its row in `schema_version`, by the node that
//! holds the lock. A database migrated by a newer build is refused.
//! Then the record format and the keyring's fingerprint, kept in the meta
//! tree as sled keeps them.

use postgres::Client;

use super::failed;
use crate::domain::audit::GENESIS;
use crate::domain::store::StoreError;
use crate::store::changes::TreeName;
use crate::store::{Opened, META_KEYRING, META_SCHEMA, SCHEMA_VERSION};

/// Migration `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    // 1: the trees, the audit chain with its index by subject, the chain's head.
    "CREATE TABLE kv (
        tree text NOT NULL,
        key bytea NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (tree, key)
    );
    CREATE TABLE audit (
        seq bigint PRIMARY KEY,
        subject text,
        certificate boolean NOT NULL,
        stored bytea NOT NULL
    );
    CREATE INDEX audit_by_subject ON audit (subject, seq) WHERE subject IS NOT NULL;
    CREATE INDEX audit_certificates ON audit (seq) WHERE certificate;
    CREATE TABLE audit_head (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        hash bytea NOT NULL
    );",
    // 2: the audit's Merkle tree, as runs of stored hashes (`domain::tlog`),
    // written in the same transaction as their entries.
    "CREATE TABLE tlog (
        level smallint NOT NULL,
        first bigint NOT NULL,
        hashes bytea NOT NULL,
        PRIMARY KEY (level, first)
    );",
];

/// Applies every migration the database lacks.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .map_err(failed)?;
    let current: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .map_err(failed)?
        .get(0);
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if current > known {
        return Err(StoreError::Failed(format!(
            "postgres: the database schema is at version {current}; this build knows versions up to {known}"
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let mut tx = client.transaction().map_err(failed)?;
        tx.batch_execute(sql).map_err(failed)?;
        if version == 1 {
            tx.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)",
                &[&GENESIS.as_slice()],
            )
            .map_err(failed)?;
        }
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version])
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}

fn meta(client: &mut Client, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT value FROM kv WHERE tree = $1 AND key = $2",
            &[&TreeName::Meta.name(), &key],
        )
        .map_err(failed)?
        .map(|r| r.get(0)))
}

fn put_meta(client: &mut Client, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO kv (tree, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (tree, key) DO UPDATE SET value = excluded.value",
            &[&TreeName::Meta.name(), &key, &value],
        )
        .map(drop)
        .map_err(failed)
}

/// Whether the schema holds the meta row naming a keyring (no table yet:
/// a fresh database, no).
pub(super) fn holds_keyring(client: &mut Client) -> Result<bool, StoreError> {
    let row = client
        .query_one("SELECT to_regclass('kv') IS NOT NULL", &[])
        .map_err(failed)?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    Ok(meta(client, META_KEYRING)?.is_some())
}

/// The record format (as sled's `meta` holds it) and the keyring check.
pub(super) fn check_meta(client: &mut Client, fingerprint: Option<&str>) -> Result<Opened, StoreError> {
    let stored = meta(client, META_SCHEMA)?;
    let fresh = stored.is_none();
    let schema = match stored {
        None => {
            put_meta(client, META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())?;
            SCHEMA_VERSION
        }
        Some(v) => {
            let version = u32::from_be_bytes(v.as_slice().try_into().unwrap_or([0xFF; 4]));
            if version != SCHEMA_VERSION {
                // PostgreSQL stores began at format v2: nothing to migrate.
                return Err(StoreError::Failed(format!(
                    "postgres: record format v{version}; this build reads v{SCHEMA_VERSION}"
                )));
            }
            version
        }
    };
    if let Some(fp) = fingerprint {
        match meta(client, META_KEYRING)? {
            None => put_meta(client, META_KEYRING, fp.as_bytes())?,
            Some(stored) if stored == fp.as_bytes() => {}
            Some(_) => {
                return Err(StoreError::Failed(
                    "the database was written with a different keyring; refusing to start".into(),
                ))
            }
        }
    }
    Ok(Opened { fresh, schema })
}
