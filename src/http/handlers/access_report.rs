//! `POST /v1/cardholders/{card}/access-report`: who asked about a card,
//! printed for its holder at the counter.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::Deserialize;

use crate::authz::{Action, RequestContext};
use crate::domain::vocab::Purpose;
use crate::http::dto::AccessReportAnswer;
use crate::http::error::ApiError;
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, NotFound, PayloadTooLarge, Refused};

const PURPOSE: Purpose = Purpose::CardAdministration;

/// The optional body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessReportRequest {
    /// A BCP 47 tag of one of the letter's languages (en, es, zh-Hant, ru,
    /// bn, ht, ko, ar, ur, fr, pl); by default the first of the holder's languages the
    /// letter is written in, else English.
    #[serde(default)]
    language: Option<String>,
}

/// `POST /v1/cardholders/{card}/access-report`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/access-report",
    tag = "enrollment",
    description = "Who asked about this card, for its holder, who is at the counter with the card in \
        hand: every fact query (answered or refused), photo read and answered legal request about the \
        card — day, which system or office, purpose or kind of process, what was released — and a \
        letter in the holder's language. A legal request whose notice a court prohibited appears only \
        once the prohibition has ended; the letter always says that some entries may be withheld for \
        now and never which, so `withheld_until` is always `null` (a date would tell the holder that a \
        prohibited request exists). Built from the audit index; the holder's own counter visits are \
        not listed. The body is optional.\n\n\
        Permissions: clerk (Cedar action `access_report`, purpose `card_administration`).",
    request_body(content = Option<AccessReportRequest>, description = "optional: the letter's language"),
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 200, description = "the report and the letter", body = AccessReportAnswer),
        BadRequest,
        NotFound,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn access_report(
    gate: Gate,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AccessReportAnswer>, ApiError> {
    let who = gate.enter(Action::AccessReport, Some(PURPOSE))?;
    let card = gate.card(&raw);
    let permit = gate.authorize(
        &who,
        Action::AccessReport,
        &card.resource(),
        &RequestContext::purpose(PURPOSE),
    )?;
    let request: AccessReportRequest = if headers.contains_key(header::CONTENT_TYPE) {
        gate.body(body, DEFAULT_LIMIT).await?
    } else {
        crate::http::extract::empty_body(body).await?;
        AccessReportRequest::default()
    };
    card.number()?;
    let subject = card.subject.clone();
    let report =
        crate::vault::access_report::access_report(&gate.vault, card.id, subject, &permit, request.language.as_deref())
            .await?;
    Ok(Json(AccessReportAnswer {
        card_number: report.card_number,
        language: report.language.tag().to_owned(),
        entries: report.entries,
        withheld_until: None,
        letter: report.letter,
    }))
}
