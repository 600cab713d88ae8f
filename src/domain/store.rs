//! The store interface the domain owns. The sled implementation lives in
//! the `store` module; nothing here names a sled type.

use super::audit::{AuditDraft, AuditEntry, ChainReport};
use super::card::{CardId, CardRecord, PhotoRecord};
pub use super::error::{Conflict, StoreError};
use super::principal::Principal;
use crate::crypto::{Commitment, EpochId};

/// A new cardholder, ready to store.
#[derive(Debug, Clone)]
pub struct NewCard {
    pub card_id: CardId,
    pub record: CardRecord,
    pub photo: PhotoRecord,
    /// Commitments of the identity documents: none may be the index key of
    /// another card, unless that card is in `superseded`.
    pub identity_commitments: Vec<Commitment>,
    /// Cards whose identity documents this card may take over: the vault
    /// found them no longer valid (revoked, erased, expired or gone).
    pub superseded: Vec<CardId>,
    /// Document scans kept for the retention window, as age files.
    pub scans: Vec<(EpochId, Vec<u8>)>,
    /// When the record falls due for destruction if nothing else happens.
    pub due_at: i64,
}

/// An entry of the due index: when a cardholder record falls due for
/// destruction, and which record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    pub at: i64,
    pub card_id: CardId,
}

/// One stored scan: its destruction epoch, its card, its place among the
/// card's scans of that enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanRef {
    pub epoch: EpochId,
    pub card_id: CardId,
    pub index: u8,
}

/// One change to the vault's records.
#[derive(Debug, Clone)]
pub enum Change {
    PutPrincipal(Box<Principal>),
    /// Replaces an existing principal (approval, rotation, retirement).
    UpdatePrincipal(Box<Principal>),
    DeletePrincipal {
        id: String,
    },
    Enroll(Box<NewCard>),
    /// Replaces a card's sealed meta (status, dates, counter state) if it is
    /// still `expect` — the meta the change was computed from — and indexes
    /// when the record then falls due.
    UpdateCardMeta {
        card_id: CardId,
        expect: Vec<u8>,
        meta: Vec<u8>,
        due_at: i64,
    },
    /// Deletes a cardholder record (card, photo, its commitments) and its due
    /// entry, counting it towards the next KEK destruction.
    DeleteCard {
        card_id: CardId,
        due: Due,
    },
    /// Replaces a card's whole record (a renewal, an update of the holder's
    /// fields) if its meta is still `expect`, moving its due entry and
    /// re-keying its index: `identity` must not back another card unless
    /// that card is in `superseded` (as for an enrollment).
    UpdateCard {
        card_id: CardId,
        expect: Vec<u8>,
        record: Box<CardRecord>,
        identity: Vec<Commitment>,
        superseded: Vec<CardId>,
    },
    /// Records the status-list indices of credentials issued for a card,
    /// sealed under `key` with those issued before, if the card's sealed
    /// meta is still `expect` (read and found valid by the caller); aborts
    /// if the card is gone (not found), its meta has changed (version
    /// conflict: read it again), or an index is taken already
    /// (unavailable: draw again).
    IssueCredentials {
        card_id: CardId,
        expect: Vec<u8>,
        indices: Vec<u64>,
        key: crate::crypto::IndexKey,
    },
    /// Sets the status bit of every credential issued for a card (its list
    /// opened with `key`), in the commit that moves its sealed meta out of
    /// valid (revocation, replacement, erasure request), after which no
    /// credential is issued for it; or before the sweep deletes it.
    RevokeCredentials {
        card_id: CardId,
        key: crate::crypto::IndexKey,
    },
    /// Rewrites a card's credential entries of an older version (its index
    /// list in the clear, a revocation marker) in today's form: the list
    /// sealed under `key`, no marker (the sealed meta says revoked); with
    /// no key (the record is gone or does not open), the listed
    /// credentials are revoked and the list dropped.
    SealCredentials {
        card_id: CardId,
        key: Option<crate::crypto::IndexKey>,
    },
    /// Puts a card on the counter's queue (to print, or to pick up) or takes it off.
    Counter {
        card_id: CardId,
        queued: bool,
    },
    /// Re-indexes a due entry that is not due yet.
    MoveDue {
        from: Due,
        to: Due,
    },
    /// Replaces a card's wrapped data key if it is still wrapped by `from_kek`.
    Rewrap {
        card_id: CardId,
        from_kek: String,
        wrapped: crate::crypto::WrappedKey,
    },
    /// Starts the count of records erased under the active KEK again.
    ResetErasedCount,
    /// Stores a new version of the editable policies.
    PutPolicyVersion(Box<super::policy_version::PolicyVersion>),
    /// Stores the policy tests of a version (JSON array of cases).
    PutPolicyTests {
        version: u64,
        tests: Vec<u8>,
    },
    /// Stores a legal hold (new or changed).
    PutHold(Box<super::holds::Hold>),
    /// Stores scans preserved by a hold (age files to the hold's key).
    PutHeldScans {
        hold_id: String,
        files: Vec<Vec<u8>>,
    },
    /// Removes the `count` scans a hold preserved.
    RemoveHeldScans {
        hold_id: String,
        count: usize,
    },
    /// Removes stored scans (those of a destroyed epoch).
    RemoveScans {
        scans: Vec<ScanRef>,
    },
    /// Stores a legal request's answer and, when one is due, its cardholder notice.
    PutLegalRequest {
        record: Box<super::legal::LegalRecord>,
        notice: Option<super::legal::Notice>,
    },
    /// A clerk sent a notice: it leaves the pending list.
    RemoveNotice {
        id: String,
    },
    /// Remembers honey cards (enrolled in the same commit): which cards are
    /// canaries, each sealed under a random storage key (`put`); `remove`
    /// drops records by key (an older version's records, once resealed).
    PutHoneyCards {
        put: Vec<super::honey::StoredHoneyCard>,
        remove: Vec<Vec<u8>>,
    },
    /// Replaces a staff member's browser credentials (registration code,
    /// passkeys); the principal must exist.
    PutStaffKeys {
        id: String,
        keys: Box<super::staff::StaffKeys>,
    },
}

