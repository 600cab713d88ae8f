//! `GET /v1/status-lists/{n}`: the Token Status Lists verifiers fetch,
//! public and cacheable, as a JWT or (asked by name) a CWT.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::http::error::{ApiError, Error};
use crate::http::openapi::{Busy, NotFound};
use crate::vault::credentials as issuance;
use crate::vault::Vault;

/// `GET /v1/status-lists/{n}`: a signed Token Status List, `statuslist+jwt`
/// or, asked with `Accept: application/statuslist+cwt`, the CWT form.
#[utoipa::path(
    get,
    path = "/v1/status-lists/{n}",
    tag = "wallets",
    description = "IETF Token Status List `n` as a `statuslist+jwt` signed ES256 by an issuer key \
        (one bit per credential; set: revoked), or with `Accept: application/statuslist+cwt` the same \
        bits as a CWT (a tagged COSE_Sign1; claims sub, iat, exp, ttl, status_list). Cacheable for five \
        minutes. Not audited.\n\n\
        Permissions: none (public).",
    params(("n" = String, Path, description = "the list's number")),
    responses(
        (status = 200, description = "the signed list", content(
            (String = "application/statuslist+jwt"),
            (Vec<u8> = "application/statuslist+cwt"),
        )),
        NotFound,
        Busy,
    )
)]
///
/// # Errors
/// 404 for a list not begun (or not a number), 503 when storage fails.
pub async fn status_list(
    State(v): State<Arc<Vault>>,
    Path(n): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let n: u32 = n
        .parse()
        .ok()
        .filter(|_| n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Error::NotFound)?;
    // The CWT form only when asked for by name: the JWT stays the default.
    let cwt = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(crate::crypto::status_cwt::CONTENT_TYPE))
        });
    let token = issuance::status_list(&v, n, cwt).await?.ok_or(Error::NotFound)?;
    let mut resp = token.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if cwt {
            crate::crypto::status_cwt::CONTENT_TYPE
        } else {
            "application/statuslist+jwt"
        }),
    );
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    // Public and the same for every verifier: caches (and verifiers) may
    // keep it as long as the token's `ttl` says, so that a presentation
    // needs no request to the vault at all.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(resp)
}
