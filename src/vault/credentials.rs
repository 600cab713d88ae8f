//! Holder-held credentials (OpenID4VCI 1.0): the clerk's offer (both
//! grants; the authorization code flow is `vault::authorization`), the
//! pre-authorized code's exchange and the nonce, and issuance
//! of a batch of SD-JWT VCs bound to the wallet's keys; the status lists.
//!
//! Offers, access tokens and nonces live in memory only, single-use and
//! short-lived (a restart forgets them: the clerk makes a new offer). The
//! claims are computed when the clerk makes the offer (the Cedar-decided,
//! audited step, with the birth date opened through its permit) and kept
//! with the offer until it is redeemed or expires; the store keeps only
//! each card's status indices, sealed (`vault::credential_indices`).

use std::sync::Arc;

use rand::Rng;
use serde_json::{json, Map, Value};

pub(super) use super::credential_state::{hash, random_secret, refuse, Grant, Offer, Pending, PIN_TRIES};
pub use super::credential_state::{
    Credentials, WalletError, AUTHORIZATION_CODE, CODE_TTL, CONFIGURATION_ID, LIST_TTL, OFFER_TTL, PRE_AUTHORIZED,
    REQUEST_TTL, TOKEN_TTL,
};
use crate::crypto::jose::{Alg, CompactJws};
use crate::crypto::sdjwt;
use crate::domain::access::{open_birth_date, Permit};
use crate::domain::audit::{AuditDraft, Decision};
use crate::domain::card::CardId;
use crate::domain::credential::{self, BATCH, LIST_ENTRIES, LIST_FILL};
use crate::domain::error::Error;
use crate::domain::store::{Store, StoreError};
use crate::vault::shares::Source;
use crate::vault::Vault;

/// The issuer identifier: the vault's public origin.
#[must_use]
pub fn issuer_url(v: &Vault) -> String {
    v.config.console_origin()
}

/// The clerk's offer for a valid card: the claims are computed now, with
/// the birth date opened through `permit`. Returns the offer URI and the
/// transaction code the clerk reads to the holder. The offer is charged to
/// `source`'s share of the offers table.
///
/// # Errors
/// The card is not valid (404 as for any card not held) or its record does
/// not open.
pub async fn offer(
    v: &Arc<Vault>,
    source: Source,
    permit: &Permit,
    card_id: CardId,
    subject: String,
) -> Result<(String, String), Error> {
    let now = v.clock.now();
    let today = now.date();
    let card = v.card(card_id).await?.ok_or(Error::NotFound)?;
    if !card.is_valid_on(today) {
        return Err(Error::NotFound);
    }
    let (iat, exp) = credential::validity(now.unix_timestamp(), card.meta.expires_on).ok_or(Error::NotFound)?;
    let birth = open_birth_date(permit, &v.keys, &card_id, &card.record)?;
    let claims = credential::claims(&card.meta, birth, today, &v.config.facts.age_thresholds);
    let code = random_secret();
    let issuer_state = random_secret();
    let pin = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let now = now.unix_timestamp();
    v.credentials
        .states
        .insert(source, hash(&issuer_state), hash(&code), now, now + OFFER_TTL);
    v.credentials.offers.insert(
        source,
        hash(&code),
        Offer {
            pending: Pending {
                card_id,
                subject,
                claims,
                iat,
                exp,
            },
            pin: pin.clone(),
            tries: 0,
        },
        now,
        now + OFFER_TTL,
    );
    let offer = json!({
        "credential_issuer": issuer_url(v),
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {
            PRE_AUTHORIZED: {
                "pre-authorized_code": code,
                "tx_code": {"input_mode": "numeric", "length": 6, "description": "the code the clerk reads to you"},
            },
            AUTHORIZATION_CODE: {"issuer_state": issuer_state},
        },
    });
    let uri = format!(
        "openid-credential-offer://?credential_offer={}",
        url::form_urlencoded::byte_serialize(offer.to_string().as_bytes()).collect::<String>()
    );
    Ok((uri, pin))
}

/// What checking a transaction code against an offer found.
pub(super) enum PinCheck {
    /// Right: the offer is used up, and this is what it issues.
    Right(Pending),
    /// Wrong: this many tries are left (none: the offer is burnt).
    Wrong(u8),
    /// No such offer (unknown, used, expired or burnt).
    Gone,
}

