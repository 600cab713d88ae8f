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
    let mut config = test_config(dir.path(), "idnyc");
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

    // In the chain: an entry per alert, under one subject, naming the
    // principal and the honey id; never the label or a card number.
    let entries = v.audit(&auditor).await;
    let hits: Vec<&Value> = entries.iter().filter(|e| e["action"] == "honey_card_hit").collect();
    assert_eq!(hits.len(), 5);
    for h in &hits {
        assert_eq!(h["principal"], "nypl-12");
        assert_eq!(h["subject"], "honey_card_alerts");
        assert!(h["resource"].as_str().unwrap().starts_with("HoneyCard::hc_"));
    }
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("Q4 canaries"), "the label stays out of the chain");
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
    let v = TestVault::start("idnyc").await;
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

    // The photo for printing: a PNG either way.
    for card in [&real, &honey] {
        let resp = v.photo(&clerk, card).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert!(resp.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
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
    let v = TestVault::start("idnyc").await;
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
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let officer2 = v.staff("privacy-2", &["privacy_officer"]).await;
    let (s, _) = facts(&v, &library, &canary).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = v.get("/v1/honey-cards/alerts", &officer2).await;
    assert_eq!(b["alerts"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["alerts"][0]["label"], "report check");
    v.stop().await;
}
