use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::principals::commit_or_fail;
use crate::authz::{Action, RequestContext, Resource};
use crate::domain::access::open_photo;
use crate::domain::card::{CardNumber, CardStatus, RevocationReason};
use crate::domain::enrollment::{sniff, MediaKind};
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::http::extract::{read_json, DEFAULT_LIMIT};
use crate::server::Vault;

/// The card in the path, as an audit subject and a Cedar resource. A string
/// that cannot be a card number still gets a subject, so probing is audited
/// the same way as asking about a real card.
fn card_resource(v: &Vault, slot: &AuditSlot, raw: &str) -> (Option<CardNumber>, Resource) {
    let card = CardNumber::parse(raw);
    let subject = v
        .keys
        .subjects
        .subject("card", card.as_ref().map_or(raw, CardNumber::as_str));
    slot.subject(subject.clone());
    (card, Resource::Card(subject))
}

fn purpose_param(q: &HashMap<String, String>) -> Result<Purpose, ApiError> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "purpose") {
        let name = if k.len() <= 40 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            k.as_str()
        } else {
            "?"
        };
        return Err(ApiError::invalid(name, "unknown query parameter"));
    }
    let p = q
        .get("purpose")
        .ok_or_else(|| ApiError::invalid("purpose", "missing query parameter"))?;
    p.parse().map_err(|()| ApiError::UnknownPurpose("purpose".into()))
}

/// `GET /v1/cardholders/{card}/photo?purpose=card_printing`.
#[utoipa::path(get, path = "/v1/cardholders/{card}/photo", tag = "enrollment", params(("card" = String, Path, description = "the card number printed on the card"), ("purpose" = String, Query, description = "card_printing")), responses((status = 200, description = "the photo", content(("image/jpeg"), ("image/png"))), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn photo(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    slot.begin(Action::ReadPhoto, None);
    let who = v.authenticate(&slot, &headers)?;
    let purpose = purpose_param(&q)?;
    slot.purpose(purpose);
    let (card, resource) = card_resource(&v, &slot, &raw);
    let permit = v.authorize(
        &slot,
        &who,
        Action::ReadPhoto,
        &resource,
        &RequestContext::purpose(purpose),
    )?;
    let card = card.ok_or(ApiError::NotFound)?;
    let id = v.keys.blind.card_id(card.as_str());
    let (record, photo) = v.read(move |v| Ok((v.store.card(&id)?, v.store.photo(&id)?))).await?;
    match (record, photo) {
        (Some(r), Some(p)) if !matches!(r.status, CardStatus::ErasureRequested { .. }) => {
            let bytes = open_photo(&permit, &v.keys, &id, &r, &p)?;
            let ct = if sniff(&bytes) == Some(MediaKind::Png) {
                "image/png"
            } else {
                "image/jpeg"
            };
            let mut resp = Body::from(bytes.to_vec()).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            Ok(resp)
        }
        _ => Err(ApiError::NotFound),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    reason: RevocationReason,
}

/// `POST /v1/cardholders/{card}/revoke`.
#[utoipa::path(post, path = "/v1/cardholders/{card}/revoke", tag = "enrollment", request_body = RevokeRequest, params(("card" = String, Path, description = "the card number printed on the card")), responses((status = 200, description = "revoked", body = crate::http::openapi::Revoked), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn revoke(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    const PURPOSE: Purpose = Purpose::CardAdministration;
    slot.begin(Action::RevokeCard, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    let (card, resource) = card_resource(&v, &slot, &raw);
    v.authorize(
        &slot,
        &who,
        Action::RevokeCard,
        &resource,
        &RequestContext::purpose(PURPOSE),
    )?;
    let req: RevokeRequest = read_json(&headers, body, DEFAULT_LIMIT).await?;
    let card = card.ok_or(ApiError::NotFound)?;
    let status = CardStatus::Revoked {
        reason: req.reason,
        at: v.clock.now().unix_timestamp(),
    };
    set_status(&v, &slot, &card, status).await?;
    Ok(Json(json!({"card_number": card.as_str(), "status": "revoked", "reason": req.reason})).into_response())
}

/// `DELETE /v1/cardholders/{card}`: the holder asks for erasure. The card
/// stops working now; the retention sweep destroys the record.
#[utoipa::path(delete, path = "/v1/cardholders/{card}", tag = "enrollment", params(("card" = String, Path, description = "the card number printed on the card")), responses((status = 202, description = "erasure requested; the next sweep destroys the record", body = crate::http::openapi::ErasureRequested), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn erase(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    const PURPOSE: Purpose = Purpose::CardAdministration;
    slot.begin(Action::EraseCard, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    let (card, resource) = card_resource(&v, &slot, &raw);
    v.authorize(
        &slot,
        &who,
        Action::EraseCard,
        &resource,
        &RequestContext::purpose(PURPOSE),
    )?;
    let card = card.ok_or(ApiError::NotFound)?;
    let status = CardStatus::ErasureRequested {
        at: v.clock.now().unix_timestamp(),
    };
    set_status(&v, &slot, &card, status).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "erasure_requested", "destroyed_by": "the next retention sweep"})),
    )
        .into_response())
}

async fn set_status(v: &Vault, slot: &AuditSlot, card: &CardNumber, status: CardStatus) -> Result<(), ApiError> {
    let card_id = v.keys.blind.card_id(card.as_str());
    let window = i64::try_from(v.config.retention.inactive_cardholders.as_secs()).unwrap_or(i64::MAX);
    let due_at = match &status {
        CardStatus::ErasureRequested { at } => *at,
        CardStatus::Revoked { at, .. } => at.saturating_add(window),
        CardStatus::Active => i64::MAX,
    };
    let commit = Commit {
        changes: vec![Change::SetCardStatus {
            card_id,
            status,
            due_at,
        }],
        audit: vec![slot.take_for_commit()],
    };
    // Forget the cached record before and after: no fact answer given after
    // this returns can come from the old status.
    v.cards.invalidate(&card_id);
    let result = commit_or_fail(v, slot, commit).await;
    v.cards.invalidate(&card_id);
    result
}
