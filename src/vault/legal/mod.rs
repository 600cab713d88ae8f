//! Answering a legal request: one Cedar decision per item, then a package
//! holding only what was disclosed, the reasons for what was withheld, what
//! the program does not hold (with dates from the destruction certificates),
//! the package digest, a cardholder notice and the response letter. The
//! request, its decisions and the digest are one audit entry, committed
//! together with the stored answer.

use std::sync::Arc;

use rand::RngCore;
use serde_json::{json, Value};

use crate::authz::{Action, Decision, LegalContext, PolicyEngine, RequestContext, Resource};
use crate::domain::access;
use crate::domain::card::{CardId, CardNumber, OpenCard};
use crate::domain::error::Error;
use crate::domain::legal::{
    aggregate, digest, withheld_reason, Aggregate, AnswerSummary, Item, LegalRecord, LegalRequest, Notice,
    StoredPackage, Subject, AGGREGATE, CANNOT_PRODUCE, DOCUMENT_MATCH, IMPOSSIBLE_AGGREGATES,
};
use crate::domain::principal::Principal;
use crate::domain::store::{Change, Store};
use crate::domain::vocab::Purpose;
use crate::vault::Vault;

mod records;

const PURPOSE: Purpose = Purpose::LegalProcess;
const MAX_TEXT: usize = 200;

fn text_field(name: &str, value: &str) -> Result<String, Error> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > MAX_TEXT {
        return Err(Error::invalid(name, "must be 1 to 200 printable characters"));
    }
    if !crate::domain::text::is_plain(v) {
        return Err(Error::invalid(
            name,
            "must not hold control, bidirectional or invisible characters",
        ));
    }
    Ok(v.to_owned())
}

/// The card a request is about, once resolved.
struct Resolved {
    card_id: CardId,
    card: Arc<OpenCard>,
    /// The number, when the request gave it or the record keeps it sealed.
    number: Option<String>,
}

mod items;
use items::{disclose_items, no_permit, Draft};

/// One item's Cedar decision, for the request's audit entry.
pub struct ItemDecision {
    pub item: &'static str,
    pub allowed: bool,
    pub policies: Vec<String>,
}

/// A legal request answered: the answer to give, what its one audit entry
/// records besides the gate's decision, and the change (the stored answer
/// and any cardholder notice) to commit together with that entry.
pub struct Answered {
    /// What the answer states (the letter is written from it).
    pub summary: AnswerSummary,
    /// The items disclosed.
    pub package: Value,
    /// Keyed hash of the card or document asked about (or the aggregate's name).
    pub subject: String,
    /// Digest of the package disclosed.
    pub package_digest: String,
    pub decisions: Vec<ItemDecision>,
    pub change: Change,
}

/// The request's fields once checked.
struct Checked {
    reference: String,
    requester_name: String,
    items: Vec<Item>,
    prohibited_until: Option<String>,
}

fn check(req: &LegalRequest) -> Result<Checked, Error> {
    let reference = text_field("reference", &req.reference)?;
    let requester_name = text_field("requester.name", &req.requester.name)?;
    if req.items.len() > Item::ALL.len() {
        return Err(Error::invalid("items", "at most one of each item"));
    }
    let mut items: Vec<Item> = Vec::new();
    for i in &req.items {
        if items.contains(i) {
            return Err(Error::invalid("items", "an item is named twice"));
        }
        items.push(*i);
    }
    let prohibited_until = prohibited_until(req)?;
    match (&req.subject, items.is_empty()) {
        (Subject::Aggregate(_), false) => Err(Error::invalid("items", "an aggregate request names no items")),
        (Subject::CardNumber(_), true) => Err(Error::invalid("items", "name at least one item")),
        _ => Ok(Checked {
            reference,
            requester_name,
            items,
            prohibited_until,
        }),
    }
}

/// The end of a court's prohibition of notice: a day (YYYY-MM-DD), given
/// only with the prohibition itself.
fn prohibited_until(req: &LegalRequest) -> Result<Option<String>, Error> {
    let Some(text) = req.notice_prohibited_until.as_deref() else {
        return Ok(None);
    };
    if !req.notice_prohibited_by_court {
        return Err(Error::invalid(
            "notice_prohibited_until",
            "only with notice_prohibited_by_court",
        ));
    }
    let day = time::Date::parse(text, &time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::invalid("notice_prohibited_until", "must be a day, YYYY-MM-DD"))?;
    Ok(Some(day.to_string()))
}

/// Decides each item of one request under one decision id, and keeps what
/// it decided for the audit entry.
struct Decider<'a> {
    v: &'a Vault,
    engine: Arc<PolicyEngine>,
    who: &'a Principal,
    req: &'a LegalRequest,
    decision_id: String,
    decided: Vec<ItemDecision>,
}

