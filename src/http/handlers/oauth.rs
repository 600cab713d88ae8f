//! The wallet's OAuth side of OpenID4VCI 1.0: the token endpoint (both
//! grants) and pushed authorization requests (RFC 9126). The authorization
//! page the holder confirms on is a page of the console's skin
//! (`console::pages::wallet_authorize`). Form-encoded; errors in OAuth's
//! shape; parameters the vault does not know are ignored, one given twice
//! is refused (RFC 6749 §3.1, §3.2).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use super::wallet::{bad_request, read_body, source};
use crate::http::dto::{ParAnswer, ParForm, TokenAnswer, TokenForm};
use crate::http::openapi::{Busy, PayloadTooLarge, WalletTokenRefused};
use crate::http::Peer;
use crate::vault::authorization::{self, AuthorizationRequest, CodeRedemption};
use crate::vault::credentials::{self as issuance, Token, WalletError, AUTHORIZATION_CODE, PRE_AUTHORIZED};
use crate::vault::Vault;

/// The one `DPoP` header of a request, if any (two are refused, RFC 9449 §4.3).
///
/// # Errors
/// `invalid_dpop_proof` (with `status`) for more than one or a non-text one.
pub fn dpop_header(headers: &HeaderMap, status: u16) -> Result<Option<&str>, WalletError> {
    let mut all = headers.get_all("dpop").iter();
    let (Some(first), None) = (all.next(), all.next()) else {
        return if headers.contains_key("dpop") {
            Err(WalletError {
                status,
                code: "invalid_dpop_proof",
                description: "exactly one DPoP header",
            })
        } else {
            Ok(None)
        };
    };
    first.to_str().map(Some).map_err(|_| WalletError {
        status,
        code: "invalid_dpop_proof",
        description: "the DPoP header is not text",
    })
}

/// The thumbprint of the key of a request's DPoP proof for `path`, if it
/// sent one (refused with 400 if it does not verify).
fn dpop_key(
    v: &Vault,
    peer: Option<&Extension<Peer>>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Option<String>, WalletError> {
    dpop_header(headers, 400)?
        .map(|proof| crate::vault::dpop::check(v, source(peer), proof, ("POST", path), None, 400))
        .transpose()
}

/// The wallet attestation headers' check (`vault::wallet_attestation`)
/// for a request naming `client_id`.
fn attested(
    v: &Vault,
    peer: Option<&Extension<Peer>>,
    headers: &HeaderMap,
    client_id: Option<&str>,
) -> Result<Option<String>, WalletError> {
    let one = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    crate::vault::wallet_attestation::check(
        v,
        source(peer),
        (one("oauth-client-attestation"), one("oauth-client-attestation-pop")),
        client_id,
    )
}

/// A form's named parameters, each at most once; the rest ignored.
fn form_fields<const N: usize>(bytes: &[u8], names: [&str; N]) -> Result<[Option<String>; N], WalletError> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (k, val) in url::form_urlencoded::parse(bytes) {
        let Some(i) = names.iter().position(|n| *n == k) else {
            continue;
        };
        if out[i].replace(val.into_owned()).is_some() {
            return Err(bad_request("a parameter is repeated"));
        }
    }
    Ok(out)
}

fn answer(t: Token) -> Json<TokenAnswer> {
    Json(TokenAnswer {
        access_token: t.access_token,
        token_type: if t.dpop { "DPoP" } else { "Bearer" }.into(),
        expires_in: t.expires_in,
    })
}

