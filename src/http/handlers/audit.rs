use std::collections::HashMap;

use axum::extract::Query;
use axum::Json;

use crate::authz::Action;
use crate::domain::audit::{format_hash, ChainReport};
use crate::domain::store::Store;
use crate::domain::vocab::Purpose;
use crate::http::dto::{AuditEntryView, AuditPage};
use crate::http::error::{ApiError, Error};
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Refused};

const PURPOSE: Purpose = Purpose::Oversight;
const MAX_PAGE: usize = 1000;

fn number(q: &HashMap<String, String>, key: &str, default: u64) -> Result<u64, ApiError> {
    q.get(key).map_or(Ok(default), |s| {
        s.parse().map_err(|_| ApiError::invalid(key, "must be a whole number"))
    })
}

/// `GET /v1/audit?after=SEQ&limit=N`.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "list_audit",
    tag = "oversight",
    description = "A page of the audit chain, in sequence order, each entry with its hash. Entries \
        name who asked, for what, the decision and the policies that made it, and a keyed hash of \
        the subject: never personal data.\n\n\
        Permissions: auditor or privacy officer (Cedar action `read_audit`, purpose `oversight`).",
    params(
        ("after" = Option<u64>, Query, description = "entries after this seq"),
        ("limit" = Option<u64>, Query, description = "at most this many (<= 1000)"),
    ),
    responses(
        (status = 200, description = "a page of audit entries", body = AuditPage),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn list(gate: Gate, Query(q): Query<HashMap<String, String>>) -> Result<Json<AuditPage>, ApiError> {
    gate.admit(Action::ReadAudit, PURPOSE)?;
    if q.keys().any(|k| k != "after" && k != "limit") {
        return Err(Error::InvalidRequest("only `after` and `limit` are accepted".into()).into());
    }
    let after = number(&q, "after", 0)?;
    let limit = number(&q, "limit", 100)?;
    if limit == 0 || limit > MAX_PAGE as u64 {
        return Err(ApiError::invalid("limit", "must be 1 to 1000"));
    }
    let page = gate
        .vault
        .read(move |v| v.store.audit_page(after, usize::try_from(limit).unwrap_or(MAX_PAGE)))
        .await?;
    let next = page.last().map(|(e, _)| e.seq);
    let entries = page
        .into_iter()
        .map(|(entry, hash)| AuditEntryView {
            entry,
            hash: format_hash(&hash),
        })
        .collect();
    Ok(Json(AuditPage {
        entries,
        next_after: next,
    }))
}

/// `GET /v1/audit/verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/verify",
    tag = "oversight",
    description = "Walks the whole chain and checks it against the signed checkpoints and, with \
        an off-box witness configured, its cosignatures: `ok`, the head, and where and how it \
        breaks if it does (`checkpoint_problem`, `witness_problem`).\n\n\
        Permissions: auditor or privacy officer (Cedar action `verify_audit`, purpose `oversight`).",
    responses(
        (status = 200, description = "the chain verification", body = ChainReport),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn verify(gate: Gate) -> Result<Json<ChainReport>, ApiError> {
    gate.admit(Action::VerifyAudit, PURPOSE)?;
    let report = gate
        .vault
        .read(move |v| {
            let signed =
                crate::vault::checkpoints::read_verified(&v.config.data_dir, Some(&v.checkpointer.public_key()));
            let mut report = match signed {
                Ok(heads) => v.store.audit_verify(heads)?,
                Err(e) => v.store.audit_verify(std::collections::BTreeMap::new()).map(|mut r| {
                    r.ok = false;
                    r.checkpoint_problem = Some(e.to_string());
                    r
                })?,
            };
            let log = v.tree_checkpoints.verifier_key();
            crate::vault::witness::check_tree_checkpoints(&mut report, &v.store, &v.config.data_dir, &log);
            if let Some(w) = &v.witness {
                crate::vault::witness::check_report(
                    &mut report,
                    &v.config.data_dir,
                    &log,
                    &w.keys(),
                    w.threshold,
                    w.conflict(),
                );
            }
            Ok(report)
        })
        .await?;
    Ok(Json(report))
}
