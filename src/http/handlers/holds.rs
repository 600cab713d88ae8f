use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::RngCore;
use serde_json::{json, Value};

use super::principals::commit_or_fail;
use crate::authz::{Action, RequestContext, Resource};
use crate::domain::card::CardNumber;
use crate::domain::holds::{Hold, HoldRequest, HoldStatus};
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::http::extract::{read_json, DEFAULT_LIMIT};
use crate::server::Vault;

const PURPOSE: Purpose = Purpose::LegalProcess;

/// `POST /v1/legal/holds`: legal asks; the hold is pending until approved.
#[utoipa::path(post, path = "/v1/legal/holds", tag = "legal", request_body = crate::domain::holds::HoldRequest, responses((status = 201, description = "hold requested (pending approval)", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn request(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    slot.begin(Action::RequestHold, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    let req: HoldRequest = read_json(&headers, body, DEFAULT_LIMIT).await?;
    let card = CardNumber::parse(&req.card_number);
    let subject = v.keys.subjects.subject(
        "card",
        card.as_ref().map_or(req.card_number.as_str(), CardNumber::as_str),
    );
    slot.subject(subject.clone());
    v.authorize(
        &slot,
        &who,
        Action::RequestHold,
        &Resource::Card(subject.clone()),
        &RequestContext::purpose(PURPOSE),
    )?;
    let reference = req.reference.trim();
    if reference.is_empty() || reference.chars().count() > 100 {
        return Err(ApiError::invalid("reference", "must be 1 to 100 characters"));
    }
    if !crate::domain::text::is_plain(reference) {
        return Err(ApiError::invalid(
            "reference",
            "must not hold control, bidirectional or invisible characters",
        ));
    }
    let card = card.ok_or(ApiError::NotFound)?;
    let card_id = v.keys.blind.card_id(card.as_str());
    if v.card(card_id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let hold = Hold {
        id: format!("hold_{}", hex::encode(id)),
        reference: reference.to_owned(),
        card_id,
        card_subject: subject,
        status: HoldStatus::Pending,
        requested_by: who.id.clone(),
        requested_at: v.clock.now().unix_timestamp(),
        approved_by: None,
        approved_at: None,
        released_by: None,
        released_at: None,
    };
    let view = hold.view();
    let commit = Commit {
        changes: vec![Change::PutHold(Box::new(hold))],
        audit: vec![slot.take_for_commit()],
    };
    commit_or_fail(&v, &slot, commit).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `POST /v1/legal/holds/{id}/approve`: a privacy officer other than the asker.
#[utoipa::path(post, path = "/v1/legal/holds/{id}/approve", tag = "legal", params(("id" = String, Path, description = "the hold id")), responses((status = 200, description = "the hold, active", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 409, description = "conflict", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn approve(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(&v, &slot, &headers, &id, Action::ApproveHold).await
}

/// `POST /v1/legal/holds/{id}/release`: legal or a privacy officer.
#[utoipa::path(post, path = "/v1/legal/holds/{id}/release", tag = "legal", params(("id" = String, Path, description = "the hold id")), responses((status = 200, description = "the hold, released", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 409, description = "conflict", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn release(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(&v, &slot, &headers, &id, Action::ReleaseHold).await
}

