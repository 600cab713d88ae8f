//! Answering a fact query, below HTTP: the bulk window, the Cedar context,
//! one decision per fact under one decision id, the values of the facts
//! released (opening sealed fields only with a released fact's permit), the
//! audit entries (one per decision, never a value) and the signed
//! attestation. The handler authenticates, reads the body, resolves the
//! card, calls [`answer`], commits [`Answered::audit`] and answers with
//! [`Answered::sign`]; nothing is signed before the entries are durable.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::Date;

use crate::authz::{new_decision_id, Action, Decision, RequestContext, Resource};
use crate::crypto::Keyring;
use crate::domain::access::{open_birth_date, open_fields, Permit};
use crate::domain::audit::{AuditDraft, Decision as AuditDecision, ReplayContext};
use crate::domain::card::{CardId, CardNumber, OpenCard};
use crate::domain::enrollment::SealedFields;
use crate::domain::error::Error;
use crate::domain::facts::{evaluate, parse_facts, Claimed, Fact, FactRequest, FactValue, Sealed};
use crate::domain::principal::Principal;
use crate::domain::store::Commit;
use crate::domain::vocab::Purpose;
use crate::vault::cards::CardRef;
use crate::vault::Vault;

/// The longest text taken as a card number; longer is a malformed request.
const MAX_CARD_TEXT: usize = 64;

/// The purpose a fact query names.
///
/// # Errors
/// 400 `unknown_purpose`.
pub fn purpose(req: &FactRequest) -> Result<Purpose, Error> {
    req.purpose
        .parse()
        .map_err(|()| Error::UnknownPurpose("purpose".into()))
}

/// A fact query's request, checked: the facts asked, in order, without
/// repeats, and the claims the match facts among them compare.
pub struct Asked {
    purpose: Purpose,
    facts: Vec<Fact>,
    claimed: Claimed,
}

impl Asked {
    /// Checks what `req` asks, for `purpose` (from [`purpose`]).
    ///
    /// # Errors
    /// 400 naming the field: an unknown fact, an empty or overlong list, or
    /// text too long to be a card number, or a claim missing, unasked,
    /// oversized or malformed.
    pub fn check(v: &Vault, purpose: Purpose, req: &FactRequest) -> Result<Self, Error> {
        let facts = parse_facts(&req.facts, &v.config.facts.age_thresholds)?;
        if req.card_number.len() > MAX_CARD_TEXT {
            return Err(Error::invalid("card_number", "too long to be a card number"));
        }
        let claimed = Claimed::check(&facts, req.claims.as_ref())?;
        Ok(Self {
            purpose,
            facts,
            claimed,
        })
    }
}

/// The bulk guard's inputs, as decided and as the audit records them.
struct Window {
    distinct: i64,
    ceiling: i64,
}

/// A fact query decided and evaluated, not yet answered.
pub struct Answered {
    decision_id: String,
    purpose: Purpose,
    subject: String,
    card_number: Option<CardNumber>,
    window: Window,
    decisions: Vec<(Fact, Decision)>,
    values: Vec<(Fact, FactValue)>,
}

/// Decides each fact asked about `card` for `who`, and evaluates the
/// released ones. A card text that cannot be a card number is answered as an
/// unknown card: its record is never read.
///
/// # Errors
/// The store read failed, or a valid card's sealed field did not open.
pub async fn answer(v: &Arc<Vault>, who: &Principal, asked: &Asked, card: &CardRef) -> Result<Answered, Error> {
    let now = v.clock.now();
    let window = Window {
        distinct: v.fact_window.observe(&who.id, &card.id, now.unix_timestamp()),
        ceiling: i64::try_from(v.config.facts.bulk_ceiling_per_hour).unwrap_or(i64::MAX),
    };
    let decision_id = new_decision_id();
    let decisions = decide(v, who, asked, &window, &decision_id);
    let any_allowed = decisions.iter().any(|d| d.allowed);
    let record = if any_allowed && card.number.is_some() {
        v.card(card.id).await?
    } else {
        None
    };
    let permits: Vec<Option<&Permit>> = decisions.iter().map(|d| d.permit.as_ref()).collect();
    let mut sealed = Opener {
        keys: &v.keys,
        card_id: card.id,
    };
    let values = evaluate(
        &asked.facts,
        &permits,
        record.as_deref(),
        &asked.claimed,
        now.date(),
        &mut sealed,
    )?;
    Ok(Answered {
        decision_id,
        purpose: asked.purpose,
        subject: card.subject.clone(),
        card_number: card.number.clone(),
        window,
        decisions: asked.facts.iter().copied().zip(decisions).collect(),
        values,
    })
}

/// Opens a card's sealed parts for the facts, through `access` (each
/// checks that its permit is a fact query's).
struct Opener<'a> {
    keys: &'a Keyring,
    card_id: CardId,
}

impl Sealed for Opener<'_> {
    fn birth_date(&mut self, permit: &Permit, card: &OpenCard) -> Result<Date, Error> {
        open_birth_date(permit, self.keys, &self.card_id, &card.record)
    }

    fn fields(&mut self, permit: &Permit, card: &OpenCard) -> Result<SealedFields, Error> {
        open_fields(permit, self.keys, &self.card_id, &card.record)
    }
}

/// The resource of a fact query's one audit entry: its facts are its
/// `items`.
pub const FACTS_RESOURCE: &str = "Fact";

