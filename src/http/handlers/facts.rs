use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::Json;

use crate::authz::Action;
use crate::domain::facts::FactRequest;
use crate::http::dto::{FactsAnswer, Jwk, Jwks};
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Busy, PayloadTooLarge, Refused};
use crate::vault::facts;
use crate::vault::Vault;

/// `GET /v1/attestation-keys`: the JWKS.
#[utoipa::path(
    get,
    path = "/v1/attestation-keys",
    tag = "facts",
    description = "The public keys that verify fact attestations (a JWKS): the active key first, \
        then any key rotated out whose attestations have not all expired yet. Not audited.\n\n\
        Permissions: none (public).",
    responses(
        (status = 200, description = "JWKS of the attestation keys", body = Jwks),
        Busy,
    )
)]
pub async fn keys(State(v): State<Arc<Vault>>) -> Result<Json<Jwks>, ApiError> {
    let keys = v
        .attestation_jwks()
        .into_iter()
        .map(serde_json::from_value::<Jwk>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::internal("the attestation key does not read as a JWK"))?;
    Ok(Json(Jwks { keys }))
}

/// `POST /v1/facts`: one Cedar decision per fact, each in the audit chain
/// before the answer leaves; the flow is `vault::facts`.
#[utoipa::path(
    post,
    path = "/v1/facts",
    tag = "facts",
    description = "Minimal facts about one presented card (card_valid, resident, age_over_N), each \
        decided by Cedar on its own and recorded in the audit chain before the answer leaves; the \
        released ones are signed. A card number that is unknown or cannot be one is answered like \
        any card whose facts are withheld. 403 when no fact is released.\n\n\
        Match facts (name_matches, birth_date_matches, address_matches) answer whether the \
        `claims` the caller read off the card or was told (full_name, date_of_birth YYYY-MM-DD, \
        address in the enrollment shape) are the holder's, after normalisation (case, accents, \
        spacing, hyphens and punctuation, order of names; no transliteration): true or false, \
        never a value. Each match fact asked needs its claim and a claim no fact asks for is \
        refused (400 naming the field); the audit records the facts asked, never the claims.\n\n\
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
    let who = gate.enter(Action::QueryFact, None)?;
    let req: FactRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let purpose = facts::purpose(&req)?;
    gate.slot.purpose(purpose);
    let asked = facts::Asked::check(&gate.vault, purpose, &req)?;
    // A string that cannot be a card number is answered exactly like an
    // unknown card, so the answer never says which it was.
    let card = gate.card(&req.card_number);
    let answered = facts::answer(&gate.vault, &who, &asked, &card).await?;
    // One audit entry per decision, durable before anything is answered.
    gate.commit_entries(answered.audit(gate.slot.take_for_commit())).await?;
    let signed = answered.sign(&gate.vault, &who.id)?;
    Ok(Json(FactsAnswer {
        decision_id: signed.decision_id,
        facts: signed.facts,
        withheld: signed.withheld,
        attestation: signed.attestation,
    }))
}
