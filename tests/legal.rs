//! Legal requests: each item a Cedar decision, packages with only what was
//! disclosed, counts only for public records, notices, one audit entry per
//! request with the package digest.

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
use sha2::{Digest, Sha256};

const PROCESSES: [&str; 6] = [
    "judicial_warrant",
    "court_order",
    "subpoena",
    "administrative_subpoena",
    "administrative_warrant",
    "public_records",
];
const AGENCIES: [&str; 7] = [
    "city_agency",
    "city_partner",
    "local_law_enforcement",
    "state_agency",
    "federal_immigration",
    "federal_other",
    "private_party",
];
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

/// The documented outcome (README, "Legal requests").
fn expected(process: &str, signed: bool, agency: &str, item: &str) -> bool {
    if process.starts_with("administrative_") {
        return false;
    }
    if agency == "federal_immigration" {
        return process == "judicial_warrant" && signed && item == "card_status";
    }
    matches!(process, "judicial_warrant" | "court_order") && signed
}

fn request(process: &str, signed: bool, agency: &str, subject: Value, items: &[&str]) -> Value {
    json!({
        "reference": "Case 24-CV-118",
        "requester": {"name": "Det. Example", "agency_kind": agency},
        "process": process,
        "signed_by_judge": signed,
        "subject": subject,
        "items": items,
        "notice_prohibited_by_court": true,
    })
}

/// `POST /v1/legal/requests` with the body [`request`] builds.
async fn ask(
    v: &TestVault,
    token: &str,
    process: &str,
    signed: bool,
    agency: &str,
    subject: Value,
    items: &[&str],
) -> (StatusCode, Value) {
    v.post(
        "/v1/legal/requests",
        token,
        &request(process, signed, agency, subject, items),
    )
    .await
}

