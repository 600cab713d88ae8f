//! The audit chain. Each entry is canonical JSON; its hash is
//! `sha256(prev_hash ‖ canonical_json)`, with 32 zero bytes before the
//! first entry. An entry names who asked, for what, the decision and the
//! policies that made it, and a keyed hash of the subject: never a card
//! number, a name or a document value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const GENESIS: [u8; 32] = [0; 32];

/// What a request handler knows about its request, before it has a place in the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: i64,
    pub principal: Option<String>,
    pub action: String,
    /// The Cedar resource when it is not the subject itself (`Fact::age_over_18`).
    pub resource: Option<String>,
    pub purpose: Option<String>,
    pub decision: Decision,
    pub decision_id: Option<String>,
    pub policies: Vec<String>,
    pub policy_version: Option<u64>,
    pub subject: Option<String>,
    /// `ok` or the error code the caller received.
    pub outcome: String,
    /// For a destruction: its certificate of sanitization.
    pub certificate: Option<Certificate>,
    /// The request facts beyond purpose that went into the decision, so a
    /// candidate policy set can replay it (no personal data: counts and flags).
    pub context: Option<ReplayContext>,
    /// Digests of what the request produced or changed: `version` and `diff`
    /// for a policy change, `package` for a legal answer.
    pub digests: BTreeMap<String, String>,
    /// For a legal request: each item's Cedar decision (same decision id).
    pub items: BTreeMap<String, Decision>,
    /// For a principal change: what changed (v1.1).
    pub principal_change: Option<PrincipalChange>,
    /// How many requests this entry stands for, when more than its own:
    /// unauthenticated requests from one source in one interval.
    pub count: Option<u64>,
    /// An enrollment refused for insufficient proof: the requirements not
    /// met, by name (the program's rule names; nothing about the applicant).
    pub missing: Vec<String>,
    /// `console` for a request made through the staff console.
    pub channel: Option<String>,
}

/// Context a decision was made with, besides principal, action and purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_cards_last_hour: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by_self: Option<bool>,
    /// v1.1: issuing or approving a principal, the roles it would hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_roles: Option<Vec<String>>,
    /// v1.1: facts, the configured ceiling the floor compared against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_ceiling_per_hour: Option<i64>,
    /// v1.1: enrollment, the clerk's duplicate outcomes today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_outcomes_today: Option<i64>,
}

/// v1.1: what a principal change did, in the audit entry that records it.
/// Never a token or its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalChange {
    /// `issue`, `approve`, `rotate`, `delete` or `retire_bootstrap`.
    pub change: String,
    pub id: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purposes: Vec<String>,
    pub status: String,
    pub issued_by: Option<String>,
    pub approved_by: Option<String>,
}

impl PrincipalChange {
    #[must_use]
    pub fn of(change: &str, p: &super::principal::Principal) -> Self {
        Self {
            change: change.to_owned(),
            id: p.id.clone(),
            kind: p.kind.as_str().to_owned(),
            roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            agency_kind: p.agency_kind.map(|a| a.as_str().to_owned()),
            purposes: p.purposes.iter().map(|x| x.as_str().to_owned()).collect(),
            status: p.status.as_str().to_owned(),
            issued_by: p.issued_by.clone(),
            approved_by: p.approved_by.clone(),
        }
    }
}

/// A certificate of sanitization (after NIST SP 800-88's model): what was
/// destroyed, how much, with which key, how, when, by which sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub data_class: String,
    pub records: u64,
    pub key_id: String,
    pub method: String,
    pub destroyed_at: String,
    pub sweep_id: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    /// Denied by policy, or not authenticated (then with no policies).
    #[default]
    Deny,
}

/// One entry as stored and as served by `GET /v1/audit` (with its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: String,
    pub principal: Option<String>,
    pub action: String,
    #[serde(default)]
    pub resource: Option<String>,
    pub purpose: Option<String>,
    pub decision: Decision,
    pub decision_id: Option<String>,
    pub policies: Vec<String>,
    pub policy_version: Option<u64>,
    pub subject: Option<String>,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ReplayContext>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_change: Option<PrincipalChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// `console` when a person asked through the staff console (its
    /// session, not a bearer token); absent for the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub prev_hash: String,
}

