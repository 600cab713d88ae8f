//! The cardholder's access report: who asked about one card and what was
//! released — fact queries, photo reads and answered legal requests — with
//! the letter a clerk prints for the holder in the holder's language
//! (written by `crate::texts`). Built
//! from the card's audit entries (found through the audit index) and the
//! legal answers' summaries; nothing else is read.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::audit::{AuditEntry, Decision};
use super::legal::AnswerSummary;

/// One line of the report: one request about the card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportEntry {
    /// The day it was asked (YYYY-MM-DD, UTC).
    pub day: String,
    /// The city system or office that asked: a principal id, or for a
    /// legal request the requesting agency as the request named it.
    pub asked_by: String,
    /// The asker's kind of agency, when it has one.
    pub agency_kind: Option<String>,
    /// The purpose it gave, or for a legal request its kind of process.
    pub purpose: String,
    /// What was released: fact names, `photo`, or a legal answer's items.
    pub released: Vec<String>,
    /// `answered`, or `refused` when the vault released nothing.
    pub outcome: String,
}

fn day_of(at: &str) -> String {
    at.get(..10).unwrap_or(at).to_owned()
}

/// The stored legal answers' summaries, found by the reference a legal
/// request's audit entry carries (`digests.answer`).
#[derive(Debug, Default)]
pub struct LegalAnswers {
    all: Vec<AnswerSummary>,
    by_ref: HashMap<String, usize>,
}

impl LegalAnswers {
    #[must_use]
    pub fn new(all: Vec<AnswerSummary>) -> Self {
        let by_ref = all
            .iter()
            .enumerate()
            .map(|(i, s)| (super::legal::answer_ref(&s.request_id), i))
            .collect();
        Self { all, by_ref }
    }

    fn by_ref(&self, answer: &str) -> Option<&AnswerSummary> {
        self.by_ref.get(answer).and_then(|i| self.all.get(*i))
    }
}

/// A fact query entry's decisions, by fact: since v1.2 one entry holds the
/// query's facts as items; before, one entry per fact had the fact as its
/// resource.
fn fact_decisions(e: &AuditEntry) -> Vec<(&str, Decision)> {
    if e.items.is_empty() {
        e.resource
            .as_deref()
            .and_then(|r| r.strip_prefix("Fact::"))
            .map(|f| (f, e.decision))
            .into_iter()
            .collect()
    } else {
        e.items.iter().map(|(f, d)| (f.as_str(), *d)).collect()
    }
}

