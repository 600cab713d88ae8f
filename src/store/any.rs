//! The store a vault runs on: sled (embedded, the default) or PostgreSQL
//! (`[store] kind = "postgres"`), both behind the domain's store interface.

use std::future::Future;
use std::pin::Pin;

use super::postgres::PgStore;
use super::{Opened, SledStore};
use crate::crypto::{CommitmentCost, EpochId};
use crate::domain::audit::{AuditAbout, AuditEntry, ChainReport};
use crate::domain::card::{CardId, CardRecord, PhotoRecord};
use crate::domain::principal::Principal;
use crate::domain::store::{Commit, CommitResult, Due, ScanRef, Store, StoreError};

/// Either engine.
pub enum AnyStore {
    Sled(SledStore),
    Postgres(PgStore),
}

/// The same call on whichever engine this is.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sled($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl AnyStore {
    /// Opens the configured engine: sled under `data_dir`, or PostgreSQL
    /// through `session` (a session holding the vault's lock; without one,
    /// this waits for the lock).
    ///
    /// # Errors
    /// As [`SledStore::open`] and [`PgStore::open`].
    pub fn open(
        config: &crate::config::Config,
        fingerprint: Option<&str>,
        session: Option<super::postgres::PgSession>,
    ) -> Result<(Self, Opened), StoreError> {
        match config.store.kind {
            crate::config::StoreKind::Sled => {
                SledStore::open(&config.data_dir, fingerprint).map(|(s, o)| (Self::Sled(s), o))
            }
            crate::config::StoreKind::Postgres => {
                let session = match session {
                    Some(s) => s,
                    None => PgStore::lock(&config.store.url, &std::sync::atomic::AtomicBool::new(false))?
                        .ok_or_else(|| StoreError::Failed("stopped while waiting for the database lock".into()))?,
                };
                PgStore::open(session, fingerprint).map(|(s, o)| (Self::Postgres(s), o))
            }
        }
    }

    /// See [`SledStore::commitment_cost`].
    ///
    /// # Errors
    /// Storage failure, or an unreadable recorded cost.
    pub fn commitment_cost(&self, configured: CommitmentCost) -> Result<CommitmentCost, StoreError> {
        each!(self, s => s.commitment_cost(configured))
    }

    /// See [`SledStore::close`].
    ///
    /// # Errors
    /// The final flush failed.
    pub fn close(&self) -> Result<(), StoreError> {
        each!(self, s => s.close())
    }

    /// See [`SledStore::simulate_write_failure`].
    pub fn simulate_write_failure(&self) {
        each!(self, s => s.simulate_write_failure());
    }

    /// Writer statistics as Prometheus text.
    #[must_use]
    pub fn render_stats(&self) -> String {
        each!(self, s => s.render_stats())
    }

    /// See [`SledStore::bootstrap_principal`].
    ///
    /// # Errors
    /// Storage failure.
    pub fn bootstrap_principal(&self, principal: &Principal) -> Result<(), StoreError> {
        each!(self, s => s.bootstrap_principal(principal))
    }

    /// False once a storage write failed (or, for PostgreSQL, the lock was
    /// lost): the store refuses writes.
    #[must_use]
    pub fn writable(&self) -> bool {
        each!(self, s => s.writable())
    }

    /// Whether this node lost the database lock and must stop serving
    /// (never, for sled).
    #[must_use]
    pub fn lost_lock(&self) -> bool {
        match self {
            Self::Sled(_) => false,
            Self::Postgres(p) => p.lost_lock(),
        }
    }
}

