use axum::body::Body;
use axum::Json;
use serde::Deserialize;

use crate::authz::Action;
use crate::domain::retention::SweepReport;
use crate::domain::vocab::Purpose;
use crate::http::body_limit::DEFAULT as DEFAULT_LIMIT;
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Refused};
use crate::vault::retention::RetentionStatus;

/// `GET /v1/retention`: what is held per data class, and when it goes.
#[utoipa::path(
    get,
    path = "/v1/retention",
    tag = "oversight",
    description = "What is held per data class (scans of proof documents, cardholder records), each \
        class's window and next destruction, and the last sweep's report.\n\n\
        Permissions: admin, privacy officer or auditor (Cedar action `read_retention`, purpose \
        `oversight`).",
    responses(
        (status = 200, description = "what is held per data class, next destruction", body = RetentionStatus),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn status(gate: Gate) -> Result<Json<RetentionStatus>, ApiError> {
    gate.admit(Action::ReadRetention, Purpose::Oversight)?;
    Ok(Json(crate::vault::retention::status(&gate.vault).await?))
}

/// `POST /v1/retention/sweep`: run a sweep now.
#[utoipa::path(
    post,
    path = "/v1/retention/sweep",
    tag = "oversight",
    description = "Runs a retention sweep now. It only ever destroys what is already due (and not \
        under a legal hold); each destruction is certified in the audit chain. With the body \
        `{\"rotate_kek\": true}` it also replaces the KEK now (`civic-vault keys rotate-kek`): a new \
        KEK, every live data key rewrapped under it, the old KEK destroyed and certified; every \
        backup made before stops opening any record. Without a body, or with \
        `{\"rotate_kek\": false}`, the KEK rotates only after erasures, on `[retention] key_rotation`.\n\n\
        Permissions: admin (Cedar action `run_sweep`, purpose `system_administration`).",
    request_body(content = Option<SweepRequest>, content_type = "application/json",
        description = "optional: `{\"rotate_kek\": true}` to replace the KEK in this sweep"),
    responses(
        (status = 200, description = "the sweep report and its certificates", body = SweepReport),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn sweep(gate: Gate, body: Body) -> Result<Json<SweepReport>, ApiError> {
    let (who, _) = gate.admit(Action::RunSweep, Purpose::SystemAdministration)?;
    // The body is optional: a sweep asked with none is the plain sweep.
    let asked: SweepRequest = if gate.has_body() {
        gate.body(body, DEFAULT_LIMIT).await?
    } else {
        SweepRequest::default()
    };
    let report = crate::vault::retention::sweep(&gate.vault, "request", Some(&who.id), asked.rotate_kek).await?;
    Ok(Json(report))
}

/// `POST /v1/retention/sweep`'s optional body.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// Replace the KEK in this sweep, whether or not one is due.
    #[serde(default)]
    pub rotate_kek: bool,
}
