//! A wallet's side of OpenID4VCI, by hand: holder keys (ES256 or
//! Ed25519), key proofs, DPoP proofs, presentations, and the form and
//! offer plumbing the wallet tests share.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use civic_vault::crypto::jose::{Alg, IssuerSigner};
use civic_vault::crypto::sdjwt;
use civic_vault::crypto::Secret32;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::TestVault;

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The offer inside an `openid-credential-offer://` URI.
pub fn offer_of(uri: &str) -> Value {
    let query = uri.strip_prefix("openid-credential-offer://?").unwrap();
    let (_, offer) = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "credential_offer")
        .unwrap();
    serde_json::from_str(&offer).unwrap()
}

/// A wallet's holder key: ES256 (a phone's secure hardware) or Ed25519.
pub struct Holder(pub IssuerSigner);

impl Holder {
    pub fn new() -> Self {
        Self::of(Alg::Es256)
    }

    pub fn of(alg: Alg) -> Self {
        loop {
            if let Some(k) = IssuerSigner::new("holder".into(), alg, &Secret32::random()) {
                return Self(k);
            }
        }
    }

    pub fn jwk(&self) -> Value {
        self.0.public().jwk()
    }

    pub fn jws(&self, header: &Value, claims: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.0.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// An OpenID4VCI key proof, under `alg` as the header names it.
    pub fn proof_as(&self, alg: &str, issuer: &str, nonce: &str) -> String {
        self.jws(
            &json!({"typ": "openid4vci-proof+jwt", "alg": alg, "jwk": self.jwk()}),
            &json!({"aud": issuer, "iat": now(), "nonce": nonce}),
        )
    }

    /// An OpenID4VCI key proof.
    pub fn proof(&self, issuer: &str, nonce: &str) -> String {
        self.proof_as(self.0.alg().name(), issuer, nonce)
    }

    /// A DPoP proof (RFC 9449) for `method` `htu`, with `ath` for a token.
    pub fn dpop(&self, method: &str, htu: &str, access_token: Option<&str>) -> String {
        let mut claims = json!({"htm": method, "htu": htu, "iat": now(), "jti": URL_SAFE_NO_PAD.encode(Secret32::random().expose())});
        if let Some(t) = access_token {
            use sha2::Digest as _;
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(t.as_bytes())));
        }
        self.jws(
            &json!({"typ": "dpop+jwt", "alg": self.0.alg().name(), "jwk": self.jwk()}),
            &claims,
        )
    }

    /// A presentation of `credential` disclosing `reveal` to `aud` with `nonce`.
    pub fn present(&self, credential: &str, reveal: &[&str], aud: &str, nonce: &str, iat: i64) -> String {
        let binding = sdjwt::Binding {
            aud,
            nonce,
            iat,
            alg: self.0.alg().name(),
        };
        sdjwt::present(credential, reveal, binding, |m| self.0.sign(m))
    }
}

pub async fn form(v: &TestVault, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let resp = v
        .http
        .post(v.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

pub async fn make_offer(v: &TestVault, clerk: &str, card: &str) -> (StatusCode, Value) {
    v.post(&format!("/v1/cardholders/{card}/credential-offer"), clerk, &json!({}))
        .await
}

pub async fn nonce(v: &TestVault) -> String {
    let (s, n) = v.call(reqwest::Method::POST, "/oid4vci/nonce", None, None).await;
    assert_eq!(s, StatusCode::OK, "{n}");
    n["c_nonce"].as_str().unwrap().to_owned()
}
