//! A clerk enrolls applicants under each program's proof rules.

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

async fn enroll(v: &TestVault, clerk: &str, app: &Value) -> (StatusCode, Value) {
    v.post("/v1/enrollments", clerk, app).await
}

fn missing(body: &Value) -> String {
    assert_eq!(body["error"]["code"], "insufficient_proof", "{body}");
    body["error"]["missing"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idnyc_points_rules() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;

    // Passport (3 identity, photo, birth date) + recent utility bill (1 residency).
    let ok = application(
        "Ana Lucía Pérez",
        vec![
            proof("foreign_passport", "MEX", "G12345678"),
            proof_dated("utility_bill", "Eversource", "ACCT-998", 10),
        ],
    );
    let (s, body) = enroll(&v, &clerk, &ok).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["card_number"].as_str().unwrap().len(), 19);
    assert_eq!(body["issued_on"], today().to_string());
    assert_eq!(body["source_documents"]["stored"], 0);

    // No residency point.
    let (s, body) = enroll(
        &v,
        &clerk,
        &application("B", vec![proof("foreign_passport", "GTM", "P1")]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&body).contains("residency_points"));

    // A utility bill older than 60 days proves nothing.
    let (s, body) = enroll(
        &v,
        &clerk,
        &application(
            "C",
            vec![
                proof("foreign_passport", "GTM", "P2"),
                proof_dated("utility_bill", "Eversource", "ACCT-1", 90),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&body).contains("residency_points"));

    // Passport expired 1 year ago: 2 points, not enough alone...
    let mut expired = proof("foreign_passport", "GTM", "P3");
    expired["expires_on"] = json!(days_ago(365));
    let (s, body) = enroll(
        &v,
        &clerk,
        &application("D", vec![expired.clone(), proof("lease", "Landlord LLC", "L-1")]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&body).contains("identity_points: 2 of 3"), "{body}");
    // ...but enough with a school ID (1 point).
    let (s, body) = enroll(
        &v,
        &clerk,
        &application(
            "D",
            vec![
                expired,
                proof("school_id", "PS 12", "S-9"),
                proof("lease", "Landlord LLC", "L-1"),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");

    // Expired more than 3 years: counts for nothing.
    let mut old = proof("us_passport", "USA", "P4");
    old["expires_on"] = json!(days_ago(4 * 365));
    let (s, body) = enroll(
        &v,
        &clerk,
        &application("E", vec![old, proof("lease", "Landlord LLC", "L-2")]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&body).contains("photo_document"));

    // Birth certificate (2) + school ID (1): 3 points, photo and birth date from different documents.
    let (s, body) = enroll(
        &v,
        &clerk,
        &application(
            "F",
            vec![
                proof("birth_certificate", "NY", "BC-1"),
                proof("school_id", "PS 1", "S-1"),
                proof("lease", "L", "L-3"),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");

    // Under 10: refused.
    let mut child = application(
        "G",
        vec![proof("foreign_passport", "MEX", "K1"), proof("lease", "L", "L-4")],
    );
    child["applicant"]["date_of_birth"] = json!(days_ago(8 * 365));
    let (s, body) = enroll(&v, &clerk, &child).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&body).contains("minimum_age"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hartford_primary_and_secondary() {
    let v = TestVault::start("hartford").await;
    let clerk = v.clerk().await;
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "A",
            vec![
                proof("hmis_id", "Hartford HMIS", "H-1"),
                proof("shelter_letter", "Mercy Shelter", "M-1"),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A primary alone is not enough.
    let (s, b) = enroll(&v, &clerk, &application("B", vec![proof("consular_id", "MEX", "C-1")])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("secondary_document"));
    // Two secondaries, no primary.
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "C",
            vec![proof("birth_certificate", "CT", "B-1"), proof("lease", "L", "L-1")],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("primary_document"));
    // Expired 4 years: accepted; 6 years: not.
    let mut p = proof("state_id", "CT", "S-1");
    p["expires_on"] = json!(days_ago(4 * 365));
    let (s, b) = enroll(&v, &clerk, &application("D", vec![p, proof("lease", "L", "L-2")])).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mut p = proof("state_id", "CT", "S-2");
    p["expires_on"] = json!(days_ago(6 * 365));
    let (s, b) = enroll(&v, &clerk, &application("E", vec![p, proof("lease", "L", "L-3")])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("primary_document"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_haven_identity_and_two_residency_proofs() {
    let v = TestVault::start("new_haven").await;
    let clerk = v.clerk().await;
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "A",
            vec![
                proof("foreign_passport", "ECU", "E-1"),
                proof("lease", "L", "L-1"),
                proof("utility_bill", "UI", "U-1"),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "B",
            vec![proof("foreign_passport", "ECU", "E-2"), proof("lease", "L", "L-2")],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("residency_proofs: 1 of 2"));
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "C",
            vec![proof("lease", "L", "L-3"), proof("utility_bill", "UI", "U-3")],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("identity"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn san_francisco_recent_residency_and_no_address_kept() {
    let v = TestVault::start("san_francisco").await;
    let clerk = v.clerk().await;
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "A",
            vec![
                proof("consular_id", "MEX", "C-1"),
                proof_dated("shelter_letter", "MSC South", "SL-1", 12),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Two secondary documents instead of a photo + birth-date document.
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "B",
            vec![
                proof("school_id", "SFUSD", "S-1"),
                proof("foreign_birth_certificate", "SLV", "B-1"),
                proof_dated("utility_bill", "PGE", "U-1", 3),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Residency document dated 45 days ago.
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "C",
            vec![
                proof("consular_id", "MEX", "C-2"),
                proof_dated("utility_bill", "PGE", "U-2", 45),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("residency_within_30_days"));
    // Only one secondary, no photo+birth-date document.
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "D",
            vec![
                proof("school_id", "SFUSD", "S-3"),
                proof_dated("utility_bill", "PGE", "U-3", 3),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing(&b).contains("identity"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_identity_document_cannot_back_two_active_cards() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let app = application(
        "A",
        vec![proof("foreign_passport", "MEX", "G-777"), proof("lease", "L", "L-1")],
    );
    let (s, first) = enroll(&v, &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED);
    // Same passport typed differently.
    let again = application(
        "A",
        vec![proof("foreign_passport", "mex", "g 777"), proof("lease", "L", "L-2")],
    );
    let (s, b) = enroll(&v, &clerk, &again).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"]["code"], "duplicate_enrollment");
    // Once the first card is revoked, the document may back a new card.
    let card = first["card_number"].as_str().unwrap();
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = enroll(&v, &clerk, &again).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A residency document may be shared (two people at one address).
    let (s, b) = enroll(
        &v,
        &clerk,
        &application(
            "B",
            vec![proof("consular_id", "MEX", "C-9"), proof("lease", "L", "L-1")],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_lifecycle_photo_revoke_erase() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let (_, b) = enroll(
        &v,
        &clerk,
        &application(
            "A",
            vec![proof("foreign_passport", "MEX", "G-1"), proof("lease", "L", "L-1")],
        ),
    )
    .await;
    let card = b["card_number"].as_str().unwrap().to_owned();

    let photo = v.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.headers()["content-type"], "image/png");
    assert_eq!(photo.bytes().await.unwrap().as_ref(), PNG);

    // Any other purpose is refused by policy; an unknown one is a 400.
    let (s, b) = v
        .get(&format!("/v1/cardholders/{card}/photo?purpose=identity_check"), &clerk)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, b) = v
        .get(&format!("/v1/cardholders/{card}/photo?purpose=curiosity"), &clerk)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_purpose"))
    );
    let (s, _) = v
        .get(
            "/v1/cardholders/0000-0000-0000-0000/photo?purpose=card_printing",
            &clerk,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, b) = v.request_erasure(&clerk, &card).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let (s, _) = v
        .get(&format!("/v1/cardholders/{card}/photo?purpose=card_printing"), &clerk)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    v.stop().await;
}

/// Each 409 tells a clerk that a document backs an active card. A clerk who
/// meets ten of them in a day is probing documents, not serving applicants:
/// the editable `clerk.duplicate_probe_guard` stops their enrollments for the
/// day (decided by Cedar, audited with the count, counted in /metrics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_probing_documents_through_duplicate_outcomes_is_stopped_for_the_day() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let other = v.staff("clerk-bo", &["clerk"]).await;
    let auditor = v.auditor().await;
    v.enroll_one(&clerk, "P-1", "1990-01-01").await;
    let probe = |i: usize| {
        application(
            &format!("Probe {i}"),
            vec![
                proof("foreign_passport", "MEX", "P-1"),
                proof("lease", "L", &format!("L-{i}")),
            ],
        )
    };
    for i in 0..10 {
        let (s, b) = enroll(&v, &clerk, &probe(i)).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate_enrollment"))
        );
    }
    // The eleventh request is refused by policy before any document is looked at,
    // even for an applicant who holds no card.
    let fresh = application(
        "New Applicant",
        vec![proof("foreign_passport", "MEX", "P-2"), proof("lease", "L", "L-1")],
    );
    let (s, b) = enroll(&v, &clerk, &fresh).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_by_policy")),
        "{b}"
    );
    let decision = b["error"]["decision_id"].as_str().unwrap().to_owned();
    // Another clerk is not affected.
    let (s, _) = enroll(&v, &other, &fresh).await;
    assert_eq!(s, StatusCode::CREATED);
    let entries = v.audit(&auditor).await;
    let refusal = entries.iter().find(|e| e["decision_id"] == decision.as_str()).unwrap();
    assert_eq!(refusal["policies"], json!(["clerk.duplicate_probe_guard"]));
    assert_eq!(refusal["context"]["duplicate_outcomes_today"], 10);
    let admin = v.admin.clone();
    let metrics = v
        .http
        .get(v.url("/metrics"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("civic_vault_duplicate_enrollments_total{principal=\"clerk-ana\"} 10"),
        "{metrics}"
    );
    v.stop().await;
}