/// The report's entries, oldest first, from the card's audit entries.
/// `agency_of` names a principal's kind of agency. Fact entries of one request (one decision id) become one line; a legal
/// request appears once something was disclosed, and not while a court's
/// prohibition of notice lasts (`today`, YYYY-MM-DD, decides that).
#[must_use]
pub fn entries(
    audit: &[AuditEntry],
    legal: &LegalAnswers,
    agency_of: &dyn Fn(&str) -> Option<String>,
    today: &str,
) -> Vec<ReportEntry> {
    let mut facts: BTreeMap<(u64, String), ReportEntry> = BTreeMap::new();
    let mut first_seq: HashMap<String, u64> = HashMap::new();
    let mut out: Vec<(u64, ReportEntry)> = Vec::new();
    for e in audit {
        match e.action.as_str() {
            "query_fact" => {
                let Some(principal) = e.principal.as_deref() else {
                    continue;
                };
                let id = e.decision_id.clone().unwrap_or_else(|| format!("seq{}", e.seq));
                let seq = *first_seq.entry(id.clone()).or_insert(e.seq);
                let line = facts.entry((seq, id)).or_insert_with(|| ReportEntry {
                    day: day_of(&e.at),
                    asked_by: principal.to_owned(),
                    agency_kind: agency_of(principal),
                    purpose: e.purpose.clone().unwrap_or_default(),
                    released: Vec::new(),
                    outcome: "refused".into(),
                });
                for (f, d) in fact_decisions(e) {
                    if d == Decision::Allow && e.outcome == "ok" {
                        line.released.push(f.to_owned());
                        "answered".clone_into(&mut line.outcome);
                    }
                }
            }
            "read_photo" | "print_card" if e.decision == Decision::Allow && e.outcome == "ok" => {
                let principal = e.principal.clone().unwrap_or_default();
                // A print opens the name, birth date, address and photo.
                let released = if e.action == "print_card" {
                    vec!["printed card".into()]
                } else {
                    vec!["photo".into()]
                };
                out.push((
                    e.seq,
                    ReportEntry {
                        day: day_of(&e.at),
                        agency_kind: agency_of(&principal),
                        asked_by: principal,
                        purpose: e.purpose.clone().unwrap_or_default(),
                        released,
                        outcome: "answered".into(),
                    },
                ));
            }
            "legal_request" if e.decision == Decision::Allow && e.outcome == "ok" => {
                let summary = match e.digests.get("answer") {
                    Some(d) => legal.by_ref(d),
                    // An entry written before answers were referenced: the
                    // answer with its package digest, unless any answer
                    // with that digest is still under a prohibition.
                    None => e.digests.get("package").and_then(|d| {
                        let same: Vec<&AnswerSummary> = legal.all.iter().filter(|s| &s.digest == d).collect();
                        (!same.iter().any(|s| withheld(s, today)))
                            .then(|| same.first().copied())
                            .flatten()
                    }),
                };
                if let Some(s) = summary.filter(|s| s.outcome == "disclose" && !withheld(s, today)) {
                    out.push((
                        e.seq,
                        ReportEntry {
                            day: day_of(&e.at),
                            asked_by: s.requester.name.clone(),
                            agency_kind: Some(s.requester.agency_kind.as_str().to_owned()),
                            purpose: s.process.as_str().to_owned(),
                            released: s.disclosed.clone(),
                            outcome: "answered".into(),
                        },
                    ));
                }
            }
            _ => {}
        }
    }
    out.extend(facts.into_iter().map(|((seq, _), line)| (seq, line)));
    out.sort_by_key(|(seq, _)| *seq);
    out.into_iter().map(|(_, line)| line).collect()
}

/// Whether a court still prohibits telling the holder of this answer.
fn withheld(s: &AnswerSummary, today: &str) -> bool {
    s.cardholder_notice == "prohibited_by_court"
        && s.notice_prohibited_until.as_deref().is_none_or(|until| today < until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditDraft;

    fn sealed(drafts: &[AuditDraft]) -> Vec<AuditEntry> {
        let mut prev = [0u8; 32];
        let mut seq = 0;
        drafts
            .iter()
            .map(|d| {
                seq += 1;
                let (e, hash, _) = AuditEntry::seal(d, seq, &prev);
                prev = hash;
                e
            })
            .collect()
    }

    fn query(id: &str) -> AuditDraft {
        AuditDraft {
            at: 1_780_000_000,
            principal: Some("library".into()),
            action: "query_fact".into(),
            purpose: Some("library_services".into()),
            decision_id: Some(id.into()),
            outcome: "ok".into(),
            ..AuditDraft::default()
        }
    }

    #[test]
    fn a_query_reads_the_same_from_one_entry_with_items_and_from_one_entry_per_fact() {
        // Before v1.2: one entry per fact, the fact as its resource.
        let old: Vec<AuditDraft> = [("card_valid", Decision::Allow), ("age_over_65", Decision::Deny)]
            .into_iter()
            .map(|(f, d)| AuditDraft {
                resource: Some(format!("Fact::{f}")),
                decision: d,
                ..query("dec_old")
            })
            .collect();
        // Since: one entry, each fact's decision in its items.
        let new = AuditDraft {
            resource: Some("Fact".into()),
            decision: Decision::Allow,
            items: [
                ("age_over_65".to_owned(), Decision::Deny),
                ("card_valid".to_owned(), Decision::Allow),
            ]
            .into_iter()
            .collect(),
            ..query("dec_new")
        };
        let audit = sealed(&[old, vec![new]].concat());
        let lines = entries(&audit, &LegalAnswers::default(), &|_| None, "2026-12-07");
        assert_eq!(lines.len(), 2);
        for line in lines {
            assert_eq!(line.released, ["card_valid"]);
            assert_eq!(line.outcome, "answered");
        }
    }
}
