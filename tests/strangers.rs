//! What a stranger with no credential can do to the vault's unauthenticated
//! doors — the console's sign-in and registration, the wallet's endpoints —
//! and what it cannot: lock other people out by filling a table, tell which
//! staff ids exist, grow the vault's memory with a large body, or grow the
//! audit log one entry per refused try.
//!
//! Two source addresses on loopback (127.0.0.1 floods, 127.0.0.2 is the
//! person next door) show that each address has a share of every table.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::TestVault;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FLOODER: [u8; 4] = [127, 0, 0, 1];
const NEIGHBOUR: [u8; 4] = [127, 0, 0, 2];
const PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

/// The console's origin in the test vaults (their `listen` is the default
/// 127.0.0.1:8700, whatever port the test listener has): the console
/// answers only requests addressed to it.
const CONSOLE_HOST: &str = "localhost:8700";

async fn post_json(http: &reqwest::Client, v: &TestVault, path: &str, body: &Value) -> (StatusCode, Value) {
    let mut req = http.post(v.url(path)).json(body);
    if path.starts_with("/console") {
        req = req.header("host", CONSOLE_HOST);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A staff principal's one-time registration code.
async fn registration_code(v: &TestVault, id: &str) -> String {
    let (s, p) = v
        .post(
            "/v1/principals",
            &v.admin.clone(),
            &json!({"id": id, "kind": "staff", "roles": ["clerk"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let url = p["registration_url"].as_str().unwrap();
    url.split_once('#').unwrap().1.to_owned()
}

/// Audit entries written so far (the verify count; reading it writes one).
async fn entries(v: &TestVault, auditor: &str) -> u64 {
    let (s, b) = v.get("/v1/audit/verify", auditor).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["entries"].as_u64().unwrap()
}

#[tokio::test]
async fn a_sign_in_start_answers_alike_for_every_staff_id() {
    let v = TestVault::start("idnyc").await;
    let _ = registration_code(&v, "clerk-ana").await;
    let http = client_from(NEIGHBOUR);
    let mut shapes = Vec::new();
    for id in ["clerk-ana", "no-such-person", "admin"] {
        let (s, a) = post_json(&http, &v, "/console/auth/login/begin", &json!({"id": id})).await;
        assert_eq!(s, StatusCode::OK, "a sign-in start is answered alike for {id}: {a}");
        let options = &a["options"]["publicKey"];
        let allowed = options["allowCredentials"].as_array().unwrap();
        assert!(!allowed.is_empty(), "credential ids are named for {id}");
        assert!(allowed
            .iter()
            .all(|c| c["type"] == "public-key" && c.get("transports").is_none()));
        let mut keys: Vec<&String> = options.as_object().unwrap().keys().collect();
        keys.sort();
        shapes.push(format!("{keys:?}"));
        // The same made-up ids at every ask: comparing two answers tells nothing.
        let (_, again) = post_json(&http, &v, "/console/auth/login/begin", &json!({"id": id})).await;
        assert_eq!(
            again["options"]["publicKey"]["allowCredentials"],
            options["allowCredentials"]
        );
        assert_ne!(again["options"]["publicKey"]["challenge"], options["challenge"]);
    }
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:?}");
    // Every staff member with a passkey has one at least: no made-up id may
    // name none (webauthn-rs's distribution gives one id in seven none).
    for n in 0..40 {
        let (_, a) = post_json(
            &http,
            &v,
            "/console/auth/login/begin",
            &json!({"id": format!("made-up-{n}")}),
        )
        .await;
        let allowed = a["options"]["publicKey"]["allowCredentials"].as_array().unwrap();
        assert!(!allowed.is_empty(), "made-up-{n} is answered with credential ids");
    }
    // Finishing a decoy's ceremony fails as a wrong passkey does.
    let (_, begun) = post_json(&http, &v, "/console/auth/login/begin", &json!({"id": "no-such-person"})).await;
    let fake = json!({"ceremony": begun["ceremony"], "credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null},
        "extensions": {}
    }});
    let (s, e) = post_json(&http, &v, "/console/auth/login/finish", &fake).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["message"], "the passkey could not be verified");
    v.stop().await;
}

#[tokio::test]
async fn a_flood_of_sign_in_starts_from_one_address_locks_out_no_one() {
    let v = TestVault::start("idnyc").await;
    let auditor = v.auditor().await;
    let code = registration_code(&v, "clerk-ana").await;
    let before = entries(&v, &auditor).await;
    let flooder = client_from(FLOODER);
    // More than the old global table held (4,096), from one address.
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..5_000 {
        let id = if i % 2 == 0 {
            "clerk-ana".to_owned()
        } else {
            format!("guess-{i}")
        };
        let resp = flooder
            .post(v.url("/console/auth/login/begin"))
            .header("host", CONSOLE_HOST)
            .json(&json!({"id": id}))
            .send()
            .await
            .unwrap();
        *statuses.entry(resp.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), vec![200], "{statuses:?}");
    // The person next door signs in and registers as if nothing happened.
    let neighbour = client_from(NEIGHBOUR);
    let (s, a) = post_json(&neighbour, &v, "/console/auth/login/begin", &json!({"id": "clerk-ana"})).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let (s, a) = post_json(&neighbour, &v, "/console/auth/register/begin", &json!({"code": code})).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    // Sign-in starts refuse nothing, so they wrote nothing.
    assert_eq!(entries(&v, &auditor).await, before + 1, "only the verify read itself");
    v.stop().await;
}

#[tokio::test]
async fn refused_registrations_and_sign_ins_are_tallied_per_address_and_second() {
    let v = TestVault::start("idnyc").await;
    let auditor = v.auditor().await;
    let before = entries(&v, &auditor).await;
    let flooder = client_from(FLOODER);
    let started = std::time::Instant::now();
    let tries = 1_000u64;
    for i in 0..tries {
        let (s, _) = post_json(
            &flooder,
            &v,
            "/console/auth/register/begin",
            &json!({"code": format!("not-a-code-{i}")}),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let seconds = started.elapsed().as_secs() + 2;
    let grown = entries(&v, &auditor).await - before - 1;
    assert!(
        grown <= 2 * seconds,
        "{tries} refusals from one address wrote {grown} entries in ~{seconds} s"
    );
    // Every refusal is in the chain as a count once the windows close.
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let audit = v.audit(&auditor).await;
    let counted: u64 = audit
        .iter()
        .filter(|e| e["action"] == "console_register_passkey")
        .map(|e| e["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(counted, tries, "each refusal counted once");
    assert!(
        audit
            .iter()
            .filter(|e| e["action"] == "console_register_passkey")
            .all(|e| e["principal"].is_null() && e["subject"].as_str().unwrap().starts_with("hmac-sha256:")),
        "refusals name the source as a keyed hash, never a principal"
    );
    v.stop().await;
}

/// Sends `total` bytes of chunked body to `path` without a length and
/// returns the status line, reading the answer while still sending.
async fn stream_body(v: &TestVault, path: &str, total: usize) -> String {
    let mut sock = tokio::net::TcpStream::connect(v.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {CONSOLE_HOST}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let frame = format!("{:x}\r\n", chunk.len());
        // The vault may answer and close before the body ends: stop sending then.
        if sock.write_all(frame.as_bytes()).await.is_err()
            || sock.write_all(&chunk).await.is_err()
            || sock.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 512];
    let n = sock.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn bodies_are_capped_by_route_while_they_stream() {
    let v = TestVault::start("idnyc").await;
    // Declared too large: refused before a byte of body is read.
    for path in [
        "/console/auth/login/begin",
        "/console/auth/register/begin",
        "/oid4vci/token",
        "/v1/facts",
    ] {
        let mut sock = tokio::net::TcpStream::connect(v.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 268435456\r\n\r\n"
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 2048];
        let n = sock.read(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer[..n]).into_owned();
        if path.starts_with("/v1/") {
            // An audited route: refused as unauthenticated before its body
            // is read (with a token, its reader refuses the length: 413).
            assert!(text.starts_with("HTTP/1.1 401"), "{path}: {text}");
        } else {
            assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
            assert!(text.contains("payload_too_large"), "{path}: {text}");
        }
    }
    // Streamed without a length: refused at the route's limit (a few KiB
    // for a passkey ceremony); what follows is read and dropped, never
    // kept, so the client reads the 413.
    for path in [
        "/console/auth/login/begin",
        "/console/auth/login/finish",
        "/console/auth/register/begin",
    ] {
        let status = stream_body(&v, path, 8 * 1024 * 1024).await;
        assert!(status.starts_with("HTTP/1.1 413"), "{path}: {status}");
    }
    // A body within its route's limit is read as before.
    let (s, _) = post_json(&v.http, &v, "/console/auth/login/begin", &json!({"id": "x"})).await;
    assert_eq!(s, StatusCode::OK);
    v.stop().await;
}

#[tokio::test]
async fn the_console_answers_at_its_origin_only() {
    let v = TestVault::start("idnyc").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A page asked for at 127.0.0.1 goes to the same path at the origin.
    let resp = http.get(v.url("/console/login?next=x")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        "http://localhost:8700/console/login?next=x"
    );
    // Anything else is refused, naming the address to use.
    let (s, e) = {
        let resp = http
            .post(v.url("/console/auth/login/begin"))
            .json(&json!({"id": "x"}))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(e["error"]["code"], "wrong_address");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("http://localhost:8700/console/"));
    // At the origin, the page is served.
    let resp = http
        .get(v.url("/console/login"))
        .header("host", CONSOLE_HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    v.stop().await;
}

// ---- the wallet's doors ----

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn proof(key: &SigningKey, issuer: &str, nonce: &str, jwk: &Value) -> String {
    let header = json!({"typ": "openid4vci-proof+jwt", "alg": "EdDSA", "jwk": jwk});
    let claims = json!({"aud": issuer, "iat": now(), "nonce": nonce});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn public_jwk(key: &SigningKey) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())})
}

/// A clerk's offer for a new card (its document `doc`), redeemed for an
/// access token from `http`.
async fn access_token(v: &TestVault, http: &reqwest::Client, clerk: &str, doc: &str) -> String {
    let card = v.enroll_one(clerk, doc, "1990-01-01").await;
    let (s, offer) = v
        .post(&format!("/v1/cardholders/{card}/credential-offer"), clerk, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let uri = offer["offer_uri"].as_str().unwrap();
    let query = uri.strip_prefix("openid-credential-offer://?").unwrap();
    let (_, o) = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "credential_offer")
        .unwrap();
    let o: Value = serde_json::from_str(&o).unwrap();
    let code = o["grants"][PRE_AUTHORIZED]["pre-authorized_code"].as_str().unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", code),
            ("tx_code", offer["user_pin"].as_str().unwrap()),
        ])
        .finish();
    let resp = http
        .post(v.url("/oid4vci/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let t: Value = resp.json().await.unwrap();
    t["access_token"].as_str().unwrap().to_owned()
}

async fn nonce(v: &TestVault, http: &reqwest::Client) -> (StatusCode, String) {
    let resp = http.post(v.url("/oid4vci/nonce")).send().await.unwrap();
    let status = resp.status();
    let n: Value = resp.json().await.unwrap_or(Value::Null);
    (status, n["c_nonce"].as_str().unwrap_or_default().to_owned())
}

async fn credential(v: &TestVault, http: &reqwest::Client, token: &str, proofs: &[String]) -> (StatusCode, Value) {
    let resp = http
        .post(v.url("/oid4vci/credential"))
        .bearer_auth(token)
        .json(&json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": proofs}}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_nonce_flood_from_one_address_leaves_a_wallet_its_nonce() {
    let v = TestVault::start("idnyc").await;
    let issuer = v.vault.as_ref().unwrap().config.console_origin();
    let wallet = client_from(NEIGHBOUR);
    let clerk = v.clerk().await;
    let token = access_token(&v, &wallet, &clerk, "W-1").await;
    let (_, mine) = nonce(&v, &wallet).await;
    // More than the old global table held (10,000), from one address.
    let flooder = client_from(FLOODER);
    for _ in 0..10_500 {
        let (s, n) = nonce(&v, &flooder).await;
        assert_eq!(s, StatusCode::OK, "a nonce is never refused for room");
        assert!(!n.is_empty());
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let (s, a) = credential(&v, &wallet, &token, &[proof(&key, &issuer, &mine, &public_jwk(&key))]).await;
    assert_eq!(s, StatusCode::OK, "the wallet's nonce outlived the flood: {a}");
    v.stop().await;
}

#[tokio::test]
async fn a_refused_credential_request_leaves_the_token_for_a_retry() {
    let v = TestVault::start("idnyc").await;
    let issuer = v.vault.as_ref().unwrap().config.console_origin();
    let wallet = client_from(NEIGHBOUR);
    let clerk = v.clerk().await;
    let token = access_token(&v, &wallet, &clerk, "W-1").await;
    let keys: Vec<SigningKey> = (0..10).map(|_| SigningKey::generate(&mut rand::rngs::OsRng)).collect();

    // A nonce the vault never gave: invalid_nonce, and the token survives.
    let stale: Vec<String> = keys
        .iter()
        .map(|k| proof(k, &issuer, "never-issued", &public_jwk(k)))
        .collect();
    let (s, e) = credential(&v, &wallet, &token, &stale).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_nonce"))
    );

    // A proof whose jwk carries the private key (OpenID4VCI Appendix F.4).
    let (_, n) = nonce(&v, &wallet).await;
    let mut leaked = public_jwk(&keys[0]);
    leaked["d"] = json!(URL_SAFE_NO_PAD.encode(keys[0].to_bytes()));
    let (s, e) = credential(&v, &wallet, &token, &[proof(&keys[0], &issuer, &n, &leaked)]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof")),
        "{e}"
    );

    // The retry: one fresh nonce serves the whole batch of ten.
    let (_, n) = nonce(&v, &wallet).await;
    let proofs: Vec<String> = keys.iter().map(|k| proof(k, &issuer, &n, &public_jwk(k))).collect();
    let (s, a) = credential(&v, &wallet, &token, &proofs).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["credentials"].as_array().unwrap().len(), 10);

    // Then the token and the nonce are used up.
    let (s, e) = credential(&v, &wallet, &token, &proofs[..1]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let token = access_token(&v, &wallet, &clerk, "W-2").await;
    let (s, e) = credential(&v, &wallet, &token, &proofs[..1]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_nonce"))
    );
    v.stop().await;
}
