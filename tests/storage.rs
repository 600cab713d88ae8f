//! What is on disk: no applicant data or document identity in readable
//! form, and photos as real age files that open with the key in keys/.

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
async fn raw_data_directory_holds_no_personal_data() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let mut app = application(
        "Ana Lucía Pérez-Quillfeather",
        vec![
            json!({"document_type": "foreign_passport", "issuer": "MEXICO-SRE-ZQX", "number": "G98765432Q",
                   "scan": {"content_type": "application/pdf", "data": b64(b"%PDF-1.4 scan of a passport QQSCANQQ")}}),
            json!({"document_type": "utility_bill", "issuer": "Eversource-ZQX", "number": "ACCT-99887766",
                   "issued_on": days_ago(5)}),
        ],
    );
    app["applicant"]["date_of_birth"] = json!("1987-06-23");
    app["applicant"]["address"] = json!({"kind": "care_of", "organization": "Mercy Shelter Zqx", "line1": "77 Wexford Lane",
                                         "city": "Hartford", "postal_code": "06106"});
    let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["source_documents"]["stored"], 0);
    assert_eq!(b["source_documents"]["presented"], 1);
    let card = b["card_number"].as_str().unwrap().to_owned();
    // Some reads so the audit log has more than enrollments in it.
    let _ = v
        .get(&format!("/v1/cardholders/{card}/photo?purpose=card_printing"), &clerk)
        .await;
    let dir = v.stop().await;
    let data = dir.path().join("data");
    assert!(!walk(&data).is_empty());

    let needles: &[&str] = &[
        "Ana Lucía Pérez-Quillfeather",
        "Quillfeather",
        "1987-06-23",
        "19870623",
        "77 Wexford Lane",
        "Mercy Shelter Zqx",
        "06106",
        "G98765432Q",
        "ACCT-99887766",
        "99887766",
        "MEXICO-SRE-ZQX",
        "Eversource-ZQX",
        "foreign_passport",
        "utility_bill",
        "QQSCANQQ",
        &card,
        &card.replace('-', ""),
    ];
    for needle in needles {
        assert!(
            dir_contains(&data, needle.as_bytes()).is_none(),
            "the data directory holds a readable copy of a value it must not keep (needle #{})",
            needles.iter().position(|n| n == needle).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_photo_is_an_age_file_that_opens_with_keys_rooted_in_keys_dir() {
    // Opens sled's records from the data directory; on PostgreSQL the same
    // values are rows of `kv`, searched by the test above.
    let v = TestVault::start_sled("idnyc").await;
    let clerk = v.clerk().await;
    let mut photo = PNG.to_vec();
    photo.extend_from_slice(b"distinct-trailer-0xC0FFEE");
    let mut app = application(
        "A",
        vec![proof("foreign_passport", "MEX", "G-1"), proof("lease", "L", "L-1")],
    );
    app["photo"]["data"] = json!(b64(&photo));
    let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let dir = v.stop().await;

    // The photo's key, followed from keys/: the KEK unwraps the card's data
    // key, which opens the card's sealed age identity.
    let card = b["card_number"].as_str().unwrap().to_owned();
    let (identity, stored): (age::x25519::Identity, Vec<u8>) = {
        use civic_vault::domain::store::Store;
        let keyring = civic_vault::crypto::Keyring::open_or_create(&dir.path().join("keys")).unwrap();
        let (store, _) = civic_vault::store::SledStore::open(&dir.path().join("data"), None).unwrap();
        let id = keyring.blind.card_id(&card);
        let record = store.card(&id).unwrap().unwrap();
        let kek = keyring.kek(&record.dek.kek_id).unwrap();
        let dek = civic_vault::crypto::DataKey::unwrap_with(&record.dek, &kek, &id).unwrap();
        let text = dek.open_field(&id, "photo_key", &record.photo_key).unwrap();
        let photo = store.photo(&id).unwrap().unwrap();
        (String::from_utf8(text).unwrap().parse().unwrap(), photo.age_file)
    };

    // The stored photo is a standard age file: those exact bytes are in
    // sled's files on disk, and the age crate opens them to the original.
    assert!(stored.starts_with(b"age-encryption.org/v1\n"));
    assert!(
        dir_contains(&dir.path().join("data"), &stored).is_some(),
        "the age file is on disk as stored"
    );
    assert_eq!(age::decrypt(&identity, &stored).unwrap(), photo);
}
