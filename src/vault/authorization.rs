//! The authorization code flow (OpenID4VCI 1.0 §5, as HAIP 1.0 asks it:
//! PAR, PKCE with S256), beside the pre-authorized code.
//!
//! The cardholder has no account: the clerk's offer stays the root of
//! trust. The offer carries `issuer_state`; the wallet pushes its
//! authorization request with it (RFC 9126), the holder opens the
//! authorization page and confirms with the transaction code the clerk
//! read to them, and the wallet gets a code it redeems with its PKCE
//! verifier. Either grant of one offer issues the same credentials, once:
//! confirming takes the offer as the pre-authorized code does, and wrong
//! transaction codes count against the same three tries.

use subtle::ConstantTimeEq;

use super::credential_state::{Code, Pushed, WalletError, CODE_TTL, CONFIGURATION_ID, REQUEST_TTL};
use super::credentials::issuer_url;
use super::credentials::{check_pin, grant, hash, random_secret, refuse, PinCheck, Token};
use crate::vault::shares::Source;
use crate::vault::Vault;

/// The prefix of the `request_uri`s PAR answers with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// An authorization request's parameters the vault reads (others are
/// ignored, as RFC 6749 §3.1 asks).
#[derive(Debug, Default)]
pub struct AuthorizationRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub authorization_details: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub issuer_state: Option<String>,
    pub state: Option<String>,
    pub resource: Option<String>,
    pub dpop_jkt: Option<String>,
    pub request_uri: Option<String>,
}

fn invalid(description: &'static str) -> WalletError {
    refuse(400, "invalid_request", description)
}

/// A client id a public client may give: 1 to 256 visible ASCII characters.
fn client_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A redirect URI the vault will send a holder's browser to: absolute, no
/// fragment, at most 2,048 bytes, and not a scheme that runs or reads
/// something in the browser itself. `http` only for loopback (RFC 8252
/// §7.3); `https` and a wallet's own scheme otherwise.
fn redirect_ok(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    uri.len() <= 2048
        && url.fragment().is_none()
        && match url.scheme() {
            "https" => url.host_str().is_some(),
            "http" => loopback,
            "javascript" | "data" | "file" | "blob" | "vbscript" | "about" | "ftp" | "ws" | "wss" => false,
            _ => true,
        }
}

/// Whether the request asks for the municipal ID: its `scope` names the
/// configuration, or its `authorization_details` hold an
/// `openid_credential` entry for it (OpenID4VCI 1.0 §5.1).
fn asks_for_the_id(req: &AuthorizationRequest) -> Result<(), WalletError> {
    if let Some(scope) = &req.scope {
        if scope.split(' ').any(|s| s == CONFIGURATION_ID) {
            return Ok(());
        }
    }
    if let Some(details) = &req.authorization_details {
        let details: Vec<serde_json::Value> = serde_json::from_str(details).map_err(|_| {
            refuse(
                400,
                "invalid_authorization_details",
                "authorization_details is not a JSON array",
            )
        })?;
        let ours = details.iter().any(|d| {
            d.get("type").and_then(serde_json::Value::as_str) == Some("openid_credential")
                && d.get("credential_configuration_id").and_then(serde_json::Value::as_str) == Some(CONFIGURATION_ID)
        });
        return if ours {
            Ok(())
        } else {
            Err(refuse(
                400,
                "invalid_authorization_details",
                "the vault issues municipal_id only",
            ))
        };
    }
    if req.scope.is_some() {
        return Err(refuse(
            400,
            "invalid_scope",
            "the scope the vault issues is municipal_id",
        ));
    }
    Err(invalid("scope or authorization_details is required"))
}

