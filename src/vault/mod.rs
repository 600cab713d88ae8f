//! The running vault's state, below HTTP: everything a request or a
//! background task can reach (keys, store, the active policies, caches, the
//! token index, rate limits, counters), how it opens at startup, and the
//! services that act on it (retention, legal answers, audit checkpoints).
//! Serving it is the `server` module's; answering HTTP is the `http` module's.

pub mod access_report;
pub mod attestation_keys;
pub mod audit_tally;
pub mod authorization;
pub mod card_cache;
pub mod cards;
pub mod checkpoints;
pub mod counter;
pub mod credential_indices;
pub mod credential_state;
pub mod credential_trust;
pub mod credentials;
pub mod dpop;
pub mod facts;
pub mod honey;
pub mod honey_registry;
pub mod issuer_upkeep;
pub mod keyrep;
pub mod legal;
pub mod legal_answers;
pub mod metrics;
mod open;
mod open_checks;
mod open_writes;
pub mod ops_status;
pub mod printing;
pub mod rate_limits;
pub mod reports;
pub mod retention;
pub mod shares;
pub mod tlog_checkpoints;
pub mod token_index;
pub mod wallet_attestation;
pub mod witness;
pub mod witness_sync;

pub use open::KeyAccess;
pub use open_checks::owner_only_umask;

use std::sync::Arc;

use crate::authz::{PolicyEngine, PolicySources};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{Attestor, Keyring};
use crate::domain::access;
use crate::domain::card::{CardId, CardRecord, OpenCard};
use crate::domain::error::Error;
use crate::domain::facts::DistinctCards;
use crate::domain::policy_version::PolicyTests;
use crate::domain::program::Program;
use crate::domain::store::Store;
use crate::store::AnyStore;
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
    pub store: AnyStore,
    /// The active version's policy tests; replaced with the policy set.
    policy_tests: std::sync::RwLock<Arc<PolicyTests>>,
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
    /// Signs fact attestations; replaced when the attestation key rotates
    /// (here or, on a cluster, on another node).
    attestor: std::sync::RwLock<Arc<Attestor>>,
    /// Holder-held credentials: issuer keys, offers, tokens, nonces.
    pub credentials: crate::vault::credential_state::Credentials,
    pub cards: CardCache,
    /// The legal answers' summaries, for access reports.
    pub legal_answers: legal_answers::LegalAnswerCache,
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
    /// The Merkle tree's signed checkpoints (C2SP signed notes).
    pub tree_checkpoints: crate::vault::tlog_checkpoints::TreeCheckpointer,
    /// The newest signed checkpoint found at start (0: none).
    pub signed_at_start: u64,
    /// The C2SP witnesses that cosign tree checkpoints, when configured.
    pub witness: Option<crate::vault::witness::Witnesses>,
    /// Which cards are honey cards (by keyed hashes), and where alerts go.
    pub honey: crate::vault::honey_registry::HoneyCards,
    /// Honey card records read in an older version's clear form, resealed
    /// once the vault has opened.
    honey_legacy: std::sync::Mutex<Vec<(Vec<u8>, crate::domain::honey::HoneyCard)>>,
    /// The last card record read, opened in vain for numbers not held.
    decoy: std::sync::Mutex<Option<(CardId, CardRecord)>>,
    /// The other nodes keys are replicated with (`[cluster]`), once serving.
    pub cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
    /// What a document commitment costs in this store.
    pub commitment_cost: crate::crypto::CommitmentCost,
    /// Held while the vault runs: no seal change under it.
    _keys_lock: crate::crypto::seal::KeysLock,
}

/// Whether this node should be sent requests (`GET /readyz`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// "active", "standby", "sealed" or "starting".
    pub role: &'static str,
    /// Why an active node is not ready.
    pub reason: Option<&'static str>,
}

