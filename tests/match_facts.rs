//! A bank (or a front desk) holding a card and an application asks whether
//! the name, birth date and address it was given are the card's: it learns
//! yes or no per field, signed like any fact, and never a value; the audit
//! and the logs record that a match was asked, never what was compared.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const NAME: &str = "Ana Lucía Pérez-García";
const BIRTH: &str = "1987-11-23";

/// What the vault logs while these tests run (every test in this binary).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    static INIT: OnceLock<()> = OnceLock::new();
    let logs = LOGS.get_or_init(|| Mutex::new(Vec::new()));
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,civic_vault=trace,tower_http=trace,axum=trace",
            ))
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    logs
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn home() -> Value {
    json!({"kind": "residential", "line1": "12 Quillfeather Main St", "line2": "Apt 4B",
           "city": "Hartford", "state": "CT", "postal_code": "06103"})
}

/// Enrolls Ana (synthetic) and returns her card number.
async fn enroll_ana(v: &TestVault, clerk: &str, doc: &str, address: Value) -> String {
    let mut app = application(
        NAME,
        vec![proof("foreign_passport", "MEX", doc), proof("lease", "L", "L-1")],
    );
    app["applicant"]["date_of_birth"] = json!(BIRTH);
    app["applicant"]["address"] = address;
    let (s, b) = v.post("/v1/enrollments", clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["card_number"].as_str().unwrap().to_owned()
}

async fn ask(
    v: &TestVault,
    token: &str,
    card: &str,
    purpose: &str,
    facts: &[&str],
    claims: &Value,
) -> (StatusCode, Value) {
    v.post(
        "/v1/facts",
        token,
        &json!({"card_number": card, "purpose": purpose, "facts": facts, "claims": claims}),
    )
    .await
}

const MATCHES: [&str; 3] = ["name_matches", "birth_date_matches", "address_matches"];

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("(none)")
}