/// A pushed authorization request (`POST /oid4vci/par`): checked whole,
/// kept for [`REQUEST_TTL`] and answered with its `request_uri`. `proof_jkt`
/// is the thumbprint of a DPoP proof sent with it: the code, and so the
/// token, is then bound to that key (RFC 9449 §10).
///
/// # Errors
/// The RFC 6749 / 9126 / 9449 error naming what is wrong.
pub fn push(
    v: &Vault,
    source: Source,
    req: AuthorizationRequest,
    (proof_jkt, attested): (Option<String>, bool),
) -> Result<(String, i64), WalletError> {
    if req.request_uri.is_some() {
        return Err(invalid("a pushed request cannot carry request_uri"));
    }
    if req.response_type.as_deref() != Some("code") {
        return Err(refuse(400, "unsupported_response_type", "only response_type=code"));
    }
    let client_id = req
        .client_id
        .clone()
        .filter(|c| client_id_ok(c))
        .ok_or(invalid("client_id is missing or malformed"))?;
    let redirect_uri = req.redirect_uri.clone().filter(|r| redirect_ok(r)).ok_or(invalid(
        "redirect_uri is missing, or not an absolute URI the vault redirects to",
    ))?;
    if req.code_challenge_method.as_deref() != Some("S256") {
        return Err(invalid("PKCE with code_challenge_method=S256 is required"));
    }
    let challenge = req
        .code_challenge
        .clone()
        .filter(|c| c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .ok_or(invalid("code_challenge is missing or not a base64url SHA-256"))?;
    asks_for_the_id(&req)?;
    if req.resource.as_deref().is_some_and(|r| r != issuer_url(v)) {
        return Err(refuse(
            400,
            "invalid_target",
            "the resource is not this credential issuer",
        ));
    }
    if req.state.as_deref().is_some_and(|s| s.len() > 512) {
        return Err(invalid("state is longer than 512 bytes"));
    }
    if req
        .dpop_jkt
        .as_deref()
        .is_some_and(|j| j.len() != 43 || !j.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(invalid("dpop_jkt is not a base64url SHA-256 JWK thumbprint"));
    }
    let jkt = match (req.dpop_jkt, proof_jkt) {
        (Some(a), Some(b)) if a != b => {
            return Err(refuse(
                400,
                "invalid_dpop_proof",
                "dpop_jkt is not the DPoP proof's key",
            ))
        }
        (a, b) => b.or(a),
    };
    let now = v.clock.now().unix_timestamp();
    let issuer_state = req.issuer_state.ok_or(invalid(
        "issuer_state is required: the flow starts from the clerk's offer",
    ))?;
    let offer = v
        .credentials
        .states
        .take(&hash(&issuer_state), now)
        .filter(|offer| v.credentials.offers.contains(offer, now))
        .ok_or(invalid(
            "issuer_state is unknown, used or expired: ask the clerk for a new offer",
        ))?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_secret());
    v.credentials.pushed.insert(
        source,
        hash(&request_uri),
        Pushed {
            offer,
            client_id,
            redirect_uri,
            challenge,
            state: req.state,
            jkt,
            attested,
        },
        now,
        now + REQUEST_TTL,
    );
    Ok((request_uri, REQUEST_TTL))
}

/// The pushed request behind `request_uri`, for `client_id`, still waiting.
fn waiting(v: &Vault, request_uri: &str, client_id: &str, now: i64) -> Option<Pushed> {
    v.credentials
        .pushed
        .update(&hash(request_uri), now, |p| (true, p.clone()))
        .filter(|p| p.client_id == client_id)
}

/// The authorization page's question: where the credential will go (the
/// redirect URI's scheme and host, for the holder to recognise their
/// wallet), or `None` when the request is unknown, used or expired.
#[must_use]
pub fn describe(v: &Vault, request_uri: &str, client_id: &str) -> Option<String> {
    let now = v.clock.now().unix_timestamp();
    let p = waiting(v, request_uri, client_id, now)?;
    let url = url::Url::parse(&p.redirect_uri).ok()?;
    Some(match url.host_str() {
        Some(host) => format!("{}://{host}", url.scheme()),
        None => format!("{}:", url.scheme()),
    })
}

/// What the holder's confirmation came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// Right: send the holder's browser here (the wallet's redirect URI
    /// with `code`, `state` and `iss`).
    Redirect(String),
    /// A wrong transaction code; this many tries are left.
    Wrong(u8),
    /// The request or its offer is unknown, used, expired or burnt.
    Gone,
}

