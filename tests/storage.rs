//! What is on disk: no applicant data or document identity in readable
//! form, and photos as real age files that open with the key in keys/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
async fn stored_photo_is_an_age_file_that_opens_with_the_key_in_keys() {
    let v = TestVault::start("idnyc").await;
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

    // The photo key, as the keyring wrote it.
    let keys = dir.path().join("keys");
    let identity_file = walk(&keys)
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("photo-"))
        .unwrap();
    let identity: age::x25519::Identity = std::fs::read_to_string(identity_file).unwrap().trim().parse().unwrap();

    // Find the age file in sled's raw files by its header, then decrypt it
    // with the age crate directly, not through the vault.
    let header = b"age-encryption.org/v1\n";
    let mut opened = None;
    for file in walk(&dir.path().join("data")) {
        let bytes = std::fs::read(&file).unwrap();
        for start in bytes
            .windows(header.len())
            .enumerate()
            .filter(|(_, w)| *w == header)
            .map(|(i, _)| i)
        {
            // The age file runs to the end of its record; try every end.
            for end in (start + 100..=bytes.len()).rev().take(4096) {
                if let Ok(plain) = age::decrypt(&identity, &bytes[start..end]) {
                    opened = Some(plain);
                    break;
                }
            }
        }
    }
    assert_eq!(
        opened.as_deref(),
        Some(photo.as_slice()),
        "no age file in the data directory decrypted to the photo"
    );
}