impl Decider<'_> {
    fn decide(&mut self, item: &'static str) -> Decision {
        let cx = RequestContext {
            legal: Some(LegalContext {
                process: self.req.process.as_str(),
                signed_by_judge: self.req.signed_by_judge,
                requester_agency_kind: self.req.requester.agency_kind.as_str(),
                item,
                subject_kind: self.req.subject.kind(),
            }),
            ..RequestContext::purpose(PURPOSE)
        };
        let mut d = self.engine.decide_each(
            self.who,
            Action::Disclose,
            &[Resource::LegalItem(item.to_owned())],
            &cx,
            &self.decision_id,
        );
        let d = d.pop().unwrap_or(Decision {
            allowed: false,
            decision_id: self.decision_id.clone(),
            policies: Vec::new(),
            version: self.engine.version,
            permit: None,
        });
        self.decided.push(ItemDecision {
            item,
            allowed: d.allowed,
            policies: d.policies.clone(),
        });
        self.v.metrics.decision(d.allowed);
        d
    }

    fn withheld(&self, d: &Decision) -> String {
        withheld_reason(&d.policies, self.req.process, self.req.signed_by_judge)
    }
}

/// Answers one legal request. `who` is the legal staff member entering it.
///
/// # Errors
/// Bad input (400), storage failure (503); refusals are answers, not errors.
pub async fn respond(v: &Arc<Vault>, who: &Principal, req: LegalRequest) -> Result<Answered, Error> {
    let checked = check(&req)?;
    let mut decider = Decider {
        v,
        engine: v.policy(),
        who,
        req: &req,
        decision_id: crate::authz::new_decision_id(),
        decided: Vec::new(),
    };
    let mut draft = Draft::default();
    let (subject, resolved) = match &req.subject {
        Subject::Aggregate(name) => (answer_aggregate(v, &mut decider, name, &mut draft).await?, None),
        Subject::CardNumber(raw) => answer_card(v, &mut decider, raw, &checked.items, &mut draft).await?,
        Subject::Document(doc) => answer_document(v, &mut decider, doc, &checked.items, &mut draft).await?,
    };
    let decisions = decider.decided;
    let (summary, package, change) = assemble(v, &req, checked, draft, resolved.as_ref()).await?;
    Ok(Answered {
        package_digest: summary.digest.clone(),
        summary,
        package,
        subject,
        decisions,
        change,
    })
}

/// An aggregate subject: counts, or why none can be given.
async fn answer_aggregate(
    v: &Arc<Vault>,
    decider: &mut Decider<'_>,
    name: &str,
    draft: &mut Draft,
) -> Result<String, Error> {
    let subject = format!("aggregate:{}", name.chars().take(60).collect::<String>());
    match Aggregate::ALL.iter().copied().find(|a| a.as_str() == name) {
        None if IMPOSSIBLE_AGGREGATES.contains(&name) => {
            draft.withheld.insert(AGGREGATE.into(), CANNOT_PRODUCE.into());
        }
        None => {
            return Err(Error::invalid(
                "subject.aggregate",
                "must be cards_issued_by_month or cards_issued_by_program",
            ))
        }
        Some(kind) => {
            let d = decider.decide(AGGREGATE);
            if d.allowed {
                let cards = v.read(records::all_issued).await?;
                draft.package.insert(AGGREGATE.into(), aggregate(kind, &cards));
                draft.disclosed.push(AGGREGATE.into());
            } else {
                draft.withheld.insert(AGGREGATE.into(), decider.withheld(&d));
            }
        }
    }
    Ok(subject)
}

/// A card-number subject: the items decided first; the card is looked up
/// only once something is allowed.
async fn answer_card(
    v: &Arc<Vault>,
    decider: &mut Decider<'_>,
    raw: &str,
    items: &[Item],
    draft: &mut Draft,
) -> Result<(String, Option<Resolved>), Error> {
    let number = CardNumber::parse(raw);
    let subject = v
        .keys
        .subjects
        .subject("card", number.as_ref().map_or(raw, CardNumber::as_str));
    let decisions: Vec<(Item, Decision)> = items.iter().map(|i| (*i, decider.decide(i.as_str()))).collect();
    let mut resolved = None;
    if decisions.iter().any(|(_, d)| d.allowed) {
        if let Some(n) = number {
            let card_id = v.keys.blind.card_id(n.as_str());
            if let Some(card) = v.card(card_id).await? {
                resolved = Some(Resolved {
                    card_id,
                    card,
                    number: Some(n.as_str().to_owned()),
                });
            }
        }
        if resolved.is_none() {
            draft
                .package
                .insert("record".into(), json!("no record is held for this card number"));
        }
    }
    disclose_items(v, decider.req, &decisions, resolved.as_ref(), draft).await?;
    Ok((subject, resolved))
}

