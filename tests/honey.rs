//! Honey cards: a privacy officer makes canary cards that look like any
//! valid card; a city system walking card numbers trips them (audit entry,
//! alert list, metric, webhook), nothing in any answer tells one from a
//! real card, and the counts leave them out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// A vault whose honey cards are enrolled at once (`honey.spread` = 0s).
async fn start() -> TestVault {
    let dir = tempfile::tempdir().unwrap();
    let config = honey_config(dir.path());
    TestVault::start_in(dir, config).await
}

fn honey_config(dir: &std::path::Path) -> civic_vault::config::Config {
    let mut config = test_config(dir, "idnyc");
    config.honey.spread = "0s".parse().unwrap();
    config
}

async fn make_honey(v: &TestVault, officer: &str, count: u32, label: &str) -> Vec<Value> {
    let (s, b) = v
        .post("/v1/honey-cards", officer, &json!({"count": count, "label": label}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["cards"].as_array().unwrap().clone()
}

async fn facts(v: &TestVault, token: &str, card: &str) -> (StatusCode, Value) {
    v.post(
        "/v1/facts",
        token,
        &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid", "resident", "age_over_18"]}),
    )
    .await
}

async fn lookup(v: &TestVault, clerk: &str, card: &str) -> (StatusCode, Value) {
    v.get(&format!("/v1/cardholders/{card}?purpose=card_administration"), clerk)
        .await
}

const ITEMS: [&str; 8] = [
    "card_status",
    "full_name",
    "date_of_birth",
    "address",
    "photo",
    "attestations",
    "access_log",
    "card_number",
];

/// A judicial warrant signed by a judge for every item about `card`.
async fn legal_ask(v: &TestVault, legal: &str, card: &str) -> (StatusCode, Value) {
    v.post(
        "/v1/legal/requests",
        legal,
        &json!({
            "reference": "Case 26-CV-9",
            "requester": {"name": "Det. Example", "agency_kind": "local_law_enforcement"},
            "process": "judicial_warrant",
            "signed_by_judge": true,
            "subject": {"card_number": card},
            "items": ITEMS,
            "notice_prohibited_by_court": true,
        }),
    )
    .await
}

/// A number nobody holds, in the card format.
fn random_number() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut out = String::new();
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[rand::random::<usize>() % 32]));
    }
    out
}

/// A tiny webhook receiver on 127.0.0.1:0: every POST body lands in the channel.
async fn webhook() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

/// The shape of a JSON value: its keys and the kinds of its values, all
/// the way down (array elements by the shape of the first).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), shape(x))).collect()),
        Value::Array(a) => json!(["array", a.first().map(shape)]),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// A compact JWS's payload.
