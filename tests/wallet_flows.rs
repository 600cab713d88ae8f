//! The authorization code flow (PAR, PKCE S256, the holder's confirmation
//! with the clerk's code) and DPoP-bound tokens, by hand and from outside:
//! every refusal a wallet or an attacker can meet, and that both grants of
//! one offer issue once. The standard wallet library runs both flows in
//! tests/credentials.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::wallet::{form, make_offer, nonce, now, offer_of, Holder};
use common::TestVault;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
const REDIRECT: &str = "https://wallet.example/callback";
const CLIENT: &str = "test-wallet";

/// A client that does not follow redirects (the wallet's redirect URI is
/// not on loopback, and the test reads the Location itself).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Flow {
    issuer: String,
    offer: Value,
    issuer_state: String,
    pin: String,
}

async fn start_flow(v: &TestVault, clerk: &str, card: &str) -> Flow {
    let (s, offer) = make_offer(v, clerk, card).await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let inner = offer_of(offer["offer_uri"].as_str().unwrap());
    let issuer = inner["credential_issuer"].as_str().unwrap().to_owned();
    Flow {
        issuer,
        issuer_state: inner["grants"]["authorization_code"]["issuer_state"]
            .as_str()
            .unwrap()
            .to_owned(),
        pin: offer["user_pin"].as_str().unwrap().to_owned(),
        offer,
    }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A PAR request's fields, good ones; `change` edits them (an empty value
/// drops the field).
fn par_fields(f: &Flow, verifier: &str, change: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = vec![
        ("response_type", "code".into()),
        ("client_id", CLIENT.into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "municipal_id".into()),
        ("code_challenge", challenge(verifier)),
        ("code_challenge_method", "S256".into()),
        ("issuer_state", f.issuer_state.clone()),
        ("state", "wallet-state-1".into()),
        ("resource", f.issuer.clone()),
    ];
    for (k, val) in change {
        fields.retain(|(n, _)| n != k);
        if !val.is_empty() {
            fields.push((k, (*val).to_owned()));
        }
    }
    fields
}

async fn post_form(url: &str, fields: &[(&str, String)], dpop: Option<&str>) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut req = browser()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

async fn push(f: &Flow, verifier: &str, dpop: Option<&str>) -> String {
    let (s, a) = post_form(
        &format!("{}/oid4vci/par", f.issuer),
        &par_fields(f, verifier, &[]),
        dpop,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["expires_in"], 600);
    a["request_uri"].as_str().unwrap().to_owned()
}

/// The holder confirms on the authorization page: the answer's status and
/// its Location (or body).
async fn confirm(f: &Flow, request_uri: &str, tx_code: &str) -> (StatusCode, String) {
    let resp = browser()
        .post(format!("{}/oid4vci/authorize", f.issuer))
        .form(&[
            ("request_uri", request_uri),
            ("client_id", CLIENT),
            ("tx_code", tx_code),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or(resp.text().await.unwrap()))
}

fn code_of(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(get("state").as_deref(), Some("wallet-state-1"));
    get("code").unwrap()
}

async fn redeem(f: &Flow, code: &str, verifier: &str, dpop: Option<&str>) -> (StatusCode, Value) {
    post_form(
        &format!("{}/oid4vci/token", f.issuer),
        &[
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("code_verifier", verifier.into()),
            ("redirect_uri", REDIRECT.into()),
            ("client_id", CLIENT.into()),
        ],
        dpop,
    )
    .await
}

async fn credential(v: &TestVault, f: &Flow, auth: &str, dpop: Option<&str>) -> (StatusCode, Value, String) {
    let holder = Holder::new();
    let body = json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": [holder.proof(&f.issuer, &nonce(v).await)]}});
    let mut req = browser()
        .post(format!("{}/oid4vci/credential", f.issuer))
        .header("authorization", auth)
        .json(&body);
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    let resp = req.send().await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|h| h.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status(), resp.json().await.unwrap_or(Value::Null), challenge)
}

const VERIFIER: &str = "a-pkce-verifier-of-the-wallet-forty-three-or-more-characters-long";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_code_flow_starts_from_the_clerks_offer_and_issues_once() {
    let v = TestVault::start_reachable("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P8", "1990-04-12").await;
    let f = start_flow(&v, &clerk, &card).await;
    let par = format!("{}/oid4vci/par", f.issuer);

    // Pushed requests the vault refuses, each with the code that says why.
    let long_state = "s".repeat(513);
    for (change, code) in [
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("issuer_state", "")], "invalid_request"),
        (vec![("issuer_state", "made-up")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("client_id", "")], "invalid_request"),
        (vec![("redirect_uri", "")], "invalid_request"),
        (vec![("redirect_uri", "javascript:alert(1)")], "invalid_request"),
        (vec![("redirect_uri", "http://wallet.example/cb")], "invalid_request"),
        (
            vec![("redirect_uri", "https://wallet.example/cb#frag")],
            "invalid_request",
        ),
        (vec![("redirect_uri", "/relative")], "invalid_request"),
        (vec![("scope", "passport")], "invalid_scope"),
        (vec![("scope", "")], "invalid_request"),
        (
            vec![
                ("scope", ""),
                (
                    "authorization_details",
                    r#"[{"type":"openid_credential","credential_configuration_id":"passport"}]"#,
                ),
            ],
            "invalid_authorization_details",
        ),
        (vec![("resource", "https://elsewhere.example")], "invalid_target"),
        (
            vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")],
            "invalid_request",
        ),
        (vec![("state", long_state.as_str())], "invalid_request"),
        (vec![("dpop_jkt", long_state.as_str())], "invalid_request"),
    ] {
        let (s, e) = post_form(&par, &par_fields(&f, VERIFIER, &change), None).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{change:?}: {e}"
        );
    }
    // authorization_details instead of scope is taken; an offer's
    // issuer_state pushes one request only (a second push, say by someone
    // who saw the QR code, is refused).
    let other = start_flow(&v, &clerk, &card).await;
    let details = r#"[{"type":"openid_credential","credential_configuration_id":"municipal_id"}]"#;
    let (s, e) = post_form(
        &par,
        &par_fields(&other, VERIFIER, &[("scope", ""), ("authorization_details", details)]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let (s, e) = post_form(&par, &par_fields(&other, VERIFIER, &[]), None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{e}"
    );

    let request_uri = push(&f, VERIFIER, None).await;
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));

    // The page: where the credential goes, a form for the clerk's code,
    // nothing cached, and a policy that lets the confirmation's redirect
    // reach the wallet (no form-action).
    let page_url = format!(
        "{}/oid4vci/authorize?client_id={CLIENT}&request_uri={}",
        f.issuer,
        url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );
    let resp = browser().get(&page_url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("form-action"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("https://wallet.example") && html.contains(r#"name="tx_code""#),
        "{html}"
    );
    // Another client's id, or a made-up request, gets no form.
    let other = page_url.replace(CLIENT, "another-wallet");
    assert_eq!(
        browser().get(&other).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );

    // A wrong code counts a try (of the offer's three); the right one sends
    // the browser back to the wallet with a code, the state and `iss`.
    let (s, body) = confirm(&f, &request_uri, "000000").await;
    let (s, body) = if s == StatusCode::SEE_OTHER {
        // One in a million: the clerk's code was 000000.
        confirm(&f, &request_uri, "111111").await
    } else {
        (s, body)
    };
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("2 tries left"), "{body}");
    let (s, location) = confirm(&f, &request_uri, &f.pin).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{location}");
    let iss = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "iss")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(iss, f.issuer);
    let code = code_of(&location);

    // The offer is used: its pre-authorized code buys nothing now, and the
    // pushed request is gone.
    let pre = offer_of(f.offer["offer_uri"].as_str().unwrap())["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, e) = form(
        &v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", &pre),
            ("tx_code", &f.pin),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(confirm(&f, &request_uri, &f.pin).await.0, StatusCode::BAD_REQUEST);
    let (s, e) = post_form(&par, &par_fields(&f, VERIFIER, &[]), None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "a used offer's issuer_state pushes nothing: {e}"
    );

    // The token request needs the verifier; without it the code is kept.
    let (s, e) = redeem(&f, &code, "", None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (s, t) = redeem(&f, &code, VERIFIER, None).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    let token = t["access_token"].as_str().unwrap();
    // A code is used once.
    let (s, e) = redeem(&f, &code, VERIFIER, None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let (s, a, _) = credential(&v, &f, &format!("Bearer {token}"), None).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["credentials"].as_array().unwrap().len(), 1);

    // Another offer: a wrong verifier, or another redirect URI, and the
    // code is gone (a code is tried once).
    for wrong in ["verifier", "redirect"] {
        let g = start_flow(&v, &clerk, &card).await;
        let uri = push(&g, VERIFIER, None).await;
        let (s, location) = confirm(&g, &uri, &g.pin).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let code = code_of(&location);
        let (s, e) = if wrong == "verifier" {
            redeem(&g, &code, &VERIFIER.replace('a', "b"), None).await
        } else {
            post_form(
                &format!("{}/oid4vci/token", g.issuer),
                &[
                    ("grant_type", "authorization_code".into()),
                    ("code", code.clone()),
                    ("code_verifier", VERIFIER.into()),
                    ("redirect_uri", "https://wallet.example/other".into()),
                ],
                None,
            )
            .await
        };
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{wrong}"
        );
        let (s, _) = redeem(&g, &code, VERIFIER, None).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{wrong}: the code was used by the failed try"
        );
    }

    // Three wrong codes on the page burn the offer for both grants.
    let g = start_flow(&v, &clerk, &card).await;
    let uri = push(&g, VERIFIER, None).await;
    let wrong = if g.pin == "999999" { "999998" } else { "999999" };
    for left in ["2 tries left", "1 try left"] {
        let (s, body) = confirm(&g, &uri, wrong).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body.contains(left), "{body}");
    }
    let (s, body) = confirm(&g, &uri, wrong).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("expired, was already used"), "{body}");
    assert_eq!(confirm(&g, &uri, &g.pin).await.0, StatusCode::BAD_REQUEST);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_token_is_spent_only_with_a_fresh_proof_by_its_key() {
    let v = TestVault::start_reachable("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P9", "1990-04-12").await;
    let f = start_flow(&v, &clerk, &card).await;
    let token_url = format!("{}/oid4vci/token", f.issuer);
    let credential_url = format!("{}/oid4vci/credential", f.issuer);
    let key = Holder::new();
    let pre = |f: &Flow| {
        offer_of(f.offer["offer_uri"].as_str().unwrap())["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let pre_fields = |f: &Flow| {
        vec![
            ("grant_type", PRE_AUTHORIZED.to_owned()),
            ("pre-authorized_code", pre(f)),
            ("tx_code", f.pin.clone()),
        ]
    };

    // Proofs the token endpoint refuses: another endpoint, another method,
    // an old one, one holding a private key, a bad signature; none costs
    // the offer anything.
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    let stale = key.jws(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
        &json!({"htm": "POST", "htu": token_url, "iat": now() - 3600, "jti": "old"}),
    );
    let wrong_typ = key.jws(
        &json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}),
        &json!({"htm": "POST", "htu": token_url, "iat": now(), "jti": "t"}),
    );
    let with_d = key.jws(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
        &json!({"htm": "POST", "htu": token_url, "iat": now(), "jti": "d"}),
    );
    let tampered = {
        let p = key.dpop("POST", &token_url, None);
        let (signed, _) = p.rsplit_once('.').unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]))
    };
    for bad in [
        key.dpop("POST", &credential_url, None),
        key.dpop("GET", &token_url, None),
        stale,
        wrong_typ,
        with_d,
        tampered,
        "not-a-jws".to_owned(),
    ] {
        let (s, e) = post_form(&token_url, &pre_fields(&f), Some(&bad)).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
            "{e}"
        );
    }

    let proof = key.dpop("POST", &token_url, None);
    let (s, t) = post_form(&token_url, &pre_fields(&f), Some(&proof)).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    let token = t["access_token"].as_str().unwrap().to_owned();
    // The same proof again (another offer): a proof is used once.
    let g = start_flow(&v, &clerk, &card).await;
    let (s, e) = post_form(&token_url, &pre_fields(&g), Some(&proof)).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );

    // The DPoP-bound token: not as a bearer token, not without a proof, not
    // with another key's proof or a proof for another token; each refusal
    // leaves it usable.
    let other = Holder::new();
    let dpop_auth = format!("DPoP {token}");
    let (s, e, challenge) = credential(&v, &f, &format!("Bearer {token}"), None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert!(challenge.contains("DPoP"), "{challenge}");
    let (s, e, _) = credential(&v, &f, &dpop_auth, None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof"))
    );
    let (s, e, challenge) = credential(
        &v,
        &f,
        &dpop_auth,
        Some(&other.dpop("POST", &credential_url, Some(&token))),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof"))
    );
    assert!(
        challenge.starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    let (s, e, _) = credential(&v, &f, &dpop_auth, Some(&key.dpop("POST", &credential_url, None))).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof")),
        "no ath"
    );
    let (s, e, _) = credential(
        &v,
        &f,
        &dpop_auth,
        Some(&key.dpop("POST", &credential_url, Some("another-token"))),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof")),
        "ath"
    );
    let (s, e, _) = credential(&v, &f, &dpop_auth, Some(&key.dpop("POST", &token_url, Some(&token)))).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof")),
        "htu"
    );
    let good = key.dpop("POST", &credential_url, Some(&token));
    let (s, a, _) = credential(&v, &f, &dpop_auth, Some(&good)).await;
    assert_eq!(s, StatusCode::OK, "{a}");

    // An Ed25519 DPoP key binds as well as an ES256 one.
    let ed = Holder::of(civic_vault::crypto::jose::Alg::Ed25519);
    let j = start_flow(&v, &clerk, &card).await;
    let (s, t) = post_form(&token_url, &pre_fields(&j), Some(&ed.dpop("POST", &token_url, None))).await;
    assert_eq!((s, t["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{t}");
    let ed_token = t["access_token"].as_str().unwrap();
    let (s, a, _) = credential(
        &v,
        &j,
        &format!("DPoP {ed_token}"),
        Some(&ed.dpop("POST", &credential_url, Some(ed_token))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");

    // A bearer token presented as DPoP is refused.
    let (s, t) = post_form(&token_url, &pre_fields(&g), None).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    let bearer = t["access_token"].as_str().unwrap();
    let (s, e, _) = credential(
        &v,
        &g,
        &format!("DPoP {bearer}"),
        Some(&key.dpop("POST", &credential_url, Some(bearer))),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    // A DPoP proof on the pushed request binds the code: the token request
    // needs a proof by that key.
    let h = start_flow(&v, &clerk, &card).await;
    let uri = push(
        &h,
        VERIFIER,
        Some(&key.dpop("POST", &format!("{}/oid4vci/par", h.issuer), None)),
    )
    .await;
    let (s, location) = confirm(&h, &uri, &h.pin).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let code = code_of(&location);
    let (s, e) = redeem(&h, &code, VERIFIER, Some(&other.dpop("POST", &token_url, None))).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    // dpop_jkt that is not the proof's key is refused at PAR.
    let i = start_flow(&v, &clerk, &card).await;
    let mut fields = par_fields(&i, VERIFIER, &[]);
    fields.push(("dpop_jkt", other.0.public().thumbprint()));
    let (s, e) = post_form(
        &format!("{}/oid4vci/par", i.issuer),
        &fields,
        Some(&key.dpop("POST", &format!("{}/oid4vci/par", i.issuer), None)),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    // With the key's proof the bound flow issues.
    let uri = push(
        &i,
        VERIFIER,
        Some(&key.dpop("POST", &format!("{}/oid4vci/par", i.issuer), None)),
    )
    .await;
    let (_, location) = confirm(&i, &uri, &i.pin).await;
    let (s, t) = redeem(
        &i,
        &code_of(&location),
        VERIFIER,
        Some(&key.dpop("POST", &token_url, None)),
    )
    .await;
    assert_eq!((s, t["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{t}");
    let token = t["access_token"].as_str().unwrap();
    let (s, a, _) = credential(
        &v,
        &i,
        &format!("DPoP {token}"),
        Some(&key.dpop("POST", &credential_url, Some(token))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    v.stop().await;
}

/// The vault's ES256 issuer public key (uncompressed point) for rcgen.
struct VaultKey(Vec<u8>);

impl rcgen::PublicKeyData for VaultKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

fn header_of(jws: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jws.split('.').next().unwrap()).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_certificate_chain_rides_on_credentials_and_status_lists_as_x5c() {
    let v = TestVault::start("idnyc").await;
    let (_, doc) = v
        .call(reqwest::Method::GET, "/.well-known/jwt-vc-issuer", None, None)
        .await;
    let dir = v.stop().await;
    std::fs::write(dir.path().join("jwks.json"), doc.to_string()).unwrap();

    // The key the city CA is to certify, as `credential issuer-key` prints it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["credential", "issuer-key", "--jwks"])
        .arg(dir.path().join("jwks.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pem = String::from_utf8(out.stdout).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    let block = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let (_, spki) =
        <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(&block.contents)
            .unwrap();
    let point = spki.subject_public_key.data.to_vec();
    let jwk = doc["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "EC")
        .unwrap()
        .clone();
    let xy = [jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()].map(|c| URL_SAFE_NO_PAD.decode(c).unwrap());
    assert_eq!(
        point,
        [vec![4u8], xy[0].clone(), xy[1].clone()].concat(),
        "the PEM is the JWKS's ES256 key"
    );

    // The city's CA certifies it; the chain goes in the configuration.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "City of Example Root CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(vec!["vault.city.example".into()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "City of Example credential issuer");
    let leaf = leaf_params.signed_by(&VaultKey(point), &ca, &ca_key).unwrap();
    let chain = dir.path().join("issuer-chain.pem");
    std::fs::write(&chain, format!("{}{}", leaf.pem(), ca.pem())).unwrap();

    // A chain for another key stops the start, saying how to mend it.
    let wrong = dir.path().join("wrong-chain.pem");
    std::fs::write(&wrong, ca.pem()).unwrap();
    let mut config = common::test_config(dir.path(), "idnyc");
    config.credentials.certificate_chain = Some(wrong.clone());
    let err = civic_vault::Vault::open(config.clone(), std::sync::Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("certificate_chain") && err.contains("credential issuer-key"),
        "{err}"
    );
    std::fs::write(&wrong, "not a certificate").unwrap();
    let err = civic_vault::Vault::open(config.clone(), std::sync::Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no certificate"), "{err}");

    config.credentials.certificate_chain = Some(chain);
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P10", "1990-04-12").await;
    let (_, offer) = make_offer(&v, &clerk, &card).await;
    let inner = offer_of(offer["offer_uri"].as_str().unwrap());
    let issuer = inner["credential_issuer"].as_str().unwrap().to_owned();
    let code = inner["grants"][PRE_AUTHORIZED]["pre-authorized_code"].as_str().unwrap();
    let pin = offer["user_pin"].as_str().unwrap();
    let (s, t) = form(
        &v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", code),
            ("tx_code", pin),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let holder = Holder::new();
    let resp = v
        .http
        .post(v.url("/oid4vci/credential"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .json(&json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": [holder.proof(&issuer, &nonce(&v).await)]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let a: Value = resp.json().await.unwrap();
    let credential = a["credentials"][0]["credential"].as_str().unwrap();
    let expected = json!([
        base64::engine::general_purpose::STANDARD.encode(leaf.der()),
        base64::engine::general_purpose::STANDARD.encode(ca.der()),
    ]);
    assert_eq!(header_of(credential)["x5c"], expected);
    let list = v
        .http
        .get(v.url("/v1/status-lists/0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(header_of(&list)["x5c"], expected);
    // The CWT form carries the same chain as COSE x5chain (RFC 9360, label 33).
    let cwt = v
        .http
        .get(v.url("/v1/status-lists/0"))
        .header("accept", "application/statuslist+cwt")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let sign1 = <coset::CoseSign1 as coset::TaggedCborSerializable>::from_tagged_slice(&cwt).unwrap();
    let x5chain = sign1
        .protected
        .header
        .rest
        .iter()
        .find(|(label, _)| *label == coset::Label::Int(33))
        .map(|(_, value)| value.clone())
        .unwrap();
    assert_eq!(
        x5chain,
        ciborium::Value::Array(vec![
            ciborium::Value::Bytes(leaf.der().to_vec()),
            ciborium::Value::Bytes(ca.der().to_vec())
        ])
    );
    v.stop().await;
}

/// A wallet provider's attestation of a wallet instance (`instance`) for
/// `client`, and that instance's proof of possession for `aud`.
fn attestation(provider: &Holder, kid: &str, client: &str, instance: &Holder, exp: i64) -> String {
    provider.jws(
        &json!({"typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": kid}),
        &json!({"iss": "https://wallet-provider.example", "sub": client, "iat": now(), "exp": exp,
                "cnf": {"jwk": instance.jwk()}}),
    )
}

fn attestation_pop(instance: &Holder, aud: &str, jti: &str) -> String {
    instance.jws(
        &json!({"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}),
        &json!({"aud": aud, "jti": jti, "iat": now()}),
    )
}

async fn par_attested(v: &TestVault, f: &Flow, headers: &[(&str, String)]) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(par_fields(f, VERIFIER, &[]))
        .finish();
    let mut req = browser()
        .post(v.url("/oid4vci/par"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, val) in headers {
        req = req.header(*k, val);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_attestations_are_checked_against_the_configured_wallet_providers() {
    let dir = tempfile::tempdir().unwrap();
    let provider = Holder::new();
    let mut jwk = provider.jwk();
    jwk["kid"] = json!("provider-1");
    let keys = dir.path().join("wallet-providers.json");
    std::fs::write(&keys, json!({"keys": [jwk]}).to_string()).unwrap();
    let mut config = common::test_config(dir.path(), "idnyc");
    config.credentials.wallet_attestation_keys = Some(keys.clone());
    let v = TestVault::start_in(dir, config.clone()).await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P11", "1990-04-12").await;
    let f = start_flow(&v, &clerk, &card).await;
    let (_, meta) = v
        .call(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none", "attest_jwt_client_auth"])
    );

    let instance = Holder::new();
    let good = |jti: &str| {
        vec![
            (
                "OAuth-Client-Attestation",
                attestation(&provider, "provider-1", CLIENT, &instance, now() + 3600),
            ),
            (
                "OAuth-Client-Attestation-PoP",
                attestation_pop(&instance, &f.issuer, jti),
            ),
        ]
    };
    let stranger = Holder::new();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("only one header", good("a")[..1].to_vec()),
        (
            "an untrusted provider",
            vec![
                (
                    "OAuth-Client-Attestation",
                    attestation(&stranger, "provider-1", CLIENT, &instance, now() + 3600),
                ),
                (
                    "OAuth-Client-Attestation-PoP",
                    attestation_pop(&instance, &f.issuer, "b"),
                ),
            ],
        ),
        (
            "an unknown kid",
            vec![
                (
                    "OAuth-Client-Attestation",
                    attestation(&provider, "provider-9", CLIENT, &instance, now() + 3600),
                ),
                (
                    "OAuth-Client-Attestation-PoP",
                    attestation_pop(&instance, &f.issuer, "c"),
                ),
            ],
        ),
        (
            "expired",
            vec![
                (
                    "OAuth-Client-Attestation",
                    attestation(&provider, "provider-1", CLIENT, &instance, now() - 1),
                ),
                (
                    "OAuth-Client-Attestation-PoP",
                    attestation_pop(&instance, &f.issuer, "d"),
                ),
            ],
        ),
        (
            "another client",
            vec![
                (
                    "OAuth-Client-Attestation",
                    attestation(&provider, "provider-1", "other-wallet", &instance, now() + 3600),
                ),
                (
                    "OAuth-Client-Attestation-PoP",
                    attestation_pop(&instance, &f.issuer, "e"),
                ),
            ],
        ),
        (
            "a PoP by another key",
            vec![
                (
                    "OAuth-Client-Attestation",
                    attestation(&provider, "provider-1", CLIENT, &instance, now() + 3600),
                ),
                (
                    "OAuth-Client-Attestation-PoP",
                    attestation_pop(&stranger, &f.issuer, "f"),
                ),
            ],
        ),
        (
            "a PoP for another server",
            vec![
                (
                    "OAuth-Client-Attestation",
                    attestation(&provider, "provider-1", CLIENT, &instance, now() + 3600),
                ),
                (
                    "OAuth-Client-Attestation-PoP",
                    attestation_pop(&instance, "https://elsewhere.example", "g"),
                ),
            ],
        ),
    ];
    for (what, headers) in cases {
        let (s, e) = par_attested(&v, &f, &headers).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{what}: {e}"
        );
    }
    // A good one is taken; its PoP is not taken twice; without any, a
    // wallet is still served (attestations are not required here).
    let (s, e) = par_attested(&v, &f, &good("once")).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let (s, e) = par_attested(&v, &f, &good("once")).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "replayed PoP"
    );
    let unattested = start_flow(&v, &clerk, &card).await;
    let (s, e) = par_attested(&v, &unattested, &[]).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    // At the token endpoint too.
    let pre = offer_of(f.offer["offer_uri"].as_str().unwrap())["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut req = browser().post(v.url("/oid4vci/token")).form(&[
        ("grant_type", PRE_AUTHORIZED),
        ("pre-authorized_code", &pre),
        ("tx_code", &f.pin),
    ]);
    for (k, val) in good("token") {
        req = req.header(k, val);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let dir = v.stop().await;

    // Required: a wallet without an attestation is refused.
    config.credentials.require_wallet_attestation = true;
    let v = TestVault::start_in(dir, config.clone()).await;
    let f = start_flow(&v, &clerk, &card).await;
    let (s, e) = par_attested(&v, &f, &[]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{e}"
    );
    let (s, e) = par_attested(&v, &f, &good("required")).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let dir = v.stop().await;

    // Required without providers, or a file that is no JWKS: no start.
    for (keys_file, content) in [(None, ""), (Some("bad.json"), "{\"keys\": [{\"kty\": \"EC\"}]}")] {
        let mut c = config.clone();
        c.credentials.wallet_attestation_keys = keys_file.map(|k| {
            let p = dir.path().join(k);
            std::fs::write(&p, content).unwrap();
            p
        });
        let err = civic_vault::Vault::open(c, std::sync::Arc::new(civic_vault::clock::SystemClock))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("wallet_attestation_keys"), "{err}");
    }
}