impl AuditEntry {
    /// Places a draft at `seq` after `prev`; returns the entry and the bytes to store.
    #[must_use]
    pub fn seal(draft: &AuditDraft, seq: u64, prev: &[u8; 32]) -> (Self, [u8; 32], Vec<u8>) {
        let at = time::OffsetDateTime::from_unix_timestamp(draft.at)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let entry = Self {
            seq,
            at,
            principal: draft.principal.clone(),
            action: draft.action.clone(),
            resource: draft.resource.clone(),
            purpose: draft.purpose.clone(),
            decision: draft.decision,
            decision_id: draft.decision_id.clone(),
            policies: draft.policies.clone(),
            policy_version: draft.policy_version,
            subject: draft.subject.clone(),
            outcome: draft.outcome.clone(),
            certificate: draft.certificate.clone(),
            context: draft.context.clone(),
            digests: draft.digests.clone(),
            items: draft.items.clone(),
            principal_change: draft.principal_change.clone(),
            count: draft.count,
            missing: draft.missing.clone(),
            channel: draft.channel.clone(),
            prev_hash: format_hash(prev),
        };
        let canonical = entry.canonical();
        let hash = chain_hash(prev, &canonical);
        let mut stored = Vec::with_capacity(32 + canonical.len());
        stored.extend_from_slice(&hash);
        stored.extend_from_slice(&canonical);
        (entry, hash, stored)
    }

    /// The canonical form: compact JSON with fields in declaration order.
    #[must_use]
    pub fn canonical(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[must_use]
pub fn chain_hash(prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

#[must_use]
pub fn format_hash(h: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(h))
}

/// Entries are stored in blocks: one sled value per commit group, keyed by
/// the first entry's sequence number, holding each entry as
/// `u32 length (big-endian) ‖ hash (32 bytes) ‖ canonical JSON`. One value
/// per group rather than per entry keeps the store's per-key cost off the
/// hot path; the chain itself is unchanged, entry by entry.
pub fn push_to_block(block: &mut Vec<u8>, hash: &[u8; 32], canonical: &[u8]) {
    let len = u32::try_from(canonical.len()).unwrap_or(u32::MAX);
    block.extend_from_slice(&len.to_be_bytes());
    block.extend_from_slice(hash);
    block.extend_from_slice(canonical);
}

/// Splits a block into its entries' stored forms (`hash ‖ canonical JSON`).
///
/// # Errors
/// The framing is broken.
pub fn split_block(block: &[u8]) -> Result<Vec<&[u8]>, UnreadableEntry> {
    let mut out = Vec::new();
    let mut rest = block;
    while !rest.is_empty() {
        let len_bytes: [u8; 4] = rest.get(..4).and_then(|b| b.try_into().ok()).ok_or(UnreadableEntry)?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| UnreadableEntry)?;
        let end = 4usize
            .checked_add(32)
            .and_then(|n| n.checked_add(len))
            .ok_or(UnreadableEntry)?;
        out.push(rest.get(4..end).ok_or(UnreadableEntry)?);
        rest = &rest[end..];
    }
    Ok(out)
}

/// A stored value that is not an audit entry.
#[derive(Debug, thiserror::Error)]
#[error("unreadable audit entry")]
pub struct UnreadableEntry;

/// A stored entry split into its recorded hash and its entry.
///
/// # Errors
/// The stored value is too short or not an entry.
pub fn decode(stored: &[u8]) -> Result<([u8; 32], AuditEntry), UnreadableEntry> {
    if stored.len() < 33 {
        return Err(UnreadableEntry);
    }
    let (hash, canonical) = stored.split_at(32);
    let entry: AuditEntry = serde_json::from_slice(canonical).map_err(|_| UnreadableEntry)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| UnreadableEntry)?;
    Ok((hash, entry))
}

pub use super::audit_verify::{AuditAbout, ChainReport, ChainVerifier, IndexStatus};

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(action: &str) -> AuditDraft {
        AuditDraft {
            at: 1_700_000_000,
            action: action.into(),
            outcome: "ok".into(),
            ..AuditDraft::default()
        }
    }

    #[test]
    fn chain_verifies_and_any_changed_byte_breaks_it() {
        let mut prev = GENESIS;
        let mut stored = Vec::new();
        for (i, a) in ["enroll", "read_audit", "revoke_card"].iter().enumerate() {
            let (_, h, bytes) = AuditEntry::seal(&draft(a), i as u64 + 1, &prev);
            prev = h;
            stored.push(bytes);
        }
        let mut v = ChainVerifier::default();
        for (i, s) in stored.iter().enumerate() {
            v.feed(i as u64 + 1, s);
        }
        let report = v.finish();
        assert!(report.ok);
        assert_eq!(report.head, format_hash(&prev));
        for pos in [0, 40, stored[1].len() - 2] {
            let mut tampered = stored.clone();
            tampered[1][pos] ^= 1;
            let mut v = ChainVerifier::default();
            for (i, s) in tampered.iter().enumerate() {
                v.feed(i as u64 + 1, s);
            }
            assert_eq!(v.finish().first_bad_seq, Some(2), "byte {pos}");
        }
    }
}
