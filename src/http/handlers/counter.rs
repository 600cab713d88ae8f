//! The counter: look a card up with the holder present, renew, replace,
//! update, the print queue, printed and picked up. Each is a Cedar decision
//! for the clerk (purpose `card_administration`) on the card, audited with
//! the card's keyed subject; the work is `vault::counter`'s.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::authz::{Action, Permit, RequestContext};
use crate::domain::card::ReplacementReason;
use crate::domain::enrollment::ProofInput;
use crate::domain::principal::Principal;
use crate::domain::vocab::Purpose;
use crate::http::dto::{CardLookup, CounterStep, PrintQueue, QueuedCard, Renewal, Renewed, Replaced, Updated};
use crate::http::error::{ApiError, Error};
use crate::http::extract::{DEFAULT_LIMIT, ENROLL_LIMIT};
use crate::http::gate::{CardRef, Gate};
use crate::http::openapi::{BadRequest, Conflict, NotFound, PayloadTooLarge, Refused, Unprocessable};
use crate::vault::counter::{self, ApplicantUpdate, Step};

const PURPOSE: Purpose = Purpose::CardAdministration;

/// The prologue of every card action at the counter: who, which card, and
/// Cedar's permit for `action` on it. A text that is not a card number is
/// decided and audited like any card, then answered 404.
fn admit_card(
    gate: &Gate,
    raw: &str,
    action: Action,
) -> Result<(std::sync::Arc<Principal>, CardRef, Permit), ApiError> {
    let who = gate.enter(action, Some(PURPOSE))?;
    let card = gate.card(raw);
    let permit = gate.authorize(&who, action, &card.resource(), &RequestContext::purpose(PURPOSE))?;
    card.number()?;
    Ok((who, card, permit))
}

/// Commits the changes of a card action; the card cache forgets the cards
/// before and after, so no answer after this comes from the old record.
async fn commit(
    gate: &Gate,
    ids: &[crate::domain::card::CardId],
    changes: Vec<crate::domain::store::Change>,
) -> Result<(), ApiError> {
    for id in ids {
        gate.vault.cards.invalidate(id);
    }
    let done = gate.commit(changes).await;
    for id in ids {
        gate.vault.cards.invalidate(id);
    }
    done.map(drop)
}

fn day(d: time::Date) -> String {
    d.to_string()
}

