//! What a copy of data/ without keys says about cardholders: nothing that
//! tells them apart. Applicants of every kind of identity document and
//! address, enrolled by two clerks, some revoked for different reasons, one
//! erased: from the raw records, every card looks the same — same lengths,
//! same KEK, same number of index keys, one due entry each within a window —
//! and no document type, status, reason, clerk, program or date is there to read.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): it parses sled's records out of the data directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use civic_vault::domain::card::CardRecord;
use civic_vault::domain::store::Store;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn applicant(name: &str, address: Value, proofs: Vec<Value>) -> Value {
    let mut app = application(name, proofs);
    app["applicant"]["address"] = address;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_data_directory_cannot_tell_cardholders_apart() {
    let v = TestVault::start_sled("idnyc").await;
    let ana = v.staff("clerk-ana", &["clerk"]).await;
    let bo = v.staff("clerk-bo", &["clerk"]).await;
    let residential = json!({"kind": "residential", "line1": "12 Main St", "city": "New York", "postal_code": "10001"});
    let shelter = json!({"kind": "care_of", "organization": "Mercy Shelter For Families And Survivors Of Violence",
                         "line1": "400 West Forty-Second Street, Floor 3", "line2": "Attn: Intake Desk",
                         "city": "New York", "state": "NY", "postal_code": "10036"});
    let none = json!({"kind": "none"});
    let cases = [
        (
            &ana,
            residential.clone(),
            vec![proof("us_passport", "USA", "A1"), proof("lease", "L", "L-1")],
        ),
        (
            &bo,
            shelter.clone(),
            vec![
                proof("foreign_passport", "MEX", "G1"),
                proof_dated("shelter_letter", "Mercy", "S-1", 10),
            ],
        ),
        (
            &ana,
            none.clone(),
            vec![proof("consular_id", "MEX", "C1"), proof("lease", "L", "L-2")],
        ),
        (
            &bo,
            residential.clone(),
            vec![
                proof("foreign_drivers_license", "GTM", "D1"),
                proof("school_id", "PS 1", "SC1"),
                proof("lease", "L", "L-3"),
            ],
        ),
        (
            &ana,
            shelter.clone(),
            vec![
                proof("corrections_id", "NYS", "K1"),
                proof("employee_id", "ACME", "E1"),
                proof_dated("shelter_letter", "Mercy", "S-2", 10),
            ],
        ),
        (
            &bo,
            none.clone(),
            vec![
                proof("foreign_birth_certificate", "HND", "B1"),
                proof("school_id", "PS 2", "SC2"),
                proof("lease", "L", "L-4"),
            ],
        ),
    ];
    let mut cards = Vec::new();
    for (i, (clerk, address, proofs)) in cases.into_iter().enumerate() {
        let (s, b) = v
            .post(
                "/v1/enrollments",
                clerk,
                &applicant(&format!("Holder {i}"), address, proofs),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "applicant {i}: {b}");
        cards.push(b["card_number"].as_str().unwrap().to_owned());
    }
    // Different fates: revoked for fraud, revoked as lost, erased.
    for (card, reason) in [(&cards[1], "fraud"), (&cards[3], "lost")] {
        let (s, _) = v
            .post(
                &format!("/v1/cardholders/{card}/revoke"),
                &ana,
                &json!({"reason": reason}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _) = v.request_erasure(&bo, &cards[5]).await;
    assert_eq!(s, StatusCode::ACCEPTED);

    let dir = v.stop().await;
    let data = dir.path().join("data");

    // The records, parsed straight out of sled without any key.
    let (store, _) = civic_vault::store::SledStore::open(&data, None).unwrap();
    let records: Vec<CardRecord> = store
        .card_page(None, 100)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(records.len(), cards.len());
    let shape = |r: &CardRecord| {
        (
            r.dek.kek_id.clone(),
            r.dek.sealed.len(),
            r.meta.len(),
            r.fields.len(),
            r.birth.len(),
            r.photo_key.len(),
            r.index.len(),
        )
    };
    let first = shape(&records[0]);
    for r in &records {
        assert_eq!(
            shape(r),
            first,
            "two records differ in what can be seen without keys (KEK, lengths, index keys)"
        );
    }
    // One due entry per record, all within one window ahead: active cards
    // (due years away) look like revoked ones; the erased one is due now
    // (until the next sweep destroys it — the one status the index shows).
    let dues = store.due_entries(i64::MAX, 1000).unwrap();
    assert_eq!(dues.len(), records.len(), "one due entry per record");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let window = 365 * 86_400;
    for d in &dues {
        assert!(d.at <= now + window + 60, "a due entry further than a window ahead");
    }
    drop(store);

    // Nothing readable: every file of the store, raw. (Words the policy
    // text and the audit log hold for their own reasons, such as
    // "identity" in a policy comment or "erase_card" as an action, are
    // left to the record checks above: a record is all ciphertext.)
    let needles: Vec<String> = [
        "us_passport",
        "foreign_passport",
        "consular_id",
        "drivers_license",
        "corrections_id",
        "birth_certificate",
        "school_id",
        "employee_id",
        "shelter_letter",
        "fraud",
        "Mercy",
        "Holder ",
        "idnyc",
        "Forty-Second",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(cards.iter().cloned())
    .chain(cards.iter().map(|c| c.replace('-', "")))
    .collect();
    for file in walk(&data) {
        let bytes = std::fs::read(&file).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{} holds {n:?}",
                file.display()
            );
        }
    }
    // Clerk ids are in the principals tree and the audit log (who did what
    // is the audit's job), never in a card record.
    for r in &records {
        let bytes = postcard::to_allocvec(r).unwrap();
        for clerk in ["clerk-ana", "clerk-bo"] {
            assert!(
                !bytes.windows(clerk.len()).any(|w| w == clerk.as_bytes()),
                "a card record names its clerk"
            );
        }
    }
}
