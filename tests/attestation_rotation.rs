//! Rotating the attestation key (`civic-vault keys rotate-attestation`,
//! `POST /v1/keys/attestation/rotate`): answers are signed with the new key
//! at once, attestations signed before keep verifying against the published
//! JWKS until they have all expired, the old seed is gone from the keys
//! directory, and the vault restarts on the rotated keyring.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use civic_vault::clock::ManualClock;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn jwks(v: &TestVault) -> jsonwebtoken::jwk::JwkSet {
    v.http
        .get(v.url("/v1/attestation-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn kids(set: &jsonwebtoken::jwk::JwkSet) -> Vec<String> {
    set.keys.iter().map(|k| k.common.key_id.clone().unwrap()).collect()
}

/// Verifies `token` with a standard JWT library against `set`, as a city
/// system does; returns the kid that verified it.
fn verify(token: &str, set: &jsonwebtoken::jwk::JwkSet) -> Result<String, String> {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = set.find(&kid).ok_or_else(|| format!("{kid} is not published"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["nypl-12"]);
    // The test's clock moves; the library's does not.
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|_| kid)
        .map_err(|e| e.to_string())
}

fn key_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("attest-"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_attestation_key_signs_at_once_and_the_old_one_stays_published_until_its_answers_expire() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let config = test_config(dir.path(), "idnyc");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config.clone(), clock.clone()).await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "AR-1", "1990-04-12").await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let before = ask(&v, &library, &card).await;
    let first = jwks(&v).await;
    assert_eq!(kids(&first).len(), 1);
    let old = verify(&before, &first).unwrap();
    assert_eq!(key_files(&keys_dir), [format!("{old}.key")]);

    // Only an admin may rotate.
    let (s, _) = v.post("/v1/keys/attestation/rotate", &clerk, &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The operator's command.
    let out = v.operator(&["keys", "rotate-attestation"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rotation: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotation["retired_kid"], old.as_str());
    let new = rotation["kid"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let until = time::OffsetDateTime::parse(
        rotation["retired_published_until"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = i64::try_from(config.facts.attestation_ttl.as_secs()).unwrap();
    assert_eq!(until.unix_timestamp(), clock_now(&clock) + ttl + 60);

    // New answers carry the new key; the old answer still verifies.
    let after = ask(&v, &library, &card).await;
    let published = jwks(&v).await;
    assert_eq!(kids(&published), [new.clone(), old.clone()], "the active key first");
    assert_eq!(verify(&after, &published).unwrap(), new);
    assert_eq!(verify(&before, &published).unwrap(), old);
    // The old seed is destroyed: only the new key's file is left.
    assert_eq!(key_files(&keys_dir), [format!("{new}.key")]);
    let audit = v.audit(&v.auditor().await).await;
    assert!(audit
        .iter()
        .any(|e| e["action"] == "rotate_keys" && e["decision"] == "allow"));

    // The keyring is the same keyring: the vault restarts on it.
    let dir = v.stop().await;
    let v = TestVault::start_with_clock(dir, config.clone(), clock.clone()).await;
    assert_eq!(kids(&jwks(&v).await), [new.clone(), old.clone()]);
    assert_eq!(verify(&ask(&v, &library, &card).await, &jwks(&v).await).unwrap(), new);

    // Once every answer the old key signed has expired, it is unpublished.
    clock.advance(Duration::from_secs(u64::try_from(ttl + 61).unwrap()));
    let later = jwks(&v).await;
    assert_eq!(kids(&later), [new]);
    assert!(verify(&before, &later).is_err());
    v.stop().await;
}

async fn ask(v: &TestVault, library: &str, card: &str) -> String {
    let body = json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]});
    let (s, b) = v.post("/v1/facts", library, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["attestation"].as_str().unwrap().to_owned()
}

fn clock_now(clock: &ManualClock) -> i64 {
    civic_vault::clock::Clock::now(clock).unix_timestamp()
}
