use axum::Json;

use crate::authz::Action;
use crate::domain::retention::SweepReport;
use crate::domain::vocab::Purpose;
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
        under a legal hold); each destruction is certified in the audit chain.\n\n\
        Permissions: admin (Cedar action `run_sweep`, purpose `system_administration`).",
    responses(
        (status = 200, description = "the sweep report and its certificates", body = SweepReport),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn sweep(gate: Gate) -> Result<Json<SweepReport>, ApiError> {
    let (who, _) = gate.admit(Action::RunSweep, Purpose::SystemAdministration)?;
    let report = crate::vault::retention::sweep(&gate.vault, "request", Some(&who.id)).await?;
    Ok(Json(report))
}
