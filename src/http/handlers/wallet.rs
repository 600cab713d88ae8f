//! The wallet-facing OpenID4VCI 1.0 endpoints (token, nonce, credential),
//! authenticated by the pre-authorized code and the access token it buys,
//! not by a principal; they answer in OAuth's error shape (`error`,
//! `error_description`). The issuer metadata (OpenID4VCI and RFC 8414),
//! the issuer's JWKS and the status lists are public and unaudited:
//! fetching them says nothing about any credential.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;

use crate::crypto::jose;
use crate::domain::credential::{BATCH, VCT};
use crate::http::dto::{
    AuthorizationServerMetadata, BatchIssuance, Configurations, CredentialAnswer, CredentialConfiguration,
    CredentialDisplay, CredentialMetadata, CredentialRequestBody, IssuedCredential, IssuerJwk, IssuerJwks,
    IssuerMetadata, JwtVcIssuer, NonceAnswer, OAuthError, ProofType, ProofTypes,
};
use crate::http::error::{ApiError, Error};
use crate::http::openapi::{Busy, PayloadTooLarge, WalletRefused};
use crate::http::Peer;
use crate::vault::credentials::{
    self as issuance, issuer_url, WalletError, AUTHORIZATION_CODE, CONFIGURATION_ID, PRE_AUTHORIZED,
};
use crate::vault::shares::Source;
use crate::vault::Vault;

/// The share of the wallet tables a request's address is charged to.
pub(super) fn source(peer: Option<&Extension<Peer>>) -> Source {
    peer.map_or(Source::UNKNOWN, |p| Source::of(p.addr.ip()))
}

/// A wallet request body is at most this (ten key proofs fit many times over).
const WALLET_LIMIT: usize = 32 * 1024;

impl IntoResponse for WalletError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = OAuthError {
            error: self.code.to_owned(),
            error_description: self.description.to_owned(),
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // Both schemes the credential endpoint takes (RFC 6750, RFC 9449 §7.1).
            let challenge = if self.code == "invalid_dpop_proof" {
                r#"DPoP error="invalid_dpop_proof", algs="ES256 Ed25519 EdDSA""#
            } else {
                r#"Bearer, DPoP algs="ES256 Ed25519 EdDSA""#
            };
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        resp
    }
}

pub(super) const fn bad_request(description: &'static str) -> WalletError {
    WalletError {
        status: 400,
        code: "invalid_request",
        description,
    }
}

pub(super) async fn read_body(body: Body) -> Result<Vec<u8>, WalletError> {
    Limited::new(body, WALLET_LIMIT)
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .map_err(|_| bad_request("the body could not be read or is too large"))
}

