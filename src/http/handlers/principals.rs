use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::authz::{Action, RequestContext, Resource};
use crate::crypto::{new_token, token_hash};
use crate::domain::principal::{validate_id, NewPrincipal};
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::http::extract::{read_json, DEFAULT_LIMIT};
use crate::server::Vault;

const PURPOSE: Purpose = Purpose::SystemAdministration;

/// `POST /v1/principals`: the token is in this response and nowhere else.
#[utoipa::path(post, path = "/v1/principals", tag = "admin", request_body = crate::domain::principal::NewPrincipal, responses((status = 201, description = "issued; the token is shown once", body = crate::http::openapi::IssuedPrincipal), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 409, description = "conflict", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    slot.begin(Action::IssuePrincipal, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::IssuePrincipal,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let req: NewPrincipal = read_json(&headers, body, DEFAULT_LIMIT).await?;
    slot.subject(v.keys.subjects.subject("principal", &req.id));
    let token = new_token();
    let principal = req.into_principal(token_hash(&token), v.clock.now().unix_timestamp())?;
    let commit = Commit {
        changes: vec![Change::PutPrincipal(Box::new(principal.clone()))],
        audit: vec![slot.take_for_commit()],
    };
    commit_or_fail(&v, &slot, commit).await?;
    let body = json!({
        "id": principal.id,
        "kind": principal.kind,
        "roles": principal.roles,
        "agency_kind": principal.agency_kind,
        "purposes": principal.purposes,
        "token": token.as_str(),
    });
    v.principals.insert(principal);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /v1/principals/{id}`: the token stops working before this answers.
#[utoipa::path(delete, path = "/v1/principals/{id}", tag = "admin", params(("id" = String, Path, description = "the principal id")), responses((status = 204, description = "revoked; the token no longer works"), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn remove(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    slot.begin(Action::DeletePrincipal, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    slot.subject(v.keys.subjects.subject("principal", &id));
    v.authorize(
        &slot,
        &who,
        Action::DeletePrincipal,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    validate_id(&id).map_err(|_| ApiError::NotFound)?;
    let commit = Commit {
        changes: vec![Change::DeletePrincipal { id: id.clone() }],
        audit: vec![slot.take_for_commit()],
    };
    commit_or_fail(&v, &slot, commit).await?;
    v.principals.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Submits a commit whose audit entry the handler took from `slot`. On a
/// storage failure the entry did not land, so the middleware is told to try.
pub(crate) async fn commit_or_fail(v: &Vault, slot: &AuditSlot, commit: Commit) -> Result<(), ApiError> {
    match v.store.submit(commit).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e @ crate::domain::store::StoreError::Conflict(_))) => Err(e.into()),
        Ok(Err(e)) => {
            slot.uncommitted();
            Err(e.into())
        }
        Err(_) => {
            slot.uncommitted();
            Err(ApiError::Unavailable {
                detail: "writer stopped".into(),
            })
        }
    }
}
