//! The floor holds even when the editable policies permit everything.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permit_all_does_not_open_a_single_floor_denied_request() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    copy_dir(&policies_dir(), &policies);
    let editable = policies.join("editable.cedar");
    let mut text = std::fs::read_to_string(&editable).unwrap();
    text.push_str("\n@id(\"open.everything\")\npermit(principal, action, resource);\n");
    std::fs::write(&editable, text).unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.policies_dir = policies;
    let v = TestVault::start_in(dir, config).await;

    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "A-1", "1990-04-12").await;
    let refused = [
        "immigration_enforcement",
        "civil_immigration_enforcement",
        "bulk_screening",
        "data_brokerage",
    ];
    let all_facts = [
        "card_valid",
        "resident",
        "age_over_13",
        "age_over_18",
        "age_over_21",
        "age_over_62",
        "age_over_65",
    ];

    // The permit-all is really in force: police now get more than card_valid.
    let police = v.system("nypd", "local_law_enforcement", &["identity_check"]).await;
    let (s, b) = v
        .post(
            "/v1/facts",
            &police,
            &json!({"card_number": card, "purpose": "identity_check", "facts": ["age_over_18"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // A system registered for every refused purpose, from every agency kind.
    for (n, agency) in [
        "city_agency",
        "city_partner",
        "local_law_enforcement",
        "state_agency",
        "federal_other",
        "private_party",
    ]
    .iter()
    .enumerate()
    {
        let token = v.system(&format!("sys-{n}"), agency, &refused).await;
        for purpose in refused {
            let (s, b) = v
                .post(
                    "/v1/facts",
                    &token,
                    &json!({"card_number": card, "purpose": purpose, "facts": all_facts}),
                )
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{agency} {purpose}: {b}");
        }
    }
    // A federal immigration principal, under every purpose it could register.
    let every_purpose = [
        "library_services",
        "parks_recreation",
        "cultural_institution",
        "health_services",
        "transit_discount",
        "senior_services",
        "benefits_enrollment",
        "financial_services",
        "identity_check",
        "card_administration",
    ];
    let ice = v.system("ice-ero", "federal_immigration", &every_purpose).await;
    for purpose in every_purpose.iter().chain(refused.iter()) {
        let (s, b) = v
            .post(
                "/v1/facts",
                &ice,
                &json!({"card_number": card, "purpose": purpose, "facts": all_facts}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{purpose}: {b}");
    }
    // Nor any other route.
    let (s, _) = v
        .get(&format!("/v1/cardholders/{card}/photo?purpose=card_printing"), &ice)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v.get("/v1/audit", &ice).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Every one of those denials names a floor policy.
    let auditor = v.auditor().await;
    for e in v.audit(&auditor).await.iter().filter(|e| e["principal"] == "ice-ero") {
        assert_eq!(e["decision"], "deny");
        assert!(
            e["policies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str().unwrap().starts_with("floor.")),
            "{e}"
        );
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floor_weakened_on_disk_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    copy_dir(&policies_dir(), &policies);
    let floor = std::fs::read_to_string(policies.join("floor.cedar")).unwrap();
    // Drop the rule that stops federal immigration requesters.
    let start = floor.find("@id(\"floor.federal_immigration_requester\")").unwrap();
    let end = start + floor[start..].find("};").unwrap() + 2;
    std::fs::write(
        policies.join("floor.cedar"),
        format!("{}{}", &floor[..start], &floor[end..]),
    )
    .unwrap();
    // An editable permit that would now let them in.
    let mut editable = std::fs::read_to_string(policies.join("editable.cedar")).unwrap();
    editable.push_str("\n@id(\"sneaky\") permit(principal, action == CivicVault::Action::\"query_fact\", resource) when { context.purpose == \"identity_check\" };\n");
    std::fs::write(policies.join("editable.cedar"), editable).unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.policies_dir = policies;
    let opened = civic_vault::Vault::open(config, std::sync::Arc::new(civic_vault::clock::SystemClock)).await;
    let Err(e) = opened else {
        panic!("the vault started with a weakened floor")
    };
    assert!(e.to_string().contains("canary allowed"), "{e}");
}
