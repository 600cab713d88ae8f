//! Privacy officers check, change, version and roll back the editable
//! policies; the floor stays whatever they do.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn put(v: &TestVault, token: &str, body: &Value) -> (StatusCode, Value) {
    v.call(Method::PUT, "/v1/policies", Some(token), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_change_version_and_roll_back() {
    let v = TestVault::start("idnyc").await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let card = v.enroll_one(&clerk, "P-1", "1990-04-12").await;
    let parks = v.system("parks-1", "city_agency", &["parks_recreation"]).await;
    let ask = |token: String| {
        let v = &v;
        let card = card.clone();
        async move {
            v.post(
                "/v1/facts",
                &token,
                &json!({"card_number": card, "purpose": "parks_recreation", "facts": ["age_over_18"]}),
            )
            .await
            .0
        }
    };
    // Parks get card_valid and resident, not ages.
    assert_eq!(ask(parks.clone()).await, StatusCode::FORBIDDEN);

    let (s, current) = v.get("/v1/policies", &officer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(current["version"], 1);
    assert!(current["floor"]
        .as_str()
        .unwrap()
        .contains("floor.immigration_enforcement"));
    let text = current["policies"].as_str().unwrap().to_owned();
    let (s, _) = v.get("/v1/policies", &clerk).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Reports: a syntax error, a schema error named by policy id, a permit the floor makes inert.
    let (s, r) = v
        .post(
            "/v1/policies/check",
            &officer,
            &json!({"policies": "permit(principal, action"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["valid"], false);
    assert_eq!(
        (r["errors"][0]["line"].as_u64(), r["errors"][0]["column"].as_u64()),
        (Some(1), Some(25)),
        "a parse error names line and column: {r}"
    );
    let (_, r) = v
        .post(
            "/v1/policies/check",
            &officer,
            &json!({"policies": "@id(\"typo\") permit(principal, action, resource) when { context.purpse == \"x\" };"}),
        )
        .await;
    assert_eq!(
        (r["valid"].as_bool(), r["errors"][0]["policy_id"].as_str()),
        (Some(false), Some("typo"))
    );
    let reopen = format!("{text}\n@id(\"reopen\") permit(principal, action, resource) when {{ context.purpose == \"immigration_enforcement\" }};");
    let (_, r) = v
        .post("/v1/policies/check", &officer, &json!({"policies": reopen}))
        .await;
    assert_eq!(r["floor_violations"], json!([]), "the floor denies every canary: {r}");
    assert!(r["canaries"].as_u64().unwrap() > 1000);
    // The solver proves the property for every request type, and names the
    // permit the floor makes inert.
    assert_eq!(r["proof"]["status"], "proved", "{}", r["proof"]);
    assert_eq!(r["proof"]["request_types"], 80);
    assert_eq!(r["proof"]["lint"]["inert_permits"], json!(["reopen"]));
    // A forbid that removes nothing: valid, named by the lint, no decision flips.
    let noop = format!("{text}\n@id(\"noop\") forbid(principal is CivicVault::System, action == CivicVault::Action::\"run_sweep\", resource);");
    let (_, r) = v.post("/v1/policies/check", &officer, &json!({"policies": noop})).await;
    assert_eq!(r["valid"], true, "{r}");
    assert_eq!(r["proof"]["lint"]["redundant_forbids"], json!(["noop"]));
    assert_eq!(r["impact"]["changed"], json!([]));

    // A rejected PUT changes nothing.
    let (s, r) = put(
        &v,
        &officer,
        &json!({"policies": "permit(", "comment": "broken", "expected_version": 1}),
    )
    .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("policy_rejected"))
    );
    assert_eq!(r["error"]["report"]["valid"], false);

    // An edit that breaks a shipped policy test (parks lose card_valid) is rejected.
    let start = text.find("@id(\"facts.parks_and_culture\")").unwrap();
    let end = start + text[start..].find("};").unwrap() + 2;
    let broken = format!("{}{}", &text[..start], &text[end..]);
    let (s, r) = put(
        &v,
        &officer,
        &json!({"policies": broken, "comment": "parks pause", "expected_version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let failed = r["error"]["report"]["tests"]["failed"].to_string();
    assert!(failed.contains("parks: resident"), "{failed}");

    // A benign edit (parks may ask age_over_18) decides the very next request.
    let edited = format!(
        "{text}\n@id(\"facts.parks_youth\")\npermit (principal is CivicVault::System, action == CivicVault::Action::\"query_fact\", resource == CivicVault::Fact::\"age_over_18\")\nwhen {{ context.purpose == \"parks_recreation\" && context.purpose_registered }};\n"
    );
    let (s, r) = put(
        &v,
        &officer,
        &json!({"policies": edited, "comment": "youth programs", "expected_version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["version"], 2);
    assert_eq!(r["proof"]["status"], "proved");
    assert_eq!(ask(parks.clone()).await, StatusCode::OK);
    let entries = v.audit(&auditor).await;
    // The change's entry carries the new version's digest and its diff's.
    let change = entries
        .iter()
        .find(|e| e["action"] == "update_policies" && e["outcome"] == "ok")
        .unwrap();
    assert_eq!(change["digests"]["version"], r["digest"]);
    assert_eq!(
        change["digests"]["diff"].as_str(),
        Some(civic_vault::domain::policy_version::diff_digest(&text, &edited, 1, 2).as_str())
    );
    let last = entries.iter().rev().find(|e| e["principal"] == "parks-1").unwrap();
    assert_eq!(last["policy_version"], 2);

    // Stale version: 409. Rollback restores the earlier decisions, as version 3.
    let (s, r) = put(
        &v,
        &officer,
        &json!({"policies": text, "comment": "stale", "expected_version": 1}),
    )
    .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("version_conflict"))
    );
    let (s, r) = v
        .post(
            "/v1/policies/rollback",
            &officer,
            &json!({"to_version": 1, "expected_version": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["version"], 3);
    assert_eq!(ask(parks.clone()).await, StatusCode::FORBIDDEN);
    let (_, h) = v.get("/v1/policies/versions", &officer).await;
    let comments: Vec<&str> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["comment"].as_str().unwrap())
        .collect();
    assert_eq!(
        comments,
        [
            "seeded from the policies directory",
            "youth programs",
            "rollback to version 1"
        ]
    );
    assert_eq!(h["versions"][1]["who"], "privacy-1");

    // The active version survives a restart.
    let dir = v.stop().await;
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let (_, current) = v.get("/v1/policies", &officer).await;
    assert_eq!(current["version"], 3);
    v.stop().await;
}

/// Policy tests travel with the policies: an intentional change of a tested
/// behaviour ("pause parks for a month") is refused alone, and passes
/// together with the test it changes; the report lists the test changed,
/// the next read shows it, and a rollback restores the version's own tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tested_behaviour_changes_only_with_its_test() {
    let v = TestVault::start("idnyc").await;
    let privacy = v.staff("privacy-pat", &["privacy_officer"]).await;
    let (s, active) = v.get("/v1/policies", &privacy).await;
    assert_eq!(s, StatusCode::OK);
    let mut tests = active["tests"].as_array().unwrap().clone();
    assert!(tests.len() > 60, "the shipped tests are the first version's");
    let pause = format!(
        "{}\n@id(\"pause.parks\")\nforbid (principal, action == CivicVault::Action::\"query_fact\", resource)\nwhen {{ context.purpose == \"parks_recreation\" }};\n",
        active["policies"].as_str().unwrap()
    );
    // Alone: the shipped parks test fails, so the change is refused.
    let (s, b) = v
        .call(
            Method::PUT,
            "/v1/policies",
            Some(&privacy),
            Some(&json!({"policies": pause, "comment": "pause parks", "expected_version": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["report"]["tests"]["failed"]
        .to_string()
        .contains("parks: resident"));
    // With the test changed, a check says which test changed, and it passes.
    let parks = tests.iter_mut().find(|t| t["name"] == "parks: resident").unwrap();
    parks["expect"] = json!("deny");
    tests.push(
        json!({"name": "parks paused", "principal": {"kind": "system", "agency_kind": "city_agency",
        "purposes": ["parks_recreation"]}, "action": "query_fact", "resource": "card_valid",
        "purpose": "parks_recreation", "expect": "deny"}),
    );
    let (s, b) = v
        .post(
            "/v1/policies/check",
            &privacy,
            &json!({"policies": pause, "tests": tests}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["valid"], true, "{b}");
    assert_eq!(b["tests"]["changed"], json!(["parks: resident"]));
    assert_eq!(b["tests"]["added"], json!(["parks paused"]));
    let (s, b) = v
        .call(
            Method::PUT,
            "/v1/policies",
            Some(&privacy),
            Some(&json!({"policies": pause, "comment": "pause parks", "expected_version": 1, "tests": tests})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, active) = v.get("/v1/policies", &privacy).await;
    assert_eq!(active["version"], 2);
    assert!(active["tests"].to_string().contains("parks paused"));
    // A later edit without tests keeps version 2's tests (the parks test now expects deny).
    let (_, b) = v
        .post("/v1/policies/check", &privacy, &json!({"policies": active["policies"]}))
        .await;
    assert_eq!(
        (b["valid"].as_bool(), b["tests"]["changed"].as_array().map(Vec::len)),
        (Some(true), Some(0)),
        "{b}"
    );
    // Rolling back to version 1 restores its text and its tests.
    let (s, b) = v
        .post(
            "/v1/policies/rollback",
            &privacy,
            &json!({"to_version": 1, "expected_version": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, active) = v.get("/v1/policies", &privacy).await;
    assert!(!active["tests"].to_string().contains("parks paused"));
    v.stop().await;
}