impl Store for AnyStore {
    fn commit(&self, commit: Commit) -> impl Future<Output = CommitResult> + Send {
        let fut: Pin<Box<dyn Future<Output = CommitResult> + Send + '_>> = match self {
            Self::Sled(s) => Box::pin(s.commit(commit)),
            Self::Postgres(s) => Box::pin(s.commit(commit)),
        };
        fut
    }

    fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        each!(self, s => s.principals())
    }

    fn card(&self, card_id: &CardId) -> Result<Option<CardRecord>, StoreError> {
        each!(self, s => s.card(card_id))
    }

    fn photo(&self, card_id: &CardId) -> Result<Option<PhotoRecord>, StoreError> {
        each!(self, s => s.photo(card_id))
    }

    fn audit_page(&self, after: u64, limit: usize) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError> {
        each!(self, s => s.audit_page(after, limit))
    }

    fn audit_about(&self, subject: Option<&str>) -> Result<AuditAbout, StoreError> {
        each!(self, s => s.audit_about(subject))
    }

    fn audit_last_seq(&self) -> Result<u64, StoreError> {
        each!(self, s => s.audit_last_seq())
    }

    fn audit_verify(&self, checkpoints: std::collections::BTreeMap<u64, String>) -> Result<ChainReport, StoreError> {
        each!(self, s => s.audit_verify(checkpoints))
    }

    fn tlog_stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, crate::domain::tlog::TreeError> {
        match self {
            Self::Sled(s) => s.tlog_stored(level, from, to),
            Self::Postgres(s) => s.tlog_stored(level, from, to),
        }
    }

    fn tlog_size(&self) -> Result<u64, StoreError> {
        match self {
            Self::Sled(s) => s.tlog_size(),
            Self::Postgres(s) => s.tlog_size(),
        }
    }

    fn audit_head(&self) -> Result<(u64, String), StoreError> {
        each!(self, s => s.audit_head())
    }

    fn scan_epochs(&self) -> Result<Vec<EpochId>, StoreError> {
        each!(self, s => s.scan_epochs())
    }

    fn scans_of(&self, epoch: EpochId) -> Result<Vec<ScanRef>, StoreError> {
        each!(self, s => s.scans_of(epoch))
    }

    fn due_entries(&self, until: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
        each!(self, s => s.due_entries(until, limit))
    }

    fn card_page(&self, after: Option<CardId>, limit: usize) -> Result<Vec<(CardId, CardRecord)>, StoreError> {
        each!(self, s => s.card_page(after, limit))
    }

    fn erased_count(&self) -> Result<u64, StoreError> {
        each!(self, s => s.erased_count())
    }

    fn card_count(&self) -> Result<u64, StoreError> {
        each!(self, s => s.card_count())
    }

    fn card_scans(&self, card_id: &CardId, epochs: &[EpochId]) -> Result<Vec<(EpochId, Vec<u8>)>, StoreError> {
        each!(self, s => s.card_scans(card_id, epochs))
    }

    fn held_scans(&self, hold_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        each!(self, s => s.held_scans(hold_id))
    }

    fn policy_versions(&self) -> Result<Vec<crate::domain::policy_version::PolicyVersion>, StoreError> {
        each!(self, s => s.policy_versions())
    }

    fn policy_tests(&self) -> Result<std::collections::BTreeMap<u64, Vec<u8>>, StoreError> {
        each!(self, s => s.policy_tests())
    }

    fn staff_keys(&self, id: &str) -> Result<Option<crate::domain::staff::StaffKeys>, StoreError> {
        each!(self, s => s.staff_keys(id))
    }

    fn holds(&self) -> Result<Vec<crate::domain::holds::Hold>, StoreError> {
        each!(self, s => s.holds())
    }

    fn card_for_commitment(&self, commitment: &crate::crypto::Commitment) -> Result<Option<CardId>, StoreError> {
        each!(self, s => s.card_for_commitment(commitment))
    }

    fn legal_request(&self, id: &str) -> Result<Option<crate::domain::legal::LegalRecord>, StoreError> {
        each!(self, s => s.legal_request(id))
    }

    fn legal_summaries(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        each!(self, s => s.legal_summaries())
    }

    fn notices(&self) -> Result<Vec<crate::domain::legal::Notice>, StoreError> {
        each!(self, s => s.notices())
    }

    fn counter_queue(&self, limit: usize) -> Result<Vec<CardId>, StoreError> {
        each!(self, s => s.counter_queue(limit))
    }

    fn honey_cards(&self) -> Result<Vec<crate::domain::honey::StoredHoneyCard>, StoreError> {
        each!(self, s => s.honey_cards())
    }

    fn scan_count(&self) -> Result<u64, StoreError> {
        each!(self, s => s.scan_count())
    }

    fn status_list(&self, list: u32) -> Result<Option<crate::domain::credential::ListBits>, StoreError> {
        each!(self, s => s.status_list(list))
    }

    fn legacy_credentials(&self) -> Result<Vec<CardId>, StoreError> {
        each!(self, s => s.legacy_credentials())
    }

    fn flush(&self) -> Result<(), StoreError> {
        each!(self, s => s.flush())
    }
}