/// `POST /oid4vci/token` (form-encoded): the pre-authorized code and the
/// transaction code, or the authorization code and its PKCE verifier, for
/// an access token; bound to the DPoP proof's key when one is sent.
/// Errors as OpenID4VCI 1.0 §6.3 and RFC 6749 §5.2.
#[utoipa::path(
    post,
    path = "/oid4vci/token",
    tag = "wallets",
    description = "OAuth token endpoint (OpenID4VCI 1.0 §6). Pre-authorized code grant: the code \
        from the clerk's offer and the transaction code the clerk read. Authorization code grant: \
        the code from the authorization page, the PKCE `code_verifier`, the `client_id` and \
        `redirect_uri` of the pushed request. Either once, for an access token of five minutes; \
        with a `DPoP` proof header the token is bound to its key (`token_type` `DPoP`). Three \
        wrong transaction codes burn the offer. Parameters the vault does not know are ignored.\n\n\
        Permissions: the code (no principal).",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "an access token", body = TokenAnswer),
        WalletTokenRefused,
        PayloadTooLarge,
        Busy,
    )
)]
pub async fn token(
    State(v): State<Arc<Vault>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TokenAnswer>, WalletError> {
    let [grant_type, pre_code, tx_code, code, verifier, redirect_uri, client_id] = form_fields(
        &read_body(body).await?,
        [
            "grant_type",
            "pre-authorized_code",
            "tx_code",
            "code",
            "code_verifier",
            "redirect_uri",
            "client_id",
        ],
    )?;
    let attested_client = attested(&v, peer.as_ref(), &headers, client_id.as_deref())?;
    let jkt = dpop_key(&v, peer.as_ref(), &headers, "/oid4vci/token")?;
    let from = source(peer.as_ref());
    match grant_type.as_deref() {
        Some(PRE_AUTHORIZED) => {
            let code = pre_code.ok_or(bad_request("pre-authorized_code is missing"))?;
            // Every offer carries a tx_code object, so a token request
            // without one is malformed; it costs the offer no try.
            let tx_code = tx_code.ok_or(bad_request("tx_code is missing"))?;
            issuance::exchange(&v, from, &code, &tx_code, jkt).map(answer)
        }
        Some(AUTHORIZATION_CODE) => {
            let code = code.ok_or(bad_request("code is missing"))?;
            let req = CodeRedemption {
                code: &code,
                code_verifier: verifier.as_deref(),
                redirect_uri: redirect_uri.as_deref(),
                client_id: client_id.as_deref(),
            };
            authorization::redeem(&v, from, &req, (jkt, attested_client.as_deref())).map(answer)
        }
        _ => Err(WalletError {
            status: 400,
            code: "unsupported_grant_type",
            description: "the pre-authorized code and the authorization code grants only",
        }),
    }
}

/// `POST /oid4vci/par` (RFC 9126): the wallet pushes its authorization
/// request (with the offer's `issuer_state` and PKCE) and gets the
/// `request_uri` it opens the authorization page with.
#[utoipa::path(
    post,
    path = "/oid4vci/par",
    tag = "wallets",
    description = "Pushed authorization request (RFC 9126), required before the authorization \
        page: `response_type=code`, `client_id`, `redirect_uri`, PKCE (`code_challenge`, \
        `code_challenge_method=S256`), `scope=municipal_id` or `authorization_details`, and the \
        `issuer_state` of the clerk's offer (the flow starts from the offer: the holder has no \
        account). A `DPoP` proof header binds the code, and the token, to its key. Answers a \
        `request_uri` valid for ten minutes. Not audited (the redemption is).\n\n\
        Permissions: the offer's issuer_state (no principal).",
    request_body(content = ParForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "the request_uri", body = ParAnswer),
        WalletTokenRefused,
        PayloadTooLarge,
        Busy,
    )
)]
pub async fn par(
    State(v): State<Arc<Vault>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ParAnswer>), WalletError> {
    let [response_type, client_id, redirect_uri, scope, authorization_details, code_challenge, code_challenge_method, issuer_state, state, resource, dpop_jkt, request_uri] =
        form_fields(
            &read_body(body).await?,
            [
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "authorization_details",
                "code_challenge",
                "code_challenge_method",
                "issuer_state",
                "state",
                "resource",
                "dpop_jkt",
                "request_uri",
            ],
        )?;
    let req = AuthorizationRequest {
        response_type,
        client_id,
        redirect_uri,
        scope,
        authorization_details,
        code_challenge,
        code_challenge_method,
        issuer_state,
        state,
        resource,
        dpop_jkt,
        request_uri,
    };
    let attested_client = attested(&v, peer.as_ref(), &headers, req.client_id.as_deref())?;
    let jkt = dpop_key(&v, peer.as_ref(), &headers, "/oid4vci/par")?;
    let (request_uri, expires_in) =
        authorization::push(&v, source(peer.as_ref()), req, (jkt, attested_client.is_some()))?;
    Ok((
        StatusCode::CREATED,
        Json(ParAnswer {
            request_uri,
            expires_in,
        }),
    ))
}