/// Checks `tx_code` against the offer under `offer` (its code's hash):
/// right takes the offer; wrong counts a try, and the third burns it.
pub(super) fn check_pin(v: &Vault, offer: &[u8; 32], tx_code: &str, now: i64) -> PinCheck {
    let outcome = v.credentials.offers.update(offer, now, |offer| {
        let right: bool = subtle::ConstantTimeEq::ct_eq(tx_code.as_bytes(), offer.pin.as_bytes()).into();
        if right {
            return (false, PinCheck::Right(offer.pending.clone()));
        }
        offer.tries += 1;
        let left = PIN_TRIES.saturating_sub(offer.tries);
        (left > 0, PinCheck::Wrong(left))
    });
    outcome.unwrap_or(PinCheck::Gone)
}

/// An access token for `pending`, bound to the DPoP key `jkt` if any,
/// charged to `source`'s share of the tokens table.
pub(super) fn grant(v: &Vault, source: Source, pending: Pending, jkt: Option<String>, now: i64) -> Token {
    let access_token = random_secret();
    let dpop = jkt.is_some();
    v.credentials.grants.insert(
        source,
        hash(&access_token),
        Grant { pending, jkt },
        now,
        now + TOKEN_TTL,
    );
    Token {
        access_token,
        expires_in: TOKEN_TTL,
        dpop,
    }
}

/// An access token the token endpoint answers with.
#[derive(Debug)]
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
    /// Whether it is DPoP-bound (`token_type` `DPoP`), else a bearer token.
    pub dpop: bool,
}

/// The token endpoint's pre-authorized code grant: the code (and its
/// transaction code) for an access token, once, bound to the DPoP key
/// `jkt` when the wallet sent a proof. Three wrong transaction codes burn
/// the offer.
///
/// # Errors
/// `invalid_grant` for an unknown, used, expired or burnt code or a wrong
/// transaction code.
pub fn exchange(
    v: &Vault,
    source: Source,
    code: &str,
    tx_code: &str,
    jkt: Option<String>,
) -> Result<Token, WalletError> {
    let now = v.clock.now().unix_timestamp();
    match check_pin(v, &hash(code), tx_code, now) {
        PinCheck::Right(pending) => Ok(grant(v, source, pending, jkt, now)),
        PinCheck::Wrong(_) | PinCheck::Gone => Err(refuse(
            400,
            "invalid_grant",
            "the code is unknown, used, expired, or the transaction code is wrong",
        )),
    }
}

