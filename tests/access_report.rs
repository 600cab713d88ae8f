//! The cardholder's access report: a clerk, with the holder present, prints
//! who asked about the card — fact queries answered and refused, answered
//! legal requests (not while a court prohibits notice) — in the holder's
//! language; decided by Cedar and audited like every card action.

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
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn report(v: &TestVault, token: &str, card: &str, body: Option<&Value>) -> (StatusCode, Value) {
    v.call(
        Method::POST,
        &format!("/v1/cardholders/{card}/access-report"),
        Some(token),
        body,
    )
    .await
}

fn warrant(card: &str, prohibited: bool, until: Option<&str>) -> Value {
    let mut b = json!({
        "reference": "Case 26-CR-7",
        "requester": {"name": "Kings County District Attorney", "agency_kind": "local_law_enforcement"},
        "process": "judicial_warrant",
        "signed_by_judge": true,
        "subject": {"card_number": card},
        "items": ["card_status", "full_name"],
        "notice_prohibited_by_court": prohibited,
    });
    if let Some(u) = until {
        b["notice_prohibited_until"] = json!(u);
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_sees_who_asked_and_what_was_released() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "idnyc");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let library = v
        .system("library-checkout", "city_partner", &["library_services"])
        .await;
    let card = v.enroll_one(&clerk, "R-1", "1980-05-05").await;
    let other = v.enroll_one(&clerk, "R-2", "1990-01-01").await;

    // Nothing yet: the counter's own work is not listed.
    let (s, b) = report(&v, &clerk, &card, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["card_number"], card.as_str());
    assert_eq!(b["entries"], json!([]));
    assert_eq!(b["withheld_until"], Value::Null);
    assert_eq!(b["language"], "en");
    let letter = b["letter"].as_str().unwrap();
    assert!(letter.contains("No one has asked about your card"), "{letter}");
    assert!(letter.contains("Some entries may be withheld for now"), "{letter}");

    // A library asks two facts (one request, one line); a purpose it is
    // not registered for is refused, and listed as refused.
    let (s, b) = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid", "age_over_18"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": card, "purpose": "benefits_enrollment", "facts": ["resident"]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Queries about another card are not this card's.
    let (s, _) = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": other, "purpose": "library_services", "facts": ["card_valid"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // A warrant under a court's prohibition of notice until a day ahead,
    // and one without any prohibition.
    let later = (common::today() + time::Duration::days(30)).to_string();
    let (s, b) = v
        .post("/v1/legal/requests", &legal, &warrant(&card, true, Some(&later)))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["notice_prohibited_until"], later.as_str());
    assert!(b["letter"].as_str().unwrap().contains(&later));
    let (s, b) = v.post("/v1/legal/requests", &legal, &warrant(&card, false, None)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // And one prohibited with no end.
    let (s, _) = v.post("/v1/legal/requests", &legal, &warrant(&card, true, None)).await;
    assert_eq!(s, StatusCode::OK);

    let (s, b) = report(&v, &clerk, &card, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let entries = b["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 3, "{b:#}");
    assert_eq!(entries[0]["asked_by"], "library-checkout");
    assert_eq!(entries[0]["agency_kind"], "city_partner");
    assert_eq!(entries[0]["purpose"], "library_services");
    assert_eq!(entries[0]["released"], json!(["age_over_18", "card_valid"]));
    assert_eq!(entries[0]["outcome"], "answered");
    assert_eq!(entries[0]["day"], common::today().to_string().as_str());
    assert_eq!(entries[1]["purpose"], "benefits_enrollment");
    assert_eq!(entries[1]["released"], json!([]));
    assert_eq!(entries[1]["outcome"], "refused");
    assert_eq!(entries[2]["asked_by"], "Kings County District Attorney");
    assert_eq!(entries[2]["agency_kind"], "local_law_enforcement");
    assert_eq!(entries[2]["purpose"], "judicial_warrant");
    assert_eq!(entries[2]["released"], json!(["card_status", "full_name"]));
    assert_eq!(b["withheld_until"], Value::Null);
    let letter = b["letter"].as_str().unwrap();
    assert!(
        letter.contains(
            "| Kings County District Attorney (local law enforcement) | judicial warrant | card status, full name |"
        ),
        "{letter}"
    );
    assert!(letter.contains("Some entries may be withheld for now"));

    // The prohibition ends: the warrant under it appears; the one with no
    // end stays out.
    clock.advance(Duration::from_secs(31 * 86_400));
    let (s, b) = report(&v, &clerk, &card, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let entries = b["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{b:#}");
    let legal_lines = entries.iter().filter(|e| e["purpose"] == "judicial_warrant").count();
    assert_eq!(legal_lines, 2);

    // In Spanish, for a holder who reads it, or when the clerk asks.
    let (s, b) = report(&v, &clerk, &card, Some(&json!({"language": "es"}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["language"], "es");
    let letter = b["letter"].as_str().unwrap();
    assert!(letter.contains("Quién consultó su tarjeta"), "{letter}");
    assert!(letter.contains("Algunas entradas pueden omitirse por ahora"));
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{card}/update"),
            &clerk,
            &json!({"applicant": {"languages": ["es-US"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = report(&v, &clerk, &card, None).await;
    assert_eq!(b["language"], "es");
    // Every Local Law 30 language, right to left for Arabic and Urdu (the
    // letter is Markdown; the console sets the page's direction).
    for tag in ["zh-Hant", "ru", "bn", "ht", "ko", "ar", "ur", "fr", "pl"] {
        let (s, b) = report(&v, &clerk, &card, Some(&json!({"language": tag}))).await;
        assert_eq!(s, StatusCode::OK, "{tag}: {b}");
        assert_eq!(b["language"], tag);
        let letter = b["letter"].as_str().unwrap();
        assert!(
            letter.contains(&card) && !letter.contains("Who asked"),
            "{tag}: {letter}"
        );
    }

    // Bad input and the wrong callers.
    let (s, b) = report(&v, &clerk, &card, Some(&json!({"language": "de"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("zh-Hant"), "{b}");
    let (s, _) = report(&v, &clerk, &card, Some(&json!({"lang": "es"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = report(&v, &clerk, "0000-0000-0000-0000", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = report(&v, &clerk, "not-a-card", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = report(&v, &library, &card, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = report(&v, &legal, &card, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let bad = v
        .http
        .post(v.url(&format!("/v1/cardholders/{card}/access-report")))
        .bearer_auth(&clerk)
        .body("language=es")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let (s, _) = v
        .post(
            "/v1/legal/requests",
            &legal,
            &json!({"reference": "X", "requester": {"name": "Y", "agency_kind": "city_agency"},
                    "process": "court_order", "signed_by_judge": true, "subject": {"card_number": card},
                    "items": ["card_status"], "notice_prohibited_until": "2027-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Each report is a Cedar decision in the audit, with the card's keyed
    // subject and nothing of the report.
    let auditor = v.auditor().await;
    let audit = v.audit(&auditor).await;
    let reports: Vec<&Value> = audit.iter().filter(|e| e["action"] == "access_report").collect();
    assert!(reports.len() >= 5);
    assert!(reports
        .iter()
        .any(|e| e["decision"] == "allow" && e["purpose"] == "card_administration"));
    assert!(reports.iter().any(|e| e["decision"] == "deny"));
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(&card));
    assert!(!text.contains("Kings County"));
}
