use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use crate::authz::{Action, RequestContext, Resource};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::server::Vault;

/// `GET /v1/retention`: what is held per data class, and when it goes.
pub async fn status(State(v): State<Arc<Vault>>, slot: AuditSlot, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    const PURPOSE: Purpose = Purpose::Oversight;
    slot.begin(Action::ReadRetention, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::ReadRetention,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    Ok(Json(crate::retention::status(&v).await?))
}

/// `POST /v1/retention/sweep`: run a sweep now.
pub async fn sweep(State(v): State<Arc<Vault>>, slot: AuditSlot, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    const PURPOSE: Purpose = Purpose::SystemAdministration;
    slot.begin(Action::RunSweep, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::RunSweep,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let report = crate::retention::sweep(&v, "request", Some(&who.id)).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