impl Vault {
    /// Prepares the audit entry of an unauthenticated refusal from `source`
    /// (its subject becomes the source's keyed hash) and says whether it is
    /// counted into its window (`true`: write nothing now) or is the
    /// window's first, to be written before the answer leaves
    /// (`audit_tally.rs`).
    pub fn tally_counted(&self, source: std::net::IpAddr, draft: &mut crate::domain::audit::AuditDraft) -> bool {
        draft.subject = Some(audit_tally::source_subject(&self.keys.subjects, Some(source)));
        draft.principal = None;
        self.unauthenticated.arrive(
            source,
            &draft.action,
            &draft.outcome,
            draft.at,
            std::time::Instant::now(),
        ) == audit_tally::Arrival::Counted
    }

    /// Records an unauthenticated refusal from `source` (`None`: no listener
    /// saw the peer; written as it is): counted, or written now. `false`
    /// when the entry could not be written (the caller fails closed).
    pub async fn tally_refusal(
        &self,
        source: Option<std::net::IpAddr>,
        mut draft: crate::domain::audit::AuditDraft,
    ) -> bool {
        if let Some(source) = source {
            if self.tally_counted(source, &mut draft) {
                return true;
            }
        }
        self.store
            .commit(crate::domain::store::Commit {
                changes: Vec::new(),
                audit: vec![draft],
            })
            .await
            .is_ok()
    }
    /// Ready when the store takes writes and the audit chain agrees with
    /// the witness (a vault object exists only once its keys are open).
    #[must_use]
    pub fn readiness(&self) -> Readiness {
        let reason = if !self.store.writable() {
            Some("store_failed")
        } else if self.witness.as_ref().is_some_and(|w| w.conflict().is_some()) {
            Some("witness_conflict")
        } else {
            None
        };
        Readiness {
            ready: reason.is_none(),
            role: "active",
            reason,
        }
    }

    /// The active policy set. A request takes one snapshot and is decided
    /// wholly by it.
    #[must_use]
    pub fn policy(&self) -> Arc<PolicyEngine> {
        Arc::clone(&self.policy.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Makes `engine` the active policy set, with its version's tests (after
    /// both are stored).
    pub fn activate(&self, engine: PolicyEngine, tests: PolicyTests) {
        *self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(engine);
        *self
            .policy_tests
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(tests);
    }

    /// The active version's policy tests.
    #[must_use]
    pub fn active_tests(&self) -> Arc<PolicyTests> {
        Arc::clone(
            &self
                .policy_tests
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The policy sources with `tests` as their tests: what a check of a
    /// candidate runs against.
    #[must_use]
    pub fn sources_with(&self, tests: &PolicyTests) -> PolicySources {
        PolicySources {
            tests: tests_as_files(tests),
            ..self.policy_sources.clone()
        }
    }

    /// A card record, from the cache or (off the async workers) the store.
    ///
    /// # Errors
    /// The store read failed.
    pub async fn card(self: &Arc<Self>, id: CardId) -> Result<Option<Arc<OpenCard>>, Error> {
        if let Some(cached) = self.cards.get(&id) {
            return Ok(cached);
        }
        let epoch = self.cards.epoch();
        let card = self.read(move |v| Ok(v.open_stored(&id))).await??.map(Arc::new);
        self.cards.insert_if_unchanged(id, card.clone(), epoch);
        Ok(card)
    }

    /// Reads and opens a card record (blocking). A number the store does not
    /// hold opens the last record read instead, in vain, so an unknown number
    /// costs what an issued one does: a fact query must not say by its time
    /// which it was.
    ///
    /// # Errors
    /// The read failed, or the record's keys are gone or it does not decode.
    pub fn open_stored(&self, id: &CardId) -> Result<Option<OpenCard>, Error> {
        let found = self.store.card(id)?;
        let mut decoy = self.decoy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match found {
            Some(record) => {
                *decoy = Some((*id, record.clone()));
                Ok(Some(access::open_card(&self.keys, id, record)?))
            }
            None => {
                if let Some((decoy_id, record)) = decoy.clone() {
                    drop(decoy);
                    std::hint::black_box(access::open_card(&self.keys, &decoy_id, record).ok());
                }
                Ok(None)
            }
        }
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

/// Test cases as the one "file" the test runner reads.
#[must_use]
pub fn tests_as_files(tests: &PolicyTests) -> Vec<(String, String)> {
    vec![(
        "policy tests".to_owned(),
        serde_json::to_string(tests).unwrap_or_else(|_| "[]".into()),
    )]
}
