//! Holder-held credentials: the clerk's offer (audited, Cedar-decided) and
//! the wallet-facing OpenID4VCI endpoints, authenticated by the
//! pre-authorized code and the access token it buys, not by a principal.
//! Those answer in OAuth's error shape (`error`, `error_description`).
//! The issuer metadata, the issuer's JWKS and the status lists are public
//! and unaudited: fetching them says nothing about any credential.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::{BodyExt, Limited};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::authz::{Action, RequestContext};
use crate::domain::credential::{BATCH, VCT};
use crate::domain::vocab::Purpose;
use crate::http::error::{ApiError, Error};
use crate::http::gate::Gate;
use crate::http::openapi::{NotFound, Refused};
use crate::vault::credentials::{self as issuance, issuer_url, WalletError, CONFIGURATION_ID, PRE_AUTHORIZED};
use crate::vault::Vault;

/// A wallet request body is at most this (ten key proofs fit many times over).
const WALLET_LIMIT: usize = 32 * 1024;

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
    let (offer_uri, user_pin) = issuance::offer(&gate.vault, &permit, card.id, card.subject.clone()).await?;
    Ok(Json(CredentialOfferAnswer { offer_uri, user_pin }))
}

impl IntoResponse for WalletError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (
            status,
            Json(json!({"error": self.code, "error_description": self.description})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

fn bad_request(description: &'static str) -> WalletError {
    WalletError {
        status: 400,
        code: "invalid_request",
        description,
    }
}

async fn read_body(body: Body) -> Result<Vec<u8>, WalletError> {
    Limited::new(body, WALLET_LIMIT)
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .map_err(|_| bad_request("the body could not be read or is too large"))
}

/// `GET /.well-known/openid-credential-issuer`.
pub async fn metadata(State(v): State<Arc<Vault>>) -> Json<Value> {
    let iss = issuer_url(&v);
    Json(json!({
        "credential_issuer": iss,
        "token_endpoint": format!("{iss}/oid4vci/token"),
        "credential_endpoint": format!("{iss}/oid4vci/credential"),
        "nonce_endpoint": format!("{iss}/oid4vci/nonce"),
        "batch_credential_issuance": {"batch_size": BATCH},
        "credential_configurations_supported": {CONFIGURATION_ID: {
            "format": "dc+sd-jwt",
            "vct": VCT,
            "cryptographic_binding_methods_supported": ["jwk"],
            "credential_signing_alg_values_supported": ["EdDSA"],
            "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["EdDSA"]}},
        }},
    }))
}

/// `GET /.well-known/jwt-vc-issuer`: the issuer's keys (SD-JWT VC issuer
/// metadata): every issuer key still verifying credentials, and the
/// attestation key that signs status lists.
pub async fn jwt_vc_issuer(State(v): State<Arc<Vault>>) -> Json<Value> {
    let mut keys = v.credentials.issuer.jwks();
    keys.push(v.attestor.jwk());
    Json(json!({"issuer": issuer_url(&v), "jwks": {"keys": keys}}))
}

/// `POST /oid4vci/token` (form-encoded): the pre-authorized code and the
/// transaction code for an access token.
pub async fn token(State(v): State<Arc<Vault>>, body: Body) -> Result<Json<Value>, WalletError> {
    let bytes = read_body(body).await?;
    let mut grant_type = None;
    let mut code = None;
    let mut tx_code = None;
    for (k, val) in url::form_urlencoded::parse(&bytes) {
        match k.as_ref() {
            "grant_type" => grant_type = Some(val.into_owned()),
            "pre-authorized_code" => code = Some(val.into_owned()),
            "tx_code" => tx_code = Some(val.into_owned()),
            _ => {}
        }
    }
    if grant_type.as_deref() != Some(PRE_AUTHORIZED) {
        return Err(WalletError {
            status: 400,
            code: "unsupported_grant_type",
            description: "only the pre-authorized code grant",
        });
    }
    let code = code.ok_or(bad_request("pre-authorized_code is missing"))?;
    let (access_token, expires_in) = issuance::exchange(&v, &code, tx_code.as_deref())?;
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    })))
}

/// `POST /oid4vci/nonce`: a fresh `c_nonce` for key proofs.
pub async fn nonce(State(v): State<Arc<Vault>>) -> Result<Json<Value>, WalletError> {
    let c_nonce = v.credentials.nonce(v.clock.now().unix_timestamp())?;
    Ok(Json(json!({"c_nonce": c_nonce})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialRequest {
    credential_configuration_id: String,
    proofs: Proofs,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Proofs {
    jwt: Vec<String>,
}

/// `POST /oid4vci/credential`: one credential per key proof.
pub async fn credential(
    State(v): State<Arc<Vault>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, WalletError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let Some(token) = token else {
        return Err(WalletError {
            status: 401,
            code: "invalid_token",
            description: "a bearer access token is required",
        });
    };
    let bytes = read_body(body).await?;
    let req: CredentialRequest =
        serde_json::from_slice(&bytes).map_err(|_| bad_request("the body is not a credential request"))?;
    if req.credential_configuration_id != CONFIGURATION_ID {
        return Err(WalletError {
            status: 400,
            code: "unknown_credential_configuration",
            description: "the vault issues municipal_id only",
        });
    }
    let credentials = issuance::issue(&v, token, &req.proofs.jwt).await?;
    let list: Vec<Value> = credentials.into_iter().map(|c| json!({"credential": c})).collect();
    Ok(Json(json!({"credentials": list})))
}

/// `GET /v1/status-lists/{n}`: a signed Token Status List (`statuslist+jwt`).
///
/// # Errors
/// 404 for a list not begun (or not a number), 503 when storage fails.
pub async fn status_list(State(v): State<Arc<Vault>>, Path(n): Path<String>) -> Result<Response, ApiError> {
    let n: u32 = n
        .parse()
        .ok()
        .filter(|_| n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Error::NotFound)?;
    let token = issuance::status_list(&v, n).await?.ok_or(Error::NotFound)?;
    let mut resp = token.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/statuslist+jwt"),
    );
    // Public and the same for every verifier: caches (and verifiers) may
    // keep it as long as the token's `ttl` says, so that a presentation
    // needs no request to the vault at all.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(resp)
}