/// `GET /.well-known/openid-credential-issuer` (OpenID4VCI 1.0 §12.2):
/// no `authorization_servers`, so the issuer is its own authorization
/// server and the token endpoint is in its RFC 8414 metadata.
#[utoipa::path(
    get,
    path = "/.well-known/openid-credential-issuer",
    tag = "wallets",
    description = "OpenID4VCI 1.0 credential issuer metadata: the credential and nonce endpoints, \
        the batch size and the one configuration (`municipal_id`, `dc+sd-jwt`, its `scope`, the \
        signing algorithm and the key proof algorithms taken). Not audited.\n\n\
        Permissions: none (public).",
    responses((status = 200, description = "the metadata", body = IssuerMetadata), Busy)
)]
pub async fn metadata(State(v): State<Arc<Vault>>) -> Json<IssuerMetadata> {
    let iss = issuer_url(&v);
    Json(IssuerMetadata {
        credential_endpoint: format!("{iss}/oid4vci/credential"),
        nonce_endpoint: format!("{iss}/oid4vci/nonce"),
        credential_issuer: iss,
        batch_credential_issuance: BatchIssuance { batch_size: BATCH },
        credential_configurations_supported: Configurations {
            municipal_id: CredentialConfiguration {
                format: "dc+sd-jwt".into(),
                vct: VCT.into(),
                scope: CONFIGURATION_ID.into(),
                cryptographic_binding_methods_supported: vec!["jwk".into()],
                credential_signing_alg_values_supported: vec![v.config.credentials.signing_alg.name().into()],
                proof_types_supported: ProofTypes {
                    jwt: ProofType {
                        proof_signing_alg_values_supported: jose::ACCEPTED.map(String::from).to_vec(),
                    },
                },
                credential_metadata: CredentialMetadata {
                    display: vec![CredentialDisplay {
                        name: "Municipal ID".into(),
                        locale: "en".into(),
                    }],
                },
            },
        },
    })
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): both grants
/// (the pre-authorized code, anonymous; the authorization code with PAR
/// and PKCE S256, for a public client), DPoP's algorithms, and the
/// `iss` in authorization responses (RFC 9207).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "wallets",
    description = "RFC 8414 authorization server metadata: the token, PAR and authorization \
        endpoints, both grants (pre-authorized code, anonymous; authorization code with PAR \
        required and PKCE S256), the scope, DPoP's algorithms. Not audited.\n\n\
        Permissions: none (public).",
    responses((status = 200, description = "the metadata", body = AuthorizationServerMetadata), Busy)
)]
pub async fn authorization_server(State(v): State<Arc<Vault>>) -> Json<AuthorizationServerMetadata> {
    let iss = issuer_url(&v);
    let algs: Vec<String> = jose::ACCEPTED.map(String::from).to_vec();
    Json(AuthorizationServerMetadata {
        token_endpoint: format!("{iss}/oid4vci/token"),
        authorization_endpoint: format!("{iss}/oid4vci/authorize"),
        pushed_authorization_request_endpoint: format!("{iss}/oid4vci/par"),
        require_pushed_authorization_requests: true,
        response_types_supported: vec!["code".into()],
        code_challenge_methods_supported: vec!["S256".into()],
        authorization_response_iss_parameter_supported: true,
        dpop_signing_alg_values_supported: algs,
        issuer: iss,
        grant_types_supported: vec![AUTHORIZATION_CODE.into(), PRE_AUTHORIZED.into()],
        token_endpoint_auth_methods_supported: if v.credentials.providers.is_empty() {
            vec!["none".into()]
        } else {
            vec!["none".into(), "attest_jwt_client_auth".into()]
        },
        scopes_supported: vec![CONFIGURATION_ID.into()],
        pre_authorized_grant_anonymous_access_supported: true,
    })
}

/// `GET /.well-known/jwt-vc-issuer`: the issuer's keys (SD-JWT VC issuer
/// metadata): every issuer key, ES256 and Ed25519, still verifying
/// credentials or status lists.
#[utoipa::path(
    get,
    path = "/.well-known/jwt-vc-issuer",
    tag = "wallets",
    description = "SD-JWT VC issuer metadata: every issuer key (ES256 and Ed25519) that still \
        verifies a credential or a status list. Not audited.\n\n\
        Permissions: none (public).",
    responses((status = 200, description = "the issuer and its JWKS", body = JwtVcIssuer), Busy)
)]
pub async fn jwt_vc_issuer(State(v): State<Arc<Vault>>) -> Result<Json<JwtVcIssuer>, ApiError> {
    let keys = v
        .credentials
        .issuer
        .jwks()
        .into_iter()
        .map(serde_json::from_value::<IssuerJwk>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::internal("an issuer key does not read as a JWK"))?;
    Ok(Json(JwtVcIssuer {
        issuer: issuer_url(&v),
        jwks: IssuerJwks { keys },
    }))
}

/// `POST /oid4vci/nonce`: a fresh `c_nonce` for key proofs, charged to the
/// asking address's share of the nonces.
#[utoipa::path(
    post,
    path = "/oid4vci/nonce",
    tag = "wallets",
    description = "OpenID4VCI 1.0 nonce endpoint: a fresh `c_nonce` (five minutes) that serves \
        every key proof of one credential request.\n\n\
        Permissions: none (public).",
    responses((status = 200, description = "a nonce", body = NonceAnswer), Busy)
)]
pub async fn nonce(State(v): State<Arc<Vault>>, peer: Option<Extension<Peer>>) -> Json<NonceAnswer> {
    let c_nonce = v
        .credentials
        .nonce(source(peer.as_ref()), v.clock.now().unix_timestamp());
    Json(NonceAnswer { c_nonce })
}

/// A credential request (OpenID4VCI 1.0 §8.2) as the vault reads it:
/// parameters it does not know are ignored, as §8.2 requires; one given
/// twice is refused (serde refuses a repeated field).
#[derive(Deserialize)]
struct CredentialRequest {
    credential_configuration_id: Option<String>,
    credential_identifier: Option<String>,
    proofs: Option<Proofs>,
    credential_response_encryption: Option<serde::de::IgnoredAny>,
}

