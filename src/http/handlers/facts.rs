use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::authz::{new_decision_id, Action, RequestContext, Resource};
use crate::domain::access::open_birth_date;
use crate::domain::audit::{AuditDraft, Decision as AuditDecision};
use crate::domain::card::CardNumber;
use crate::domain::facts::{evaluate, parse_facts, Fact, FactRequest, FactValue};
use crate::domain::store::Commit;
use crate::domain::vocab::Purpose;
use crate::http::dto::{FactsAnswer, Jwk, Jwks};
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Busy, PayloadTooLarge, Refused};
use crate::vault::Vault;

/// `GET /v1/attestation-keys`: the JWKS.
#[utoipa::path(
    get,
    path = "/v1/attestation-keys",
    tag = "facts",
    description = "The public keys that verify fact attestations (a JWKS). Not audited.\n\n\
        Permissions: none (public).",
    responses(
        (status = 200, description = "JWKS of the attestation keys", body = Jwks),
        Busy,
    )
)]
pub async fn keys(State(v): State<Arc<Vault>>) -> Result<Json<Jwks>, ApiError> {
    let key: Jwk = serde_json::from_value(v.attestor.jwk())
        .map_err(|_| Error::internal("the attestation key does not read as a JWK"))?;
    Ok(Json(Jwks { keys: vec![key] }))
}

/// `POST /v1/facts`: one Cedar decision per fact, each in the audit chain
/// before the answer leaves.
#[utoipa::path(
    post,
    path = "/v1/facts",
    tag = "facts",
    description = "Minimal facts about one presented card (card_valid, resident, age_over_N), each \
        decided by Cedar on its own and recorded in the audit chain before the answer leaves; the \
        released ones are signed. A card number that is unknown or cannot be one is answered like \
        any card whose facts are withheld. 403 when no fact is released.\n\n\
        Permissions: a system principal registered for the purpose given (Cedar action \
        `query_fact`, one decision per fact, resource `Fact::<name>`); the editable policies name \
        the facts each purpose and agency kind may get, and the floor refuses the enforcement \
        purposes, federal immigration systems and bulk screening.",
    request_body = crate::domain::facts::FactRequest,
    responses(
        (status = 200, description = "released and withheld facts, signed", body = FactsAnswer),
        BadRequest,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn query(gate: Gate, body: Body) -> Result<Json<FactsAnswer>, ApiError> {
    let v = Arc::clone(&gate.vault);
    let who = gate.enter(Action::QueryFact, None)?;
    let req: FactRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let purpose: Purpose = req
        .purpose
        .parse()
        .map_err(|()| Error::UnknownPurpose("purpose".into()))?;
    gate.slot.purpose(purpose);
    let facts = parse_facts(&req.facts, &v.config.facts.age_thresholds)?;
    if req.card_number.len() > 64 {
        return Err(ApiError::invalid("card_number", "too long to be a card number"));
    }
    // A string that cannot be a card number is answered exactly like an
    // unknown card, so the answer never says which it was.
    let card = gate.card(&req.card_number);
    let (subject, card_id) = (card.subject.clone(), card.id);
    let now = v.clock.now();
    let distinct = v.fact_window.observe(&who.id, &card_id, now.unix_timestamp());

    let decision_id = new_decision_id();
    let resources: Vec<Resource> = facts.iter().map(|f| Resource::Fact(f.name())).collect();
    let ceiling = i64::try_from(v.config.facts.bulk_ceiling_per_hour).unwrap_or(i64::MAX);
    let context = RequestContext {
        distinct_cards_last_hour: Some(distinct),
        bulk_ceiling_per_hour: Some(ceiling),
        ..RequestContext::purpose(purpose)
    };
    let decisions = gate.decide_each(&who, Action::QueryFact, &resources, &context, &decision_id);
    let any_allowed = decisions.iter().any(|d| d.allowed);
    let record = if any_allowed && card.number.is_some() {
        v.card(card_id).await?
    } else {
        None
    };
    let permits: Vec<_> = decisions.iter().map(|d| d.permit.as_ref()).collect();
    let values = evaluate(&facts, &permits, record.as_deref(), now.date(), |permit, r| {
        open_birth_date(permit, &v.keys, &card_id, &r.record)
    })?;
    let (released, released_values, withheld) = split(values);

    // One audit entry per decision, durable before anything is answered.
    let base = gate.slot.take_for_commit();
    let entries: Vec<AuditDraft> = facts
        .iter()
        .zip(&decisions)
        .map(|(fact, d)| AuditDraft {
            resource: Some(format!("Fact::{}", fact.name())),
            decision: if d.allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            },
            decision_id: Some(decision_id.clone()),
            policies: d.policies.clone(),
            policy_version: Some(d.version),
            outcome: if any_allowed { "ok" } else { "forbidden_by_policy" }.to_owned(),
            subject: Some(subject.clone()),
            context: Some(crate::domain::audit::ReplayContext {
                distinct_cards_last_hour: Some(distinct),
                bulk_ceiling_per_hour: Some(ceiling),
                ..crate::domain::audit::ReplayContext::default()
            }),
            ..base.clone()
        })
        .collect();
    gate.commit_entries(Commit {
        changes: Vec::new(),
        audit: entries,
    })
    .await?;
    if !any_allowed {
        return Err(Error::Forbidden { decision_id }.into());
    }

    let attestation = attest(&v, &who.id, &decision_id, purpose, card.number.as_ref(), released);
    Ok(Json(FactsAnswer {
        decision_id,
        facts: released_values,
        withheld,
        attestation,
    }))
}

/// The answer's parts: the released facts in the order asked (the
/// attestation signs them so), the same as a map, and the withheld reasons.
fn split(values: Vec<(Fact, FactValue)>) -> (Map<String, Value>, BTreeMap<String, bool>, BTreeMap<String, String>) {
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
    v.attestor.sign(&json!({
        "iss": format!("civic-vault:{}", v.program.name),
        "aud": audience,
        "iat": iat,
        "exp": iat + ttl,
        "jti": decision_id,
        "purpose": purpose.as_str(),
        "card_number": card.map(CardNumber::as_str),
        "facts": released,
    }))
}