fn jws_payload(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_system_walking_numbers_trips_the_alert() {
    let (hook, mut received) = webhook().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = honey_config(dir.path());
    config.honey.webhook = Some(hook);
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let auditor = v.auditor().await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;

    let honey = make_honey(&v, &officer, 5, "Q4 canaries, branch 7").await;
    assert_eq!(honey.len(), 5);
    let real = v.enroll_one(&clerk, "W-1", "1990-04-12").await;

    // The library walks numbers: made-up ones, a real one, the canaries.
    let mut walked: Vec<String> = (0..20).map(|_| random_number()).collect();
    walked.push(real.clone());
    walked.extend(honey.iter().map(|c| c["card_number"].as_str().unwrap().to_owned()));
    for n in &walked {
        let (s, b) = facts(&v, &library, n).await;
        assert!(s == StatusCode::OK || s == StatusCode::FORBIDDEN, "{s} {b}");
    }

    // Five alerts, one per canary, naming the library; newest first.
    let (s, b) = v.get("/v1/honey-cards/alerts", &officer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let alerts = b["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 5, "{b}");
    let ids: BTreeSet<&str> = honey.iter().map(|c| c["honey_card"].as_str().unwrap()).collect();
    for a in alerts {
        assert_eq!(a["principal"], "nypl-12");
        assert_eq!(a["action"], "query_fact");
        assert_eq!(a["label"], "Q4 canaries, branch 7");
        assert!(ids.contains(a["honey_card"].as_str().unwrap()), "{a}");
    }
    assert!(alerts[0]["seq"].as_u64() > alerts[4]["seq"].as_u64());
    // An auditor reads them too.
    let (s, b) = v.get("/v1/honey-cards/alerts", &auditor).await;
    assert_eq!((s, b["alerts"].as_array().unwrap().len()), (StatusCode::OK, 5));

    // In the chain: an entry per alert, under one subject, its details
    // (who, what, which honey card, when) sealed; never the label or a
    // card number, nor a honey id in the clear.
    let entries = v.audit(&auditor).await;
    let hits: Vec<&Value> = entries.iter().filter(|e| e["action"] == "honey_card_hit").collect();
    assert_eq!(hits.len(), 5);
    for h in &hits {
        assert!(h["principal"].is_null(), "{h}");
        assert!(h["resource"].is_null(), "{h}");
        assert_eq!(h["subject"], "honey_card_alerts");
        assert!(h["digests"]["sealed"].is_string(), "{h}");
    }
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("Q4 canaries"), "the label stays out of the chain");
    for id in &ids {
        assert!(!text.contains(id), "honey ids stay out of the chain");
    }
    for c in &honey {
        assert!(!text.contains(c["card_number"].as_str().unwrap()));
    }
    let created: Vec<&Value> = entries.iter().filter(|e| e["action"] == "create_honey_cards").collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["digests"]["honey_cards"], "5");
    let (s, b) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // The metric, per principal.
    let resp = v
        .http
        .get(v.url("/metrics"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    let metrics = resp.text().await.unwrap();
    assert!(
        metrics.contains("civic_vault_honey_card_hits_total{principal=\"nypl-12\"} 5"),
        "{metrics}"
    );

    // The webhook, one POST per alert.
    for _ in 0..5 {
        let body = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the webhook was called")
            .unwrap();
        assert_eq!(body["principal"], "nypl-12");
        assert_eq!(body["action"], "query_fact");
        assert!(ids.contains(body["honey_card"].as_str().unwrap()), "{body}");
        assert!(body["at"].is_string());
        assert!(body.get("label").is_none() && body.get("card_number").is_none());
    }

    // A clerk at the counter and a hold about a canary alert as well.
    let canary = honey[0]["card_number"].as_str().unwrap();
    let (s, _) = v
        .get(&format!("/v1/cardholders/{canary}?purpose=card_administration"), &clerk)
        .await;
    assert_eq!(s, StatusCode::OK);
    let legal = v.staff("legal-1", &["legal"]).await;
    let (s, b) = v
        .post(
            "/v1/legal/holds",
            &legal,
            &json!({"reference": "Case 26-CV-7", "card_number": canary}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, b) = v.get("/v1/honey-cards/alerts", &officer).await;
    let newest: Vec<(&str, &str)> = b["alerts"].as_array().unwrap()[..2]
        .iter()
        .map(|a| (a["principal"].as_str().unwrap(), a["action"].as_str().unwrap()))
        .collect();
    assert_eq!(newest, [("legal-1", "request_hold"), ("clerk-ana", "lookup_card")]);
    // The real card raised nothing.
    let (_, b) = v.get("/v1/honey-cards/alerts", &officer).await;
    assert_eq!(b["alerts"].as_array().unwrap().len(), 7);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_an_answer_tells_a_honey_card_from_a_real_one() {
    let v = start().await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;
    let real = v.enroll_one(&clerk, "S-1", "1990-04-12").await;
    let honey = make_honey(&v, &officer, 1, "shape check").await;
    let honey = honey[0]["card_number"].as_str().unwrap().to_owned();
    assert_eq!(honey.len(), real.len());
    assert_eq!(honey.matches('-').count(), 3);

    // The print queue has the real card, never a canary; once printed the
    // real card is where the canary is (mailed).
    let (s, q) = v.get("/v1/print-queue", &clerk).await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let queued = q.to_string();
    assert!(queued.contains(&real) && !queued.contains(&honey), "{q}");
    let (s, b) = v
        .post(&format!("/v1/cardholders/{real}/printed"), &clerk, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Facts: the same statuses, the same released values, the same shape,
    // an attestation with the same claims.
    let (s1, a) = facts(&v, &library, &real).await;
    let (s2, b) = facts(&v, &library, &honey).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{a} {b}");
    assert_eq!(a["facts"], b["facts"]);
    assert_eq!(a["withheld"], b["withheld"]);
    assert_eq!(shape(&a), shape(&b));
    let (pa, pb) = (
        jws_payload(a["attestation"].as_str().unwrap()),
        jws_payload(b["attestation"].as_str().unwrap()),
    );
    assert_eq!(shape(&pa), shape(&pb));
    assert_eq!(pa["facts"], pb["facts"]);
    // A system refused is refused alike.
    let (s1, a) = facts(&v, &bank, &real).await;
    let (s2, b) = facts(&v, &bank, &honey).await;
    assert_eq!(s1, s2);
    assert_eq!(shape(&a), shape(&b));

    // The counter's lookup: same fields, same status, same place.
    let (s1, a) = lookup(&v, &clerk, &real).await;
    let (s2, b) = lookup(&v, &clerk, &honey).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    let keys = |x: &Value| x.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&a), keys(&b), "{a} {b}");
    for field in ["status", "counter", "delivery", "issued_on", "expires_on"] {
        assert_eq!(a[field], b[field], "{field}: {a} {b}");
    }
    assert_eq!(shape(&a["renewal"]), shape(&b["renewal"]));
    // A wrong purpose, and a system asking, fail alike.
    for card in [&real, &honey] {
        let (s, _) = v
            .get(&format!("/v1/cardholders/{card}?purpose=library_services"), &clerk)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = v
            .get(&format!("/v1/cardholders/{card}?purpose=card_administration"), &library)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }

    // The photo for printing: an image either way (the test's real photo
    // is a PNG; a honey card's, a camera capture's JPEG).
    for card in [&real, &honey] {
        let resp = v.photo(&clerk, card).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = resp.bytes().await.unwrap();
        assert!(
            (kind == "image/png" && bytes.starts_with(b"\x89PNG\r\n\x1a\n"))
                || (kind == "image/jpeg" && bytes.starts_with(&[0xFF, 0xD8])),
            "{kind}"
        );
    }

    // A legal answer: the same items disclosed, the same shape of each.
    let (s1, a) = legal_ask(&v, &legal, &real).await;
    let (s2, b) = legal_ask(&v, &legal, &honey).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{a} {b}");
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(keys(&a["package"]), keys(&b["package"]), "{a} {b}");
    assert_eq!(a["withheld"], b["withheld"]);
    assert_eq!(a["outcome"], b["outcome"]);
    // The access log is the card's own history; an address has the lines
    // its holder gave (line2 and state are optional for any applicant).
    for item in ITEMS {
        if item != "access_log" && item != "address" {
            assert_eq!(shape(&a["package"][item]), shape(&b["package"][item]), "{item}");
        }
    }
    for line in ["kind", "line1", "city", "postal_code"] {
        assert!(a["package"]["address"][line].is_string() && b["package"]["address"][line].is_string());
    }
    assert_eq!(b["package"]["address"]["kind"], "residential");
    assert_eq!(a["package"]["card_status"]["status"], "active");
    assert_eq!(b["package"]["card_status"]["status"], "active");
    assert_eq!(b["package"]["card_number"], honey.as_str());
    // The canary was enrolled by a clerk, as any card is.
    assert_eq!(b["package"]["attestations"]["verified_by"], "clerk-ana");
    assert_eq!(b["package"]["address"]["city"], "New York");

    // Unknown numbers answer as they always did; the canary does not.
    let (s, b) = facts(&v, &library, &random_number()).await;
    assert!(s == StatusCode::OK || s == StatusCode::FORBIDDEN, "{b}");
    if s == StatusCode::OK {
        assert_eq!(b["facts"]["card_valid"], false);
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_leave_them_out_and_only_oversight_makes_or_reads_them() {
    let v = start().await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let auditor = v.auditor().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;

    // Only a privacy officer makes them; a privacy officer or an auditor
    // reads the alerts; nobody else does either.
    for token in [&clerk, &auditor, &legal, &library, &v.admin.clone()] {
        let (s, b) = v
            .post("/v1/honey-cards", token, &json!({"count": 1, "label": "x"}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["error"]["code"], "forbidden_by_policy");
    }
    for token in [&clerk, &legal, &library] {
        let (s, _) = v.get("/v1/honey-cards/alerts", token).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = v.call(Method::GET, "/v1/honey-cards/alerts", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Bad bodies are 400 naming the field.
    for (body, field) in [
        (json!({"count": 0, "label": "x"}), "count"),
        (json!({"count": 101, "label": "x"}), "count"),
        (json!({"count": 1, "label": ""}), "label"),
        (json!({"count": 1, "label": "a".repeat(81)}), "label"),
        (json!({"count": 1, "label": "x", "numbers": []}), "numbers"),
    ] {
        let (s, b) = v.post("/v1/honey-cards", &officer, &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert!(b.to_string().contains(field), "{body}: {b}");
    }

    // Twelve canaries, no real card: the report counts no application, no
    // language, and says twelve on its own line.
    let honey = make_honey(&v, &officer, 12, "report check").await;
    let t = today();
    let quarter = (u8::from(t.month()) - 1) / 3 + 1;
    let (s, r) = v
        .get(
            &format!("/v1/reports/quarterly?year={}&quarter={quarter}", t.year()),
            &auditor,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["honey_cards"], 12);
    assert_eq!(r["applications"]["issued"], "<10");
    assert!(
        r["languages"].as_object().unwrap().is_empty(),
        "honey cards' languages are not counted: {r}"
    );

    // A public-records aggregate counts no canary.
    let (s, a) = v
        .post(
            "/v1/legal/requests",
            &legal,
            &json!({
                "reference": "FOIL 26-1",
                "requester": {"name": "A. Reporter", "agency_kind": "private_party"},
                "process": "public_records",
                "signed_by_judge": false,
                "subject": {"aggregate": "cards_issued_by_month"},
                "items": [],
                "notice_prohibited_by_court": false,
            }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let month = format!("{:04}-{:02}", t.year(), u8::from(t.month()));
    assert_ne!(a["package"]["aggregate"]["counts"]["idnyc"][&month], 12, "{a}");
    assert_ne!(a["package"]["aggregate"]["counts"]["idnyc"][&month], "12", "{a}");

    // The retention sweep passes over them like any card.
    let (s, b) = v.post("/v1/retention/sweep", &v.admin.clone(), &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // After a restart the vault still knows them.
    let canary = honey[3]["card_number"].as_str().unwrap().to_owned();
    let dir = v.stop().await;
    let config = honey_config(dir.path());
    let v = TestVault::start_in(dir, config).await;
    let officer2 = v.staff("privacy-2", &["privacy_officer"]).await;
    let (s, _) = facts(&v, &library, &canary).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = v.get("/v1/honey-cards/alerts", &officer2).await;
    assert_eq!(b["alerts"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["alerts"][0]["label"], "report check");
    v.stop().await;
}

/// What a staff member reading a legal package sees of an access log
/// entry, beside its sequence number and time.
fn log_lines(package: &Value) -> Vec<Value> {
    package["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["action"], e["principal"], e["purpose"], e["decision"], e["outcome"]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_honey_card_is_enrolled_as_a_clerk_enrolls_a_card() {
    let v = start().await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let auditor = v.auditor().await;
    let real = v.enroll_one(&clerk, "E-1", "1990-04-12").await;
    let honey = make_honey(&v, &officer, 1, "enroll check").await;
    let honey = honey[0]["card_number"].as_str().unwrap().to_owned();

    // The legal package: the same access log, an enrollment by the clerk,
    // dated the second the attestations say the documents were verified.
    let (_, a) = legal_ask(&v, &legal, &real).await;
    let (_, b) = legal_ask(&v, &legal, &honey).await;
    assert_eq!(log_lines(&a["package"]), log_lines(&b["package"]), "{a} {b}");
    assert_eq!(
        log_lines(&b["package"]),
        [json!(["enroll", "clerk-ana", "card_administration", "allow", "ok"])]
    );
    for p in [&a["package"], &b["package"]] {
        let at = p["access_log"][0]["at"].as_str().unwrap();
        let verified = p["attestations"]["verified_at"].as_str().unwrap();
        let parse = |s: &str| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(parse(at), parse(verified), "{p}");
    }

    // In the chain: the same entry as the enrollment handler writes (a
    // Cedar decision for the clerk, its policies, its context).
    let entries = v.audit(&auditor).await;
    let enrolls: Vec<&Value> = entries.iter().filter(|e| e["action"] == "enroll").collect();
    assert_eq!(enrolls.len(), 2);
    let keys = |x: &Value| x.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(enrolls[0]), keys(enrolls[1]), "{} {}", enrolls[0], enrolls[1]);
    for field in [
        "principal",
        "resource",
        "purpose",
        "decision",
        "policies",
        "policy_version",
        "outcome",
        "context",
    ] {
        assert_eq!(enrolls[0][field], enrolls[1][field], "{field}");
    }
    assert!(enrolls[1]["decision_id"].is_string());
    assert_ne!(enrolls[0]["decision_id"], enrolls[1]["decision_id"]);
    // ... in a commit of its own, not the request that planned it.
    let created = entries.iter().find(|e| e["action"] == "create_honey_cards").unwrap();
    assert!(enrolls[1]["seq"].as_u64() > created["seq"].as_u64());

    // The quarterly report still counts no honey card as an application.
    let t = today();
    let quarter = (u8::from(t.month()) - 1) / 3 + 1;
    let (s, r) = v
        .get(
            &format!("/v1/reports/quarterly?year={}&quarter={quarter}", t.year()),
            &auditor,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["honey_cards"], 1);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_enrolled_one_card_at_a_time_over_the_spread() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.honey.spread = "1d".parse().unwrap();
    let clock = std::sync::Arc::new(civic_vault::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let v = TestVault::start_with_clock(dir, config, clock.clone()).await;
    let _clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;

    let made = make_honey(&v, &officer, 5, "spread check").await;
    let parse = |s: &str| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    let planned: Vec<time::OffsetDateTime> = made.iter().map(|c| parse(c["enrolled_at"].as_str().unwrap())).collect();
    let distinct: BTreeSet<_> = planned.iter().collect();
    assert_eq!(distinct.len(), 5, "each card its own second: {planned:?}");
    // Not yet enrolled: the number is one the vault does not hold.
    let later = made
        .iter()
        .zip(&planned)
        .find(|(_, at)| **at > time::OffsetDateTime::now_utc() + Duration::from_secs(60))
        .map(|(c, _)| c["card_number"].as_str().unwrap().to_owned())
        .unwrap();
    let (s, b) = facts(&v, &library, &later).await;
    assert_eq!((s, &b["facts"]["card_valid"]), (StatusCode::OK, &json!(false)), "{b}");

    // A day later every card has been enrolled, at its own second.
    clock.advance(Duration::from_secs(86_400 + 60));
    for c in &made {
        let n = c["card_number"].as_str().unwrap();
        let mut valid = false;
        for _ in 0..100 {
            let (_, b) = facts(&v, &library, n).await;
            if b["facts"]["card_valid"] == true {
                valid = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(valid, "a planned card was enrolled once its second came");
    }
    for (c, at) in made.iter().zip(&planned) {
        let (s, b) = legal_ask(&v, &legal, c["card_number"].as_str().unwrap()).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let p = &b["package"];
        assert_eq!(parse(p["attestations"]["verified_at"].as_str().unwrap()), *at, "{p}");
        assert_eq!(p["card_status"]["issued_on"], at.date().to_string());
        let enroll = p["access_log"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "enroll")
            .unwrap();
        assert_eq!(parse(enroll["at"].as_str().unwrap()), *at);
    }
    v.stop().await;
}

/// Where a JPEG's frame header says its size and component count.
fn jpeg_frame(bytes: &[u8]) -> (u16, u16, u8) {
    let mut i = 2;
    while i + 9 < bytes.len() {
        assert_eq!(bytes[i], 0xFF, "a marker");
        let marker = bytes[i + 1];
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xC0 || marker == 0xC2 {
            let h = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]);
            let w = u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]);
            return (w, h, bytes[i + 9]);
        }
        i += 2 + len;
    }
    panic!("no frame header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_honey_photo_is_a_colour_camera_capture() {
    let v = start().await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let honey = make_honey(&v, &officer, 2, "photo check").await;
    let mut photos = Vec::new();
    for c in &honey {
        let resp = v.photo(&clerk, c["card_number"].as_str().unwrap()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // What the console's camera capture sends: a colour JPEG, 640×480.
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
        assert_eq!(jpeg_frame(&bytes), (640, 480, 3));
        assert!(bytes.len() > 20_000, "{} bytes", bytes.len());
        photos.push(bytes);
    }
    assert_ne!(photos[0], photos[1], "each honey card has its own photo");
    let (_, b) = legal_ask(&v, &legal, honey[0]["card_number"].as_str().unwrap()).await;
    assert_eq!(b["package"]["photo"]["content_type"], "image/jpeg");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_about_a_honey_card_writes_what_any_request_writes() {
    let v = start().await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let auditor = v.auditor().await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let real = v.enroll_one(&clerk, "T-1", "1990-04-12").await;
    let honey = make_honey(&v, &officer, 1, "path check").await;
    let honey = honey[0]["card_number"].as_str().unwrap().to_owned();

    // What one fact query adds to the chain: its entries, and nothing else
    // in its commit, about a real card and about a honey card alike.
    let mut written = Vec::new();
    for card in [&real, &honey] {
        let before = v.audit(&auditor).await.len();
        let (s, _) = facts(&v, &library, card).await;
        assert_eq!(s, StatusCode::OK);
        let after = v.audit(&auditor).await;
        let added: Vec<Value> = after[before..]
            .iter()
            .map(|e| json!([e["action"], e["principal"], e["resource"], e["decision"], e["outcome"]]))
            .collect();
        written.push(added);
    }
    assert_eq!(written[0], written[1]);
    assert!(written[1].iter().all(|e| e[0] != "honey_card_hit"), "{:?}", written[1]);

    // The alert is written later, on its own, its details sealed; the
    // alerts endpoint opens them.
    let (s, b) = v.get("/v1/honey-cards/alerts", &officer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["alerts"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["alerts"][0]["principal"], "nypl-12");
    assert_eq!(b["alerts"][0]["action"], "query_fact");
    let entries = v.audit(&auditor).await;
    let alert = entries.iter().find(|e| e["action"] == "honey_card_hit").unwrap();
    assert!(alert["principal"].is_null() && alert["resource"].is_null(), "{alert}");
    assert!(!alert.to_string().contains("query_fact"), "{alert}");
    v.stop().await;
}

/// The `honey_cards` records as stored (sled, or the PostgreSQL schema
/// the test vault in `dir` used), after the vault stopped.
fn honey_tree(dir: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres-url")) {
        return std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.query("SELECT key, value FROM kv WHERE tree = 'honey_cards' ORDER BY key", &[])
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                .collect()
        })
        .join()
        .unwrap();
    }
    let db = common::sled_open(&dir.join("data"));
    let tree = db.open_tree("honey_cards").unwrap();
    tree.iter()
        .map(|kv| kv.unwrap())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// Puts a record into the `honey_cards` tree as an older version wrote it.
fn put_legacy(dir: &std::path::Path, key: &[u8], value: &[u8]) {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres-url")) {
        let (key, value) = (key.to_vec(), value.to_vec());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.execute(
                "INSERT INTO kv (tree, key, value) VALUES ('honey_cards', $1, $2)",
                &[&key, &value],
            )
            .unwrap();
        })
        .join()
        .unwrap();
        return;
    }
    let db = common::sled_open(&dir.join("data"));
    db.open_tree("honey_cards").unwrap().insert(key, value).unwrap();
    db.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honey_cards_at_rest_say_nothing_without_keys() {
    let v = start().await;
    let clerk = v.clerk().await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let auditor = v.auditor().await;
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let real = v.enroll_one(&clerk, "R-1", "1990-04-12").await;
    let made = make_honey(&v, &officer, 3, "at rest 7f3a").await;
    // Touched, so an alert is in the chain too.
    let (s, _) = facts(&v, &library, made[0]["card_number"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = v.get("/v1/honey-cards/alerts", &officer).await;
    assert_eq!(b["alerts"].as_array().unwrap().len(), 1, "{b}");
    let entries = v.audit(&auditor).await;
    let real_subject = entries.iter().find(|e| e["action"] == "enroll").unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let subjects: Vec<String> = entries
        .iter()
        .filter(|e| e["action"] == "enroll")
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect();
    let dir = v.stop().await;

    // Each record under a random key, sealed, all of one size: no honey
    // id, label or keyed hash of a card, in the tree or anywhere in data/.
    let tree = honey_tree(dir.path());
    assert_eq!(tree.len(), 3);
    for (k, value) in &tree {
        assert_eq!(k.len(), 16);
        assert_eq!(value.len(), tree[0].1.len());
        for s in &subjects {
            assert!(!value.windows(s.len()).any(|w| w == s.as_bytes()));
        }
    }
    let data = dir.path().join("data");
    assert_eq!(dir_contains(&data, b"at rest 7f3a"), None);
    for c in &made {
        assert_eq!(dir_contains(&data, c["honey_card"].as_str().unwrap().as_bytes()), None);
    }

    // A record an older version wrote in the clear still opens (its
    // alerts name it), and is resealed at start.
    let legacy = civic_vault::domain::honey::HoneyCard {
        id: "hc_00112233aabbccdd".into(),
        label: "legacy label 9c1e".into(),
        created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
        subject: real_subject,
        card_id: [0; 32],
    };
    put_legacy(
        dir.path(),
        legacy.id.as_bytes(),
        &postcard::to_allocvec(&legacy).unwrap(),
    );
    let config = honey_config(dir.path());
    let v = TestVault::start_in(dir, config).await;
    let officer = v.staff("privacy-2", &["privacy_officer"]).await;
    let (s, _) = facts(&v, &library_again(&v).await, &real).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = v.get("/v1/honey-cards/alerts", &officer).await;
    let labels: Vec<&str> = b["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["legacy label 9c1e", "at rest 7f3a"], "{b}");
    let dir = v.stop().await;
    let tree = honey_tree(dir.path());
    assert_eq!(tree.len(), 4);
    // Resealed: no record in the clear any more (sled may keep the old
    // bytes in its log files until it reuses them; SECURITY.md says so).
    for (k, value) in &tree {
        assert_eq!(k.len(), 16);
        assert_eq!(value.len(), tree[0].1.len());
        for needle in [&b"legacy label 9c1e"[..], b"hc_00112233aabbccdd"] {
            assert!(!value.windows(needle.len()).any(|w| w == needle));
        }
    }
}

async fn library_again(v: &TestVault) -> String {
    v.system("nypl-13", "city_partner", &["library_services"]).await
}