async fn change(
    v: &Arc<Vault>,
    slot: &AuditSlot,
    headers: &HeaderMap,
    id: &str,
    action: Action,
) -> Result<Json<Value>, ApiError> {
    slot.begin(action, Some(PURPOSE));
    let who = v.authenticate(slot, headers)?;
    let found = v.read(|v| v.store.holds()).await?.into_iter().find(|h| h.id == id);
    let subject = found
        .as_ref()
        .map_or_else(|| v.keys.subjects.subject("hold", id), |h| h.card_subject.clone());
    slot.subject(subject.clone());
    let context = RequestContext {
        // An unknown hold has no asker: the decision is then about the role
        // alone, and the answer is 404 for those allowed to act on holds.
        requested_by_self: Some(found.as_ref().is_some_and(|h| h.requested_by == who.id)),
        ..RequestContext::purpose(PURPOSE)
    };
    v.authorize(slot, &who, action, &Resource::Card(subject), &context)?;
    let mut hold = found.ok_or(ApiError::NotFound)?;
    let now = v.clock.now().unix_timestamp();
    let mut changes = Vec::new();
    let mut audit = Vec::new();
    let mut scans_held = 0;
    match (action, hold.status) {
        (Action::ApproveHold, HoldStatus::Pending) => {
            hold.status = HoldStatus::Active;
            hold.approved_by = Some(who.id.clone());
            hold.approved_at = Some(now);
            let files = preserve_scans(v, &hold).await?;
            scans_held = files.len();
            changes.push(Change::PutHeldScans {
                hold_id: hold.id.clone(),
                files,
            });
        }
        (Action::ReleaseHold, HoldStatus::Pending | HoldStatus::Active) => {
            hold.status = HoldStatus::Released;
            hold.released_by = Some(who.id.clone());
            hold.released_at = Some(now);
            let hold_id = hold.id.clone();
            let keys: Vec<Vec<u8>> = v
                .read(move |v| v.store.held_scans(&hold_id))
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            if !keys.is_empty() {
                audit.push(crate::retention::hold_release_certificate(
                    v,
                    &who.id,
                    &hold.id,
                    keys.len() as u64,
                ));
            }
            changes.push(Change::RemoveHeldScans { keys });
        }
        _ => return Err(ApiError::invalid("id", "the hold is not in a state this allows")),
    }
    let mut view = hold.view();
    view["scans_held"] = json!(scans_held);
    let released = hold.status == HoldStatus::Released;
    let hold_id = hold.id.clone();
    changes.insert(0, Change::PutHold(Box::new(hold)));
    audit.insert(0, slot.take_for_commit());
    commit_or_fail(v, slot, Commit { changes, audit }).await?;
    if released {
        // The preserved scans' key goes last: a crash before this leaves a key
        // whose hold is released, which the next sweep destroys.
        let vault = Arc::clone(v);
        let _ = tokio::task::spawn_blocking(move || vault.keys.holds.destroy(&hold_id)).await;
    }
    Ok(Json(view))
}

/// Re-encrypts the card's scans that are still inside their window from
/// their epoch key to a new key for this hold.
async fn preserve_scans(v: &Arc<Vault>, hold: &Hold) -> Result<Vec<Vec<u8>>, ApiError> {
    let epochs = v.keys.scans.epochs();
    let card_id = hold.card_id;
    let scans = v.read(move |v| v.store.card_scans(&card_id, &epochs)).await?;
    if scans.is_empty() {
        return Ok(Vec::new());
    }
    let vault = Arc::clone(v);
    let hold_id = hold.id.clone();
    tokio::task::spawn_blocking(move || {
        let recipient = vault
            .keys
            .holds
            .create(&hold_id)
            .map_err(|e| ApiError::Unavailable { detail: e.to_string() })?;
        let mut files = Vec::with_capacity(scans.len());
        for (epoch, file) in scans {
            let Some(identity) = vault.keys.scans.identity(epoch) else {
                continue;
            };
            let plain = zeroize::Zeroizing::new(
                age::decrypt(identity.as_ref(), &file).map_err(|e| ApiError::Internal { detail: e.to_string() })?,
            );
            files.push(age::encrypt(&recipient, &plain).map_err(|e| ApiError::Internal { detail: e.to_string() })?);
        }
        Ok(files)
    })
    .await
    .map_err(|e| ApiError::Internal { detail: e.to_string() })?
}

/// `GET /v1/legal/holds`.
#[utoipa::path(get, path = "/v1/legal/holds", tag = "legal", responses((status = 200, description = "holds", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(v): State<Arc<Vault>>, slot: AuditSlot, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    slot.begin(Action::ListHolds, Some(Purpose::Oversight));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::ListHolds,
        &Resource::Vault,
        &RequestContext::purpose(Purpose::Oversight),
    )?;
    let holds = v.read(|v| v.store.holds()).await?;
    Ok(Json(
        json!({ "holds": holds.iter().map(Hold::view).collect::<Vec<_>>() }),
    ))
}
