//! Impact replay: a candidate policy set is run over recorded decisions and
//! exactly those that would flip are listed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_lists_exactly_the_decisions_that_flip() {
    let v = TestVault::start("idnyc").await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "R-1", "1990-04-12").await;
    let parks = v.system("parks-1", "city_agency", &["parks_recreation"]).await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let ask = |token: &str, purpose: &str, fact: &str| {
        let body = json!({"card_number": card, "purpose": purpose, "facts": [fact]});
        let token = token.to_owned();
        let v = &v;
        async move { v.post("/v1/facts", &token, &body).await.0 }
    };
    // The history: 3 parks age questions (denied), 2 parks card_valid
    // (allowed), 2 library age questions (allowed).
    for _ in 0..3 {
        assert_eq!(
            ask(&parks, "parks_recreation", "age_over_18").await,
            StatusCode::FORBIDDEN
        );
    }
    for _ in 0..2 {
        assert_eq!(ask(&parks, "parks_recreation", "card_valid").await, StatusCode::OK);
        assert_eq!(ask(&library, "library_services", "age_over_18").await, StatusCode::OK);
    }
    let (_, current) = v.get("/v1/policies", &officer).await;
    let text = current["policies"].as_str().unwrap();

    // Candidate 1: parks may ask age_over_18 → exactly the 3 parks age decisions flip to allow.
    let youth = format!(
        "{text}\n@id(\"facts.parks_youth\")\npermit (principal is CivicVault::System, action == CivicVault::Action::\"query_fact\", resource == CivicVault::Fact::\"age_over_18\")\nwhen {{ context.purpose == \"parks_recreation\" && context.purpose_registered }};\n"
    );
    let (s, r) = v
        .post("/v1/policies/check", &officer, &json!({"policies": youth}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let impact = &r["impact"];
    assert!(impact["replayed"].as_u64().unwrap() >= 7, "{impact}");
    let changed = impact["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 3, "{impact}");
    assert!(changed.iter().all(|c| c["principal"] == "parks-1"
        && c["resource"] == "Fact::age_over_18"
        && c["from"] == "deny"
        && c["to"] == "allow"));
    assert_eq!(impact["counts"], json!({"parks-1 query_fact": 3}));

    // Candidate 2: no library permit → exactly the 2 library decisions flip to deny.
    let start = text.find("@id(\"facts.library_services\")").unwrap();
    let end = start + text[start..].find("};").unwrap() + 2;
    let no_library = format!("{}{}", &text[..start], &text[end..]);
    let (_, r) = v
        .post("/v1/policies/check", &officer, &json!({"policies": no_library}))
        .await;
    let changed: Vec<&Value> = r["impact"]["changed"].as_array().unwrap().iter().collect();
    assert_eq!(changed.len(), 2, "{}", r["impact"]);
    assert!(changed.iter().all(|c| c["principal"] == "nypl-12" && c["to"] == "deny"));
    assert_eq!(r["valid"], false, "the shipped library test also fails");
    v.stop().await;
}