/// The holder's confirmation of a pushed request with the clerk's
/// transaction code: right takes the offer and makes an authorization
/// code (charged to `source`'s share).
#[must_use]
pub fn confirm(v: &Vault, source: Source, request_uri: &str, client_id: &str, tx_code: &str) -> Confirmed {
    let now = v.clock.now().unix_timestamp();
    let Some(p) = waiting(v, request_uri, client_id, now) else {
        return Confirmed::Gone;
    };
    let pending = match check_pin(v, &p.offer, tx_code, now) {
        PinCheck::Right(pending) => pending,
        PinCheck::Wrong(left) if left > 0 => return Confirmed::Wrong(left),
        PinCheck::Wrong(_) | PinCheck::Gone => {
            v.credentials.pushed.take(&hash(request_uri), now);
            return Confirmed::Gone;
        }
    };
    v.credentials.pushed.take(&hash(request_uri), now);
    let code = random_secret();
    let Ok(mut to) = url::Url::parse(&p.redirect_uri) else {
        return Confirmed::Gone;
    };
    {
        let mut q = to.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &p.state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", &issuer_url(v));
    }
    v.credentials.codes.insert(
        source,
        hash(&code),
        Code {
            pending,
            client_id: p.client_id,
            redirect_uri: p.redirect_uri,
            challenge: p.challenge,
            jkt: p.jkt,
            attested: p.attested,
        },
        now,
        now + CODE_TTL,
    );
    Confirmed::Redirect(to.into())
}

/// The token request of the authorization code grant, as the vault reads it.
#[derive(Debug)]
pub struct CodeRedemption<'a> {
    pub code: &'a str,
    pub code_verifier: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

/// The token endpoint's authorization code grant: the code, once, for an
/// access token, when the PKCE verifier, the client id and the redirect
/// URI are those of the pushed request, and the DPoP proof (`proof_jkt`)
/// is by its key when it was bound to one.
///
/// # Errors
/// `invalid_request` for a missing verifier or redirect URI; `invalid_grant` for a code
/// that is unknown, used or expired or does not match; `invalid_dpop_proof`.
pub fn redeem(
    v: &Vault,
    source: Source,
    req: &CodeRedemption<'_>,
    (proof_jkt, attested): (Option<String>, Option<&str>),
) -> Result<Token, WalletError> {
    let verifier = req
        .code_verifier
        .filter(|c| {
            (43..=128).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        })
        .ok_or(invalid("code_verifier is missing or malformed (PKCE)"))?;
    let redirect_uri = req.redirect_uri.ok_or(invalid("redirect_uri is missing"))?;
    let now = v.clock.now().unix_timestamp();
    let wrong = refuse(
        400,
        "invalid_grant",
        "the code is unknown, used or expired, or was issued for another verifier, client or redirect URI",
    );
    // Taken at once: a code is used once, whatever the outcome.
    let code = v.credentials.codes.take(&hash(req.code), now).ok_or(wrong.clone())?;
    let challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let pkce: bool = challenge.as_bytes().ct_eq(code.challenge.as_bytes()).into();
    // A public client may leave client_id out (the PKCE verifier binds the
    // code to it); given, it is the pushed request's.
    let client = req.client_id.is_none_or(|c| c == code.client_id);
    if !pkce || !client || code.redirect_uri != redirect_uri {
        return Err(wrong);
    }
    // A code pushed with a wallet attestation is redeemed with one, for
    // the same client.
    if attested.is_some_and(|sub| sub != code.client_id) || (code.attested && attested.is_none()) {
        return Err(refuse(
            401,
            "invalid_client",
            "the code was pushed by an attested wallet: redeem it with that wallet's attestation",
        ));
    }
    if code.jkt.is_some() && code.jkt != proof_jkt {
        return Err(refuse(
            400,
            "invalid_dpop_proof",
            "the code is bound to a DPoP key: the token request needs a proof by it",
        ));
    }
    Ok(grant(v, source, code.pending, proof_jkt, now))
}