/// The `proofs` object: exactly one proof type; `jwt` is the one the vault
/// takes (the others are named so that asking for them is told apart
/// from a malformed object).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Proofs {
    jwt: Option<Vec<String>>,
    di_vp: Option<serde::de::IgnoredAny>,
    attestation: Option<serde::de::IgnoredAny>,
}

const fn credential_refusal(code: &'static str, description: &'static str) -> WalletError {
    WalletError {
        status: 400,
        code,
        description,
    }
}

impl CredentialRequest {
    /// The request's key proofs, once the rest of it is what the vault
    /// issues; otherwise the §8.3.1.2 error that says why not.
    fn into_proofs(self) -> Result<Vec<String>, WalletError> {
        if self.credential_response_encryption.is_some() {
            return Err(credential_refusal(
                "invalid_encryption_parameters",
                "the vault does not encrypt credential responses",
            ));
        }
        match (self.credential_configuration_id, self.credential_identifier) {
            (Some(id), None) if id == CONFIGURATION_ID => {}
            (Some(_), None) => {
                return Err(credential_refusal(
                    "unknown_credential_configuration",
                    "the vault issues municipal_id only",
                ))
            }
            (None, Some(_)) => {
                return Err(credential_refusal(
                    "unknown_credential_identifier",
                    "the vault gives no credential identifiers",
                ))
            }
            _ => {
                return Err(credential_refusal(
                    "invalid_credential_request",
                    "exactly one of credential_configuration_id and credential_identifier is required",
                ))
            }
        }
        let proofs = self
            .proofs
            .ok_or(credential_refusal("invalid_proof", "proofs is missing"))?;
        match proofs {
            Proofs {
                jwt: Some(jwt),
                di_vp: None,
                attestation: None,
            } => Ok(jwt),
            Proofs {
                jwt: None,
                di_vp: Some(_),
                attestation: None,
            }
            | Proofs {
                jwt: None,
                di_vp: None,
                attestation: Some(_),
            } => Err(credential_refusal("invalid_proof", "only jwt key proofs are supported")),
            _ => Err(credential_refusal(
                "invalid_credential_request",
                "proofs holds exactly one proof type",
            )),
        }
    }
}

/// `POST /oid4vci/credential`: one credential per key proof.
#[utoipa::path(
    post,
    path = "/oid4vci/credential",
    tag = "wallets",
    description = "OpenID4VCI 1.0 credential endpoint: one SD-JWT VC per key proof (1 to 10, ES256 \
        or Ed25519, one `c_nonce` may serve them all), bound to each proof's key. The access token \
        is used up only by a request that issues; a refused one leaves it for a retry. Parameters \
        the vault does not know are ignored. Errors as §8.3.1.2.\n\n\
        Permissions: the access token from the token endpoint (no principal).",
    request_body(content = CredentialRequestBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the credentials", body = CredentialAnswer),
        WalletRefused,
        PayloadTooLarge,
        Busy,
    ),
    security(("access_token" = []))
)]
pub async fn credential(
    State(v): State<Arc<Vault>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CredentialAnswer>, WalletError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (scheme, token) = match authorization.and_then(|a| a.split_once(' ')) {
        Some(("Bearer", t)) => (false, t),
        Some(("DPoP", t)) => (true, t),
        _ => (false, ""),
    };
    let token_ok = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !token_ok {
        return Err(WalletError {
            status: 401,
            code: "invalid_token",
            description: "a bearer or DPoP access token is required",
        });
    }
    // A token presented as DPoP comes with a proof by its key, for this
    // request and this token (RFC 9449 §7).
    let dpop = if scheme {
        let proof = super::oauth::dpop_header(&headers, 401)?.ok_or(WalletError {
            status: 401,
            code: "invalid_dpop_proof",
            description: "a DPoP token needs a DPoP proof",
        })?;
        Some(crate::vault::dpop::check(
            &v,
            source(peer.as_ref()),
            proof,
            ("POST", "/oid4vci/credential"),
            Some(token),
            401,
        )?)
    } else {
        None
    };
    let bytes = read_body(body).await?;
    let req: CredentialRequest = serde_json::from_slice(&bytes)
        .map_err(|_| credential_refusal("invalid_credential_request", "the body is not a credential request"))?;
    let credentials = issuance::issue(&v, token, dpop.as_deref(), &req.into_proofs()?).await?;
    Ok(Json(CredentialAnswer {
        credentials: credentials
            .into_iter()
            .map(|credential| IssuedCredential { credential })
            .collect(),
    }))
}
