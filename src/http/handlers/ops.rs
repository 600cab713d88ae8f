use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use crate::authz::{Action, RequestContext, Resource};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::server::Vault;

/// `GET /metrics`: Prometheus text, for admins and auditors.
pub async fn metrics(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    const PURPOSE: Purpose = Purpose::Oversight;
    slot.begin(Action::ReadMetrics, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::ReadMetrics,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let mut text = v.metrics.render();
    text.push_str(&v.store.render_stats());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
