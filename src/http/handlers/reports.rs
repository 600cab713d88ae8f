//! `GET /v1/reports/quarterly`: counts in the shape of NYC Local Law 35's
//! IDNYC report, small counts suppressed.

use std::collections::HashMap;

use axum::extract::Query;
use axum::Json;

use crate::authz::Action;
use crate::domain::vocab::Purpose;
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Refused};
use crate::vault::reports::{quarterly as report, QuarterlyReport};

/// `GET /v1/reports/quarterly?year=YYYY&quarter=Q`.
#[utoipa::path(
    get,
    path = "/v1/reports/quarterly",
    tag = "oversight",
    description = "One quarter's counts: applications received, issued and denied (by the requirement \
        not met), renewals, replacements, updates, fee waivers by category, languages, legal requests by \
        process and outcome. Every count under 10 is shown as \"<10\".\n\n\
        Permissions: privacy officer or auditor (Cedar action `read_reports`, purpose `oversight`).",
    params(
        ("year" = i32, Query, description = "e.g. 2026"),
        ("quarter" = u8, Query, description = "1 to 4"),
    ),
    responses((status = 200, description = "the report", body = QuarterlyReport), BadRequest, Refused),
    security(("bearer" = []))
)]
pub async fn quarterly(
    gate: Gate,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<QuarterlyReport>, ApiError> {
    gate.admit(Action::ReadReports, Purpose::Oversight)?;
    if q.keys().any(|k| k != "year" && k != "quarter") {
        return Err(ApiError::invalid("query", "only `year` and `quarter` are accepted"));
    }
    let number = |key: &str| -> Result<i64, ApiError> {
        q.get(key)
            .ok_or_else(|| ApiError::invalid(key, "missing query parameter"))?
            .parse()
            .map_err(|_| ApiError::invalid(key, "must be a whole number"))
    };
    let year = i32::try_from(number("year")?).map_err(|_| ApiError::invalid("year", "out of range"))?;
    let quarter = u8::try_from(number("quarter")?).map_err(|_| ApiError::invalid("quarter", "must be 1 to 4"))?;
    Ok(Json(report(&gate.vault, year, quarter).await?))
}
