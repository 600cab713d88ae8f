use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use rand::RngCore;

use crate::authz::{Action, RequestContext, Resource};
use crate::domain::holds::{Hold, HoldRequest, HoldStatus};
use crate::domain::store::{Change, Store};
use crate::domain::vocab::Purpose;
use crate::http::dto::{HoldList, HoldView};
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Conflict, NotFound, PayloadTooLarge, Refused};
use crate::vault::Vault;

const PURPOSE: Purpose = Purpose::LegalProcess;

/// `POST /v1/legal/holds`: legal asks; the hold is pending until approved.
#[utoipa::path(
    post,
    path = "/v1/legal/holds",
    tag = "legal",
    description = "Asks for a hold on one card, citing a case: pending until a privacy officer \
        approves it.\n\n\
        Permissions: legal (Cedar action `request_hold`, purpose `legal_process`).",
    request_body = crate::domain::holds::HoldRequest,
    responses(
        (status = 201, description = "hold requested (pending approval)", body = HoldView),
        BadRequest,
        NotFound,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn request(gate: Gate, body: Body) -> Result<(StatusCode, Json<HoldView>), ApiError> {
    let v = &gate.vault;
    let who = gate.enter(Action::RequestHold, Some(PURPOSE))?;
    let req: HoldRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let card = gate.card(&req.card_number);
    gate.authorize(
        &who,
        Action::RequestHold,
        &card.resource(),
        &RequestContext::purpose(PURPOSE),
    )?;
    let reference = req.reference.trim();
    if reference.is_empty() || reference.chars().count() > 100 {
        return Err(ApiError::invalid("reference", "must be 1 to 100 characters"));
    }
    if !crate::domain::text::is_plain(reference) {
        return Err(ApiError::invalid(
            "reference",
            "must not hold control, bidirectional or invisible characters",
        ));
    }
    card.number()?;
    let card_id = card.id;
    if v.card(card_id).await?.is_none() {
        return Err(Error::NotFound.into());
    }
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let hold = Hold {
        id: format!("hold_{}", hex::encode(id)),
        reference: reference.to_owned(),
        card_id,
        card_subject: card.subject,
        status: HoldStatus::Pending,
        requested_by: who.id.clone(),
        requested_at: v.clock.now().unix_timestamp(),
        approved_by: None,
        approved_at: None,
        released_by: None,
        released_at: None,
    };
    let view = HoldView::from(&hold);
    gate.commit(vec![Change::PutHold(Box::new(hold))]).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /v1/legal/holds/{id}/approve`: a privacy officer other than the asker.
#[utoipa::path(
    post,
    path = "/v1/legal/holds/{id}/approve",
    operation_id = "approve_hold",
    tag = "legal",
    description = "Makes a pending hold active: the card's record is kept from destruction and its \
        scans still inside their window are preserved under a key of the hold's own (`scans_held`). \
        400 when the hold is not pending.\n\n\
        Permissions: privacy officer other than the legal staff member who asked (Cedar action \
        `approve_hold`, purpose `legal_process`; the floor's `floor.two_person_holds`).",
    params(("id" = String, Path, description = "the hold id")),
    responses(
        (status = 200, description = "the hold, active", body = HoldView),
        BadRequest,
        NotFound,
        Conflict,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn approve(gate: Gate, Path(id): Path<String>) -> Result<Json<HoldView>, ApiError> {
    change(&gate, &id, Action::ApproveHold).await
}

/// `POST /v1/legal/holds/{id}/release`: legal or a privacy officer.
#[utoipa::path(
    post,
    path = "/v1/legal/holds/{id}/release",
    tag = "legal",
    description = "Releases a pending or active hold; the scans it preserved are destroyed \
        (certified in the audit chain). 400 when the hold is already released.\n\n\
        Permissions: legal or privacy officer (Cedar action `release_hold`, purpose `legal_process`).",
    params(("id" = String, Path, description = "the hold id")),
    responses(
        (status = 200, description = "the hold, released", body = HoldView),
        BadRequest,
        NotFound,
        Conflict,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn release(gate: Gate, Path(id): Path<String>) -> Result<Json<HoldView>, ApiError> {
    change(&gate, &id, Action::ReleaseHold).await
}

async fn change(gate: &Gate, id: &str, action: Action) -> Result<Json<HoldView>, ApiError> {
    let v = &gate.vault;
    let who = gate.enter(action, Some(PURPOSE))?;
    let found = v.read(|v| v.store.holds()).await?.into_iter().find(|h| h.id == id);
    let subject = found
        .as_ref()
        .map_or_else(|| v.keys.subjects.subject("hold", id), |h| h.card_subject.clone());
    gate.slot.subject(subject.clone());
    let context = RequestContext {
        // An unknown hold has no asker: the decision is then about the role
        // alone, and the answer is 404 for those allowed to act on holds.
        requested_by_self: Some(found.as_ref().is_some_and(|h| h.requested_by == who.id)),
        ..RequestContext::purpose(PURPOSE)
    };
    gate.authorize(&who, action, &Resource::Card(subject), &context)?;
    let mut hold = found.ok_or(Error::NotFound)?;
    let now = v.clock.now().unix_timestamp();
    let mut changes = Vec::new();
    let mut audit = Vec::new();
    let mut scans_held = 0;
    let mut scans_released = 0;
    match (action, hold.status) {
        (Action::ApproveHold, HoldStatus::Pending) => {
            hold.status = HoldStatus::Active;
            hold.approved_by = Some(who.id.clone());
            hold.approved_at = Some(now);
            let files = preserve_scans(v, &hold).await?;
            scans_held = files.len();
            changes.push(Change::PutHeldScans {
                hold_id: hold.id.clone(),
                files,
            });
        }
        (Action::ReleaseHold, HoldStatus::Pending | HoldStatus::Active) => {
            hold.status = HoldStatus::Released;
            hold.released_by = Some(who.id.clone());
            hold.released_at = Some(now);
            let hold_id = hold.id.clone();
            let count = v.read(move |v| v.store.held_scans(&hold_id)).await?.len();
            // With a cluster, the certificate waits until every node has
            // destroyed the hold's key (below).
            scans_released = count;
            if count > 0 && v.cluster.get().is_none() {
                audit.push(crate::vault::retention::hold_release_certificate(
                    v,
                    &who.id,
                    &hold.id,
                    count as u64,
                ));
            }
            changes.push(Change::RemoveHeldScans {
                hold_id: hold.id.clone(),
                count,
            });
        }
        _ => return Err(ApiError::invalid("id", "the hold is not in a state this allows")),
    }
    let view = HoldView {
        scans_held: Some(scans_held),
        ..HoldView::from(&hold)
    };
    let released = hold.status == HoldStatus::Released;
    let hold_id = hold.id.clone();
    changes.insert(0, Change::PutHold(Box::new(hold)));
    gate.commit_with(changes, audit).await?;
    if released {
        release_key(v, &who.id, &hold_id, scans_released).await?;
    }
    Ok(Json(view))
}

/// Destroys a released hold's key. The preserved scans' key goes last: a
/// crash before this leaves a key whose hold is released, which the next
/// sweep destroys. With a cluster, the certificate of the scans it kept is
/// written once every node has destroyed the key too.
async fn release_key(v: &Arc<Vault>, principal: &str, hold_id: &str, count: usize) -> Result<(), ApiError> {
    let vault = Arc::clone(v);
    let id = hold_id.to_owned();
    let destroyed = tokio::task::spawn_blocking(move || vault.keys.holds.destroy(&id)).await;
    let Some(cluster) = v.cluster.get() else { return Ok(()) };
    if !matches!(destroyed, Ok(Ok(()))) {
        return Ok(());
    }
    let key_file = format!("{hold_id}.key");
    if count == 0 {
        if let Err(e) = cluster.destroyed(&key_file, None) {
            tracing::error!(error = %e, "hold key destruction could not be queued for the cluster");
        }
        return Ok(());
    }
    let draft = crate::vault::retention::hold_release_certificate(v, principal, hold_id, count as u64);
    if let Some(certificate) = &draft.certificate {
        crate::vault::keyrep::certify(v, &key_file, Some(principal), &certificate.data_class, certificate).await?;
    }
    Ok(())
}

/// Re-encrypts the card's scans that are still inside their window from
/// their epoch key to a new key for this hold.
async fn preserve_scans(v: &Arc<Vault>, hold: &Hold) -> Result<Vec<Vec<u8>>, ApiError> {
    let epochs = v.keys.scans.epochs();
    let card_id = hold.card_id;
    let scans = v.read(move |v| v.store.card_scans(&card_id, &epochs)).await?;
    if scans.is_empty() {
        return Ok(Vec::new());
    }
    let vault = Arc::clone(v);
    let hold_id = hold.id.clone();
    tokio::task::spawn_blocking(move || {
        let recipient = vault
            .keys
            .holds
            .create(&hold_id)
            .map_err(|e| Error::unavailable(e.to_string()))?;
        let mut files = Vec::with_capacity(scans.len());
        for (epoch, file) in scans {
            let Some(identity) = vault.keys.scans.identity(epoch) else {
                continue;
            };
            let plain = zeroize::Zeroizing::new(
                age::decrypt(identity.as_ref(), &file).map_err(|e| Error::internal(e.to_string()))?,
            );
            files.push(age::encrypt(&recipient, &plain).map_err(|e| Error::internal(e.to_string()))?);
        }
        Ok::<_, Error>(files)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
    .map_err(ApiError::from)
}

/// `GET /v1/legal/holds`.
#[utoipa::path(
    get,
    path = "/v1/legal/holds",
    operation_id = "list_holds",
    tag = "legal",
    description = "Every hold, pending, active or released.\n\n\
        Permissions: legal, privacy officer or auditor (Cedar action `list_holds`, purpose `oversight`).",
    responses(
        (status = 200, description = "holds", body = HoldList),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn list(gate: Gate) -> Result<Json<HoldList>, ApiError> {
    gate.admit(Action::ListHolds, Purpose::Oversight)?;
    let holds = gate.vault.read(|v| v.store.holds()).await?;
    Ok(Json(HoldList {
        holds: holds.iter().map(HoldView::from).collect(),
    }))
}
