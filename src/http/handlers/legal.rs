//! `/v1/legal/requests` and `/v1/legal/notices`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::principals::commit_or_fail;
use crate::authz::{Action, RequestContext, Resource};
use crate::domain::access;
use crate::domain::legal::{AnswerSummary, LegalRequest, StoredPackage};
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::http::extract::{read_json, DEFAULT_LIMIT};
use crate::server::Vault;

/// Who is asking, and Cedar's permit for `action` on the vault.
async fn allowed(
    v: &Vault,
    slot: &AuditSlot,
    headers: &HeaderMap,
    action: Action,
    purpose: Purpose,
) -> Result<(Arc<crate::domain::principal::Principal>, crate::authz::Permit), ApiError> {
    slot.begin(action, Some(purpose));
    let who = v.authenticate(slot, headers)?;
    let permit = v.authorize(slot, &who, action, &Resource::Vault, &RequestContext::purpose(purpose))?;
    Ok((who, permit))
}

/// Ids the vault issues are short and plain; anything else names nothing.
fn plain_id(id: &str) -> Result<(), ApiError> {
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

/// `POST /v1/legal/requests`: legal staff enter a request; the answer.
#[utoipa::path(post, path = "/v1/legal/requests", tag = "legal", request_body = crate::domain::legal::LegalRequest, responses((status = 200, description = "the answer: outcome, package, withheld, not_held, digest, letter", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let (who, _) = allowed(&v, &slot, &headers, Action::LegalRequest, Purpose::LegalProcess).await?;
    let req: LegalRequest = read_json(&headers, body, DEFAULT_LIMIT).await?;
    crate::legal::respond(&v, &slot, &who, req).await.map(Json)
}

/// `GET /v1/legal/requests/{id}`: a past answer. The package of an answer
/// about a card is opened with that card's key; once the cardholder record
/// is destroyed, so is the package (the digest stays).
#[utoipa::path(get, path = "/v1/legal/requests/{id}", tag = "legal", params(("id" = String, Path, description = "the request id")), responses((status = 200, description = "a past answer", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn read(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, permit) = allowed(&v, &slot, &headers, Action::ReadLegalRequest, Purpose::LegalProcess).await?;
    plain_id(&id)?;
    slot.subject(format!("legal_request:{id}"));
    let wanted = id.clone();
    let record = v
        .read(move |v| v.store.legal_request(&wanted))
        .await?
        .ok_or(ApiError::NotFound)?;
    let summary: AnswerSummary = serde_json::from_slice(&record.summary).map_err(|_| ApiError::Internal {
        detail: "a stored legal answer does not decode".into(),
    })?;
    let package = match &record.package {
        StoredPackage::Plain(bytes) => serde_json::from_slice(bytes).ok(),
        StoredPackage::Sealed { card_id, sealed } => match v.card(*card_id).await? {
            Some(card) => access::open_package(&permit, &v.keys, card_id, &card, &record.id, sealed)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            None => None,
        },
    };
    let destroyed = package.is_none();
    let mut out = crate::legal::answer(&summary, package);
    if destroyed {
        out["package_destroyed"] = json!("the package was destroyed with the cardholder record; its digest remains");
    }
    Ok(Json(out))
}

/// `GET /v1/legal/notices`: cardholder notices waiting to be sent, with
/// what a clerk needs to send them.
#[utoipa::path(get, path = "/v1/legal/notices", tag = "legal", responses((status = 200, description = "cardholder notices to send", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn notices(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (_, permit) = allowed(&v, &slot, &headers, Action::ListNotices, Purpose::CardAdministration).await?;
    let pending = v.read(|v| v.store.notices()).await?;
    let mut rows = Vec::with_capacity(pending.len());
    for n in pending {
        let mut row = json!({
            "notice_id": n.id,
            "request_id": n.request_id,
            "reference": n.reference,
            "queued_at": time::OffsetDateTime::from_unix_timestamp(n.at)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        });
        let fields = match v.card(n.card_id).await? {
            Some(card) => access::open_fields(&permit, &v.keys, &n.card_id, &card).ok(),
            None => None,
        };
        match fields {
            Some(f) => {
                row["card_number"] = json!(f.card_number);
                row["full_name"] = json!(f.full_name);
                row["address"] = serde_json::to_value(&f.address).unwrap_or_default();
            }
            None => row["status"] = json!("the cardholder record has been destroyed; nobody to notify"),
        }
        rows.push(row);
    }
    Ok(Json(json!({ "notices": rows })))
}

/// `POST /v1/legal/notices/{id}/sent`: the clerk sent it; it leaves the list.
#[utoipa::path(post, path = "/v1/legal/notices/{id}/sent", tag = "legal", params(("id" = String, Path, description = "the notice id")), responses((status = 200, description = "marked sent", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn sent(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allowed(&v, &slot, &headers, Action::ListNotices, Purpose::CardAdministration).await?;
    plain_id(&id)?;
    slot.subject(format!("notice:{id}"));
    let commit = Commit {
        changes: vec![Change::RemoveNotice { id: id.clone() }],
        audit: vec![slot.take_for_commit()],
    };
    commit_or_fail(&v, &slot, commit).await?;
    Ok(Json(json!({ "notice_id": id, "status": "sent" })))
}
