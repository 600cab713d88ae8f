//! The floor's bulk ceiling (issue 11): however the editable bulk guards are
//! edited, no system is answered about more distinct cards an hour than
//! `facts.bulk_ceiling_per_hour`, and no policy edit can remove the rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::{test_config, TestVault};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_exempting_purposes_from_the_bulk_guards_does_not_lift_the_configured_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.facts.bulk_ceiling_per_hour = 3;
    let v = TestVault::start_in(dir, config).await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let partner = v.system("nypl-12", "city_partner", &["cultural_institution"]).await;

    // The edit of issue 11: both editable guards exempt two purposes. The
    // check passes it (the shipped tests ask other purposes) and it lands.
    let (_, current) = v.get("/v1/policies", &officer).await;
    let text = current["policies"].as_str().unwrap();
    let start = text.find("// Bulk guard.").unwrap();
    let end = text.find("// --- Retention").unwrap();
    let guards = text[start..end].replace(
        "context has distinct_cards_last_hour &&",
        "context.purpose != \"cultural_institution\" && context.purpose != \"parks_recreation\" &&\n  context has distinct_cards_last_hour &&",
    );
    let edited = format!("{}{guards}{}", &text[..start], &text[end..]);
    let (s, report) = v
        .post("/v1/policies/check", &officer, &json!({"policies": edited}))
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let (s, put) = v
        .call(
            reqwest::Method::PUT,
            "/v1/policies",
            Some(&officer),
            Some(&json!({"policies": edited, "comment": "no bulk guards", "expected_version": current["version"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    // The floor still holds the ceiling, and it is not in the editable text.
    let (_, now) = v.get("/v1/policies", &officer).await;
    assert!(now["floor"].as_str().unwrap().contains("floor.bulk_ceiling"));
    assert!(!now["floor"].as_str().unwrap().is_empty());

    for (i, expect) in [StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::FORBIDDEN]
        .into_iter()
        .enumerate()
    {
        let card = format!("10000000000000{i}");
        let (s, b) = v
            .post(
                "/v1/facts",
                &partner,
                &json!({"card_number": card, "purpose": "cultural_institution", "facts": ["card_valid"]}),
            )
            .await;
        assert_eq!(s, expect, "distinct card {}: {b}", i + 1);
        if s == StatusCode::FORBIDDEN {
            assert!(b.to_string().find(&card).is_none(), "no card number in the error");
        }
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_set_cannot_remove_or_override_the_ceiling() {
    let v = TestVault::start("idnyc").await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    // A candidate that names the floor rule's id: not accepted as a way to
    // replace it.
    let candidate = "@id(\"floor.bulk_ceiling\")\npermit (principal, action, resource);";
    let (s, report) = v
        .post("/v1/policies/check", &officer, &json!({"policies": candidate}))
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["valid"], false, "{report}");
}
