//! The counter's everyday work, end to end through the API: look a card up
//! with the holder present, renew it in its window, replace a lost one,
//! update an address or a name, minors with a caretaker, fee waivers,
//! languages and delivery, the print queue and pickup, and the quarterly
//! report — each a Cedar decision, audited.

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

const DAY: Duration = Duration::from_secs(86_400);

async fn facts(v: &TestVault, system: &str, card: &str) -> Value {
    let (s, b) = v
        .post(
            "/v1/facts",
            system,
            &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid", "age_over_18"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["facts"].clone()
}

async fn lookup(v: &TestVault, clerk: &str, card: &str) -> (StatusCode, Value) {
    v.get(&format!("/v1/cardholders/{card}?purpose=card_administration"), clerk)
        .await
}

fn with_clock() -> (tempfile::TempDir, civic_vault::Config, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "idnyc");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    (dir, config, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_and_renewal_in_the_window() {
    let (dir, config, clock) = with_clock();
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let library = v.system("lib", "city_agency", &["library_services"]).await;
    let card = v.enroll_one(&clerk, "R-1", "1980-05-05").await;

    let (s, b) = lookup(&v, &clerk, &card).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["full_name"], "Test Holder");
    assert_eq!(b["counter"], "to_print");
    assert_eq!(b["renewal"]["eligible"], false);
    let expires: time::Date = time::Date::parse(
        b["expires_on"].as_str().unwrap(),
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let from = (expires - time::Duration::days(60)).to_string();
    assert_eq!(b["renewal"]["window"][0], from.as_str());
    // Only for the counter's purpose, only for clerks.
    let (s, _) = v.get(&format!("/v1/cardholders/{card}"), &clerk).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = lookup(&v, &library, &card).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = lookup(&v, &clerk, "0000-0000-0000-0000").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let renew = |proofs: Vec<Value>| json!({"proofs": proofs});
    let good = || vec![proof("foreign_passport", "MEX", "R-1"), proof("lease", "L", "L-9")];
    // Too early.
    let (s, b) = v
        .post(&format!("/v1/cardholders/{card}/renew"), &clerk, &renew(good()))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    // In the window (a month before expiry): short documents are a 422 naming
    // what is missing; the rules met renew it five years past the old expiry.
    clock.set((expires - time::Duration::days(30)).midnight().assume_utc());
    let (s, b) = lookup(&v, &clerk, &card).await;
    assert_eq!((s, b["renewal"]["eligible"].as_bool()), (StatusCode::OK, Some(true)));
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/renew"),
            &clerk,
            &renew(vec![proof("lease", "L", "L-9")]),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("insufficient_proof"))
    );
    let (s, b) = v
        .post(&format!("/v1/cardholders/{card}/renew"), &clerk, &renew(good()))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["expires_on"],
        (expires.replace_year(expires.year() + 5).unwrap()).to_string().as_str()
    );
    // Past the old expiry, it is still valid.
    clock.advance(60 * DAY);
    assert_eq!(facts(&v, &library, &card).await["card_valid"], true);
    let (_, b) = lookup(&v, &clerk, &card).await;
    assert_eq!(b["counter"], "to_print", "a renewed card is printed again");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_card_is_replaced_and_its_old_number_stops_working() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let library = v.system("lib", "city_agency", &["library_services"]).await;
    let old = v.enroll_one(&clerk, "L-PASS", "1970-01-20").await;
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{old}/replace"),
            &clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let new = b["card_number"].as_str().unwrap().to_owned();
    assert_eq!(b["replaces"], old.as_str());
    assert_ne!(new, old);
    assert_eq!(facts(&v, &library, &old).await["card_valid"], false);
    assert_eq!(
        facts(&v, &library, &new).await,
        json!({"card_valid": true, "age_over_18": true})
    );
    let (_, b) = lookup(&v, &clerk, &old).await;
    assert_eq!(
        (b["status"].as_str(), b["replaced_by"].as_str()),
        (Some("replaced"), Some(new.as_str()))
    );
    let (_, b) = lookup(&v, &clerk, &new).await;
    assert_eq!(
        (b["full_name"].as_str(), b["replaces"].as_str()),
        (Some("Test Holder"), Some(old.as_str()))
    );
    // The photo came along.
    assert_eq!(v.photo(&clerk, &new).await.status(), StatusCode::OK);
    // The passport now backs the new card: a stranger cannot use it, and a
    // replaced card cannot be replaced again.
    let stranger = application(
        "Someone Else",
        vec![proof("foreign_passport", "MEX", "L-PASS"), proof("lease", "L", "L-1")],
    );
    let (s, _) = v.post("/v1/enrollments", &clerk, &stranger).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{old}/replace"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{new}/replace"),
            &clerk,
            &json!({"reason": "shredded"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "an unknown reason");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_need_the_documents_the_change_needs() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "U-1", "1990-02-02").await;
    let url = format!("/v1/cardholders/{card}/update");
    let moved = json!({"kind": "residential", "line1": "9 New St", "city": "New York", "postal_code": "10002"});
    let (s, b) = v.post(&url, &clerk, &json!({"applicant": {"address": moved}})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("insufficient_proof")),
        "{b}"
    );
    assert!(b["error"]["missing"].to_string().contains("residency"));
    let (s, b) = v
        .post(
            &url,
            &clerk,
            &json!({"applicant": {"address": moved}, "proofs": [proof_dated("utility_bill", "ConEd", "A-77", 5)]}),
        )
        .await;
    assert_eq!((s, b["reprint"].as_bool()), (StatusCode::OK, Some(true)), "{b}");
    // A new name needs an identity document; gender and languages need none.
    let (s, _) = v
        .post(&url, &clerk, &json!({"applicant": {"full_name": "Test Renamed"}}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = v
        .post(
            &url,
            &clerk,
            &json!({"applicant": {"full_name": "Test Renamed"}, "proofs": [proof("us_passport", "USA", "N-1")]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = v
        .post(
            &url,
            &clerk,
            &json!({"applicant": {"gender": "X", "languages": ["es", "ase"]}}),
        )
        .await;
    assert_eq!((s, b["reprint"].as_bool()), (StatusCode::OK, Some(false)), "{b}");
    let (_, b) = lookup(&v, &clerk, &card).await;
    assert_eq!(b["full_name"], "Test Renamed");
    assert_eq!(b["languages"], json!(["es", "ase"]));
    // The new passport now backs this card as well.
    let stranger = application(
        "Someone Else",
        vec![proof("us_passport", "USA", "N-1"), proof("lease", "L", "L-1")],
    );
    let (s, _) = v.post("/v1/enrollments", &clerk, &stranger).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = v.post(&url, &clerk, &json!({"applicant": {"birthday": "x"}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minors_caretakers_waivers_languages_and_delivery() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let minor_birth = days_ago(12 * 365 + 40);
    // A 12-year-old with two birth certificates (identity and date of
    // birth, no photo): with a caretaker showing the relationship, no photo
    // document is needed.
    let mut app = application(
        "Young Applicant",
        vec![
            proof("birth_certificate", "NYC", "BC-1"),
            proof("foreign_birth_certificate", "DOM", "BC-DOM-1"),
            proof("lease", "L", "L-1"),
        ],
    );
    app["applicant"]["date_of_birth"] = json!(minor_birth);
    let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["missing"].to_string().contains("photo_document"));
    app["applicant"]["caretaker"] =
        json!({"relationship": "parent", "proofs": [proof("birth_certificate", "NYC", "BC-1")]});
    let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // An adult may not come with a caretaker; a caretaker's document must be
    // one the program takes for the relationship.
    let mut adult = application(
        "Grown Up",
        vec![proof("us_passport", "USA", "P-9"), proof("lease", "L", "L-1")],
    );
    adult["applicant"]["caretaker"] =
        json!({"relationship": "parent", "proofs": [proof("birth_certificate", "NYC", "BC-2")]});
    let (s, b) = v.post("/v1/enrollments", &clerk, &adult).await;
    assert_eq!(
        (s, b["error"]["message"].as_str().map(|m| m.contains("caretaker"))),
        (StatusCode::BAD_REQUEST, Some(true))
    );
    app["applicant"]["caretaker"]["proofs"] = json!([proof("lease", "L", "L-7")]);
    let (s, _) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Delivery: a care-of address or a DV survivor picks up; mail is refused for them.
    let mut shelter = application(
        "Shelter Resident",
        vec![proof("us_passport", "USA", "P-10"), proof("lease", "L", "L-1")],
    );
    shelter["applicant"]["address"] = json!({"kind": "care_of", "organization": "Mercy", "line1": "1 Way", "city": "New York", "postal_code": "10001"});
    shelter["delivery"] = json!("mail");
    let (s, b) = v.post("/v1/enrollments", &clerk, &shelter).await;
    assert_eq!(
        (s, b["error"]["message"].as_str().map(|m| m.contains("delivery"))),
        (StatusCode::BAD_REQUEST, Some(true))
    );
    shelter.as_object_mut().unwrap().remove("delivery");
    shelter["fee_waiver"] = json!("homeless");
    shelter["applicant"]["languages"] = json!(["ES", "ase"]);
    let (s, b) = v.post("/v1/enrollments", &clerk, &shelter).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let card = b["card_number"].as_str().unwrap().to_owned();
    let (_, b) = lookup(&v, &clerk, &card).await;
    assert_eq!(
        (b["delivery"].as_str(), b["languages"].clone()),
        (Some("pickup"), json!(["es", "ase"]))
    );
    let mut dv = application(
        "Private Person",
        vec![proof("us_passport", "USA", "P-11"), proof("lease", "L", "L-1")],
    );
    dv["fee_waiver"] = json!("dv_survivor");
    let (s, b) = v.post("/v1/enrollments", &clerk, &dv).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, b) = lookup(&v, &clerk, b["card_number"].as_str().unwrap()).await;
    assert_eq!(b["delivery"], "pickup");
    for (field, value) in [("fee_waiver", json!("lottery_winner")), ("delivery", json!("drone"))] {
        let mut bad = application(
            "Bad Values",
            vec![proof("us_passport", "USA", "P-12"), proof("lease", "L", "L-1")],
        );
        bad[field] = value;
        let (s, _) = v.post("/v1/enrollments", &clerk, &bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}");
    }
    let mut many = application(
        "Many Tongues",
        vec![proof("us_passport", "USA", "P-13"), proof("lease", "L", "L-1")],
    );
    many["applicant"]["languages"] = json!(["es", "fr", "ht"]);
    let (s, _) = v.post("/v1/enrollments", &clerk, &many).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_print_queue_and_pickup() {
    let (dir, config, clock) = with_clock();
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let clerk = v.clerk().await;
    let mailed = v.enroll_one(&clerk, "Q-1", "1980-01-01").await;
    let mut app = application(
        "Pickup Holder",
        vec![proof("us_passport", "USA", "Q-2"), proof("lease", "L", "L-1")],
    );
    app["delivery"] = json!("pickup");
    let (_, b) = v.post("/v1/enrollments", &clerk, &app).await;
    let pickup = b["card_number"].as_str().unwrap().to_owned();
    let revoked = v.enroll_one(&clerk, "Q-3", "1980-01-01").await;
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{revoked}/revoke"),
            &clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let queue = |v: &TestVault| {
        let clerk = clerk.clone();
        let url = v.url("/v1/print-queue");
        let http = v.http.clone();
        async move {
            let b: Value = http
                .get(url)
                .bearer_auth(clerk)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            b["cards"].as_array().unwrap().clone()
        }
    };
    let q = queue(&v).await;
    assert_eq!(q.len(), 2, "a revoked card is not printed: {q:?}");
    assert!(q.iter().all(|c| c["state"] == "to_print"));
    assert!(q
        .iter()
        .any(|c| c["card_number"] == pickup.as_str() && c["delivery"] == "pickup"));
    for card in [&mailed, &pickup] {
        let (s, b) = v
            .post(&format!("/v1/cardholders/{card}/printed"), &clerk, &json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, _) = v
        .post(&format!("/v1/cardholders/{mailed}/printed"), &clerk, &json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "printed twice");
    let q = queue(&v).await;
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0]["state"].as_str(), q[0]["flagged"].as_bool()),
        (Some("to_pick_up"), Some(false))
    );
    clock.advance(91 * DAY);
    assert_eq!(queue(&v).await[0]["flagged"], true, "past the pickup window");
    let (s, b) = v
        .post(&format!("/v1/cardholders/{pickup}/picked-up"), &clerk, &json!({}))
        .await;
    assert_eq!((s, b["counter"].as_str()), (StatusCode::OK, Some("picked_up")));
    assert!(queue(&v).await.is_empty());
    let (s, _) = v
        .post(&format!("/v1/cardholders/{mailed}/picked-up"), &clerk, &json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a mailed card is not picked up");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarterly_report_counts_and_suppresses() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let privacy = v.staff("privacy-pat", &["privacy_officer"]).await;
    let auditor = v.auditor().await;
    for i in 0..11 {
        let mut app = application(
            &format!("Waived {i}"),
            vec![
                proof("us_passport", "USA", &format!("W-{i}")),
                proof("lease", "L", "L-1"),
            ],
        );
        app["fee_waiver"] = json!("homeless");
        app["applicant"]["languages"] = json!(["es"]);
        let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let short = application("Short", vec![proof("lease", "L", "L-1")]);
    let (s, _) = v.post("/v1/enrollments", &clerk, &short).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let today = time::OffsetDateTime::now_utc().date();
    let quarter = (u8::from(today.month()) - 1) / 3 + 1;
    let url = format!("/v1/reports/quarterly?year={}&quarter={quarter}", today.year());
    for token in [&privacy, &auditor] {
        let (s, b) = v.get(&url, token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["applications"]["issued"], 11);
        assert_eq!(b["applications"]["received"], 12);
        assert_eq!(b["applications"]["denied"], "<10");
        assert_eq!(b["denied_by_missing_requirement"]["identity_points"], "<10");
        assert_eq!(b["fee_waivers"]["homeless"], 11);
        assert_eq!(b["fee_waivers"]["veteran"], "<10");
        assert_eq!(b["languages"]["es"], 11);
        let text = b.to_string();
        assert!(!text.contains("Waived") && !text.contains("W-1"), "counts only");
    }
    let (s, _) = v.get(&url, &clerk).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v.get("/v1/reports/quarterly?year=2026&quarter=5", &privacy).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = v
        .call(Method::GET, "/v1/reports/quarterly?year=2026", Some(&privacy), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chicago_cards_are_valid_by_age_band() {
    let v = TestVault::start("chicago").await;
    let clerk = v.clerk().await;
    let enroll = |name: &str, birth: String, n: &str| {
        let mut app = application(name, vec![proof("us_passport", "USA", n), proof("lease", "L", "L-1")]);
        app["applicant"]["date_of_birth"] = json!(birth);
        app
    };
    let today = time::OffsetDateTime::now_utc().date();
    for (birth, years) in [
        (days_ago(10 * 365), Some(2)),
        (days_ago(40 * 365), Some(5)),
        (days_ago(70 * 365), None),
    ] {
        let (s, b) = v
            .post(
                "/v1/enrollments",
                &clerk,
                &enroll("Band Holder", birth, &format!("C-{years:?}")),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let expected = years.map(|y| today.replace_year(today.year() + y).unwrap().to_string());
        assert_eq!(b["expires_on"].as_str().map(str::to_owned), expected, "{b}");
    }
    v.stop().await;
}
