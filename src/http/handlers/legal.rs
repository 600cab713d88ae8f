//! `/v1/legal/requests` and `/v1/legal/notices`.

use axum::body::Body;
use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use crate::authz::Action;
use crate::domain::access;
use crate::domain::legal::{AnswerSummary, LegalRequest, StoredPackage};
use crate::domain::store::{Change, Store};
use crate::domain::vocab::Purpose;
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;

/// Ids the vault issues are short and plain; anything else names nothing.
fn plain_id(id: &str) -> Result<(), ApiError> {
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::NotFound.into());
    }
    Ok(())
}

/// `POST /v1/legal/requests`: legal staff enter a request; the answer.
#[utoipa::path(post, path = "/v1/legal/requests", tag = "legal", request_body = crate::domain::legal::LegalRequest, responses((status = 200, description = "the answer: outcome, package, withheld, not_held, digest, letter", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn create(gate: Gate, body: Body) -> Result<Json<Value>, ApiError> {
    let (who, _) = gate.admit(Action::LegalRequest, Purpose::LegalProcess)?;
    let req: LegalRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let answered = crate::vault::legal::respond(&gate.vault, &who, req).await?;
    for d in &answered.decisions {
        gate.slot.item_decision(d.item, d.allowed);
        gate.slot.more_policies(&d.policies);
    }
    gate.slot.subject(answered.subject);
    gate.slot.digest("package", answered.package_digest);
    gate.commit(vec![answered.change]).await?;
    Ok(Json(crate::vault::legal::answer(
        &answered.summary,
        Some(answered.package),
    )))
}

/// `GET /v1/legal/requests/{id}`: a past answer. The package of an answer
/// about a card is opened with that card's key; once the cardholder record
/// is destroyed, so is the package (the digest stays).
#[utoipa::path(get, path = "/v1/legal/requests/{id}", tag = "legal", params(("id" = String, Path, description = "the request id")), responses((status = 200, description = "a past answer", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn read(gate: Gate, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (_, permit) = gate.admit(Action::ReadLegalRequest, Purpose::LegalProcess)?;
    plain_id(&id)?;
    gate.slot.subject(format!("legal_request:{id}"));
    let v = &gate.vault;
    let wanted = id.clone();
    let record = v
        .read(move |v| v.store.legal_request(&wanted))
        .await?
        .ok_or(Error::NotFound)?;
    let summary: AnswerSummary = serde_json::from_slice(&record.summary)
        .map_err(|_| Error::internal("a stored legal answer does not decode"))?;
    let package = match &record.package {
        StoredPackage::Plain(bytes) => serde_json::from_slice(bytes).ok(),
        StoredPackage::Sealed { card_id, sealed } => match v.card(*card_id).await? {
            Some(card) => access::open_package(&permit, &v.keys, card_id, &card.record, &record.id, sealed)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            None => None,
        },
    };
    let destroyed = package.is_none();
    let mut out = crate::vault::legal::answer(&summary, package);
    if destroyed {
        out["package_destroyed"] = json!("the package was destroyed with the cardholder record; its digest remains");
    }
    Ok(Json(out))
}

/// `GET /v1/legal/notices`: cardholder notices waiting to be sent, with
/// what a clerk needs to send them.
#[utoipa::path(get, path = "/v1/legal/notices", tag = "legal", responses((status = 200, description = "cardholder notices to send", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn notices(gate: Gate) -> Result<Json<Value>, ApiError> {
    let (_, permit) = gate.admit(Action::ListNotices, Purpose::CardAdministration)?;
    let v = &gate.vault;
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
            Some(card) => access::open_fields(&permit, &v.keys, &n.card_id, &card.record).ok(),
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
pub async fn sent(gate: Gate, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    gate.admit(Action::ListNotices, Purpose::CardAdministration)?;
    plain_id(&id)?;
    gate.slot.subject(format!("notice:{id}"));
    gate.commit(vec![Change::RemoveNotice { id: id.clone() }]).await?;
    Ok(Json(json!({ "notice_id": id, "status": "sent" })))
}
