//! `[store]`: which engine holds the records, and where.

use serde::Deserialize;

/// `[store]`: sled under `data_dir` (the default), or a PostgreSQL
/// database that any number of vault nodes share, one of them active.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub kind: StoreKind,
    /// `postgres://user@host:port/database` (with `kind = "postgres"`); a
    /// password in it is never shown.
    pub url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("kind", &self.kind)
            .field("url", &if self.url.is_empty() { "" } else { "(set)" })
            .finish()
    }
}

/// Which engine holds the records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Sled,
    Postgres,
}