fn canonical_digest(package: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            o => o.clone(),
        }
    }
    format!(
        "sha256:{}",
        hex_encode(&Sha256::digest(serde_json::to_vec(&sorted(package)).unwrap()))
    )
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_agency_and_item_gives_the_documented_outcome() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let card = v.enroll_one(&clerk, "P-LEGAL-1", "1990-04-12").await;
    let mut cells = 0;
    for process in PROCESSES {
        for signed in [true, false] {
            for agency in AGENCIES {
                let body = request(process, signed, agency, json!({"card_number": card}), &ITEMS);
                let (s, a) = v.post("/v1/legal/requests", &legal, &body).await;
                assert_eq!(s, StatusCode::OK, "{a}");
                for item in ITEMS {
                    cells += 1;
                    let want = expected(process, signed, agency, item);
                    let got = a["package"].get(item).is_some();
                    assert_eq!(got, want, "{process} signed={signed} {agency} {item}: {a}");
                    if !want {
                        assert!(a["withheld"][item].is_string(), "a reason for {item}: {a}");
                    }
                }
                let any = ITEMS.iter().any(|i| expected(process, signed, agency, i));
                assert_eq!(a["outcome"], if any { "disclose" } else { "refuse" });
            }
        }
    }
    assert_eq!(cells, 6 * 2 * 7 * 8);

    // The disclosed values are the record's, decrypted.
    let body = request(
        "court_order",
        true,
        "state_agency",
        json!({"card_number": card}),
        &ITEMS,
    );
    let (_, a) = v.post("/v1/legal/requests", &legal, &body).await;
    let p = &a["package"];
    assert_eq!(p["full_name"], "Test Holder");
    assert_eq!(p["date_of_birth"], "1990-04-12");
    assert_eq!(p["card_number"], card.as_str());
    assert_eq!(p["card_status"]["status"], "active");
    assert_eq!(p["address"]["line1"], "12 Quillfeather Main St");
    assert_eq!(p["photo"]["data"], b64(PNG));
    // The record keeps the program and rules met, the clerk and the time,
    // and per proof only its memory-hard commitment: nothing of what a
    // document was or proved.
    let att = &p["attestations"];
    assert_eq!(att["program"], "idnyc");
    assert!(att["rules_version"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(att["verified_by"], "clerk-ana");
    let commitments = att["document_commitments"].as_array().unwrap();
    assert_eq!(commitments.len(), 2);
    assert!(commitments.iter().all(|c| c.as_str().unwrap().starts_with("argon2id:")));
    let text = att.to_string();
    for word in ["proves", "points", "identity", "residency", "passport", "lease"] {
        assert!(!text.contains(word), "attestations name {word}: {text}");
    }
    assert!(p["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "enroll"));
    // Reasons name the rule: administrative process, federal immigration, subpoena.
    let (_, a) = ask(
        &v,
        &legal,
        "administrative_subpoena",
        true,
        "federal_other",
        json!({"card_number": card}),
        &["full_name"],
    )
    .await;
    assert!(a["withheld"]["full_name"]
        .as_str()
        .unwrap()
        .contains("administrative process"));
    let (_, a) = ask(
        &v,
        &legal,
        "judicial_warrant",
        true,
        "federal_immigration",
        json!({"card_number": card}),
        &["card_status", "photo"],
    )
    .await;
    assert_eq!(a["package"]["card_status"]["status"], "active");
    assert!(a["withheld"]["photo"].as_str().unwrap().contains("federal immigration"));
    // Not held: document copies, types and issuers, status.
    let not_held = a["not_held"].to_string();
    assert!(
        not_held.contains("copies of identity or residency documents: never stored"),
        "{not_held}"
    );
    assert!(not_held.contains("document types, issuers"));
    assert!(a["letter"]
        .as_str()
        .unwrap()
        .contains("## Withheld\n\n- photo: a federal immigration"));

    // Only legal staff enter requests.
    let (s, _) = v.post("/v1/legal/requests", &clerk, &body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_answer_only_whether_they_back_a_card_and_categories_cannot_be_asked() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let card = v.enroll_one(&clerk, "P-DOC-7", "1990-04-12").await;
    let doc = |n: &str| json!({"document": {"document_type": "foreign_passport", "issuer": "MEX", "number": n}});

    let (s, a) = ask(
        &v,
        &legal,
        "judicial_warrant",
        true,
        "local_law_enforcement",
        doc("P-DOC-7"),
        &["card_number"],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["package"]["document_match"], json!({"backs_a_card": true}));
    assert_eq!(a["package"]["card_number"], card.as_str());
    let (_, a) = ask(
        &v,
        &legal,
        "judicial_warrant",
        true,
        "local_law_enforcement",
        doc("P-DOC-8"),
        &["card_number"],
    )
    .await;
    assert_eq!(a["package"], json!({"document_match": {"backs_a_card": false}}));
    // Without a judge, not even whether it matches.
    let (_, a) = ask(
        &v,
        &legal,
        "subpoena",
        true,
        "local_law_enforcement",
        doc("P-DOC-7"),
        &["card_number"],
    )
    .await;
    assert_eq!((a["outcome"].as_str(), &a["package"]), (Some("refuse"), &json!({})));

    // "Everyone who used a foreign document" has no shape to be asked in.
    for subject in [
        json!({"document": {"issuer": "MEX"}}),
        json!({"document": {"document_type": "foreign_passport"}}),
        json!({"documents": {"issuer_country": "foreign"}}),
        json!({"query": "all individuals who used any foreign document"}),
        json!({"card_number": card, "document": {"document_type": "foreign_passport", "issuer": "MEX", "number": "P-DOC-7"}}),
    ] {
        let (s, a) = ask(
            &v,
            &legal,
            "court_order",
            true,
            "federal_other",
            subject.clone(),
            &["full_name"],
        )
        .await;
        assert_eq!(
            (s, a["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{subject}"
        );
    }
    // A breakdown by document type or country is refused with the reason.
    for breakdown in ["cards_by_document_type", "cards_by_country"] {
        let (s, a) = ask(
            &v,
            &legal,
            "public_records",
            false,
            "private_party",
            json!({"aggregate": breakdown}),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(a["outcome"], "refuse");
        assert!(a["withheld"]["aggregate"].as_str().unwrap().contains("cannot produce"));
    }
    // Counts, with small ones suppressed.
    let (_, a) = ask(
        &v,
        &legal,
        "public_records",
        false,
        "private_party",
        json!({"aggregate": "cards_issued_by_month"}),
        &[],
    )
    .await;
    assert_eq!(a["outcome"], "disclose");
    let month = format!("{:04}-{:02}", today().year(), u8::from(today().month()));
    assert_eq!(a["package"]["aggregate"]["counts"]["idnyc"][month], "<10");
    assert_eq!(a["cardholder_notice"], "not_applicable");
    // Public records never reach a card.
    let (_, a) = ask(
        &v,
        &legal,
        "public_records",
        false,
        "private_party",
        json!({"card_number": card}),
        &["full_name"],
    )
    .await;
    assert!(a["withheld"]["full_name"]
        .as_str()
        .unwrap()
        .contains("aggregate counts only"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_notices_audit_and_past_answers() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let auditor = v.auditor().await;
    let card = v.enroll_one(&clerk, "P-NOTICE-1", "1985-01-30").await;
    let mut body = request(
        "court_order",
        true,
        "state_agency",
        json!({"card_number": card}),
        &ITEMS,
    );
    body["notice_prohibited_by_court"] = json!(false);

    // The same request twice: the same package, byte for byte.
    let (_, first) = v.post("/v1/legal/requests", &legal, &body).await;
    let (_, second) = v.post("/v1/legal/requests", &legal, &body).await;
    assert_eq!(first["digest"], second["digest"]);
    assert_ne!(first["request_id"], second["request_id"]);
    assert_eq!(first["digest"].as_str().unwrap(), canonical_digest(&first["package"]));
    assert_eq!(first["cardholder_notice"], "required");

    // Two notices are queued; a court's prohibition queues none.
    body["notice_prohibited_by_court"] = json!(true);
    let (_, third) = v.post("/v1/legal/requests", &legal, &body).await;
    assert_eq!(third["cardholder_notice"], "prohibited_by_court");
    let (s, n) = v.get("/v1/legal/notices", &clerk).await;
    assert_eq!(s, StatusCode::OK, "{n}");
    let notices = n["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 2, "{n}");
    assert_eq!(notices[0]["request_id"], first["request_id"]);
    assert_eq!(notices[0]["card_number"], card.as_str());
    assert_eq!(notices[0]["full_name"], "Test Holder");
    assert_eq!(notices[0]["languages"], json!([]), "{n}");
    let (s, _) = v.get("/v1/legal/notices", &legal).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let id = notices[0]["notice_id"].as_str().unwrap().to_owned();
    let (s, _) = v
        .post(&format!("/v1/legal/notices/{id}/sent"), &clerk, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, n) = v.get("/v1/legal/notices", &clerk).await;
    assert_eq!(n["notices"].as_array().unwrap().len(), 1);

    // One entry per request, with the digest and each item's decision, and
    // no personal data anywhere in the chain.
    let entries = v.audit(&auditor).await;
    let legal_entries: Vec<&Value> = entries.iter().filter(|e| e["action"] == "legal_request").collect();
    assert_eq!(legal_entries.len(), 3);
    assert_eq!(legal_entries[0]["digests"]["package"], first["digest"]);
    assert_eq!(legal_entries[0]["items"]["full_name"], "allow");
    assert!(legal_entries[0]["policies"]
        .to_string()
        .contains("legal.disclose_on_judicial_process"));
    let chain = serde_json::to_string(&entries).unwrap();
    for secret in [
        card.as_str(),
        "Test Holder",
        "1985-01-30",
        "Quillfeather",
        "P-NOTICE-1",
        "Det. Example",
    ] {
        assert!(!chain.contains(secret), "the audit chain holds {secret:?}");
    }

    // Past answers: the same package for legal; none for an auditor.
    let path = format!("/v1/legal/requests/{}", first["request_id"].as_str().unwrap());
    let (s, past) = v.get(&path, &legal).await;
    assert_eq!(s, StatusCode::OK, "{past}");
    assert_eq!(past["package"], first["package"]);
    assert_eq!(past["digest"], first["digest"]);
    let (s, _) = v.get(&path, &auditor).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v.get("/v1/legal/requests/lr_0000000000000000", &legal).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The list: the three answers, newest first, with nothing about the cardholder.
    let (s, list) = v.get("/v1/legal/requests", &legal).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let listed = list["requests"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{list}");
    assert_eq!(listed[0]["request_id"], third["request_id"]);
    assert_eq!(listed[2]["request_id"], first["request_id"]);
    assert_eq!(listed[2]["outcome"], "disclose");
    assert!(listed.iter().all(|r| r.get("package").is_none()));
    let text = list.to_string();
    for secret in [card.as_str(), "Test Holder", "1985-01-30", "P-NOTICE-1"] {
        assert!(!text.contains(secret), "the list holds {secret:?}");
    }
    let (s, _) = v.get("/v1/legal/requests", &auditor).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v.get("/v1/legal/requests", &clerk).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Erased and swept: the stored package goes with the record.
    let (s, _) = v.request_erasure(&clerk, &card).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = v.post("/v1/retention/sweep", &v.admin.clone(), &json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, past) = v.get(&path, &legal).await;
    assert_eq!(past["package"], Value::Null);
    assert_eq!(past["digest"], first["digest"]);
    assert!(past["package_destroyed"].is_string());
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legal_respond_gives_the_same_answer_from_the_command_line() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let card = v.enroll_one(&clerk, "P-CLI-1", "1990-04-12").await;
    let body = request(
        "judicial_warrant",
        true,
        "local_law_enforcement",
        json!({"card_number": card}),
        &["card_status", "full_name"],
    );
    let (_, api) = v.post("/v1/legal/requests", &legal, &body).await;

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("request.json");
    std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
    let token = tmp.path().join("legal.token");
    std::fs::write(&token, &legal).unwrap();
    let letter = tmp.path().join("letter.md");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["legal", "respond", "--request"])
        .arg(&file)
        .arg("--letter")
        .arg(&letter)
        .arg("--url")
        .arg(format!("http://{}", v.addr))
        .arg("--token-file")
        .arg(&token)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["digest"], api["digest"]);
    assert_eq!(cli["package"], api["package"]);
    let letter = std::fs::read_to_string(&letter).unwrap();
    assert!(letter.starts_with("# Response to Case 24-CV-118\n"), "{letter}");
    assert!(
        letter.contains("## Disclosed\n\n- card_status\n- full_name\n"),
        "{letter}"
    );
    assert!(
        !letter.contains("Test Holder"),
        "the letter names items, the package holds values"
    );
    v.stop().await;
}

/// A refused immigration request about a document leaves an audit subject
/// that nothing outside the audit entries holds: not the commitment the card
/// record keeps, so a copy of data/ cannot tie the request to the card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_subject_in_the_audit_is_found_nowhere_else_in_the_store() {
    use base64::Engine as _;
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let auditor = v.auditor().await;
    v.enroll_one(&clerk, "P-ICE-1", "1990-04-12").await;
    let doc = json!({"document": {"document_type": "foreign_passport", "issuer": "MEX", "number": "P-ICE-1"}});
    let (s, a) = ask(
        &v,
        &legal,
        "administrative_subpoena",
        false,
        "federal_immigration",
        doc,
        &["card_status"],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["outcome"], "refuse");
    let entries = v.audit(&auditor).await;
    let subject = entries
        .iter()
        .rev()
        .find(|e| e["action"] == "legal_request")
        .and_then(|e| e["subject"].as_str())
        .unwrap()
        .to_owned();
    let hex_part = subject.rsplit(':').next().unwrap().to_owned();
    let raw = hex_decode(&hex_part);
    let needles: Vec<Vec<u8>> = vec![
        hex_part.clone().into_bytes(),
        hex_part.to_uppercase().into_bytes(),
        raw.clone(),
        base64::engine::general_purpose::STANDARD.encode(&raw).into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(&raw)
            .into_bytes(),
        raw[..8].to_vec(),
    ];
    let pg = v.pg_url.clone();
    let dir = v.stop().await;
    // Every stored key and value outside the chain: sled's trees, or the
    // PostgreSQL store's `kv` rows (the same trees).
    let mut stored: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
    if let Some(url) = pg {
        stored = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.query("SELECT tree, key, value FROM kv", &[])
                .unwrap()
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect()
        })
        .join()
        .unwrap();
    } else {
        let db = common::sled_open(&dir.path().join("data"));
        for name in db.tree_names() {
            if name.as_ref() == b"audit" {
                continue;
            }
            for kv in db.open_tree(&name).unwrap().iter() {
                let (k, val) = kv.unwrap();
                stored.push((String::from_utf8_lossy(&name).into_owned(), k.to_vec(), val.to_vec()));
            }
        }
    }
    let mut trees = std::collections::BTreeSet::new();
    for (name, k, val) in &stored {
        trees.insert(name.clone());
        for n in &needles {
            assert!(
                !k.windows(n.len()).any(|w| w == n.as_slice()) && !val.windows(n.len()).any(|w| w == n.as_slice()),
                "the audit subject occurs in tree {name}"
            );
        }
    }
    assert!(trees.len() > 5, "the store's trees were read: {trees:?}");
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Bidirectional overrides and zero-width characters never reach a letter:
/// each free-text field refuses them with a 400 that names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_characters_are_refused_in_references_names_and_comments() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let card = v.enroll_one(&clerk, "P-BIDI-1", "1990-04-12").await;
    for hidden in ['\u{202E}', '\u{200B}', '\u{2066}', '\u{FEFF}'] {
        let mut r = request(
            "court_order",
            true,
            "local_law_enforcement",
            json!({"card_number": card}),
            &["card_status"],
        );
        r["reference"] = json!(format!("Case 24-CV-118{hidden}"));
        let (s, b) = v.post("/v1/legal/requests", &legal, &r).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
        assert!(b["error"]["message"].as_str().unwrap().contains("reference"), "{b}");

        let mut r = request(
            "court_order",
            true,
            "local_law_enforcement",
            json!({"card_number": card}),
            &["card_status"],
        );
        r["requester"]["name"] = json!(format!("Det. {hidden}Smith"));
        let (s, b) = v.post("/v1/legal/requests", &legal, &r).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            b["error"]["message"].as_str().unwrap().contains("requester.name"),
            "{b}"
        );

        let (s, b) = v
            .post(
                "/v1/legal/holds",
                &legal,
                &json!({"reference": format!("Hold {hidden}1"), "card_number": card}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["error"]["message"].as_str().unwrap().contains("reference"), "{b}");

        let (_, current) = v.get("/v1/policies", &officer).await;
        let (s, b) = v
            .call(
                reqwest::Method::PUT,
                "/v1/policies",
                Some(&officer),
                Some(&json!({"policies": current["policies"], "comment": format!("tidy {hidden}up"), "expected_version": current["version"]})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["error"]["message"].as_str().unwrap().contains("comment"), "{b}");
    }
    // Accents and other scripts are fine.
    let mut r = request(
        "court_order",
        true,
        "local_law_enforcement",
        json!({"card_number": card}),
        &["card_status"],
    );
    r["requester"]["name"] = json!("Juzgado Núñez — 東京");
    let (s, b) = v.post("/v1/legal/requests", &legal, &r).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}
