//! Holder-held credentials: the clerk's offer (audited, Cedar-decided).
//! The wallet's side — OpenID4VCI's token, nonce and credential
//! endpoints, the metadata, the issuer's keys and the status lists — is
//! `wallet`.

use axum::extract::Path;
use axum::Json;
use serde::Serialize;

use crate::authz::{Action, RequestContext};
use crate::domain::vocab::Purpose;
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::openapi::{NotFound, Refused};
use crate::vault::credentials as issuance;

/// `POST /v1/cardholders/{card}/credential-offer`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialOfferAnswer {
    /// `openid-credential-offer://?credential_offer=…`, shown as a QR code.
    pub offer_uri: String,
    /// The six-digit transaction code the clerk reads to the holder (the
    /// wallet asks for it; three wrong tries burn the offer).
    pub user_pin: String,
}

/// `POST /v1/cardholders/{card}/credential-offer`.
#[utoipa::path(
    post,
    path = "/v1/cardholders/{card}/credential-offer",
    tag = "enrollment",
    description = "An OpenID4VCI credential offer (pre-authorized code, ten minutes, single use) for \
        the holder's wallet: a batch of ten SD-JWT VCs (`dc+sd-jwt`, vct \
        `urn:civic-vault:municipal-id:1`) with selectively disclosable `resident`, `age_over_N` and \
        `program`. Only for a valid card.\n\n\
        Permissions: clerk (Cedar action `offer_credential`, purpose `card_administration`).",
    params(("card" = String, Path, description = "the card number printed on the card")),
    responses(
        (status = 200, description = "the offer", body = CredentialOfferAnswer),
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn offer(gate: Gate, Path(raw): Path<String>) -> Result<Json<CredentialOfferAnswer>, ApiError> {
    const PURPOSE: Purpose = Purpose::CardAdministration;
    let who = gate.enter(Action::OfferCredential, Some(PURPOSE))?;
    let card = gate.card(&raw);
    let permit = gate.authorize(
        &who,
        Action::OfferCredential,
        &card.resource(),
        &RequestContext::purpose(PURPOSE),
    )?;
    card.number()?;
    let (offer_uri, user_pin) =
        issuance::offer(&gate.vault, gate.source(), &permit, card.id, card.subject.clone()).await?;
    Ok(Json(CredentialOfferAnswer { offer_uri, user_pin }))
}
