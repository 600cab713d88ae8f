//! The printed card: `GET /v1/cardholders/{card}/print` (audited,
//! Cedar-decided), the PDF the counter's printer takes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::cards::purpose_param;
use crate::authz::{Action, RequestContext};
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, NotFound, Refused};

/// `GET /v1/cardholders/{card}/print?purpose=card_printing`.
#[utoipa::path(
    get,
    path = "/v1/cardholders/{card}/print",
    tag = "enrollment",
    description = "The card, print-ready: a PDF of two pages at ID-1 (CR80) size, front (program, \
        photo, name, birth date, card number, dates) and back (a QR code holding the card's seal, \
        the address the card prints, where to check it). The seal is a CWT in a COSE_Sign1 signed \
        ES256 by the credential issuer key, base45 in an alphanumeric QR code (`CV1:` prefix), \
        with what the card prints, the SHA-256 of the printed photo and a Token Status List \
        reference: revoking, replacing or erasing the card sets its bit. Only for a valid card.\n\n\
        Permissions: clerk (Cedar action `print_card`, purpose `card_printing`).",
    params(
        ("card" = String, Path, description = "the card number printed on the card"),
        ("purpose" = String, Query, description = "card_printing"),
    ),
    responses(
        (status = 200, description = "the card to print", content_type = "application/pdf", body = Vec<u8>),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn print(
    gate: Gate,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let who = gate.enter(Action::PrintCard, None)?;
    let purpose = purpose_param(&q)?;
    gate.slot.purpose(purpose);
    let card = gate.card(&raw);
    let permit = gate.authorize(
        &who,
        Action::PrintCard,
        &card.resource(),
        &RequestContext::purpose(purpose),
    )?;
    let number = card.number()?.as_str().to_owned();
    let pdf = crate::vault::printing::print(&gate.vault, &permit, card.id, &number).await?;
    let mut resp = Body::from(pdf).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"card.pdf\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
