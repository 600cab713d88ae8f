//! Verifying the audit chain: the incremental verifier (hashes, sequence
//! numbers, signed checkpoints), what a walk reports, and what the chain
//! holds about one subject. The entries themselves are `audit.rs`'s.

use std::collections::BTreeMap;

use serde::Serialize;

use super::audit::{chain_hash, format_hash, AuditEntry, GENESIS};

/// What the chain holds about one subject (oldest first), and every entry
/// carrying a destruction certificate.
#[derive(Debug, Default)]
pub struct AuditAbout {
    pub entries: Vec<AuditEntry>,
    pub certificates: Vec<AuditEntry>,
}

/// The audit index by subject, checked against a walk of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IndexStatus {
    /// The index held exactly the keys the chain implies.
    pub consistent: bool,
    /// It did not, and was rebuilt from the chain.
    pub rebuilt: bool,
    /// The last entry the check covered.
    pub indexed_through: u64,
    /// Index keys (subject and certificate references).
    pub keys: u64,
}

/// The result of walking the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainReport {
    pub ok: bool,
    pub entries: u64,
    pub head: String,
    /// The first sequence number at which the chain breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_seq: Option<u64>,
    /// Signed checkpoints the chain was checked against.
    pub checkpoints: u64,
    /// How the chain disagrees with a signed checkpoint (truncated, rewritten).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_problem: Option<String>,
    /// Signed tree checkpoints (C2SP) checked against the Merkle tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_checkpoints: Option<u64>,
    /// Witnesses' cosignatures checked against their checkpoints and
    /// pinned keys (absent when no witness is configured or pinned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosignatures: Option<u64>,
    /// The largest tree size a checkpoint cosigned by the threshold of
    /// witnesses covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosigned_through: Option<u64>,
    /// The entries no such checkpoint covers yet, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncosigned: Option<String>,
    /// How the log disagrees with the witnesses' cosignatures (a
    /// cosignature forged or for a checkpoint that is gone, a witness in
    /// conflict with the running vault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_problem: Option<String>,
    /// The index by subject, checked against the chain (and rebuilt if it
    /// disagreed); absent for a store without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexStatus>,
}

impl ChainReport {
    /// A log whose newest entries were removed after its Merkle tree
    /// recorded them (`why` begins with "truncated").
    #[must_use]
    pub fn truncated(why: String) -> Self {
        Self {
            ok: false,
            checkpoint_problem: Some(why),
            ..Self::default()
        }
    }
}

/// Incremental verifier: feed it stored entries in key order.
#[derive(Debug)]
pub struct ChainVerifier {
    prev: [u8; 32],
    expected_seq: u64,
    entries: u64,
    first_bad: Option<u64>,
    /// Signed heads by sequence number.
    checkpoints: BTreeMap<u64, String>,
    checkpoint_problem: Option<String>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::with_checkpoints(BTreeMap::new())
    }
}

impl ChainVerifier {
    /// A verifier that also checks the chain against signed heads.
    #[must_use]
    pub fn with_checkpoints(checkpoints: BTreeMap<u64, String>) -> Self {
        Self {
            prev: GENESIS,
            expected_seq: 1,
            entries: 0,
            first_bad: None,
            checkpoints,
            checkpoint_problem: None,
        }
    }

    /// Checks one entry stored under key `seq`.
    pub fn feed(&mut self, seq: u64, stored: &[u8]) {
        self.entries += 1;
        if self.first_bad.is_some() {
            return;
        }
        let good = stored.len() > 32 && {
            let (recorded, canonical) = stored.split_at(32);
            let computed = chain_hash(&self.prev, canonical);
            let parsed = serde_json::from_slice::<AuditEntry>(canonical).ok();
            let consistent = parsed
                .is_some_and(|e| e.seq == seq && e.prev_hash == format_hash(&self.prev) && e.canonical() == canonical);
            let ok = consistent && recorded == computed && seq == self.expected_seq;
            if ok {
                self.prev = computed;
                if let Some(signed) = self.checkpoints.get(&seq) {
                    if *signed != format_hash(&computed) && self.checkpoint_problem.is_none() {
                        self.checkpoint_problem =
                            Some(format!("entry {seq} differs from the signed checkpoint of its head"));
                    }
                }
            }
            ok
        };
        if !good {
            self.first_bad = Some(seq);
        }
        self.expected_seq = seq + 1;
    }

    #[must_use]
    pub fn finish(mut self) -> ChainReport {
        let last = self.expected_seq.saturating_sub(1);
        if let Some((&signed, _)) = self.checkpoints.last_key_value() {
            if signed > last && self.checkpoint_problem.is_none() {
                self.checkpoint_problem = Some(format!(
                    "truncated: a signed checkpoint covers entry {signed}, the chain ends at {last}"
                ));
            }
        }
        ChainReport {
            ok: self.first_bad.is_none() && self.checkpoint_problem.is_none(),
            entries: self.entries,
            head: format_hash(&self.prev),
            first_bad_seq: self.first_bad,
            checkpoints: self.checkpoints.len() as u64,
            checkpoint_problem: self.checkpoint_problem,
            index: None,
            ..ChainReport::default()
        }
    }
}
