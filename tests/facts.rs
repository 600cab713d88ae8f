//! City systems ask minimal facts about the one card presented, and get
//! signed answers or nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use civic_vault::clock::ManualClock;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn ask(v: &TestVault, token: &str, card: &str, purpose: &str, facts: &[&str]) -> (StatusCode, Value) {
    v.post(
        "/v1/facts",
        token,
        &json!({"card_number": card, "purpose": purpose, "facts": facts}),
    )
    .await
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("(none)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_purpose_family_gets_what_it_needs_and_nothing_more() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let adult = v.enroll_one(&clerk, "A-1", "1990-04-12").await;
    let senior = v.enroll_one(&clerk, "A-2", "1950-01-01").await;
    let teen = v.enroll_one(&clerk, "A-3", &days_ago(15 * 366)).await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let parks = v
        .system("parks-1", "city_agency", &["parks_recreation", "cultural_institution"])
        .await;
    let clinic = v
        .system("clinic-1", "city_partner", &["health_services", "benefits_enrollment"])
        .await;
    let transit = v
        .system("transit-1", "city_agency", &["transit_discount", "senior_services"])
        .await;
    let police = v
        .system("nypd-records", "local_law_enforcement", &["identity_check"])
        .await;
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;

    let (s, b) = ask(
        &v,
        &library,
        &adult,
        "library_services",
        &["card_valid", "resident", "age_over_13", "age_over_18", "age_over_65"],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["facts"],
        json!({"card_valid": true, "resident": true, "age_over_13": true, "age_over_18": true})
    );
    assert_eq!(b["withheld"], json!({"age_over_65": "not_permitted"}));
    let (_, b) = ask(&v, &library, &teen, "library_services", &["age_over_13", "age_over_18"]).await;
    assert_eq!(b["facts"], json!({"age_over_13": true, "age_over_18": false}));

    for purpose in ["parks_recreation", "cultural_institution"] {
        let (s, b) = ask(&v, &parks, &adult, purpose, &["card_valid", "resident", "age_over_18"]).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["facts"], json!({"card_valid": true, "resident": true}));
        assert_eq!(b["withheld"], json!({"age_over_18": "not_permitted"}));
    }
    for purpose in ["health_services", "benefits_enrollment"] {
        let (_, b) = ask(&v, &clinic, &adult, purpose, &["card_valid", "resident", "age_over_21"]).await;
        assert_eq!(b["facts"], json!({"card_valid": true, "resident": true}));
        assert_eq!(b["withheld"], json!({"age_over_21": "not_permitted"}));
    }
    let (_, b) = ask(
        &v,
        &transit,
        &senior,
        "senior_services",
        &["card_valid", "age_over_62", "age_over_65", "age_over_18"],
    )
    .await;
    assert_eq!(
        b["facts"],
        json!({"card_valid": true, "age_over_62": true, "age_over_65": true})
    );
    let (_, b) = ask(&v, &transit, &adult, "transit_discount", &["age_over_65"]).await;
    assert_eq!(b["facts"], json!({"age_over_65": false}));

    let (_, b) = ask(
        &v,
        &police,
        &adult,
        "identity_check",
        &["card_valid", "resident", "age_over_21"],
    )
    .await;
    assert_eq!(b["facts"], json!({"card_valid": true}));
    assert_eq!(
        b["withheld"],
        json!({"resident": "not_permitted", "age_over_21": "not_permitted"})
    );
    let (_, b) = ask(&v, &bank, &adult, "financial_services", &["card_valid", "resident"]).await;
    assert_eq!(b["facts"], json!({"card_valid": true}));

    // An answer never carries a birth date, name or address. (The whole
    // date, in every spelling: a bare "1990" can turn up by chance inside
    // a signature's base64 or a hash's hex, and did once in CI.)
    let text = b.to_string();
    for leak in ["1990-04-12", "19900412", "04/12/1990", "Test Holder"] {
        assert!(!text.contains(leak), "a fact answer carries {leak:?}");
    }
    for field in ["date_of_birth", "birth_date", "full_name", "address"] {
        assert!(!text.contains(field), "a fact answer names {field:?}");
    }

    // Police asking for anything but card_valid gets nothing: 403.
    let (s, b) = ask(&v, &police, &adult, "identity_check", &["age_over_18"]).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden_by_policy"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vocabulary_and_registered_purposes() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "A-1", "1990-04-12").await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let (s, b) = ask(&v, &library, &card, "marketing", &["card_valid"]).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "unknown_purpose"));
    for fact in ["age_over_19", "date_of_birth", "full_name", "address"] {
        let (s, b) = ask(&v, &library, &card, "library_services", &[fact]).await;
        assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "unknown_fact"), "{fact}");
    }
    let (s, b) = ask(&v, &library, &card, "library_services", &[]).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));
    // A purpose the library is not registered for.
    let (s, b) = ask(&v, &library, &card, "health_services", &["card_valid"]).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden_by_policy"));
    assert!(b["error"]["decision_id"].as_str().unwrap().starts_with("dec_"));
    // Staff do not query facts.
    let (s, _) = ask(&v, &clerk, &card, "card_administration", &["card_valid"]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A search field does not exist.
    let (s, b) = v
        .post(
            "/v1/facts",
            &library,
            &json!({"full_name": "Test Holder", "purpose": "library_services", "facts": ["card_valid"]}),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_revoked_and_expired_cards_answer_identically() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.card_validity = Some("30d".parse().unwrap());
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let revoked = v.enroll_one(&clerk, "A-1", "1990-04-12").await;
    let expired = v.enroll_one(&clerk, "A-2", "1990-04-12").await;
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{revoked}/revoke"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    clock.advance(std::time::Duration::from_secs(45 * 86_400));
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let facts = ["card_valid", "resident", "age_over_18", "age_over_65"];
    let mut bodies = Vec::new();
    for card in [
        revoked.as_str(),
        expired.as_str(),
        "0000-0000-0000-0000",
        "not a card at all",
    ] {
        let (s, b) = ask(&v, &library, card, "library_services", &facts).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        bodies.push(b);
    }
    for b in &bodies {
        assert_eq!(b["facts"], json!({"card_valid": false}));
        assert_eq!(
            b["withheld"],
            json!({"resident": "card_not_valid", "age_over_18": "card_not_valid", "age_over_65": "not_permitted"})
        );
        let mut keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["attestation", "decision_id", "facts", "withheld"]);
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attestation_verifies_with_a_standard_jwt_library_against_the_jwks() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "A-1", "1990-04-12").await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let (_, b) = ask(&v, &library, &card, "library_services", &["card_valid", "age_over_18"]).await;
    let token = b["attestation"].as_str().unwrap();

    let jwks: jsonwebtoken::jwk::JwkSet = v
        .http
        .get(v.url("/v1/attestation-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["nypl-12"]);
    validation.set_issuer(&["civic-vault:idnyc"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap().claims;
    assert_eq!(claims["jti"], b["decision_id"]);
    assert_eq!(claims["facts"], b["facts"]);
    assert_eq!(claims["card_number"], card.as_str());
    assert_eq!(claims["purpose"], "library_services");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);

    // A changed claim no longer verifies.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = serde_json::to_vec(
        &json!({"facts": {"age_over_18": false}, "aud": "nypl-12", "iss": "civic-vault:idnyc", "exp": claims["exp"]}),
    )
    .unwrap();
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
    assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &key, &validation).is_err());
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_are_all_answered_with_one_audit_entry_per_query() {
    let v = Arc::new(TestVault::start("idnyc").await);
    let clerk = v.clerk().await;
    let mut cards = Vec::new();
    for i in 0..8 {
        cards.push(v.enroll_one(&clerk, &format!("C-{i}"), "1990-04-12").await);
    }
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let auditor = v.auditor().await;
    let mut tasks = Vec::new();
    for client in 0..32 {
        let (v, library, cards) = (v.clone(), library.clone(), cards.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..5 {
                let card = &cards[(client + i) % cards.len()];
                let (s, b) = ask(
                    &v,
                    &library,
                    card,
                    "library_services",
                    &["card_valid", "age_over_18", "age_over_65"],
                )
                .await;
                assert_eq!(s, StatusCode::OK, "{b}");
                assert_eq!(b["facts"], json!({"card_valid": true, "age_over_18": true}));
                ids.push(b["decision_id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    assert_eq!(ids.len(), 160);
    let entries = v.audit(&auditor).await;
    let mut per_decision: HashMap<&str, Vec<&Value>> = HashMap::new();
    for e in entries.iter().filter(|e| e["action"] == "query_fact") {
        per_decision
            .entry(e["decision_id"].as_str().unwrap())
            .or_default()
            .push(e);
    }
    assert_eq!(per_decision.len(), 160);
    // One entry per query, each fact's decision in its items.
    for id in &ids {
        let es = &per_decision[id.as_str()];
        assert_eq!(es.len(), 1, "one audit entry per fact query");
        let e = es[0];
        assert_eq!(e["resource"], "Fact");
        assert_eq!(e["decision"], "allow");
        assert_eq!(
            e["items"],
            json!({"age_over_18": "allow", "age_over_65": "deny", "card_valid": "allow"})
        );
    }
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_guard_stops_a_partner_walking_many_cards() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let real = v.enroll_one(&clerk, "A-1", "1990-04-12").await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let other = v.system("nypl-13", "city_partner", &["library_services"]).await;
    for i in 0..500 {
        let (s, _) = ask(
            &v,
            &library,
            &format!("0000-0000-0000-{i:04}"),
            "library_services",
            &["card_valid"],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    // The 501st distinct card in the hour is refused, even a real one.
    let (s, b) = ask(&v, &library, &real, "library_services", &["card_valid"]).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden_by_policy"), "{b}");
    // Another branch is unaffected.
    let (s, _) = ask(&v, &other, &real, "library_services", &["card_valid"]).await;
    assert_eq!(s, StatusCode::OK);
    let auditor = v.auditor().await;
    let entries = v.audit(&auditor).await;
    let last = entries.iter().rev().find(|e| e["principal"] == "nypl-12").unwrap();
    assert_eq!(last["policies"], json!(["facts.bulk_guard_city_partner"]));
    v.stop().await;
}

/// The payload of a compact JWS, unverified (the signature is checked in
/// `attestation_verifies_with_a_standard_jwt_library_against_the_jwks`).
fn jws_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_canonical_card_numbers_are_signed_and_odd_ages_are_unknown_facts() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P-CANON-1", "1990-04-12").await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    // Caller text that is no card number is never inside the signature.
    let hostile = "<img src=x onerror=alert(1)>\u{202e}EVIL-TEXT-IN-OUR-JWS";
    let (s, b) = ask(&v, &library, hostile, "library_services", &["card_valid"]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["facts"]["card_valid"], false);
    let claims = jws_claims(b["attestation"].as_str().unwrap());
    assert_eq!(claims["card_number"], Value::Null);
    assert!(!b["attestation"].as_str().unwrap().contains("EVIL"));
    // A real card written loosely is signed in its canonical form.
    let loose = card.to_lowercase().replace('-', " ");
    let (s, b) = ask(&v, &library, &loose, "library_services", &["card_valid"]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["facts"]["card_valid"], true);
    assert_eq!(
        jws_claims(b["attestation"].as_str().unwrap())["card_number"],
        card.as_str()
    );
    // `age_over_+18` is not `age_over_18`.
    for odd in ["age_over_+18", "age_over_ 18", "age_over_18 "] {
        let (s, b) = ask(&v, &library, &card, "library_services", &[odd]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{odd}");
        assert_eq!(code(&b), "unknown_fact");
    }
}
