//! Holder-held credentials end to end: a clerk's offer, a wallet (driven
//! here in Rust: holder keys, key proofs, presentations with a KB-JWT)
//! redeeming it over OpenID4VCI, presentations verified offline by the
//! vault's own verifier module and by third parties' — the OpenWallet
//! Foundation's sd-jwt-js (`tests/sdjwt/verify.mjs`) and its Python
//! reference implementation, PyPI's `sd-jwt` with jwcrypto
//! (`tests/sdjwt/verify.py`, an ES256 holder's one-claim presentation and
//! the status list's bit) — and revocation through the status list by
//! every path that ends a card.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use civic_vault::crypto::jose::Alg;
use civic_vault::crypto::sdjwt::{self, verify::Expect, verify::VerifyError};
use common::wallet::{form, make_offer, nonce, now, offer_of, Holder};
use common::TestVault;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

const VENUE: &str = "https://venue.example";
const VCT: &str = "urn:civic-vault:municipal-id:1";
const PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

struct Wallet {
    holders: Vec<Holder>,
    credentials: Vec<String>,
}

/// The pre-authorized code and access token of an offer.
async fn access_token(v: &TestVault, offer: &Value) -> String {
    let code = offer_of(offer["offer_uri"].as_str().unwrap())["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let pin = offer["user_pin"].as_str().unwrap();
    let (s, t) = form(
        v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", &code),
            ("tx_code", pin),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t["access_token"].as_str().unwrap().to_owned()
}

async fn request_credentials(v: &TestVault, token: &str, holders: &[Holder], issuer: &str) -> (StatusCode, Value) {
    let mut proofs = Vec::new();
    for h in holders {
        proofs.push(h.proof(issuer, &nonce(v).await));
    }
    let resp = v
        .http
        .post(v.url("/oid4vci/credential"))
        .bearer_auth(token)
        .json(&json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": proofs}}))
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

/// Offer, code, ten keys, ten credentials.
async fn redeem(v: &TestVault, clerk: &str, card: &str, issuer: &str) -> Wallet {
    let (s, offer) = make_offer(v, clerk, card).await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let token = access_token(v, &offer).await;
    let holders: Vec<Holder> = (0..10).map(|_| Holder::new()).collect();
    let started = std::time::Instant::now();
    let (s, answer) = request_credentials(v, &token, &holders, issuer).await;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(s, StatusCode::OK, "{answer}");
    let credentials: Vec<String> = answer["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["credential"].as_str().unwrap().to_owned())
        .collect();
    let header = b64_json(credentials[0].split('.').next().unwrap());
    let alg = header["alg"].as_str().unwrap();
    println!("measured: ten nonces and a batch of ten credentials signed {alg} (ES256 holder keys) in {elapsed:.1} ms (debug build)");
    Wallet { holders, credentials }
}

/// What a verifier has at the door: the JWKS and the status lists, fetched
/// beforehand and cached; nothing about the credential in hand.
struct Door {
    jwks: Value,
    lists: serde_json::Map<String, Value>,
}

async fn door(v: &TestVault, uris: &BTreeSet<String>) -> Door {
    let meta: Value = v
        .http
        .get(v.url("/.well-known/jwt-vc-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut lists = serde_json::Map::new();
    for uri in uris {
        let path = uri.split_once("/v1/").map(|(_, p)| format!("/v1/{p}")).unwrap();
        let resp = v.http.get(v.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/statuslist+jwt");
        // Cacheable by anyone for the token's ttl: verifiers need not ask
        // again for every presentation (everything else is no-store).
        assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
        lists.insert(uri.clone(), json!(resp.text().await.unwrap()));
    }
    Door {
        jwks: meta["jwks"].clone(),
        lists,
    }
}

/// The CBOR form of the status list at `uri` (`Accept:
/// application/statuslist+cwt`), taken apart here with a CBOR decoder and
/// its COSE_Sign1 signature checked over a Sig_structure built here (RFC
/// 9052 §4.4) with the JWKS's key: its bits must be the JWT form's, which
/// `door` holds. Returns the bits.
async fn cwt_matches_jwt(v: &TestVault, door: &Door, uri: &str) -> Vec<u8> {
    use ciborium::Value as Cbor;
    let path = uri.split_once("/v1/").map(|(_, p)| format!("/v1/{p}")).unwrap();
    let resp = v
        .http
        .get(v.url(&path))
        .header("accept", "application/statuslist+cwt")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/statuslist+cwt");
    let bytes = resp.bytes().await.unwrap();
    let Cbor::Tag(18, sign1) = ciborium::from_reader(bytes.as_ref()).unwrap() else {
        panic!("not a tagged COSE_Sign1")
    };
    let parts = sign1.into_array().unwrap();
    let [Cbor::Bytes(protected), _, Cbor::Bytes(payload), Cbor::Bytes(signature)] = &parts[..] else {
        panic!("not a COSE_Sign1 with a payload")
    };
    let header: Cbor = ciborium::from_reader(protected.as_slice()).unwrap();
    let header = header.into_map().unwrap();
    let get = |m: &[(Cbor, Cbor)], k: i64| m.iter().find(|(key, _)| *key == Cbor::from(k)).map(|(_, v)| v.clone());
    assert_eq!(get(&header, 1), Some(Cbor::from(-7)), "alg ES256");
    assert_eq!(
        get(&header, 16),
        Some(Cbor::Text("application/statuslist+cwt".into())),
        "typ"
    );
    let kid = String::from_utf8(get(&header, 4).unwrap().into_bytes().unwrap()).unwrap();
    let jwk = door.jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let key = civic_vault::crypto::jose::PublicKey::from_jwk(jwk).unwrap();
    let mut tbs = Vec::new();
    ciborium::into_writer(
        &Cbor::Array(vec![
            Cbor::Text("Signature1".into()),
            Cbor::Bytes(protected.clone()),
            Cbor::Bytes(Vec::new()),
            Cbor::Bytes(payload.clone()),
        ]),
        &mut tbs,
    )
    .unwrap();
    assert!(
        key.verifies("ES256", &tbs, signature),
        "the CWT's signature verifies with the JWKS key"
    );
    let claims: Cbor = ciborium::from_reader(payload.as_slice()).unwrap();
    let claims = claims.into_map().unwrap();
    assert_eq!(
        get(&claims, 2),
        Some(Cbor::Text(uri.to_owned())),
        "sub is the list's URI"
    );
    let list = get(&claims, 65533).unwrap().into_map().unwrap();
    let lst = list
        .iter()
        .find(|(k, _)| *k == Cbor::Text("lst".into()))
        .unwrap()
        .1
        .clone()
        .into_bytes()
        .unwrap();
    let mut bits = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(lst.as_slice()), &mut bits).unwrap();
    // The JWT form's bits, as the door fetched them.
    let jwt = door.lists[uri].as_str().unwrap();
    let jwt_list = b64_json(jwt.split('.').nth(1).unwrap())["status_list"]["lst"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        bits,
        sdjwt::decode_list(&jwt_list).unwrap(),
        "the CWT holds the JWT's bits"
    );
    bits
}

fn status_uri(credential: &str) -> (String, u64) {
    let payload = b64_json(credential.split('.').nth(1).unwrap());
    let s = &payload["status"]["status_list"];
    (s["uri"].as_str().unwrap().to_owned(), s["idx"].as_u64().unwrap())
}

/// Our verifier module's verdict.
fn ours(door: &Door, presentation: &str, nonce: &str) -> Result<Value, VerifyError> {
    let expect = Expect {
        audience: VENUE,
        nonce,
        vct: VCT,
        now: now(),
        max_age: 300,
    };
    sdjwt::verify::verify(
        presentation,
        &door.jwks,
        |uri| door.lists.get(uri).and_then(Value::as_str).map(str::to_owned),
        &expect,
    )
    .map(|v| json!(v.claims))
}

/// Runs `command` with `input` as JSON on its standard input, and reads
/// its standard output as JSON (`spawn_failure`, `failure`: what to say).
async fn run_json(command: &mut tokio::process::Command, input: &Value, spawn_failure: &str, failure: &str) -> Value {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect(spawn_failure);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{failure}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The third party's verdict, or `None` when its packages are not
/// installed outside CI (under `CI`, their absence fails the test).
async fn theirs(door: &Door, presentation: &str, nonce: &str) -> Option<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdjwt");
    if !common::needs(
        "sdjwt",
        root.join("node_modules/@sd-jwt/sd-jwt-vc").is_dir(),
        "sd-jwt-js in tests/sdjwt/node_modules, the third-party verifier (.ci/sdjwt-setup installs it)",
    ) {
        return None;
    }
    let input = json!({
        "presentation": presentation,
        "jwks": door.jwks,
        "status_lists": door.lists,
        "nonce": nonce,
        "aud": VENUE,
        "now": now(),
        "max_age": 300,
    });
    let mut command = tokio::process::Command::new("node");
    command.arg(root.join("verify.mjs")).current_dir(&root);
    Some(
        run_json(
            &mut command,
            &input,
            "node must be installed for the third-party verifier",
            "verify.mjs failed",
        )
        .await,
    )
}

/// The Python reference implementation's verdict: the OpenWallet
/// Foundation's `sd-jwt` 0.10.4 (PyPI, with jwcrypto) in
/// `tests/sdjwt/verify.py`, given what `door` holds — `{ok, claims,
/// status}` once the presentation verifies (`ok` when its status is 0), or
/// `{ok: false, error}`; `None` when its virtual environment is not there
/// outside CI (under `CI`, its absence fails the test).
async fn pythons(door: &Door, presentation: &str, nonce: &str) -> Option<Value> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = manifest.join("target/sdjwt-py/bin/python3");
    if !common::needs(
        "sdjwt",
        python.is_file(),
        "sd-jwt 0.10.4 in target/sdjwt-py, the Python reference verifier (.ci/sdjwt-setup installs it)",
    ) {
        return None;
    }
    let input = json!({
        "presentation": presentation,
        "jwks": door.jwks,
        "status_lists": door.lists,
        "nonce": nonce,
        "aud": VENUE,
        "vct": VCT,
        "now": now(),
        "max_age": 300,
    });
    let mut command = tokio::process::Command::new(python);
    command.arg("-I").arg(manifest.join("tests/sdjwt/verify.py"));
    Some(
        run_json(
            &mut command,
            &input,
            "the virtual environment's python3 runs",
            "verify.py failed",
        )
        .await,
    )
}

/// `civic-vault credential verify`'s verdict (the binary, offline, with
/// files), and its exit status.
fn cli(door: &Door, presentation: &str, nonce: &str) -> (bool, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (uri, _) = status_uri(presentation);
    std::fs::write(dir.path().join("jwks.json"), door.jwks.to_string()).unwrap();
    std::fs::write(dir.path().join("list.jwt"), door.lists[&uri].as_str().unwrap()).unwrap();
    std::fs::write(dir.path().join("presentation.txt"), presentation).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args([
            "credential",
            "verify",
            "--jwks",
            "jwks.json",
            "--status-list",
            "list.jwt",
        ])
        .args(["--audience", VENUE, "--nonce", nonce, "presentation.txt"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    (out.status.success(), serde_json::from_slice(&out.stdout).unwrap())
}

/// Both verifiers accept, with exactly `claims` disclosed.
async fn both_accept(door: &Door, presentation: &str, nonce: &str, claims: &Value) {
    assert_eq!(ours(door, presentation, nonce).as_ref(), Ok(claims));
    if let Some(t) = theirs(door, presentation, nonce).await {
        assert_eq!(t["verified"], true, "{t}");
        assert_eq!(&t["claims"], claims, "{t}");
        assert_eq!(t["vct"], VCT);
    }
}

/// Both verifiers refuse: ours for `why`.
async fn both_refuse(door: &Door, presentation: &str, nonce: &str, why: &VerifyError) {
    assert_eq!(ours(door, presentation, nonce).as_ref(), Err(why));
    if let Some(t) = theirs(door, presentation, nonce).await {
        assert_eq!(
            t["verified"], false,
            "the third party accepted what we refuse ({why}): {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_redeems_presents_offline_and_is_refused_after_revocation() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let card = v.enroll_one(&clerk, "P1", "1990-04-12").await;

    // The issuer's metadata names the endpoints and the one configuration.
    let meta: Value = v
        .http
        .get(v.url("/.well-known/openid-credential-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = meta["credential_issuer"].as_str().unwrap().to_owned();
    let config = &meta["credential_configurations_supported"]["municipal_id"];
    assert_eq!(config["format"], "dc+sd-jwt");
    assert_eq!(config["vct"], VCT);
    assert_eq!(meta["batch_credential_issuance"]["batch_size"], 10);

    // The clerk's offer: a URI for the QR code and the code read aloud.
    let (s, offer) = make_offer(&v, &clerk, &card).await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let o = offer_of(offer["offer_uri"].as_str().unwrap());
    assert_eq!(o["credential_issuer"], issuer.as_str());
    assert_eq!(o["credential_configuration_ids"], json!(["municipal_id"]));
    let code = o["grants"][PRE_AUTHORIZED]["pre-authorized_code"].as_str().unwrap();
    let pin = offer["user_pin"].as_str().unwrap();
    assert_eq!(pin.len(), 6);

    // A wrong transaction code is refused; the right one buys a token once.
    let wrong = if pin == "000000" { "000001" } else { "000000" };
    let (s, e) = form(
        &v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", code),
            ("tx_code", wrong),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
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
    let token = t["access_token"].as_str().unwrap().to_owned();
    let (s, e) = form(
        &v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", code),
            ("tx_code", pin),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "single use"
    );

    // Ten holder keys, ES256 and Ed25519 alternately, each proven with a
    // nonce of its own.
    let holders: Vec<Holder> = (0..10)
        .map(|i| Holder::of(if i % 2 == 0 { Alg::Es256 } else { Alg::Ed25519 }))
        .collect();
    let started = std::time::Instant::now();
    let (s, answer) = request_credentials(&v, &token, &holders, &issuer).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    println!(
        "measured: ten nonces and a batch of ten credentials signed ES256 (five ES256, five Ed25519 holder keys) in {:.1} ms (debug build)",
        started.elapsed().as_secs_f64() * 1e3
    );
    let credentials: Vec<String> = answer["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["credential"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(credentials.len(), 10);
    let (s, e) = request_credentials(&v, &token, &holders[..1], &issuer).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    // Ten unlinkable credentials: each its own signature, salts, holder
    // key and status index; the same day-rounded times; only the
    // contract's claims, each disclosable.
    let mut seen = BTreeSet::new();
    let mut uris = BTreeSet::new();
    for (c, h) in credentials.iter().zip(&holders) {
        let jws = c.split('~').next().unwrap();
        let header = b64_json(jws.split('.').next().unwrap());
        assert_eq!(header["typ"], "dc+sd-jwt");
        assert_eq!(header["alg"], "ES256", "ES256 signs by default (HAIP 1.0)");
        let payload = b64_json(jws.split('.').nth(1).unwrap());
        assert_eq!(payload["vct"], VCT);
        assert_eq!(payload["cnf"]["jwk"], h.jwk());
        assert_eq!(payload["iat"].as_i64().unwrap() % 86_400, 0);
        assert_eq!(payload["exp"].as_i64().unwrap() % 86_400, 0);
        let mut keys: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["_sd", "_sd_alg", "cnf", "exp", "iat", "iss", "status", "vct"]);
        let names: BTreeSet<String> = c
            .split('~')
            .skip(1)
            .filter(|d| !d.is_empty())
            .map(|d| b64_json(d)[1].as_str().unwrap().to_owned())
            .collect();
        let expected: BTreeSet<String> = [
            "resident",
            "program",
            "age_over_13",
            "age_over_18",
            "age_over_21",
            "age_over_62",
            "age_over_65",
        ]
        .map(String::from)
        .into();
        assert_eq!(names, expected);
        let (uri, idx) = status_uri(c);
        assert!(idx < 131_072);
        assert!(seen.insert((uri.clone(), idx)), "status indices are distinct");
        assert!(seen.insert((jws.rsplit('.').next().unwrap().to_owned(), 0)));
        uris.insert(uri);
    }
    let before_presenting = v.audit(&auditor).await.len();

    // At the venue: only age_over_21, bound to the venue's nonce.
    let door_open = door(&v, &uris).await;
    // The same lists in their CBOR form (a CWT): the same bits.
    let (revoked_uri, revoked_idx) = status_uri(&credentials[3]);
    let bit = |bits: &[u8]| (bits[usize::try_from(revoked_idx / 8).unwrap()] >> (revoked_idx % 8)) & 1;
    for uri in &uris {
        let bits = cwt_matches_jwt(&v, &door_open, uri).await;
        if *uri == revoked_uri {
            assert_eq!(bit(&bits), 0, "not revoked yet");
        }
    }
    let p = holders[0].present(&credentials[0], &["age_over_21"], VENUE, "n-1", now());
    both_accept(&door_open, &p, "n-1", &json!({"age_over_21": true})).await;
    let (ok, verdict) = cli(&door_open, &p, "n-1");
    assert!(ok, "{verdict}");
    assert_eq!(verdict["claims"], json!({"age_over_21": true}));
    let list = door_open.lists.values().next().unwrap().as_str().unwrap();
    println!(
        "measured: a presentation of one claim is {} bytes; a status list of 131072 entries is {} bytes signed",
        p.len(),
        list.len()
    );
    let p2 = holders[1].present(&credentials[1], &["resident", "program"], VENUE, "n-2", now());
    both_accept(&door_open, &p2, "n-2", &json!({"resident": true, "program": "idnyc"})).await;
    // Replayed to another nonce, stale, for another audience, or presented
    // with another credential's key: refused by both.
    both_refuse(&door_open, &p, "n-9", &VerifyError::KeyBinding("nonce")).await;
    let stale = holders[0].present(&credentials[0], &["age_over_21"], VENUE, "n-3", now() - 3_600);
    both_refuse(&door_open, &stale, "n-3", &VerifyError::KeyBinding("not fresh")).await;
    let elsewhere = holders[0].present(&credentials[0], &["age_over_21"], "https://other.example", "n-4", now());
    both_refuse(&door_open, &elsewhere, "n-4", &VerifyError::KeyBinding("aud")).await;
    let stolen = holders[2].present(&credentials[0], &["age_over_21"], VENUE, "n-5", now());
    both_refuse(&door_open, &stolen, "n-5", &VerifyError::KeyBinding("signature")).await;

    // The audit shows the offer and the redemption, with the card's subject
    // and no claim values, and nothing of the presentations.
    let entries = v.audit(&auditor).await;
    assert_eq!(
        entries.len(),
        before_presenting + 1,
        "presenting wrote nothing (the listing itself adds one)"
    );
    let offers: Vec<&Value> = entries.iter().filter(|e| e["action"] == "offer_credential").collect();
    let redemptions: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "redeem_credential_offer")
        .collect();
    assert_eq!((offers.len(), redemptions.len()), (1, 1));
    assert_eq!(offers[0]["decision"], "allow");
    assert_eq!(offers[0]["subject"], redemptions[0]["subject"]);
    for e in offers.iter().chain(&redemptions) {
        let text = e.to_string();
        for secret in ["age_over", "resident\"", "idnyc", card.as_str(), code, pin] {
            assert!(!text.contains(secret), "an issuance entry shows {secret}: {text}");
        }
    }

    // Revoked at the counter: the next status list says so, to both.
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let door_later = door(&v, &uris).await;
    assert_eq!(
        bit(&cwt_matches_jwt(&v, &door_later, &revoked_uri).await),
        1,
        "revoked, in the CWT too"
    );
    let p = holders[3].present(&credentials[3], &["age_over_21"], VENUE, "n-6", now());
    both_refuse(&door_later, &p, "n-6", &VerifyError::Revoked).await;
    let (ok, verdict) = cli(&door_later, &p, "n-6");
    assert!(!ok);
    assert_eq!(verdict, json!({"valid": false, "reason": "revoked"}));
    // And no new offer for a revoked card.
    let (s, _) = make_offer(&v, &clerk, &card).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_reference_verifier_takes_one_disclosed_claim_and_reads_revocation_from_the_status_list() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P8", "1990-04-12").await;
    let meta: Value = v
        .http
        .get(v.url("/.well-known/openid-credential-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = meta["credential_issuer"].as_str().unwrap().to_owned();
    let w = redeem(&v, &clerk, &card, &issuer).await;
    let credential = &w.credentials[0];
    let jws = credential.split('~').next().unwrap();
    assert_eq!(b64_json(jws.split('.').next().unwrap())["alg"], "ES256");
    assert_eq!(
        b64_json(jws.split('.').nth(1).unwrap())["cnf"]["jwk"]["crv"],
        "P-256",
        "an ES256 holder key"
    );
    let (uri, idx) = status_uri(credential);
    let uris = BTreeSet::from([uri.clone()]);
    let bit = |d: &Door| {
        let jwt = d.lists[&uri].as_str().unwrap();
        let lst = b64_json(jwt.split('.').nth(1).unwrap())["status_list"]["lst"]
            .as_str()
            .unwrap()
            .to_owned();
        let bits = sdjwt::decode_list(&lst).unwrap();
        (bits[usize::try_from(idx / 8).unwrap()] >> (idx % 8)) & 1
    };

    // One claim, key-bound to the venue's nonce: all three verifiers take
    // it, and the Python one discloses exactly that claim, status 0.
    let d = door(&v, &uris).await;
    assert_eq!(bit(&d), 0);
    let resident = json!({"resident": true});
    let p = w.holders[0].present(credential, &["resident"], VENUE, "py-1", now());
    both_accept(&d, &p, "py-1", &resident).await;
    if let Some(t) = pythons(&d, &p, "py-1").await {
        assert_eq!(t, json!({"ok": true, "claims": resident, "status": 0}));
    }

    // Tampered: replayed to another nonce, or the KB-JWT's signature
    // altered by one character — refused.
    assert_eq!(ours(&d, &p, "py-9"), Err(VerifyError::KeyBinding("nonce")));
    if let Some(t) = pythons(&d, &p, "py-9").await {
        assert_eq!(t["ok"], false, "{t}");
        assert!(t["error"].as_str().unwrap().contains("nonce"), "{t}");
    }
    let (signed, sig) = p.rsplit_once('.').unwrap();
    let mut sig = sig.to_owned().into_bytes();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let forged = format!("{signed}.{}", String::from_utf8(sig).unwrap());
    assert_eq!(ours(&d, &forged, "py-1"), Err(VerifyError::KeyBinding("signature")));
    if let Some(t) = pythons(&d, &forged, "py-1").await {
        assert_eq!(t["ok"], false, "{t}");
        assert!(t.get("claims").is_none(), "{t}");
    }

    // Revoked at the counter: the freshly fetched status list has the
    // credential's bit set, and the Python verifier reads it there.
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let d = door(&v, &uris).await;
    assert_eq!(bit(&d), 1);
    let p = w.holders[0].present(credential, &["resident"], VENUE, "py-2", now());
    assert_eq!(ours(&d, &p, "py-2"), Err(VerifyError::Revoked));
    if let Some(t) = pythons(&d, &p, "py-2").await {
        assert_eq!(t, json!({"ok": false, "claims": resident, "status": 1}));
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_erasure_and_the_sweep_revoke_and_codes_do_not_outlive_the_card() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let meta: Value = v
        .http
        .get(v.url("/.well-known/openid-credential-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = meta["credential_issuer"].as_str().unwrap().to_owned();
    let replaced = v.enroll_one(&clerk, "P2", "1980-01-01").await;
    let erased = v.enroll_one(&clerk, "P3", "2010-06-01").await;
    let kept = v.enroll_one(&clerk, "P4", "1970-01-01").await;
    let a = redeem(&v, &clerk, &replaced, &issuer).await;
    let b = redeem(&v, &clerk, &erased, &issuer).await;
    let c = redeem(&v, &clerk, &kept, &issuer).await;
    // A code offered before the erasure request is worthless after it.
    let (s, late_offer) = make_offer(&v, &clerk, &erased).await;
    assert_eq!(s, StatusCode::OK);
    let late_token = access_token(&v, &late_offer).await;

    let (s, body) = v
        .post(
            &format!("/v1/cardholders/{replaced}/replace"),
            &clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = v.request_erasure(&clerk, &erased).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let (s, e) = request_credentials(&v, &late_token, &[Holder::new()], &issuer).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{e}"
    );

    let uris: BTreeSet<String> = [&a, &b, &c]
        .iter()
        .flat_map(|w| w.credentials.iter().map(|c| status_uri(c).0))
        .collect();
    let check = |d: &Door, w: &Wallet, i: usize, n: &str| {
        let p = w.holders[i].present(&w.credentials[i], &["resident"], VENUE, n, now());
        ours(d, &p, n)
    };
    let d = door(&v, &uris).await;
    for i in 0..10 {
        assert_eq!(
            check(&d, &a, i, "r"),
            Err(VerifyError::Revoked),
            "replaced card, credential {i}"
        );
        assert_eq!(
            check(&d, &b, i, "e"),
            Err(VerifyError::Revoked),
            "erased card, credential {i}"
        );
        assert!(check(&d, &c, i, "k").is_ok(), "other cards are untouched");
    }
    let p = b.holders[9].present(&b.credentials[9], &["age_over_13"], VENUE, "x", now());
    both_refuse(&d, &p, "x", &VerifyError::Revoked).await;
    let p = c.holders[9].present(&c.credentials[9], &["age_over_18", "age_over_65"], VENUE, "y", now());
    both_accept(&d, &p, "y", &json!({"age_over_18": true, "age_over_65": false})).await;

    // The sweep destroys the erased record; its credentials stay revoked.
    let admin = v.staff("admin-2", &["admin"]).await;
    let (s, body) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let d = door(&v, &uris).await;
    assert_eq!(check(&d, &b, 0, "s"), Err(VerifyError::Revoked));
    assert!(check(&d, &c, 0, "t").is_ok());
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_rotates_the_issuer_key_and_keeps_old_keys_until_their_credentials_expire() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path(), "idnyc");
    // Ed25519 configured to sign credentials: its keys rotate as the
    // ES256 ones (which sign the status lists) do.
    config.credentials.signing_alg = Alg::Ed25519;
    let clock = Arc::new(civic_vault::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let admin = v.staff("admin-2", &["admin"]).await;
    let card = v.enroll_one(&clerk, "P5", "1990-01-01").await;
    let issuer_meta: Value = v
        .http
        .get(v.url("/.well-known/openid-credential-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = issuer_meta["credential_issuer"].as_str().unwrap().to_owned();
    let w = redeem(&v, &clerk, &card, &issuer).await;
    let kid_of = |c: &str| {
        b64_json(c.split('.').next().unwrap())["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = kid_of(&w.credentials[0]);
    let header = b64_json(w.credentials[0].split('.').next().unwrap());
    assert_eq!(header["alg"], "Ed25519", "RFC 9864's name");
    // The Ed25519 issuer keys (the ES256 ones are `issuer-es256-…`).
    let issuer_kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == "Ed25519" && k["crv"] == "Ed25519")
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect()
    };
    let uris: BTreeSet<String> = w.credentials.iter().map(|c| status_uri(c).0).collect();
    let at = |clock: &civic_vault::clock::ManualClock| {
        use civic_vault::clock::Clock;
        clock.now().unix_timestamp()
    };
    let check = |d: &Door, i: usize, t: i64| {
        let p = w.holders[i].present(&w.credentials[i], &["resident"], VENUE, "r", t);
        let expect = Expect {
            audience: VENUE,
            nonce: "r",
            vct: VCT,
            now: t,
            max_age: 300,
        };
        sdjwt::verify::verify(
            &p,
            &d.jwks,
            |uri| d.lists.get(uri).and_then(Value::as_str).map(str::to_owned),
            &expect,
        )
    };

    // 91 days on: a new key signs, the old one still verifies what it signed.
    clock.advance(std::time::Duration::from_secs(91 * 86_400));
    let (s, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let d = door(&v, &uris).await;
    let kids = issuer_kids(&d.jwks);
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert_eq!(kids[0], first);
    assert!(check(&d, 0, at(&clock)).is_ok());

    // A year after the new key took over, everything the old one signed has
    // expired: the old key is destroyed and gone from the JWKS.
    clock.advance(std::time::Duration::from_secs(366 * 86_400));
    let (s, r) = v.post("/v1/retention/sweep", &admin, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let d = door(&v, &uris).await;
    let kids = issuer_kids(&d.jwks);
    assert!(!kids.contains(&first), "{kids:?}");
    assert!(!v.dir.path().join(format!("keys/{first}.key")).exists());
    // (Its key is checked first: gone from the JWKS, it verifies nothing.)
    assert_eq!(check(&d, 1, at(&clock)), Err(VerifyError::UnknownKey));
    v.stop().await;
}

/// A credential request's raw body with `token`.
async fn raw_credential_request(v: &TestVault, token: &str, body: &str) -> (StatusCode, Value) {
    let resp = v
        .http
        .post(v.url("/oid4vci/credential"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_wallet_finds_the_token_endpoint_and_gets_the_errors_openid4vci_names() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P6", "1990-04-12").await;
    let get = |path: &'static str| {
        let http = v.http.clone();
        let url = v.url(path);
        async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };

    // RFC 8414 metadata at the issuer (no authorization_servers): the
    // token endpoint is there, not in the issuer metadata.
    let meta = get("/.well-known/openid-credential-issuer").await;
    let issuer = meta["credential_issuer"].as_str().unwrap().to_owned();
    assert!(meta.get("authorization_servers").is_none());
    assert!(meta.get("token_endpoint").is_none(), "{meta}");
    let oauth = get("/.well-known/oauth-authorization-server").await;
    assert_eq!(oauth["issuer"], issuer.as_str());
    assert_eq!(oauth["token_endpoint"], format!("{issuer}/oid4vci/token"));
    assert_eq!(oauth["pre-authorized_grant_anonymous_access_supported"], true);
    assert_eq!(
        oauth["grant_types_supported"],
        json!(["authorization_code", PRE_AUTHORIZED])
    );
    assert_eq!(oauth["require_pushed_authorization_requests"], true);
    assert_eq!(oauth["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        oauth["pushed_authorization_request_endpoint"],
        format!("{issuer}/oid4vci/par")
    );
    assert_eq!(oauth["authorization_endpoint"], format!("{issuer}/oid4vci/authorize"));
    assert_eq!(
        oauth["dpop_signing_alg_values_supported"],
        json!(["ES256", "Ed25519", "EdDSA"])
    );

    // The token request: no tx_code is a malformed request (§6.3), and it
    // costs the offer none of its three tries; a repeated parameter is
    // malformed too; parameters the vault does not know are ignored.
    let (s, offer) = make_offer(&v, &clerk, &card).await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let code = offer_of(offer["offer_uri"].as_str().unwrap())["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let pin = offer["user_pin"].as_str().unwrap();
    for _ in 0..4 {
        let (s, e) = form(
            &v,
            "/oid4vci/token",
            &[("grant_type", PRE_AUTHORIZED), ("pre-authorized_code", &code)],
        )
        .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
    }
    let (s, e) = form(
        &v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", &code),
            ("tx_code", pin),
            ("tx_code", pin),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (s, t) = form(
        &v,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", &code),
            ("tx_code", pin),
            ("client_id", "some-wallet"),
            ("authorization_details", "[]"),
            ("something_new", "1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let token = t["access_token"].as_str().unwrap().to_owned();

    // Malformed credential requests: §8.3.1.2's codes, the token kept.
    let n = nonce(&v).await;
    let holder = Holder::new();
    let proof = holder.proof(&issuer, &n);
    for (body, code) in [
        ("not json".to_owned(), "invalid_credential_request"),
        ("[]".to_owned(), "invalid_credential_request"),
        (json!({"proofs": {"jwt": [proof]}}).to_string(), "invalid_credential_request"),
        (
            json!({"credential_configuration_id": "municipal_id", "credential_identifier": "x", "proofs": {"jwt": [proof]}}).to_string(),
            "invalid_credential_request",
        ),
        (
            format!(r#"{{"credential_configuration_id": "municipal_id", "credential_configuration_id": "municipal_id", "proofs": {{"jwt": ["{proof}"]}}}}"#),
            "invalid_credential_request",
        ),
        (json!({"credential_configuration_id": 7, "proofs": {"jwt": [proof]}}).to_string(), "invalid_credential_request"),
        (
            json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": [proof], "attestation": ["x"]}}).to_string(),
            "invalid_credential_request",
        ),
        (json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": []}}).to_string(), "invalid_credential_request"),
        (json!({"credential_configuration_id": "municipal_id"}).to_string(), "invalid_proof"),
        (json!({"credential_configuration_id": "municipal_id", "proofs": {"di_vp": [{}]}}).to_string(), "invalid_proof"),
        (json!({"credential_configuration_id": "passport", "proofs": {"jwt": [proof]}}).to_string(), "unknown_credential_configuration"),
        (json!({"credential_identifier": "x", "proofs": {"jwt": [proof]}}).to_string(), "unknown_credential_identifier"),
        (
            json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": [proof]},
                   "credential_response_encryption": {"jwk": {}, "enc": "A256GCM"}}).to_string(),
            "invalid_encryption_parameters",
        ),
    ] {
        let (s, e) = raw_credential_request(&v, &token, &body).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{body}: {e}");
    }

    // A proof whose `alg` is not its key's is refused.
    let lying = Holder::of(Alg::Es256).proof_as("Ed25519", &issuer, &n);
    let body = json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": [lying]}});
    let (s, e) = raw_credential_request(&v, &token, &body.to_string()).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof")),
        "{e}"
    );

    // Parameters the vault does not know are ignored (§8.2); an Ed25519
    // proof under the older name `EdDSA` is taken beside an ES256 one.
    let older = Holder::of(Alg::Ed25519).proof_as("EdDSA", &issuer, &n);
    let body = json!({
        "credential_configuration_id": "municipal_id",
        "proofs": {"jwt": [proof, older]},
        "wallet_extension": {"anything": true},
        "format": "dc+sd-jwt",
    });
    let (s, a) = raw_credential_request(&v, &token, &body.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["credentials"].as_array().unwrap().len(), 2);
    v.stop().await;
}

/// A batch of ten redeemed by the wallet client library real wallets use
/// (`tests/oid4vci/wallet.mjs`: @openid4vc/openid4vci 0.4.6 with
/// @openid4vc/oauth2), with holder keys of `alg`; `None` when its packages
/// are not installed outside CI (under `CI`, their absence fails the test).
async fn library_wallet(offer: &Value, alg: &str, flow: &str, dpop: bool) -> Option<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oid4vci");
    if !common::needs(
        "sdjwt",
        root.join("node_modules/@openid4vc/openid4vci").is_dir(),
        "oid4vc-ts in tests/oid4vci/node_modules, the wallet library (.ci/sdjwt-setup installs it)",
    ) {
        return None;
    }
    let input = json!({
        "offer_uri": offer["offer_uri"], "tx_code": offer["user_pin"], "alg": alg, "count": 10,
        "flow": flow, "dpop": dpop,
    });
    let mut command = tokio::process::Command::new("node");
    command.arg(root.join("wallet.mjs")).current_dir(&root);
    Some(
        run_json(
            &mut command,
            &input,
            "node must be installed for the wallet library",
            "wallet.mjs failed",
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_wallet_library_redeems_a_batch_by_either_grant_with_es256_and_ed25519_keys_and_dpop() {
    let v = TestVault::start_reachable("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P7", "1990-04-12").await;
    let jwks: Value = v
        .http
        .get(v.url("/.well-known/jwt-vc-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Both grants of the clerk's one offer (the pre-authorized code; the
    // authorization code with PAR, PKCE and the holder confirming on the
    // authorization page), bearer and DPoP-bound tokens, both holder key
    // algorithms.
    let runs = [
        ("ES256", "pre_authorized", false),
        ("Ed25519", "pre_authorized", false),
        ("ES256", "authorization_code", false),
        ("Ed25519", "authorization_code", true),
        ("ES256", "pre_authorized", true),
    ];
    for (alg, flow, dpop) in runs {
        let (s, offer) = make_offer(&v, &clerk, &card).await;
        assert_eq!(s, StatusCode::OK, "{offer}");
        let Some(out) = library_wallet(&offer, alg, flow, dpop).await else {
            break;
        };
        assert_eq!(out["ok"], true, "{alg} {flow} dpop={dpop}: {out}");
        assert_eq!(out["retried"], false, "one nonce served the whole batch");
        assert_eq!(out["token_type"], if dpop { "DPoP" } else { "Bearer" });
        let credentials = out["credentials"].as_array().unwrap();
        assert_eq!(credentials.len(), 10);
        println!(
            "measured: {alg} holder keys, {flow} grant, dpop={dpop}: a batch of ten through @openid4vc/openid4vci (offer to credentials, ten proofs signed in node) in {:.1} ms (debug build)",
            out["ms"].as_f64().unwrap()
        );
        // Each credential is bound to the key its proof proved, and signed
        // ES256 by a key in the issuer's JWKS.
        for (c, holder) in credentials.iter().zip(out["holder_jwks"].as_array().unwrap()) {
            let jws = c.as_str().unwrap().split('~').next().unwrap();
            let (signed, sig) = jws.rsplit_once('.').unwrap();
            let header = b64_json(signed.split('.').next().unwrap());
            assert_eq!(header["alg"], "ES256");
            assert_eq!(b64_json(signed.split('.').nth(1).unwrap())["cnf"]["jwk"], *holder);
            let key = jwks["jwks"]["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == header["kid"])
                .unwrap();
            let key = civic_vault::crypto::jose::PublicKey::from_jwk(key).unwrap();
            assert!(key.verifies("ES256", signed.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap()));
        }
    }
    v.stop().await;
}