/// `GET /v1/cardholders/{card}?purpose=card_administration`.
#[utoipa::path(
    get,
    path = "/v1/cardholders/{card}",
    tag = "enrollment",
    description = "A card as the counter needs it with the holder present: status, dates, the name to \
        check against the holder, whether it may be renewed, where it is between printer and holder.\n\n\
        Permissions: clerk (Cedar action `lookup_card`, purpose `card_administration`, given as the \
        `purpose` query parameter).",
    params(
        ("card" = String, Path, description = "the card number printed on the card"),
        ("purpose" = String, Query, description = "card_administration"),
    ),
    responses((status = 200, description = "the card", body = CardLookup), BadRequest, NotFound, Refused),
    security(("bearer" = []))
)]
pub async fn lookup(
    gate: Gate,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<CardLookup>, ApiError> {
    if q.get("purpose").map(String::as_str) != Some(PURPOSE.as_str()) || q.len() != 1 {
        gate.enter(Action::LookupCard, Some(PURPOSE))?;
        return Err(ApiError::invalid(
            "purpose",
            "must be card_administration (the only query parameter)",
        ));
    }
    let (_, card, permit) = admit_card(&gate, &raw, Action::LookupCard)?;
    let l = counter::lookup(&gate.vault, card.id, &permit).await?;
    Ok(Json(CardLookup {
        card_number: l.card_number,
        status: l.status.to_owned(),
        issued_on: day(l.issued_on),
        expires_on: l.expires_on.map(day),
        full_name: l.full_name,
        renewal: l.renewal.map(|(eligible, from, to)| Renewal {
            eligible,
            window: [day(from), day(to)],
        }),
        delivery: l.delivery,
        counter: l.counter.to_owned(),
        replaces: l.replaces,
        replaced_by: l.replaced_by,
        languages: l.languages,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// Documents meeting the program's rules again, as at enrollment.
    proofs: Vec<ProofInput>,
}

/// `POST /v1/cardholders/{card}/renew`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/renew",
    tag = "enrollment",
    description = "Renews a card inside the program's window (IDNYC: 60 days before expiry to 6 months \
        after) on documents meeting the rules again; the card is valid anew by the holder's age band and \
        goes back to the print queue.\n\n\
        Permissions: clerk (Cedar action `renew_card`, purpose `card_administration`).",
    request_body = RenewRequest,
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 200, description = "renewed", body = Renewed),
        BadRequest,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn renew(gate: Gate, Path(raw): Path<String>, body: Body) -> Result<Json<Renewed>, ApiError> {
    let (who, card, permit) = admit_card(&gate, &raw, Action::RenewCard)?;
    let req: RenewRequest = gate.body(body, ENROLL_LIMIT).await?;
    let number = card.number()?.as_str().to_owned();
    let (changes, expires_on) = counter::renew(&gate.vault, card.id, req.proofs, &permit, &who.id)
        .await
        .inspect_err(|e| record_missing(&gate, e))?;
    commit(&gate, &[card.id], changes).await?;
    Ok(Json(Renewed {
        card_number: number,
        expires_on: expires_on.map(day),
    }))
}

/// A 422's unmet requirements go into the audit entry by name (reports count them).
fn record_missing(gate: &Gate, e: &Error) {
    if let Error::InsufficientProof { missing } = e {
        gate.slot.missing(missing);
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRequest {
    reason: ReplacementReason,
}

/// `POST /v1/cardholders/{card}/replace`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/replace",
    tag = "enrollment",
    description = "Replaces a lost, stolen, damaged or never received card with a new number for the \
        same holder and expiry; the old number answers `card_valid: false` everywhere from now on.\n\n\
        Permissions: clerk (Cedar action `replace_card`, purpose `card_administration`).",
    request_body = ReplaceRequest,
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 201, description = "the new card", body = Replaced),
        BadRequest,
        NotFound,
        Conflict,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn replace(
    gate: Gate,
    Path(raw): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<Replaced>), ApiError> {
    let (_, card, permit) = admit_card(&gate, &raw, Action::ReplaceCard)?;
    let req: ReplaceRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let old = card.number()?.clone();
    let (changes, new_number, expires_on) = counter::replace(&gate.vault, card.id, &old, req.reason, &permit).await?;
    let new_id = gate.vault.keys.blind.card_id(new_number.as_str());
    commit(&gate, &[card.id, new_id], changes).await?;
    Ok((
        StatusCode::CREATED,
        Json(Replaced {
            card_number: new_number.as_str().to_owned(),
            replaces: old.as_str().to_owned(),
            expires_on: expires_on.map(day),
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// Only the fields that change.
    applicant: ApplicantUpdate,
    /// A document proving identity for a new name, residency for a new address.
    #[serde(default)]
    proofs: Vec<ProofInput>,
}

/// `POST /v1/cardholders/{card}/update`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/update",
    tag = "enrollment",
    description = "Updates the holder's name (with a document proving identity), address (with one \
        proving residency, unless the new address is none), gender (self-designated) or languages; a \
        new name or address sends the card back to the print queue.\n\n\
        Permissions: clerk (Cedar action `update_card`, purpose `card_administration`).",
    request_body = UpdateRequest,
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 200, description = "updated", body = Updated),
        BadRequest,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn update(gate: Gate, Path(raw): Path<String>, body: Body) -> Result<Json<Updated>, ApiError> {
    let (who, card, permit) = admit_card(&gate, &raw, Action::UpdateCard)?;
    let req: UpdateRequest = gate.body(body, ENROLL_LIMIT).await?;
    let number = card.number()?.as_str().to_owned();
    let changes = counter::update(&gate.vault, card.id, &req.applicant, req.proofs, &permit, &who.id)
        .await
        .inspect_err(|e| record_missing(&gate, e))?;
    let reprint = changes.len() > 1;
    commit(&gate, &[card.id], changes).await?;
    Ok(Json(Updated {
        card_number: number,
        reprint,
    }))
}

/// `GET /v1/print-queue`.
#[utoipa::path(
    get,
    path = "/v1/print-queue",
    tag = "enrollment",
    description = "Cards waiting to be printed, and cards printed and waiting at the counter (flagged \
        past the program's pickup window).\n\n\
        Permissions: clerk (Cedar action `read_print_queue`, purpose `card_administration`).",
    responses((status = 200, description = "the queue", body = PrintQueue), Refused),
    security(("bearer" = []))
)]
pub async fn print_queue(gate: Gate) -> Result<Json<PrintQueue>, ApiError> {
    let (_, permit) = gate.admit(Action::ReadPrintQueue, PURPOSE)?;
    let cards = counter::queue(&gate.vault, &permit)
        .await?
        .into_iter()
        .map(|q| QueuedCard {
            card_number: q.card_number,
            full_name: q.full_name,
            delivery: q.delivery,
            state: q.state.to_owned(),
            flagged: q.flagged,
        })
        .collect();
    Ok(Json(PrintQueue { cards }))
}

async fn counter_step(gate: Gate, raw: String, action: Action, step: Step) -> Result<Json<CounterStep>, ApiError> {
    let (_, card, _) = admit_card(&gate, &raw, action)?;
    let number = card.number()?.as_str().to_owned();
    let (changes, state) = counter::step(&gate.vault, card.id, step).await?;
    commit(&gate, &[card.id], changes).await?;
    Ok(Json(CounterStep {
        card_number: number,
        counter: state.to_owned(),
    }))
}

/// `POST /v1/cardholders/{card}/printed`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/printed",
    tag = "enrollment",
    description = "The card is printed: a mailed card leaves the queue; one for pickup waits at the \
        counter.\n\n\
        Permissions: clerk (Cedar action `mark_printed`, purpose `card_administration`).",
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses((status = 200, description = "printed", body = CounterStep), BadRequest, NotFound, Conflict, Refused),
    security(("bearer" = []))
)]
pub async fn printed(gate: Gate, Path(raw): Path<String>) -> Result<Json<CounterStep>, ApiError> {
    counter_step(gate, raw, Action::MarkPrinted, Step::Printed).await
}

/// `POST /v1/cardholders/{card}/picked-up`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/picked-up",
    tag = "enrollment",
    description = "The holder picked the card up at the counter.\n\n\
        Permissions: clerk (Cedar action `mark_picked_up`, purpose `card_administration`).",
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses((status = 200, description = "picked up", body = CounterStep), BadRequest, NotFound, Conflict, Refused),
    security(("bearer" = []))
)]
pub async fn picked_up(gate: Gate, Path(raw): Path<String>) -> Result<Json<CounterStep>, ApiError> {
    counter_step(gate, raw, Action::MarkPickedUp, Step::PickedUp).await
}
