use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::Json;

use crate::authz::{Action, RequestContext, Resource};
use crate::crypto::EpochId;
use crate::domain::enrollment::{prepare, EnrollContext, EnrollmentRequest, Prepared};
use crate::domain::store::Change;
use crate::domain::vocab::Purpose;
use crate::http::dto::{Enrolled, SourceDocuments};
use crate::http::error::{ApiError, Error};
use crate::http::extract::ENROLL_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Conflict, PayloadTooLarge, Refused, Unprocessable};
use crate::vault::Vault;

const PURPOSE: Purpose = Purpose::CardAdministration;

/// `POST /v1/enrollments`.
#[utoipa::path(
    post,
    path = "/v1/enrollments",
    tag = "enrollment",
    description = "Enrolls an applicant: the proofs are checked against the program's proof rules, \
        the record is sealed under its own data key, and the card number is issued. 409 when a \
        document presented already backs an active card; 422 with `missing` when the proofs do \
        not satisfy the rules.\n\n\
        Permissions: clerk (Cedar action `enroll`, purpose `card_administration`); a clerk past \
        10 duplicate outcomes in a day enrolls no more that day (`clerk.duplicate_probe_guard`).",
    request_body = crate::domain::enrollment::EnrollmentRequest,
    responses(
        (status = 201, description = "enrolled", body = Enrolled),
        BadRequest,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn enroll(gate: Gate, body: Body) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    let v = Arc::clone(&gate.vault);
    let who = gate.enter(Action::Enroll, Some(PURPOSE))?;
    let duplicates_today = v.duplicate_outcomes.today(&who.id, v.clock.now().unix_timestamp());
    gate.authorize(
        &who,
        Action::Enroll,
        &Resource::Vault,
        &RequestContext {
            duplicate_outcomes_today: Some(duplicates_today),
            ..RequestContext::purpose(PURPOSE)
        },
    )?;
    let req: EnrollmentRequest = gate.body(body, ENROLL_LIMIT).await?;
    let _kek_in_use = v.kek_gate.read().await;
    // Decoding, checking and encrypting a photo of up to 5 MiB is CPU work:
    // keep it off the async workers.
    let vault = Arc::clone(&v);
    let clerk = who.id.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let validity = vault.config.card_validity;
        let now = vault.clock.now();
        let scans = match scan_epoch(&vault, now.unix_timestamp()) {
            Some(epoch) if req.proofs.iter().any(|p| p.scan.is_some()) => {
                let recipient = vault
                    .keys
                    .scans
                    .recipient(epoch)
                    .map_err(|e| Error::unavailable(e.to_string()))?;
                Some((epoch, recipient))
            }
            _ => None,
        };
        let cx = EnrollContext {
            program: &vault.program,
            keys: &vault.keys,
            clerk: &clerk,
            now,
            validity,
            scans,
            inactive_window_secs: i64::try_from(vault.config.retention.inactive_cardholders.as_secs())
                .unwrap_or(i64::MAX),
            commitment_cost: vault.commitment_cost,
        };
        prepare(&req, &cx)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
    .inspect_err(|e| {
        // The requirements not met go into the audit entry by name: the
        // quarterly report counts denials by them.
        if let Error::InsufficientProof { missing } = e {
            gate.slot.missing(missing);
        }
    })?;
    gate.slot
        .subject(v.keys.subjects.subject("card", prepared.card_number.as_str()));
    let mut prepared = prepared;
    prepared.new_card.superseded = crate::vault::cards::superseded(&v, &prepared.new_card.identity_commitments).await?;
    let meta = &prepared.meta;
    let body = Enrolled {
        card_number: prepared.card_number.as_str().to_owned(),
        issued_on: meta.issued_on.to_string(),
        expires_on: meta.expires_on.map(|e| e.to_string()),
        // With `retention.source_documents` = "0s" scans are checked and
        // dropped; otherwise kept until their epoch key is destroyed.
        source_documents: SourceDocuments {
            stored: prepared.scans_stored(),
            presented: prepared.scans_presented,
            destroy_after: destroy_after(&v, &prepared),
        },
    };
    let card_id = prepared.new_card.card_id;
    // Invalidated whatever the outcome: the card cache may hold this id's
    // absence, and after a durable commit it must not answer with it.
    let committed = gate.commit(vec![Change::Enroll(Box::new(prepared.new_card))]).await;
    v.cards.invalidate(&card_id);
    if matches!(committed, Err(ApiError::Domain(Error::DuplicateEnrollment))) {
        v.duplicate_outcomes.record(&who.id, v.clock.now().unix_timestamp());
        v.metrics.duplicate_enrollment(&who.id);
    }
    committed?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// The destruction epoch scans enrolled at `now` belong to, if scans are kept.
fn scan_epoch(v: &Vault, now: i64) -> Option<EpochId> {
    let window = v.config.retention.source_documents.as_secs();
    (window > 0).then(|| EpochId::containing(now, EpochId::length_for(window)))
}

/// When the scans just stored become due for destruction (RFC 3339).
fn destroy_after(v: &Vault, prepared: &Prepared) -> Option<String> {
    let (epoch, _) = prepared.new_card.scans.first()?;
    let window = i64::try_from(v.config.retention.source_documents.as_secs()).ok()?;
    time::OffsetDateTime::from_unix_timestamp(epoch.end().checked_add(window)?)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}