fn jws_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Text that must appear in no answer, audit entry or log line.
const SECRETS: [&str; 8] = [
    "Pérez",
    "Perez",
    "PEREZ",
    "García",
    "1987-11-23",
    "Quillfeather",
    "quillfeather",
    "Apt 4B",
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} holds a compared value");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_learns_yes_or_no_per_field_and_never_a_value() {
    let _ = logs();
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = enroll_ana(&v, &clerk, "M-1", home()).await;
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;
    let claims = json!({"full_name": NAME, "date_of_birth": BIRTH, "address": home()});
    let mut asked = vec!["card_valid"];
    asked.extend(MATCHES);
    let (s, b) = ask(&v, &bank, &card, "financial_services", &asked, &claims).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["facts"],
        json!({"card_valid": true, "name_matches": true, "birth_date_matches": true, "address_matches": true})
    );
    assert_eq!(b["withheld"], json!({}));
    // The answer is signed like any fact, with the match facts in it.
    let signed = jws_claims(b["attestation"].as_str().unwrap());
    assert_eq!(signed["facts"]["name_matches"], true);
    assert_eq!(signed["card_number"], card.as_str());
    assert_clean("an answer", &b.to_string());
    assert_clean("an attestation", &signed.to_string());

    // What the bank typed differently, the normalisation forgives.
    let variants = json!({
        "full_name": "  LUCIA ana   perez garcia ",
        "date_of_birth": BIRTH,
        "address": {"kind": "residential", "line1": "12 QUILLFEATHER MAIN ST.", "line2": "apt 4b",
                    "city": "hartford", "state": "ct", "postal_code": "06103-4410"}
    });
    let (s, b) = ask(&v, &bank, &card, "financial_services", &MATCHES, &variants).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["facts"],
        json!({"name_matches": true, "birth_date_matches": true, "address_matches": true})
    );
    // Decomposed accents and a non-breaking hyphen are the same name.
    let decomposed = json!({"full_name": "Ana Luci\u{301}a Pe\u{301}rez\u{2011}Garci\u{301}a"});
    let (_, b) = ask(&v, &bank, &card, "financial_services", &["name_matches"], &decomposed).await;
    assert_eq!(b["facts"], json!({"name_matches": true}), "{b}");

    // Other values: each field answers for itself.
    let wrong = json!({
        "full_name": "Ana Pérez-García",
        "date_of_birth": "1987-11-24",
        "address": {"kind": "residential", "line1": "12 Quillfeather Main Street", "line2": "Apt 4B",
                    "city": "Hartford", "state": "CT", "postal_code": "06103"}
    });
    let (s, b) = ask(&v, &bank, &card, "financial_services", &MATCHES, &wrong).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["facts"],
        json!({"name_matches": false, "birth_date_matches": false, "address_matches": false})
    );
    let care_of = json!({"address": {"kind": "care_of", "organization": "Mercy Shelter",
        "line1": "12 Quillfeather Main St", "line2": "Apt 4B", "city": "Hartford", "postal_code": "06103"}});
    let (_, b) = ask(&v, &bank, &card, "financial_services", &["address_matches"], &care_of).await;
    assert_eq!(b["facts"], json!({"address_matches": false}));

    // The audit says which match facts were asked and decided, nothing more.
    let auditor = v.auditor().await;
    let entries = v.audit(&auditor).await;
    let asked: Vec<&Value> = entries
        .iter()
        .filter(|e| e["principal"] == "credit-union" && e["action"] == "query_fact")
        .collect();
    // One entry per query, the match facts asked in its items.
    assert!(asked.len() >= 4, "{}", asked.len());
    assert!(
        asked.iter().any(|e| e["items"].get("name_matches").is_some()),
        "the audit records that a name match was asked"
    );
    let all = serde_json::to_string(&entries).unwrap();
    assert_clean("the audit", &all);

    let text = String::from_utf8(logs().lock().unwrap().clone()).unwrap();
    assert!(text.contains("/v1/facts"), "the log capture sees the requests");
    assert_clean("the log", &text);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_checks_get_name_and_birth_date_other_purposes_nothing() {
    let _ = logs();
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = enroll_ana(&v, &clerk, "M-2", home()).await;
    let claims = json!({"full_name": NAME, "date_of_birth": BIRTH, "address": home()});
    let police = v
        .system("nypd-records", "local_law_enforcement", &["identity_check"])
        .await;
    let (s, b) = ask(&v, &police, &card, "identity_check", &MATCHES, &claims).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["facts"], json!({"name_matches": true, "birth_date_matches": true}));
    assert_eq!(b["withheld"], json!({"address_matches": "not_permitted"}));

    // A library has no business matching names: 403, nothing compared.
    let library = v.system("nypl-12", "city_partner", &["library_services"]).await;
    let (s, b) = ask(
        &v,
        &library,
        &card,
        "library_services",
        &["name_matches"],
        &json!({"full_name": NAME}),
    )
    .await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden_by_policy"));
    // Nor a bank for a purpose it is not registered for.
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;
    let (s, _) = ask(
        &v,
        &bank,
        &card,
        "identity_check",
        &["name_matches"],
        &json!({"full_name": NAME}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_cards_answer_nothing_and_no_address_matches_none() {
    let _ = logs();
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = enroll_ana(&v, &clerk, "M-3", home()).await;
    let homeless = enroll_ana(&v, &clerk, "M-4", json!({"kind": "none"})).await;
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;
    let claims = json!({"full_name": NAME, "date_of_birth": BIRTH, "address": home()});

    let (_, b) = ask(
        &v,
        &bank,
        &homeless,
        "financial_services",
        &["address_matches"],
        &json!({"address": home()}),
    )
    .await;
    assert_eq!(b["facts"], json!({"address_matches": false}), "{b}");
    let none = json!({"address": {"kind": "none"}});
    let (_, b) = ask(&v, &bank, &homeless, "financial_services", &["address_matches"], &none).await;
    assert_eq!(b["facts"], json!({"address_matches": true}), "{b}");

    // A card number that is unknown, malformed or revoked: no match is made.
    let (s, _) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let withheld = json!({"name_matches": "card_not_valid", "birth_date_matches": "card_not_valid",
                          "address_matches": "card_not_valid"});
    for number in [card.as_str(), "0000-0000-0000-0000", "Ana Lucía Pérez-García"] {
        let (s, b) = ask(&v, &bank, number, "financial_services", &MATCHES, &claims).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["facts"], json!({}));
        assert_eq!(b["withheld"], withheld);
    }
    // No card number, no answer: the field is required.
    let (s, b) = v
        .post(
            "/v1/facts",
            &bank,
            &json!({"purpose": "financial_services", "facts": ["name_matches"], "claims": {"full_name": NAME}}),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_claims_get_a_400_naming_the_field_and_never_echo_it() {
    let _ = logs();
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = enroll_ana(&v, &clerk, "M-5", home()).await;
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;
    let long = "Pérez ".repeat(40);
    let cases: Vec<(Vec<&str>, Value, &str)> = vec![
        (vec!["name_matches"], json!({}), "claims.full_name"),
        (
            vec!["name_matches"],
            json!({"full_name": NAME, "date_of_birth": BIRTH}),
            "claims.date_of_birth",
        ),
        (vec!["card_valid"], json!({"full_name": NAME}), "claims.full_name"),
        (vec!["name_matches"], json!({"full_name": long}), "claims.full_name"),
        (
            vec!["name_matches"],
            json!({"full_name": "-- ' --"}),
            "claims.full_name",
        ),
        (
            vec!["name_matches"],
            json!({"full_name": "Pérez\u{0007}"}),
            "claims.full_name",
        ),
        (vec!["name_matches"], json!({"full_name": 7}), "claims.full_name"),
        (
            vec!["birth_date_matches"],
            json!({"date_of_birth": "23/11/1987"}),
            "claims.date_of_birth",
        ),
        (
            vec!["birth_date_matches"],
            json!({"date_of_birth": "1987-02-30"}),
            "claims.date_of_birth",
        ),
        (
            vec!["address_matches"],
            json!({"address": {"kind": "mansion"}}),
            "claims.address",
        ),
        (
            vec!["address_matches"],
            json!({"address": {"kind": "residential", "line1": "", "city": "Hartford", "postal_code": "06103"}}),
            "claims.address.line1",
        ),
        (
            vec!["address_matches"],
            json!({"address": {"kind": "residential", "line1": "1 Quillfeather Rd", "city": "Hartford",
                               "postal_code": "0610300000000000000"}}),
            "claims.address.postal_code",
        ),
        (vec!["name_matches"], json!({"full_name": NAME, "ssn": "x"}), "claims"),
    ];
    for (facts, claims, field) in cases {
        let (s, b) = ask(&v, &bank, &card, "financial_services", &facts, &claims).await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{field}: {b}"
        );
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
        assert_clean("an error", &b.to_string());
    }
    // A body past the limit is refused whole.
    let huge = json!({"full_name": "x".repeat(70_000)});
    let (s, _) = ask(&v, &bank, &card, "financial_services", &["name_matches"], &huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_refuses_match_facts_for_enforcement_even_under_permit_all() {
    let _ = logs();
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
    let card = enroll_ana(&v, &clerk, "M-6", home()).await;
    let claims = json!({"full_name": NAME, "date_of_birth": BIRTH, "address": home()});
    let refused = [
        "immigration_enforcement",
        "civil_immigration_enforcement",
        "bulk_screening",
        "data_brokerage",
    ];
    for agency in ["local_law_enforcement", "private_party", "federal_other"] {
        let token = v.system(&format!("sys-{agency}"), agency, &refused).await;
        for purpose in refused {
            let (s, b) = ask(&v, &token, &card, purpose, &MATCHES, &claims).await;
            assert_eq!(
                (s, code(&b)),
                (StatusCode::FORBIDDEN, "forbidden_by_policy"),
                "{agency} {purpose}"
            );
        }
    }
    let ice = v
        .system(
            "ice-ero",
            "federal_immigration",
            &["financial_services", "identity_check"],
        )
        .await;
    for purpose in ["financial_services", "identity_check"] {
        let (s, _) = ask(&v, &ice, &card, purpose, &MATCHES, &claims).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{purpose}");
    }
    // Every one of those denials names a floor policy.
    let auditor = v.auditor().await;
    let entries = v.audit(&auditor).await;
    let denied: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e["action"] == "query_fact"
                && e["principal"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("sys-") || p == "ice-ero")
        })
        .collect();
    assert_eq!(denied.len(), 3 * 4 + 2, "one entry per query");
    for e in denied {
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
    assert_clean("the audit", &serde_json::to_string(&entries).unwrap());
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_guard_stops_a_bank_matching_many_cards() {
    let _ = logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.facts.bulk_ceiling_per_hour = 3;
    let v = TestVault::start_in(dir, config).await;
    let clerk = v.clerk().await;
    let card = enroll_ana(&v, &clerk, "M-7", home()).await;
    let bank = v.system("credit-union", "private_party", &["financial_services"]).await;
    let claims = json!({"full_name": NAME});
    for n in 0..3 {
        let (s, _) = ask(
            &v,
            &bank,
            &format!("0000-0000-0000-000{n}"),
            "financial_services",
            &["name_matches"],
            &claims,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    // The fourth distinct card in the hour, a real one: refused by the floor.
    let (s, b) = ask(&v, &bank, &card, "financial_services", &["name_matches"], &claims).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden_by_policy"), "{b}");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_match_facts_and_their_claims() {
    let v = TestVault::start("idnyc").await;
    let doc: Value = reqwest::get(v.url("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let about = doc["paths"]["/v1/facts"]["post"]["description"].as_str().unwrap();
    for fact in MATCHES {
        assert!(about.contains(fact), "{fact}");
    }
    let claims = &doc["components"]["schemas"]["Claims"]["properties"];
    for field in ["full_name", "date_of_birth", "address"] {
        assert!(claims.get(field).is_some(), "{field}: {claims}");
    }
    assert!(doc["components"]["schemas"]["FactRequest"]["properties"]
        .get("claims")
        .is_some());
    v.stop().await;
}