/// Checks one key proof (`openid4vci-proof+jwt`, ES256 or Ed25519 —
/// `EdDSA` accepted —, the holder's public `jwk` in its header and no
/// `kid` or `x5c` beside it; `aud` the issuer, a fresh `iat`, a live nonce
/// from the nonce endpoint) and returns the holder's public JWK and the
/// nonce, which the caller uses up once the whole request is accepted.
fn key_proof(v: &Vault, proof: &str, now: i64) -> Result<(Value, String), WalletError> {
    let bad = refuse(400, "invalid_proof", "a key proof does not verify");
    let jws = CompactJws::parse(proof).ok_or(bad.clone())?;
    if jws.header.get("typ").and_then(Value::as_str) != Some("openid4vci-proof+jwt")
        || jws.header.contains_key("kid")
        || jws.header.contains_key("x5c")
    {
        return Err(bad);
    }
    // A private key in a proof (OpenID4VCI 1.0 Appendix F.4): the wallet
    // leaked it, and a credential bound to it binds nobody.
    if jws.header.get("jwk").is_some_and(|jwk| jwk.get("d").is_some()) {
        return Err(refuse(400, "invalid_proof", "the proof's jwk holds a private key"));
    }
    let key = jws.self_signed_key(proof).ok_or(bad.clone())?;
    let claims = jws.claims;
    if claims.get("aud").and_then(Value::as_str) != Some(issuer_url(v).as_str()) {
        return Err(bad);
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or(bad.clone())?;
    if iat > now + 60 || iat < now - TOKEN_TTL {
        return Err(bad);
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).ok_or(bad.clone())?;
    if !v.credentials.nonce_is_live(nonce, now) {
        return Err(refuse(400, "invalid_nonce", "the nonce is unknown, used or expired"));
    }
    Ok((key.jwk(), nonce.to_owned()))
}

/// Draws `n` free status indices: random entries of the newest list with
/// room (a new list once half of it is taken).
pub(super) fn draw(v: &Vault, n: usize) -> Result<Vec<u64>, StoreError> {
    let mut list = 0u32;
    let taken = loop {
        match v.store.status_list(list)? {
            Some(crate::domain::credential::ListBits { taken, .. }) => {
                let count: u64 = taken.iter().map(|b| u64::from(b.count_ones())).sum();
                if count + (n as u64) < LIST_FILL {
                    break taken;
                }
                list += 1;
            }
            None => break Vec::new(),
        }
    };
    let mut out: Vec<u64> = Vec::with_capacity(n);
    let mut rng = rand::rngs::OsRng;
    while out.len() < n {
        let entry = rng.gen_range(0..LIST_ENTRIES);
        let byte = usize::try_from(entry / 8).unwrap_or(usize::MAX);
        let used = taken.get(byte).is_some_and(|b| b & (1 << (entry % 8)) != 0);
        let index = u64::from(list) * LIST_ENTRIES + entry;
        if !used && !out.contains(&index) {
            out.push(index);
        }
    }
    Ok(out)
}

/// The status list URI of a global index, and the entry in it.
#[must_use]
pub fn status_ref(v: &Vault, index: u64) -> (String, u64) {
    (
        format!("{}/v1/status-lists/{}", issuer_url(v), index / LIST_ENTRIES),
        index % LIST_ENTRIES,
    )
}

/// Whether a token presented with `dpop` (the thumbprint of its DPoP
/// proof's key, when presented as DPoP) may be spent: a DPoP-bound token
/// (`bound`) needs its own key's proof, a bearer token none.
fn check_binding(bound: Option<&str>, dpop: Option<&str>) -> Result<(), WalletError> {
    match (bound, dpop) {
        (None, None) => Ok(()),
        (Some(key), Some(proof)) if key == proof => Ok(()),
        (Some(_), None) => Err(refuse(
            401,
            "invalid_token",
            "the access token is DPoP-bound: present it as DPoP with a proof of its key",
        )),
        (None, Some(_)) => Err(refuse(401, "invalid_token", "the access token is a bearer token")),
        (Some(_), Some(_)) => Err(refuse(
            401,
            "invalid_dpop_proof",
            "the DPoP proof is not by the key the token is bound to",
        )),
    }
}

/// The credential endpoint: one SD-JWT VC per key proof (at most a batch),
/// for the grant the access token names, once. The redemption is recorded
/// in the audit chain (the card's subject, how many; no claim values) in
/// the same commit that takes the status indices.
///
/// A refused request leaves the access token usable (OpenID4VCI 1.0
/// §8.3.1.2: the wallet retries with a fresh nonce); the token and the
/// request's nonces are used up only once every proof is accepted. One
/// nonce may serve every proof of a request (§13.8).
///
/// `dpop` is the thumbprint of the key whose DPoP proof came with a
/// request presenting the token as `DPoP` (checked by the caller): a
/// DPoP-bound token needs its own key's, a bearer token none.
///
/// # Errors
/// `invalid_token`, `invalid_dpop_proof`, `invalid_proof`, `invalid_nonce`; `invalid_grant` when
/// the card was revoked since the offer; 503 when storage fails.
pub async fn issue(
    v: &Arc<Vault>,
    access_token: &str,
    dpop: Option<&str>,
    proofs: &[String],
) -> Result<Vec<String>, WalletError> {
    let now = v.clock.now().unix_timestamp();
    let token = hash(access_token);
    let expired = || refuse(401, "invalid_token", "the access token is unknown, used or expired");
    let bound = v
        .credentials
        .grants
        .update(&token, now, |g| (true, g.jkt.clone()))
        .ok_or_else(expired)?;
    check_binding(bound.as_deref(), dpop)?;
    if proofs.is_empty() || proofs.len() > BATCH {
        return Err(refuse(400, "invalid_credential_request", "between 1 and 10 key proofs"));
    }
    let mut holders = Vec::with_capacity(proofs.len());
    let mut nonces: Vec<String> = Vec::new();
    for p in proofs {
        let (jwk, nonce) = key_proof(v, p, now)?;
        if holders.contains(&jwk) {
            return Err(refuse(400, "invalid_proof", "each credential needs a key of its own"));
        }
        holders.push(jwk);
        if !nonces.contains(&nonce) {
            nonces.push(nonce);
        }
    }
    // Taken now, once: of two requests racing with one token, one issues.
    let grant = v.credentials.grants.take(&token, now).ok_or_else(expired)?;
    for n in &nonces {
        v.credentials.take_nonce(n, now);
    }
    let pending = grant.pending;
    let unavailable = |_| refuse(503, "temporarily_unavailable", "storage is unavailable");
    let signer = v
        .credentials
        .issuer
        .active(v.config.credentials.signing_alg)
        .map_err(|_| refuse(503, "temporarily_unavailable", "no issuer key"))?;
    let guard = v.credentials.draw.lock().await;
    let n = holders.len();
    let indices = v.read(move |v| draw(v, n)).await.map_err(unavailable)?;
    let entry = AuditDraft {
        at: now,
        action: "redeem_credential_offer".into(),
        resource: Some(format!("Credential::{n}")),
        decision: Decision::Allow,
        subject: Some(pending.subject.clone()),
        outcome: "ok".into(),
        ..AuditDraft::default()
    };
    // A redemption for a honey card raises its alert like any request about it.
    let mut audit = vec![entry];
    let (alerts, hits) = crate::vault::honey::alerts_for(v, &audit);
    audit.extend(alerts);
    match crate::vault::credential_indices::take(v, pending.card_id, &indices, &audit).await {
        Ok(()) => crate::vault::honey::report(v, hits),
        Err(Error::NotFound) => {
            return Err(refuse(400, "invalid_grant", "the card is no longer valid"));
        }
        Err(_) => return Err(refuse(503, "temporarily_unavailable", "storage is unavailable")),
    }
    drop(guard);
    let iss = issuer_url(v);
    let x5c = super::credential_trust::chain_for(v, &signer, now).map(crate::crypto::x5c::CertChain::x5c);
    Ok(holders
        .into_iter()
        .zip(indices)
        .map(|(jwk, index)| {
            let (uri, idx) = status_ref(v, index);
            let mut payload = Map::new();
            payload.insert("iss".into(), json!(iss));
            payload.insert("vct".into(), json!(credential::VCT));
            payload.insert("iat".into(), json!(pending.iat));
            payload.insert("exp".into(), json!(pending.exp));
            payload.insert("cnf".into(), json!({"jwk": jwk}));
            payload.insert("status".into(), json!({"status_list": {"idx": idx, "uri": uri}}));
            sdjwt::issue(&signer, x5c, payload, &pending.claims)
        })
        .collect())
}

/// Status list `n` as a `statuslist+jwt` (or, with `cwt`, a
/// `statuslist+cwt`: the same bits) signed with the active ES256 issuer
/// key (every HAIP verifier supports it), or `None` before its first
/// credential.
///
/// # Errors
/// The read failed.
pub async fn status_list(v: &Arc<Vault>, n: u32, cwt: bool) -> Result<Option<Vec<u8>>, Error> {
    let Some(credential::ListBits { bits, .. }) = v.read(move |v| v.store.status_list(n)).await? else {
        return Ok(None);
    };
    let uri = format!("{}/v1/status-lists/{n}", issuer_url(v));
    let now = v.clock.now().unix_timestamp();
    let signer = v
        .credentials
        .issuer
        .active(Alg::Es256)
        .map_err(|e| Error::internal(e.to_string()))?;
    let chain = super::credential_trust::chain_for(v, &signer, now);
    let token = if cwt {
        crate::crypto::status_cwt::status_list_cwt(
            &signer,
            chain.map(crate::crypto::x5c::CertChain::der),
            &uri,
            &bits,
            now,
            LIST_TTL,
        )
    } else {
        sdjwt::status_list_token(
            &signer,
            chain.map(crate::crypto::x5c::CertChain::x5c),
            &uri,
            &bits,
            now,
            LIST_TTL,
        )
        .map(String::into_bytes)
    };
    token.map(Some).map_err(|e| Error::internal(e.to_string()))
}