/// One Cedar decision per fact, under one decision id, counted in the metrics.
fn decide(v: &Vault, who: &Principal, asked: &Asked, window: &Window, decision_id: &str) -> Vec<Decision> {
    let resources: Vec<Resource> = asked.facts.iter().map(|f| Resource::Fact(f.name())).collect();
    let context = RequestContext {
        distinct_cards_last_hour: Some(window.distinct),
        bulk_ceiling_per_hour: Some(window.ceiling),
        ..RequestContext::purpose(asked.purpose)
    };
    let decisions = v
        .policy()
        .decide_each(who, Action::QueryFact, &resources, &context, decision_id);
    for d in &decisions {
        v.metrics.decision(d.allowed);
    }
    decisions
}

impl Answered {
    fn any_allowed(&self) -> bool {
        self.decisions.iter().any(|(_, d)| d.allowed)
    }

    /// The commit that makes the query durable before it is answered: one
    /// audit entry, `base` (the request's entry) with each fact's decision
    /// in `items` (as a legal request's items), the policies that decided
    /// any of them, and the replay context. Which facts were asked is
    /// recorded; what they answered, and anything the caller supplied,
    /// never is. (Entries written before v1.2 hold one fact each, with the
    /// fact as the resource; every reader takes both.)
    #[must_use]
    pub fn audit(&self, base: AuditDraft) -> Commit {
        let outcome = if self.any_allowed() {
            "ok"
        } else {
            "forbidden_by_policy"
        };
        let verdict = |allowed: bool| {
            if allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            }
        };
        let mut policies: Vec<String> = self
            .decisions
            .iter()
            .flat_map(|(_, d)| d.policies.iter().cloned())
            .collect();
        policies.sort_unstable();
        policies.dedup();
        let entry = AuditDraft {
            resource: Some(FACTS_RESOURCE.into()),
            decision: verdict(self.any_allowed()),
            decision_id: Some(self.decision_id.clone()),
            policies,
            policy_version: self.decisions.first().map(|(_, d)| d.version),
            outcome: outcome.to_owned(),
            subject: Some(self.subject.clone()),
            context: Some(ReplayContext {
                distinct_cards_last_hour: Some(self.window.distinct),
                bulk_ceiling_per_hour: Some(self.window.ceiling),
                ..ReplayContext::default()
            }),
            items: self
                .decisions
                .iter()
                .map(|(fact, d)| (fact.name().to_owned(), verdict(d.allowed)))
                .collect(),
            ..base
        };
        Commit {
            changes: Vec::new(),
            audit: vec![entry],
        }
    }

    /// The answer to `audience`, once [`Answered::audit`] is durable: the
    /// released facts signed, and why the others are withheld.
    ///
    /// # Errors
    /// 403 with the decision id when no fact was released.
    pub fn sign(self, v: &Vault, audience: &str) -> Result<Signed, Error> {
        if !self.any_allowed() {
            return Err(Error::Forbidden {
                decision_id: self.decision_id,
            });
        }
        let (released, facts, withheld) = split(self.values);
        let attestation = attest(
            v,
            audience,
            &self.decision_id,
            self.purpose,
            self.card_number.as_ref(),
            released,
        );
        Ok(Signed {
            decision_id: self.decision_id,
            facts,
            withheld,
            attestation,
        })
    }
}

/// A fact query's answer.
pub struct Signed {
    pub decision_id: String,
    /// Each released fact's value.
    pub facts: BTreeMap<String, bool>,
    /// Each withheld fact and why.
    pub withheld: BTreeMap<String, String>,
    /// Compact JWS over the released facts.
    pub attestation: String,
}

type Split = (Map<String, Value>, BTreeMap<String, bool>, BTreeMap<String, String>);

/// The answer's parts: the released facts in the order asked (the
/// attestation signs them so), the same as a map, and the withheld reasons.
fn split(values: Vec<(Fact, FactValue)>) -> Split {
    let mut released = Map::new();
    let mut released_values = BTreeMap::new();
    let mut withheld = BTreeMap::new();
    for (fact, value) in values {
        match value {
            Ok(b) => {
                released.insert(fact.name(), Value::Bool(b));
                released_values.insert(fact.name(), b);
            }
            Err(w) => {
                withheld.insert(fact.name(), w.as_str().to_owned());
            }
        }
    }
    (released, released_values, withheld)
}

/// The signed attestation of the released facts. Only a canonical card
/// number is signed; caller text never is.
fn attest(
    v: &Vault,
    audience: &str,
    decision_id: &str,
    purpose: Purpose,
    card: Option<&CardNumber>,
    released: Map<String, Value>,
) -> String {
    let iat = v.clock.now().unix_timestamp();
    let ttl = i64::try_from(v.config.facts.attestation_ttl.as_secs()).unwrap_or(300);
    v.attestor().sign(&Claims {
        iss: &format!("civic-vault:{}", v.program.name),
        aud: audience,
        iat,
        exp: iat + ttl,
        jti: decision_id,
        purpose: purpose.as_str(),
        card_number: card.map(CardNumber::as_str),
        facts: &released,
    })
}

/// The attestation's claims, borrowed, in the order they are signed.
#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    purpose: &'a str,
    card_number: Option<&'a str>,
    facts: &'a Map<String, Value>,
}
