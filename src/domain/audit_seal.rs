//! Sealing a draft straight into its block: the canonical JSON written from
//! borrowed fields into the block's bytes, hashed there, with nothing of the
//! draft cloned. The bytes are those of [`AuditEntry::seal`] (the same
//! fields, in the same order, with the same omissions), which the tests
//! compare field by field.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

#[cfg(doc)]
use super::audit::AuditEntry;
use super::audit::{format_hash, AuditDraft, Certificate, Decision, PrincipalChange, ReplayContext};

fn no_map<V>(m: &&BTreeMap<String, V>) -> bool {
    m.is_empty()
}

fn no_list(v: &&[String]) -> bool {
    v.is_empty()
}

/// [`AuditEntry`] as borrowed fields: its declaration order and its serde
/// attributes, so its JSON is the entry's canonical form.
#[derive(Serialize)]
struct EntryView<'a> {
    seq: u64,
    at: &'a str,
    principal: &'a Option<String>,
    action: &'a str,
    resource: &'a Option<String>,
    purpose: &'a Option<String>,
    decision: Decision,
    decision_id: &'a Option<String>,
    policies: &'a [String],
    policy_version: Option<u64>,
    subject: &'a Option<String>,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<&'a Certificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'a ReplayContext>,
    #[serde(skip_serializing_if = "no_map")]
    digests: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "no_map")]
    items: &'a BTreeMap<String, Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_change: Option<&'a PrincipalChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "no_list")]
    missing: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    prev_hash: &'a str,
}

/// The RFC 3339 time of an entry.
#[must_use]
pub fn entry_time(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Places `draft` at `seq` after `prev` (with `outcome` in place of the
/// draft's when given), appending `u32 length ‖ hash ‖ canonical JSON` to
/// `block` (see [`super::audit::push_to_block`]); returns its hash.
pub fn seal_into_block(
    draft: &AuditDraft,
    outcome: Option<&str>,
    seq: u64,
    prev: &[u8; 32],
    block: &mut Vec<u8>,
) -> [u8; 32] {
    let at = entry_time(draft.at);
    let prev_hash = format_hash(prev);
    let view = EntryView {
        seq,
        at: &at,
        principal: &draft.principal,
        action: &draft.action,
        resource: &draft.resource,
        purpose: &draft.purpose,
        decision: draft.decision,
        decision_id: &draft.decision_id,
        policies: &draft.policies,
        policy_version: draft.policy_version,
        subject: &draft.subject,
        outcome: outcome.unwrap_or(&draft.outcome),
        certificate: draft.certificate.as_ref(),
        context: draft.context.as_ref(),
        digests: &draft.digests,
        items: &draft.items,
        principal_change: draft.principal_change.as_ref(),
        count: draft.count,
        missing: &draft.missing,
        channel: draft.channel.as_deref(),
        prev_hash: &prev_hash,
    };
    let start = block.len();
    block.extend_from_slice(&[0u8; 36]);
    // Serialising strings, integers and string-keyed maps into a Vec cannot
    // fail; were it to, the body is left empty, as `AuditEntry::canonical`
    // leaves it.
    if serde_json::to_writer(&mut *block, &view).is_err() {
        block.truncate(start + 36);
    }
    let json_start = start + 36;
    let len = u32::try_from(block.len() - json_start).unwrap_or(u32::MAX);
    let mut h = Sha256::new();
    h.update(prev);
    h.update(&block[json_start..]);
    let hash: [u8; 32] = h.finalize().into();
    block[start..start + 4].copy_from_slice(&len.to_be_bytes());
    block[start + 4..json_start].copy_from_slice(&hash);
    hash
}

#[cfg(test)]
mod tests {
    use super::super::audit::{push_to_block, AuditEntry, PrincipalChange};
    use super::*;

    fn drafts() -> Vec<AuditDraft> {
        let full = AuditDraft {
            at: 1_780_000_123,
            principal: Some("library-1".into()),
            action: "query_fact".into(),
            resource: Some("Fact::age_over_18".into()),
            purpose: Some("library_services".into()),
            decision: Decision::Allow,
            decision_id: Some("dec_00ff".into()),
            policies: vec!["facts.library_services".into(), "x \"quoted\" \\ é".into()],
            policy_version: Some(3),
            subject: Some("hmac-sha256:abcd".into()),
            outcome: "ok".into(),
            certificate: Some(Certificate {
                data_class: "scans".into(),
                records: 12,
                key_id: "scan-1".into(),
                method: "crypto_erase".into(),
                destroyed_at: "2026-01-01T00:00:00Z".into(),
                sweep_id: "sw".into(),
            }),
            context: Some(ReplayContext {
                distinct_cards_last_hour: Some(7),
                requested_by_self: Some(false),
                requested_roles: Some(vec!["clerk".into()]),
                bulk_ceiling_per_hour: Some(5000),
                duplicate_outcomes_today: Some(0),
            }),
            digests: [("package".to_owned(), "sha256:00".to_owned())].into(),
            items: [("access_log".to_owned(), Decision::Deny)].into(),
            principal_change: Some(PrincipalChange {
                change: "issue".into(),
                id: "p".into(),
                kind: "staff".into(),
                roles: vec!["legal".into()],
                agency_kind: None,
                purposes: vec![],
                status: "active".into(),
                issued_by: Some("admin".into()),
                approved_by: None,
            }),
            count: Some(4),
            missing: vec!["identity".into()],
            channel: Some("console".into()),
        };
        let bare = AuditDraft {
            at: -5,
            action: "unrouted".into(),
            ..AuditDraft::default()
        };
        let partial = AuditDraft {
            principal: Some("clerk".into()),
            context: Some(ReplayContext::default()),
            count: Some(0),
            ..full.clone()
        };
        vec![full, bare, partial]
    }

    #[test]
    fn sealed_in_place_the_bytes_are_the_entrys() {
        let mut prev = [7u8; 32];
        let mut block = Vec::new();
        let mut expected = Vec::new();
        for (i, d) in drafts().iter().enumerate() {
            for outcome in [None, Some("duplicate_document")] {
                let seq = i as u64 * 2 + 1;
                let owned = match outcome {
                    Some(o) => AuditDraft {
                        outcome: o.to_owned(),
                        ..d.clone()
                    },
                    None => d.clone(),
                };
                let (_, hash, stored) = AuditEntry::seal(&owned, seq, &prev);
                push_to_block(&mut expected, &hash, &stored[32..]);
                assert_eq!(seal_into_block(d, outcome, seq, &prev, &mut block), hash);
                assert_eq!(block, expected);
                prev = hash;
            }
        }
    }
}
