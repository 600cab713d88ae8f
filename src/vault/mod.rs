//! The running vault's state, below HTTP: everything a request or a
//! background task can reach (keys, store, the active policies, caches, the
//! token index, rate limits, counters), how it opens at startup, and the
//! services that act on it (retention, legal answers, audit checkpoints).
//! Serving it is the `server` module's; answering HTTP is the `http` module's.

pub mod audit_tally;
pub mod card_cache;
pub mod checkpoints;
pub mod legal;
pub mod metrics;
mod open;
pub mod rate_limits;
pub mod retention;
pub mod token_index;

pub use open::{owner_only_umask, KeyAccess};

use std::sync::Arc;

use crate::authz::{PolicyEngine, PolicySources};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{Attestor, Keyring};
use crate::domain::error::Error;
use crate::domain::facts::DistinctCards;
use crate::domain::program::Program;
use crate::domain::store::Store;
use crate::store::SledStore;
use crate::vault::card_cache::CardCache;
use crate::vault::metrics::Metrics;
use crate::vault::token_index::TokenIndex;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("policies: {0}")]
    Policies(String),
    #[error("keys: {0}")]
    Keys(#[from] crate::crypto::KeyError),
    #[error("data: {0}")]
    Store(String),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything a request handler can reach.
pub struct Vault {
    pub config: Config,
    pub keys: Keyring,
    pub store: SledStore,
    /// The active policy set; replaced whole on activation.
    policy: std::sync::RwLock<Arc<PolicyEngine>>,
    /// Schema, floor and program profiles (the editable set lives in the store).
    pub policy_sources: PolicySources,
    /// Policy changes are made one at a time.
    pub policy_update: tokio::sync::Mutex<()>,
    pub program: Program,
    pub clock: Arc<dyn Clock>,
    pub principals: TokenIndex,
    pub metrics: Metrics,
    pub attestor: Attestor,
    pub cards: CardCache,
    /// Enrollments hold this shared while they wrap a data key and commit;
    /// a KEK rotation takes it exclusively once, after switching keys, so no
    /// enrollment wrapped under the old KEK can land after the rewrap pass.
    pub kek_gate: tokio::sync::RwLock<()>,
    /// Sweeps never overlap.
    pub sweep_lock: tokio::sync::Mutex<()>,
    pub last_sweep: tokio::sync::Mutex<Option<crate::domain::retention::SweepReport>>,
    /// When the KEK was last rotated (0: not since this start).
    pub last_rotation: tokio::sync::Mutex<i64>,
    /// Distinct cards per principal in the last hour (the bulk guard's input).
    pub fact_window: DistinctCards,
    pub rate_limits: crate::vault::rate_limits::RateLimits,
    /// Unauthenticated requests counted per source address (see `audit_tally`).
    pub unauthenticated: crate::vault::audit_tally::UnauthenticatedTally,
    /// Each clerk's duplicate-enrollment outcomes today (an enrollment input to Cedar).
    pub duplicate_outcomes: crate::domain::duplicates::DuplicateOutcomes,
    pub checkpointer: crate::vault::checkpoints::Checkpointer,
    /// The newest signed checkpoint found at start (0: none).
    pub signed_at_start: u64,
    /// Held while the vault runs: no seal change under it.
    _keys_lock: crate::crypto::seal::KeysLock,
}

impl Vault {
    /// The active policy set. A request takes one snapshot and is decided
    /// wholly by it.
    #[must_use]
    pub fn policy(&self) -> Arc<PolicyEngine> {
        Arc::clone(&self.policy.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Makes `engine` the active policy set (after its version is stored).
    pub fn activate(&self, engine: PolicyEngine) {
        *self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(engine);
    }

    /// A card record, from the cache or (off the async workers) the store.
    ///
    /// # Errors
    /// The store read failed.
    pub async fn card(
        self: &Arc<Self>,
        id: crate::domain::card::CardId,
    ) -> Result<Option<Arc<crate::domain::card::CardRecord>>, Error> {
        if let Some(cached) = self.cards.get(&id) {
            return Ok(cached);
        }
        let epoch = self.cards.epoch();
        let record = self.read(move |v| v.store.card(&id)).await?.map(Arc::new);
        self.cards.insert_if_unchanged(id, record.clone(), epoch);
        Ok(record)
    }

    /// Runs a blocking store read off the async workers.
    ///
    /// # Errors
    /// The read failed, or its thread did.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Self) -> Result<T, crate::domain::store::StoreError> + Send + 'static,
    ) -> Result<T, Error> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(Error::from)
    }
}
