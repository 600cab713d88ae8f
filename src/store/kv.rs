//! The seam both engines share: the trees a change touches, by name, and
//! the keys and values of one transaction (sled's transactional trees, or
//! a PostgreSQL transaction's rows). `changes` applies every change through
//! it.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::domain::store::Conflict;

/// Why a transaction stopped: a conflict the caller is told about, or a
/// record that does not decode.
pub(crate) enum Abort {
    Conflict(Conflict),
    Corrupt(String),
}

pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

/// The trees a change touches, by name (the sled tree names; the
/// PostgreSQL store keeps the same trees as rows of one table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeName {
    Principals,
    Cards,
    Photos,
    Commitments,
    Scans,
    Due,
    Meta,
    Holds,
    HeldScans,
    Policies,
    Legal,
    Notices,
    Counter,
    PolicyTests,
    StaffKeys,
    Honey,
    Credentials,
}

impl TreeName {
    /// Every tree, in the order of the writer's transaction after `audit`.
    pub(crate) const ALL: [Self; 17] = [
        Self::Principals,
        Self::Cards,
        Self::Photos,
        Self::Commitments,
        Self::Scans,
        Self::Due,
        Self::Meta,
        Self::Holds,
        Self::HeldScans,
        Self::Policies,
        Self::Legal,
        Self::Notices,
        Self::Counter,
        Self::PolicyTests,
        Self::StaffKeys,
        Self::Honey,
        Self::Credentials,
    ];

    /// The tree's name (sled's tree, PostgreSQL's `tree` column).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Principals => "principals",
            Self::Cards => "cards",
            Self::Photos => "photos",
            Self::Commitments => "commitments",
            Self::Scans => "scans",
            Self::Due => "due",
            Self::Meta => "meta",
            Self::Holds => "holds",
            Self::HeldScans => "held_scans",
            Self::Policies => "policy_versions",
            Self::Legal => "legal_requests",
            Self::Notices => "notices",
            Self::Counter => "counter_queue",
            Self::PolicyTests => "policy_tests",
            Self::StaffKeys => "staff_keys",
            Self::Honey => "honey_cards",
            Self::Credentials => "credentials",
        }
    }
}

/// Keys and values inside one transaction: sled's transactional trees, or
/// a PostgreSQL transaction's rows.
pub(crate) trait Kv {
    fn get(&self, tree: TreeName, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
    fn insert(&self, tree: TreeName, key: &[u8], value: &[u8]) -> TxResult<()>;
    fn remove(&self, tree: TreeName, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
}

/// One tree of a transaction.
#[derive(Clone, Copy)]
pub(super) struct Tree<'a> {
    pub(super) kv: &'a dyn Kv,
    pub(super) name: TreeName,
}

impl Tree<'_> {
    pub(super) fn get(&self, key: impl AsRef<[u8]>) -> TxResult<Option<Vec<u8>>> {
        self.kv.get(self.name, key.as_ref())
    }

    pub(super) fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> TxResult<()> {
        self.kv.insert(self.name, key.as_ref(), value.as_ref())
    }

    pub(super) fn remove(&self, key: impl AsRef<[u8]>) -> TxResult<Option<Vec<u8>>> {
        self.kv.remove(self.name, key.as_ref())
    }
}

/// sled's transactional trees, in [`writer`](super::writer)'s order: `audit` first, then [`TreeName::ALL`].
pub(super) struct SledKv<'a>(pub &'a [TransactionalTree]);

impl SledKv<'_> {
    fn tree(&self, tree: TreeName) -> TxResult<&TransactionalTree> {
        let i = TreeName::ALL.iter().position(|t| *t == tree).unwrap_or(usize::MAX);
        self.0
            .get(i.wrapping_add(1))
            .ok_or_else(|| ConflictableTransactionError::Abort(Abort::Corrupt("tree list".into())))
    }
}

impl Kv for SledKv<'_> {
    fn get(&self, tree: TreeName, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        Ok(self.tree(tree)?.get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, tree: TreeName, key: &[u8], value: &[u8]) -> TxResult<()> {
        self.tree(tree)?.insert(key, value)?;
        Ok(())
    }

    fn remove(&self, tree: TreeName, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        Ok(self.tree(tree)?.remove(key)?.map(|v| v.to_vec()))
    }
}
