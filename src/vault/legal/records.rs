//! What a legal answer reads besides the card: the audit chain (the card's
//! access log and the destruction certificates, through the audit index)
//! and the cards on record (for aggregates).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::authz::Action;
use crate::config::Config;
use crate::domain::store::{Store, StoreError};
use crate::vault::Vault;

/// What the audit chain says for one legal answer.
pub(super) struct AuditFacts {
    /// Entries about the card asked for (legal requests excluded: an answer
    /// must not change what it reports, so two runs give one digest).
    pub log: Vec<Value>,
    /// Per data class: the newest destruction time and the records destroyed.
    pub certificates: BTreeMap<String, (String, u64)>,
}

/// The entries about `subject` (if given) and every destruction
/// certificate, from the audit index (no walk of the chain).
pub(super) fn scan(v: &Vault, subject: Option<&str>) -> Result<AuditFacts, StoreError> {
    let about = v.store.audit_about(subject)?;
    let mut facts = AuditFacts {
        log: Vec::new(),
        certificates: BTreeMap::new(),
    };
    for c in about.certificates.iter().filter_map(|e| e.certificate.as_ref()) {
        let entry = facts
            .certificates
            .entry(c.data_class.clone())
            .or_insert((String::new(), 0));
        entry.0.clone_from(&c.destroyed_at);
        entry.1 += c.records;
    }
    facts.log = about
        .entries
        .iter()
        .filter(|e| e.action != Action::LegalRequest.as_str())
        .map(|e| {
            json!({
                "seq": e.seq,
                "at": e.at,
                "principal": e.principal,
                "action": e.action,
                "purpose": e.purpose,
                "decision": e.decision,
                "outcome": e.outcome,
            })
        })
        .collect();
    Ok(facts)
}

/// Program and issue date of every card on record (each record's sealed
/// meta opened; a record whose keys are gone is not counted, nor a honey card).
pub(super) fn all_issued(v: &Vault) -> Result<Vec<(String, time::Date)>, StoreError> {
    // Honey cards are canaries, not cards issued to anyone.
    let honey = v.honey.card_ids();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = v.store.card_page(after, 1000)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        out.extend(
            page.into_iter()
                .filter(|(id, _)| !honey.contains(id))
                .filter_map(|(id, r)| crate::domain::access::open_card(&v.keys, &id, r).ok())
                .map(|c| (c.meta.program, c.meta.issued_on)),
        );
    }
    Ok(out)
}

/// What the program does not hold, with dates from the destruction certificates.
pub(super) fn not_held(config: &Config, certificates: &BTreeMap<String, (String, u64)>) -> Vec<String> {
    let kept = config.retention.source_documents;
    let mut out = Vec::new();
    if kept.is_zero() {
        out.push(
            "copies of identity or residency documents: never stored (scans are checked at enrollment and discarded)"
                .to_owned(),
        );
    } else {
        let last = certificates.get(crate::vault::retention::SOURCE_DOCUMENTS).map_or_else(
            || "none destroyed yet".to_owned(),
            |(at, n)| format!("{n} destroyed in all, most recently on {at}"),
        );
        out.push(format!(
            "copies of identity or residency documents: kept encrypted at most {kept}, then destroyed by destroying their key ({last})"
        ));
    }
    out.push(
        "document types, issuers, issuing countries and numbers: never stored in readable form, only keyed hashes"
            .to_owned(),
    );
    out.push("immigration or citizenship status, nationality, place of birth: never collected".to_owned());
    if let Some((at, n)) = certificates.get(crate::vault::retention::INACTIVE_CARDHOLDERS) {
        out.push(format!(
            "records of cardholders past the retention window or who asked for erasure: {n} destroyed in all, most recently on {at}"
        ));
    }
    out
}
