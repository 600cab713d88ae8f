use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::authz::{Action, RequestContext};
use crate::domain::access::open_photo;
use crate::domain::card::{CardStatus, RevocationReason};
use crate::domain::store::Store;
use crate::domain::vocab::Purpose;
use crate::http::dto::{ErasureRequested, Revoked};
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::{CardRef, Gate};
use crate::http::openapi::{BadRequest, NotFound, Refused};

pub(super) fn purpose_param(q: &HashMap<String, String>) -> Result<Purpose, ApiError> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "purpose") {
        let name = if k.len() <= 40 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            k.as_str()
        } else {
            "?"
        };
        return Err(ApiError::invalid(name, "unknown query parameter"));
    }
    let p = q
        .get("purpose")
        .ok_or_else(|| ApiError::invalid("purpose", "missing query parameter"))?;
    p.parse().map_err(|()| Error::UnknownPurpose("purpose".into()).into())
}

/// `GET /v1/cardholders/{card}/photo?purpose=card_printing`.
#[utoipa::path(
    get,
    path = "/v1/cardholders/{card}/photo",
    tag = "enrollment",
    description = "The holder's photo, to print the card: JPEG or PNG as enrolled.\n\n\
        Permissions: clerk (Cedar action `read_photo`, purpose `card_printing`, given as the \
        `purpose` query parameter).",
    params(
        ("card" = String, Path, description = "the card number printed on the card"),
        ("purpose" = String, Query, description = "card_printing"),
    ),
    responses(
        (status = 200, description = "the photo", content(("image/jpeg"), ("image/png"))),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn photo(
    gate: Gate,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let who = gate.enter(Action::ReadPhoto, None)?;
    let purpose = purpose_param(&q)?;
    gate.slot.purpose(purpose);
    let card = gate.card(&raw);
    let permit = gate.authorize(
        &who,
        Action::ReadPhoto,
        &card.resource(),
        &RequestContext::purpose(purpose),
    )?;
    card.number()?;
    let id = card.id;
    let v = &gate.vault;
    let (card, photo) = v.read(move |v| Ok((v.open_stored(&id), v.store.photo(&id)?))).await?;
    match (card?, photo) {
        (Some(c), Some(p)) if !matches!(c.status, CardStatus::ErasureRequested { .. }) => {
            let photo = open_photo(&permit, &v.keys, &id, &c.record, &p)?;
            let mut resp = Body::from(photo.bytes.to_vec()).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(photo.content_type));
            Ok(resp)
        }
        _ => Err(Error::NotFound.into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    reason: RevocationReason,
}

/// `POST /v1/cardholders/{card}/revoke`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/revoke",
    tag = "enrollment",
    description = "Revokes a card: it stops working at once, and the record is destroyed once \
        inactive for `retention.inactive_cardholders`.\n\n\
        Permissions: clerk (Cedar action `revoke_card`, purpose `card_administration`).",
    request_body = RevokeRequest,
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 200, description = "revoked", body = Revoked),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn revoke(gate: Gate, Path(raw): Path<String>, body: Body) -> Result<Json<Revoked>, ApiError> {
    const PURPOSE: Purpose = Purpose::CardAdministration;
    let who = gate.enter(Action::RevokeCard, Some(PURPOSE))?;
    let card = gate.card(&raw);
    gate.authorize(
        &who,
        Action::RevokeCard,
        &card.resource(),
        &RequestContext::purpose(PURPOSE),
    )?;
    let req: RevokeRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let number = card.number()?.as_str().to_owned();
    let status = CardStatus::Revoked {
        reason: req.reason,
        at: gate.vault.clock.now().unix_timestamp(),
    };
    set_status(&gate, &card, status).await?;
    Ok(Json(Revoked::new(number, req.reason)))
}

/// `DELETE /v1/cardholders/{card}`: the holder asks for erasure. The card
/// stops working now; the retention sweep destroys the record.
#[utoipa::path(
    delete,
    path = "/v1/cardholders/{card}",
    tag = "enrollment",
    description = "The holder asks for erasure: the card stops working now, and the next retention \
        sweep destroys the record.\n\n\
        Permissions: clerk (Cedar action `erase_card`, purpose `card_administration`).",
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 202, description = "erasure requested; the next sweep destroys the record", body = ErasureRequested),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn erase(gate: Gate, Path(raw): Path<String>) -> Result<(StatusCode, Json<ErasureRequested>), ApiError> {
    const PURPOSE: Purpose = Purpose::CardAdministration;
    let who = gate.enter(Action::EraseCard, Some(PURPOSE))?;
    let card = gate.card(&raw);
    gate.authorize(
        &who,
        Action::EraseCard,
        &card.resource(),
        &RequestContext::purpose(PURPOSE),
    )?;
    card.number()?;
    let status = CardStatus::ErasureRequested {
        at: gate.vault.clock.now().unix_timestamp(),
    };
    set_status(&gate, &card, status).await?;
    Ok((StatusCode::ACCEPTED, Json(ErasureRequested::default())))
}

async fn set_status(gate: &Gate, card: &CardRef, status: CardStatus) -> Result<(), ApiError> {
    let v = &gate.vault;
    let card_id = card.id;
    // Forget the cached record before and after: no fact answer given after
    // this returns can come from the old status. The change is made from a
    // fresh read and applies only if the record has not changed since.
    v.cards.invalidate(&card_id);
    let current = v
        .read(move |v| Ok(v.open_stored(&card_id)))
        .await??
        .ok_or(Error::NotFound)?;
    let change = crate::vault::cards::status_change(v, &card_id, &current, status)?;
    // Every status this sets (revoked, erasure requested) ends the card's
    // holder-held credentials in the same transaction.
    let revoke = crate::vault::credential_indices::revoke(v, &card_id, &current.record)?;
    let result = gate.commit(vec![change, revoke]).await;
    v.cards.invalidate(&card_id);
    result.map(drop)
}