/// A document subject: whether that exact document backs a card, and the
/// items about that card when it may be said.
async fn answer_document(
    v: &Arc<Vault>,
    decider: &mut Decider<'_>,
    doc: &crate::domain::legal::DocumentSubject,
    items: &[Item],
    draft: &mut Draft,
) -> Result<(String, Option<Resolved>), Error> {
    let cost = v.commitment_cost;
    let commitment = {
        let (t, i, n) = (doc.document_type.clone(), doc.issuer.clone(), doc.number.clone());
        let vault = Arc::clone(v);
        // Memory-hard: off the async workers.
        tokio::task::spawn_blocking(move || vault.keys.blind.document(&t, &i, &n, cost))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
    };
    // Under the audit-subject key: the commitment itself is in the card
    // record, so audited as is it would tie this request to that card.
    let mut subject = v.keys.subjects.subject("document", &hex::encode(commitment));
    let m = decider.decide(DOCUMENT_MATCH);
    let decisions: Vec<(Item, Decision)> = items.iter().map(|i| (*i, decider.decide(i.as_str()))).collect();
    if !m.allowed {
        draft.withheld.insert(DOCUMENT_MATCH.into(), decider.withheld(&m));
        for (i, d) in &decisions {
            let reason = if d.allowed {
                "nothing about a card is disclosed when whether the document backs one is not".to_owned()
            } else {
                decider.withheld(d)
            };
            draft.withheld.insert(i.as_str().into(), reason);
        }
        return Ok((subject, None));
    }
    let mut resolved = None;
    if let Some(card_id) = v.read(move |v| v.store.card_for_commitment(&commitment)).await? {
        if let Some(card) = v.card(card_id).await? {
            let permit = m.permit.as_ref().ok_or_else(no_permit)?;
            let number = access::open_fields(permit, &v.keys, &card_id, &card.record)
                .ok()
                .and_then(|f| f.card_number.clone());
            resolved = Some(Resolved { card_id, card, number });
        }
    }
    draft
        .package
        .insert(DOCUMENT_MATCH.into(), json!({ "backs_a_card": resolved.is_some() }));
    draft.disclosed.push(DOCUMENT_MATCH.into());
    if let Some(n) = resolved.as_ref().and_then(|r| r.number.as_deref()) {
        subject = v.keys.subjects.subject("card", n);
    }
    disclose_items(v, decider.req, &decisions, resolved.as_ref(), draft).await?;
    Ok((subject, resolved))
}

/// The answer's summary and package, and the stored answer (with a notice
/// when one is due) as one change.
async fn assemble(
    v: &Arc<Vault>,
    req: &LegalRequest,
    checked: Checked,
    draft: Draft,
    resolved: Option<&Resolved>,
) -> Result<(AnswerSummary, Value, Change), Error> {
    let now = v.clock.now();
    let request_id = random_id("lr_", 8);
    let Draft {
        package,
        withheld,
        disclosed,
        facts,
    } = draft;
    let package = Value::Object(package);
    let digest = digest(&package);
    let facts = match facts {
        Some(f) => f,
        None => v.read(|v| records::scan(v, None)).await?,
    };
    let cardholder_notice = match (resolved, req.notice_prohibited_by_court) {
        (None, _) => "not_applicable",
        (Some(_), true) => "prohibited_by_court",
        (Some(_), false) => "required",
    };
    let summary = AnswerSummary {
        request_id: request_id.clone(),
        reference: checked.reference.clone(),
        requester: crate::domain::legal::Requester {
            name: checked.requester_name,
            agency_kind: req.requester.agency_kind,
        },
        process: req.process,
        signed_by_judge: req.signed_by_judge,
        subject_kind: req.subject.kind().to_owned(),
        items: if checked.items.is_empty() {
            vec![AGGREGATE.to_owned()]
        } else {
            checked.items.iter().map(|i| i.as_str().to_owned()).collect()
        },
        outcome: if disclosed.is_empty() { "refuse" } else { "disclose" }.to_owned(),
        disclosed,
        withheld,
        not_held: records::not_held(&v.config, &facts.certificates),
        cardholder_notice: cardholder_notice.to_owned(),
        notice_prohibited_until: checked
            .prohibited_until
            .clone()
            .filter(|_| cardholder_notice == "prohibited_by_court"),
        digest: digest.clone(),
        answered_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    let canonical = crate::domain::legal::canonical(&package);
    let stored_package = match resolved {
        Some(r) => StoredPackage::Sealed {
            card_id: r.card_id,
            sealed: access::seal_package(&v.keys, &r.card_id, &r.card.record, &request_id, &canonical)?,
        },
        None => StoredPackage::Plain(canonical),
    };
    let record = LegalRecord {
        id: request_id.clone(),
        at: now.unix_timestamp(),
        summary: serde_json::to_vec(&summary).map_err(|e| Error::internal(e.to_string()))?,
        package: stored_package,
    };
    let notice = match (resolved, cardholder_notice) {
        (Some(r), "required") => Some(Notice {
            id: format!("ntc_{:020}_{}", now.unix_timestamp_nanos().max(0), random_id("", 6)),
            request_id,
            reference: checked.reference,
            card_id: r.card_id,
            at: now.unix_timestamp(),
        }),
        _ => None,
    };
    let change = Change::PutLegalRequest {
        record: Box::new(record),
        notice,
    };
    Ok((summary, package, change))
}

/// `prefix` then `bytes` random bytes in hex.
fn random_id(prefix: &str, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}
