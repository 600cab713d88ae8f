use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::principals::commit_or_fail;
use crate::authz::{Action, RequestContext, Resource};
use crate::domain::enrollment::{prepare, EnrollContext, EnrollmentRequest};
use crate::domain::store::{Change, Commit};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::http::extract::{read_json, ENROLL_LIMIT};
use crate::server::Vault;

const PURPOSE: Purpose = Purpose::CardAdministration;

/// `POST /v1/enrollments`.
pub async fn enroll(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    slot.begin(Action::Enroll, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::Enroll,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let req: EnrollmentRequest = read_json(&headers, body, ENROLL_LIMIT).await?;
    // Decoding, checking and encrypting a photo of up to 5 MiB is CPU work:
    // keep it off the async workers.
    let vault = Arc::clone(&v);
    let clerk = who.id.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let validity = vault.config.card_validity.unwrap_or(vault.program.card_validity);
        let cx = EnrollContext {
            program: &vault.program,
            keys: &vault.keys,
            clerk: &clerk,
            now: vault.clock.now(),
            validity,
        };
        prepare(&req, &cx)
    })
    .await
    .map_err(|e| ApiError::Internal { detail: e.to_string() })??;
    slot.subject(v.keys.subjects.subject("card", prepared.card_number.as_str()));
    let record = &prepared.new_card.record;
    let body = json!({
        "card_number": prepared.card_number.as_str(),
        "issued_on": record.issued_on.to_string(),
        "expires_on": record.expires_on.to_string(),
        // Scans are checked and then dropped: none is kept on disk
        // (`retention.source_documents` = "0s" behaviour).
        "source_documents": {"stored": 0, "presented": prepared.scans_presented, "destroy_after": null},
    });
    let commit = Commit {
        changes: vec![Change::Enroll(Box::new(prepared.new_card))],
        audit: vec![slot.take_for_commit()],
    };
    commit_or_fail(&v, &slot, commit).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