/// Changes and the audit entries that record them, applied all together or
/// not at all. When the changes conflict, the entries are still written,
/// with the conflict as their outcome, and the conflict is returned.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub changes: Vec<Change>,
    pub audit: Vec<AuditDraft>,
}

/// Where a commit's audit entries landed.
#[derive(Debug, Clone)]
pub struct Committed {
    pub seqs: Vec<u64>,
}

pub type CommitResult = Result<Committed, StoreError>;

/// Narrow storage interface. Reads are synchronous and cheap but may touch
/// disk: async callers run them on a blocking thread. Commits are queued to
/// one writer that groups them and makes each group durable with one flush
/// before any of them is acknowledged.
pub trait Store: Send + Sync + 'static {
    /// Applies a commit durably: resolves once its group is flushed, or
    /// with the conflict or failure that stopped it.
    fn commit(&self, commit: Commit) -> impl std::future::Future<Output = CommitResult> + Send;

    /// # Errors
    /// Storage failure.
    fn principals(&self) -> Result<Vec<Principal>, StoreError>;

    /// # Errors
    /// Storage failure or an unreadable record.
    fn card(&self, card_id: &CardId) -> Result<Option<CardRecord>, StoreError>;

    /// # Errors
    /// Storage failure or an unreadable record.
    fn photo(&self, card_id: &CardId) -> Result<Option<PhotoRecord>, StoreError>;

    /// Entries with `seq > after`, at most `limit`, each with its hash.
    ///
    /// # Errors
    /// Storage failure or an unreadable entry.
    fn audit_page(&self, after: u64, limit: usize) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError>;

    /// Calls `f` with every entry after `after`, oldest first, a page at a time.
    ///
    /// # Errors
    /// Storage failure or an unreadable entry.
    fn audit_each(&self, after: u64, f: &mut dyn FnMut(AuditEntry)) -> Result<(), StoreError> {
        let mut after = after;
        loop {
            let page = self.audit_page(after, 1000)?;
            let Some((last, _)) = page.last() else { return Ok(()) };
            after = last.seq;
            for (e, _) in page {
                f(e);
            }
        }
    }

    /// What the chain holds about `subject` (oldest first) and every entry
    /// with a destruction certificate. Stores with an index answer from it;
    /// this default walks the chain.
    ///
    /// # Errors
    /// Storage failure or an unreadable entry.
    fn audit_about(&self, subject: Option<&str>) -> Result<super::audit::AuditAbout, StoreError> {
        let mut about = super::audit::AuditAbout::default();
        self.audit_each(0, &mut |e| {
            if subject.is_some() && e.subject.as_deref() == subject {
                about.entries.push(e.clone());
            }
            if e.certificate.is_some() {
                about.certificates.push(e);
            }
        })?;
        Ok(about)
    }

    /// The sequence number of the newest audit entry (0 when empty).
    ///
    /// # Errors
    /// Storage failure.
    fn audit_last_seq(&self) -> Result<u64, StoreError>;

    /// Walks the whole chain and checks it against signed checkpoint heads
    /// (sequence number → head hash).
    ///
    /// # Errors
    /// Storage failure.
    fn audit_verify(&self, checkpoints: std::collections::BTreeMap<u64, String>) -> Result<ChainReport, StoreError>;

    /// The newest entry's sequence number and hash (0 and the genesis hash when empty).
    ///
    /// # Errors
    /// Storage failure.
    fn audit_head(&self) -> Result<(u64, String), StoreError>;

    /// The transparency log's stored hashes (`domain::tlog`): level
    /// `level`'s hashes `from..to`, written with their entries.
    ///
    /// # Errors
    /// The tree does not hold them, or storage failure.
    fn tlog_stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, super::tlog::TreeError>;

    /// How many entries the transparency log's tree holds (the chain's
    /// length, once the writer has caught it up at open).
    ///
    /// # Errors
    /// Storage failure.
    fn tlog_size(&self) -> Result<u64, StoreError>;

    /// The epochs that have scans stored, found by jumping from prefix to
    /// prefix (cost grows with the number of epochs, not of scans).
    ///
    /// # Errors
    /// Storage failure.
    fn scan_epochs(&self) -> Result<Vec<EpochId>, StoreError>;

    /// One epoch's scans.
    ///
    /// # Errors
    /// Storage failure.
    fn scans_of(&self, epoch: EpochId) -> Result<Vec<ScanRef>, StoreError>;

    /// Due-index entries due at or before `until`, soonest first.
    ///
    /// # Errors
    /// Storage failure.
    fn due_entries(&self, until: i64, limit: usize) -> Result<Vec<Due>, StoreError>;

    /// Up to `limit` cards after `after`, in storage order.
    ///
    /// # Errors
    /// Storage failure.
    fn card_page(&self, after: Option<CardId>, limit: usize) -> Result<Vec<(CardId, CardRecord)>, StoreError>;

    /// Cardholder records deleted since the last KEK destruction.
    ///
    /// # Errors
    /// Storage failure.
    fn erased_count(&self) -> Result<u64, StoreError>;

    /// How many cardholder records are stored.
    ///
    /// # Errors
    /// Storage failure.
    fn card_count(&self) -> Result<u64, StoreError>;

    /// One card's scans in the given epochs: (epoch, age file).
    ///
    /// # Errors
    /// Storage failure.
    fn card_scans(&self, card_id: &CardId, epochs: &[EpochId]) -> Result<Vec<(EpochId, Vec<u8>)>, StoreError>;

    /// The files (age) of the scans preserved by one hold.
    ///
    /// # Errors
    /// Storage failure.
    fn held_scans(&self, hold_id: &str) -> Result<Vec<Vec<u8>>, StoreError>;

    /// Every stored policy version, oldest first.
    ///
    /// # Errors
    /// Storage failure.
    fn policy_versions(&self) -> Result<Vec<super::policy_version::PolicyVersion>, StoreError>;

    /// The policy tests stored with each version (version → JSON array).
    /// Versions made before tests travelled with them have none.
    ///
    /// # Errors
    /// Storage failure.
    fn policy_tests(&self) -> Result<std::collections::BTreeMap<u64, Vec<u8>>, StoreError>;

    /// A staff member's browser credentials, if any were issued.
    ///
    /// # Errors
    /// Storage failure or an unreadable record.
    fn staff_keys(&self, id: &str) -> Result<Option<super::staff::StaffKeys>, StoreError>;

    /// Every legal hold, in id order.
    ///
    /// # Errors
    /// Storage failure.
    fn holds(&self) -> Result<Vec<super::holds::Hold>, StoreError>;

    /// The card an identity document's commitment backs, if any.
    ///
    /// # Errors
    /// Storage failure.
    fn card_for_commitment(&self, commitment: &crate::crypto::Commitment) -> Result<Option<CardId>, StoreError>;

    /// One stored legal request.
    ///
    /// # Errors
    /// Storage failure or an unreadable record.
    fn legal_request(&self, id: &str) -> Result<Option<super::legal::LegalRecord>, StoreError>;

    /// Every stored legal answer's id, time and summary (JSON), oldest
    /// first: what reports count (never the packages).
    ///
    /// # Errors
    /// Storage failure or an unreadable record.
    fn legal_summaries(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;

    /// Cardholder notices waiting to be sent, oldest first.
    ///
    /// # Errors
    /// Storage failure or an unreadable record.
    fn notices(&self) -> Result<Vec<super::legal::Notice>, StoreError>;

    /// The cards on the counter's queue, in storage order.
    ///
    /// # Errors
    /// Storage failure.
    fn counter_queue(&self, limit: usize) -> Result<Vec<CardId>, StoreError>;

    /// Every honey card as stored (sealed; an older version's in the clear).
    ///
    /// # Errors
    /// Storage failure.
    fn honey_cards(&self) -> Result<Vec<super::honey::StoredHoneyCard>, StoreError>;

    /// How many scans are stored.
    ///
    /// # Errors
    /// Storage failure.
    fn scan_count(&self) -> Result<u64, StoreError>;

    /// Makes everything written so far durable.
    ///
    /// # Errors
    /// Storage failure.
    fn flush(&self) -> Result<(), StoreError>;

    /// Status list `list`'s bits (one per entry, set: revoked) and which of
    /// its entries are taken; `None` before its first credential.
    ///
    /// # Errors
    /// The read failed.
    fn status_list(&self, list: u32) -> Result<Option<super::credential::ListBits>, StoreError>;

    /// The cards an older version left credential entries for in their
    /// old form (the index list in the clear, a revocation marker): what
    /// the vault seals at open.
    ///
    /// # Errors
    /// Storage failure.
    fn legacy_credentials(&self) -> Result<Vec<CardId>, StoreError>;
}

/// Any store's transparency-log hashes, as `domain::tlog` reads them.
impl<T: Store> super::tlog::StoredHashes for T {
    fn stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, super::tlog::TreeError> {
        self.tlog_stored(level, from, to)
    }
}
